//! A shard's loop: holding its lease, reading entries (first those left unacknowledged),
//! lingering briefly to build large batches.

use super::*;

impl IngestWorker {
    pub(super) async fn shard_loop(self: Arc<Self>, shard: u16, cancel: CancellationToken) {
        let mut reader: Option<ironsmith_redis::Connection> = None;
        let mut held = false;
        let mut groups_ready = false;
        while !cancel.is_cancelled() {
            let step: Result<bool, QueueError> = async {
                if !groups_ready {
                    self.stream.ensure_groups().await?;
                    groups_ready = true;
                }
                held = self.stream.lease(shard, &self.owner, self.lease).await?;
                if !held {
                    return Ok(false);
                }
                let conn = match reader.as_mut() {
                    Some(conn) => conn,
                    None => reader.insert(
                        self.stream
                            .redis()
                            .dedicated_connection(self.linger + Duration::from_secs(5))
                            .await?,
                    ),
                };
                let entries = self.gather(conn, shard).await?;
                if entries.is_empty() {
                    return Ok(true);
                }
                if self.handle(shard, entries, &cancel).await.is_err() {
                    // Stopping, or the shard moved on: the entries stay unacknowledged for
                    // whoever holds the shard next.
                    tracing::info!(shard, "left ingestion entries unacknowledged");
                }
                Ok(true)
            }
            .await;
            match step {
                Ok(true) => {}
                Ok(false) => {
                    // Another worker holds this shard: look again when its lease could lapse.
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(self.lease / 2) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(shard, %error, "ingestion stream unreachable; retrying in 1 s");
                    reader = None;
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        if held && let Err(error) = self.stream.release(shard, &self.owner).await {
            tracing::warn!(shard, %error, "best effort: could not release a shard lease; it lapses on its own");
        }
    }

    /// The next entries of `shard`: unacknowledged ones first, else new ones, lingering until
    /// `batch_rows` operations or `linger` time have gathered.
    pub(super) async fn gather(
        &self,
        conn: &mut ironsmith_redis::Connection,
        shard: u16,
    ) -> Result<Vec<ShardEntry>, QueueError> {
        let pending = self.stream.read(conn, shard, true, 100, 0).await?;
        if !pending.is_empty() {
            return Ok(pending);
        }
        let wait = self.linger.max(Duration::from_millis(50));
        let mut entries = self
            .stream
            .read(conn, shard, false, 100, millis(wait))
            .await?;
        if entries.is_empty() {
            return Ok(entries);
        }
        let started = Instant::now();
        // Each entry holds at most a request's worth of operations; estimate rows by size.
        let mut rows: usize = entries.iter().map(estimated_rows).sum();
        while rows < self.batch_rows {
            let left = self.linger.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let more = self
                .stream
                .read(conn, shard, false, 100, millis(left).max(1))
                .await?;
            if more.is_empty() {
                break;
            }
            rows += more.iter().map(estimated_rows).sum::<usize>();
            entries.extend(more);
        }
        Ok(entries)
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Rows an entry will make, estimated from its size (a run operation is ~1–3 KB).
pub(super) fn estimated_rows(entry: &ShardEntry) -> usize {
    (entry.body.len() / 1500).max(1)
}
