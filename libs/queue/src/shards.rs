//! Sharded streams with one exclusive consumer per shard: the ingestion path.
//!
//! Ingestion needs every operation on one run handled in arrival order, by one consumer at a
//! time, because the worker folds each into the run's latest stored row. So:
//! - A stream is split into `shards` Redis Streams; producers put each run's operations on the
//!   shard its id hashes to, all shards of one request in one `MULTI` (accepted whole or not).
//!   On a Redis Cluster the shards live in different slots, so each shard's part is its own
//!   `MULTI`: a request that fails part-way is answered with an error and sent again, and the
//!   worker's fold makes a run's repeated operations land once.
//! - A shard is consumed under a lease (`SET NX PX`, renewed while working). The holder reads
//!   as the consumer named after the shard, so whoever takes a shard over after a crash reads
//!   the dead holder's unacknowledged entries first (`XREADGROUP … 0`), in order.
//! - Entries are acknowledged (`XACK` + `XDEL`) only after their effects are stored.
//! - An entry that cannot be handled goes to the stream's dead-letter stream with its error,
//!   from where it can be inspected and redriven onto its shard.

use std::time::Duration;

use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Value};

use crate::stream::{QueueDepth, pending_count};
use crate::{QueueError, Redis, keys};

const GROUP: &str = "workers";
const FIELD_BODY: &str = "b";
const FIELD_ERROR: &str = "error";
const FIELD_SHARD: &str = "shard";

const LEASE_SCRIPT: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

#[derive(Clone, Debug)]
pub struct ShardedStream {
    redis: Redis,
    name: String,
    shards: u16,
}

/// One entry read from a shard.
#[derive(Debug, Clone)]
pub struct ShardEntry {
    pub id: String,
    pub body: Vec<u8>,
}

/// An entry of the dead-letter stream.
#[derive(Debug, Clone)]
pub struct DeadShardEntry {
    pub id: String,
    pub shard: u16,
    pub body: Vec<u8>,
    pub error: String,
}

impl ShardedStream {
    pub fn new(redis: Redis, name: &str, shards: u16) -> Self {
        ShardedStream {
            redis,
            name: name.to_owned(),
            shards: shards.max(1),
        }
    }

