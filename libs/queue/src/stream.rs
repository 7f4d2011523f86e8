//! One queue: a stream, its consumer group and its dead-letter stream.

use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{QueueError, Redis, keys};

const GROUP: &str = "workers";
const FIELD_TASK: &str = "task";
const FIELD_ATTEMPT: &str = "attempt";
const FIELD_ERROR: &str = "error";
const FIELD_SOURCE_ID: &str = "source_id";

/// A named queue on a Redis Stream.
#[derive(Clone, Debug)]
pub struct Queue {
    redis: Redis,
    name: String,
    stream: String,
    dead_letters: String,
}

/// One entry handed to a consumer. `task` is the raw JSON; decoding is the worker's job, so a
/// malformed entry can still be dead-lettered with its original text.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub task: String,
    /// 0 for the first attempt.
    pub attempt: u32,
}

impl Delivery {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.task)
    }
}

/// An entry of the dead-letter stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub task: String,
    pub error: String,
    pub source_id: String,
}

/// Queue depth, as the autoscaler reads it (`{"queued": n, "pending": m}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    /// Entries not yet handed to a consumer.
    pub queued: u64,
    /// Entries handed to a consumer and not yet acknowledged.
    pub pending: u64,
    /// Entries in the dead-letter stream.
    pub dead: u64,
}