    pub fn shards(&self) -> u16 {
        self.shards
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The shard of a key: a stable hash (FNV-1a), the same in every process and release.
    pub fn shard_of(&self, key: &[u8]) -> u16 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in key {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        u16::try_from(hash % u64::from(self.shards)).unwrap_or(0)
    }

    pub fn stream_key(&self, shard: u16) -> String {
        self.redis.key(&keys::stream_shard(&self.name, shard))
    }

    fn dead_key(&self) -> String {
        self.redis.key(&keys::stream_dead_letters(&self.name))
    }

    fn lease_key(&self, shard: u16) -> String {
        self.redis.key(&keys::stream_lease(&self.name, shard))
    }

    fn consumer(shard: u16) -> String {
        format!("shard-{shard}")
    }

    /// Appends entries, each to its shard, atomically: all are stored or none.
    pub async fn append(&self, entries: &[(u16, Vec<u8>)]) -> Result<(), QueueError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut conn = self.redis.connection().await?;
        // One transaction for all on one server; one per shard (a slot each) on a cluster.
        let cluster = self.redis.is_cluster();
        let mut groups: std::collections::BTreeMap<u16, Vec<(u16, &[u8])>> =
            std::collections::BTreeMap::new();
        for (shard, body) in entries {
            let shard = *shard % self.shards;
            groups
                .entry(if cluster { shard } else { 0 })
                .or_default()
                .push((shard, body.as_slice()));
        }
        for group in groups.values() {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (shard, body) in group {
                pipe.xadd(self.stream_key(*shard), "*", &[(FIELD_BODY, *body)])
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    /// Creates every shard's stream and consumer group if missing.
    pub async fn ensure_groups(&self) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        for shard in 0..self.shards {
            let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(self.stream_key(shard))
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut conn)
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Takes or renews the lease on `shard` for `owner`; false when another owner holds it.
    pub async fn lease(&self, shard: u16, owner: &str, ttl: Duration) -> Result<bool, QueueError> {
        let mut conn = self.redis.connection().await?;
        let held: i64 = redis::Script::new(LEASE_SCRIPT)
            .key(self.lease_key(shard))
            .arg(owner)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }

    /// Gives the lease up, if `owner` still holds it.
    pub async fn release(&self, shard: u16, owner: &str) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        redis::Script::new(RELEASE_SCRIPT)
            .key(self.lease_key(shard))
            .arg(owner)
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// Reads up to `count` entries of `shard` as its consumer: with `pending`, the entries
    /// delivered earlier and never acknowledged (oldest first); otherwise new entries, waiting
    /// up to `block_ms` (0: no wait). Blocking reads need a dedicated connection.
    pub async fn read(
        &self,
        conn: &mut ironsmith_redis::Connection,
        shard: u16,
        pending: bool,
        count: usize,
        block_ms: u64,
    ) -> Result<Vec<ShardEntry>, QueueError> {
        let mut options = StreamReadOptions::default()
            .group(GROUP, Self::consumer(shard))
            .count(count);
        if block_ms > 0 && !pending {
            options = options.block(usize::try_from(block_ms).unwrap_or(usize::MAX));
        }
        let start = if pending { "0" } else { ">" };
        let reply: Option<StreamReadReply> = conn
            .xread_options(&[self.stream_key(shard)], &[start], &options)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|entry| ShardEntry {
                body: bytes(&entry, FIELD_BODY),
                id: entry.id,
            })
            .collect())
    }

    /// Acknowledges and removes handled entries.
    pub async fn ack(&self, shard: u16, ids: &[String]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.redis.connection().await?;
        let key = self.stream_key(shard);
        redis::pipe()
            .atomic()
            .xack(&key, GROUP, ids)
            .ignore()
            .xdel(&key, ids)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Moves an entry to the dead-letter stream with its error, atomically with its ack.
    pub async fn dead_letter(
        &self,
        shard: u16,
        entry: &ShardEntry,
        error: &str,
    ) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        let key = self.stream_key(shard);
        let shard_text = shard.to_string();
        let fields = [
            (FIELD_BODY, entry.body.as_slice()),
            (FIELD_ERROR, error.as_bytes()),
            (FIELD_SHARD, shard_text.as_bytes()),
        ];
        let mut pipe = redis::pipe();
        pipe.atomic();
        if self.redis.is_cluster() {
            // Another slot: copy first, then acknowledge. A crash in between leaves the entry
            // to be handled (and dead-lettered) again, never lost.
            let _: String = conn.xadd(self.dead_key(), "*", &fields).await?;
        } else {
            pipe.xadd(self.dead_key(), "*", &fields).ignore();
        }
        pipe.xack(&key, GROUP, &[&entry.id])
            .ignore()
            .xdel(&key, &[&entry.id])
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Up to `count` dead letters, oldest first.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadShardEntry>, QueueError> {
        let mut conn = self.redis.connection().await?;
        let reply: StreamRangeReply = conn.xrange_count(self.dead_key(), "-", "+", count).await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| DeadShardEntry {
                shard: String::from_utf8_lossy(&bytes(&entry, FIELD_SHARD))
                    .parse()
                    .unwrap_or(0),
                body: bytes(&entry, FIELD_BODY),
                error: String::from_utf8_lossy(&bytes(&entry, FIELD_ERROR)).into_owned(),
                id: entry.id,
            })
            .collect())
    }

    /// Moves up to `count` dead letters back onto their shards.
    pub async fn redrive(&self, count: usize) -> Result<usize, QueueError> {
        let letters = self.dead_letters(count).await?;
        let mut conn = self.redis.connection().await?;
        for letter in &letters {
            let shard = self.stream_key(letter.shard % self.shards);
            let body = [(FIELD_BODY, letter.body.as_slice())];
            if self.redis.is_cluster() {
                // Different slots: back onto the shard first, then out of the dead letters (a
                // crash in between redrives it twice; the fold lands it once).
                let _: String = conn.xadd(&shard, "*", &body).await?;
                let _: u64 = conn.xdel(self.dead_key(), &[&letter.id]).await?;
                continue;
            }
            redis::pipe()
                .atomic()
                .xadd(&shard, "*", &body)
                .ignore()
                .xdel(self.dead_key(), &[&letter.id])
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(letters.len())
    }

    /// Entries waiting, handed out and unacknowledged, and dead, over every shard.
    pub async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let mut conn = self.redis.connection().await?;
        let mut depth = QueueDepth::default();
        for shard in 0..self.shards {
            let key = self.stream_key(shard);
            let length: u64 = conn.xlen(&key).await?;
            let pending = pending_count(&mut conn, &key, GROUP).await?;
            depth.queued += length.saturating_sub(pending);
            depth.pending += pending;
        }
        depth.dead = conn.xlen(self.dead_key()).await?;
        Ok(depth)
    }
}

fn bytes(entry: &StreamId, field: &str) -> Vec<u8> {
    match entry.map.get(field) {
        Some(Value::BulkString(bytes)) => bytes.clone(),
        Some(Value::SimpleString(text)) => text.clone().into_bytes(),
        _ => Vec::new(),
    }
}