impl Queue {
    pub fn new(redis: Redis, name: &str) -> Self {
        Queue {
            stream: redis.key(&keys::queue(name)),
            dead_letters: redis.key(&keys::queue_dead_letters(name)),
            name: name.to_owned(),
            redis,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn redis(&self) -> &Redis {
        &self.redis
    }

    /// Creates the stream and its consumer group if missing. Entries added before the group
    /// existed are delivered too.
    pub async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends a task; returns its entry id.
    pub async fn enqueue<T: Serialize>(&self, task: &T) -> Result<String, QueueError> {
        let json = serde_json::to_string(task).map_err(QueueError::Encode)?;
        self.enqueue_raw(&json, 0).await
    }

    async fn enqueue_raw(&self, task: &str, attempt: u32) -> Result<String, QueueError> {
        let mut conn = self.redis.connection().await?;
        let id: String = conn
            .xadd(
                &self.stream,
                "*",
                &[(FIELD_TASK, task), (FIELD_ATTEMPT, &attempt.to_string())],
            )
            .await?;
        Ok(id)
    }

    /// Reads up to `count` new entries for `consumer`, waiting up to `block_ms` (0: no wait).
    /// `conn` should be a dedicated connection when blocking.
    pub async fn read(
        &self,
        conn: &mut ironsmith_redis::Connection,
        consumer: &str,
        count: usize,
        block_ms: u64,
    ) -> Result<Vec<Delivery>, QueueError> {
        let mut options = StreamReadOptions::default()
            .group(GROUP, consumer)
            .count(count);
        if block_ms > 0 {
            options = options.block(usize::try_from(block_ms).unwrap_or(usize::MAX));
        }
        let reply: Option<StreamReadReply> = conn
            .xread_options(&[&self.stream], &[">"], &options)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(delivery)
            .collect())
    }

    /// Takes over up to `count` entries idle for at least `min_idle_ms` (their consumer died),
    /// with how many times each was delivered before.
    pub async fn reclaim(
        &self,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<(Delivery, u64)>, QueueError> {
        let mut conn = self.redis.connection().await?;
        let (_next, claimed, _deleted): (String, StreamRangeReply, Value) =
            redis::cmd("XAUTOCLAIM")
                .arg(&self.stream)
                .arg(GROUP)
                .arg(consumer)
                .arg(min_idle_ms)
                .arg("0-0")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut conn)
                .await?;
        let mut out = Vec::with_capacity(claimed.ids.len());
        for entry in claimed.ids {
            let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
                .arg(&self.stream)
                .arg(GROUP)
                .arg(&entry.id)
                .arg(&entry.id)
                .arg(1)
                .query_async(&mut conn)
                .await?;
            let deliveries = pending.first().map_or(1, |p| p.3);
            out.push((delivery(entry), deliveries));
        }
        Ok(out)
    }

    /// Acknowledges and removes a handled entry.
    pub async fn ack(&self, id: &str) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        redis::pipe()
            .atomic()
            .xack(&self.stream, GROUP, &[id])
            .xdel(&self.stream, &[id])
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Re-enqueues a failed entry as its next attempt and acknowledges the old one, atomically.
    pub async fn retry(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        let next = (delivery.attempt + 1).to_string();
        redis::pipe()
            .atomic()
            .xadd(
                &self.stream,
                "*",
                &[(FIELD_TASK, delivery.task.as_str()), (FIELD_ATTEMPT, &next)],
            )
            .xack(&self.stream, GROUP, &[&delivery.id])
            .xdel(&self.stream, &[&delivery.id])
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Moves an entry to the dead-letter stream with its error, atomically with its ack.
    pub async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), QueueError> {
        let mut conn = self.redis.connection().await?;
        redis::pipe()
            .atomic()
            .xadd(
                &self.dead_letters,
                "*",
                &[
                    (FIELD_TASK, delivery.task.as_str()),
                    (FIELD_ERROR, error),
                    (FIELD_SOURCE_ID, delivery.id.as_str()),
                ],
            )
            .xack(&self.stream, GROUP, &[&delivery.id])
            .xdel(&self.stream, &[&delivery.id])
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Up to `count` dead letters, oldest first.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut conn = self.redis.connection().await?;
        let reply: StreamRangeReply = conn
            .xrange_count(&self.dead_letters, "-", "+", count)
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| DeadLetter {
                task: field(&entry, FIELD_TASK),
                error: field(&entry, FIELD_ERROR),
                source_id: field(&entry, FIELD_SOURCE_ID),
                id: entry.id,
            })
            .collect())
    }

    /// Moves up to `count` dead letters back onto the queue as fresh first attempts.
    pub async fn redrive(&self, count: usize) -> Result<usize, QueueError> {
        let letters = self.dead_letters(count).await?;
        let mut conn = self.redis.connection().await?;
        for letter in &letters {
            redis::pipe()
                .atomic()
                .xadd(
                    &self.stream,
                    "*",
                    &[(FIELD_TASK, letter.task.as_str()), (FIELD_ATTEMPT, "0")],
                )
                .xdel(&self.dead_letters, &[&letter.id])
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(letters.len())
    }

    pub async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let mut conn = self.redis.connection().await?;
        let (length, dead): (u64, u64) = redis::pipe()
            .xlen(&self.stream)
            .xlen(&self.dead_letters)
            .query_async(&mut conn)
            .await?;
        let pending = pending_count(&mut conn, &self.stream, GROUP).await?;
        Ok(QueueDepth {
            queued: length.saturating_sub(pending),
            pending,
            dead,
        })
    }
}

/// How many entries of `stream` were handed to `group`'s consumers and not acknowledged; 0
/// when the group does not exist yet (nothing was ever delivered).
pub(crate) async fn pending_count(
    conn: &mut ironsmith_redis::Connection,
    stream: &str,
    group: &str,
) -> Result<u64, QueueError> {
    let summary: Result<Value, _> = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(conn)
        .await;
    match summary {
        Ok(Value::Array(items)) => Ok(match items.first() {
            Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        }),
        Ok(_) => Ok(0),
        Err(e) if e.code() == Some("NOGROUP") => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn field(entry: &StreamId, name: &str) -> String {
    entry.get::<String>(name).unwrap_or_default()
}

fn delivery(entry: StreamId) -> Delivery {
    Delivery {
        task: field(&entry, FIELD_TASK),
        attempt: entry.get::<u32>(FIELD_ATTEMPT).unwrap_or(0),
        id: entry.id,
    }
}
