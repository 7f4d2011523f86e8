//! One batch of entries: decoding, storing with retries, splitting a refused batch entry by
//! entry, acknowledging what was stored and dead-lettering what never will be.

use super::*;

/// Attempts at a batch ClickHouse refuses before it is split, and at each entry after.
pub(super) const CONTENT_ATTEMPTS: u32 = 3;

/// How storing a batch ended, when the worker did not stop first.
pub(super) enum Attempt {
    /// Stored: how many runs and feedback records were written.
    Stored((usize, usize)),
    /// Refused for its content, after `CONTENT_ATTEMPTS` tries.
    Refused(IngestError),
}

impl IngestWorker {
    /// Stores and acknowledges `entries`, retrying as the module documentation says.
    pub(super) async fn handle(
        &self,
        shard: u16,
        entries: Vec<ShardEntry>,
        cancel: &CancellationToken,
    ) -> Result<IngestReport, Stop> {
        let mut report = IngestReport::default();
        let mut decoded = Vec::with_capacity(entries.len());
        for entry in entries {
            match decode(&entry.body) {
                Ok(batch) => decoded.push((entry, batch)),
                Err(reason) => {
                    tracing::error!(shard, id = %entry.id, %reason, "undecodable ingestion entry; dead-lettered");
                    self.settle(shard, |s| s.dead_letter(shard, &entry, &reason), cancel)
                        .await?;
                    report.dead_lettered += 1;
                }
            }
        }
        if decoded.is_empty() {
            return Ok(report);
        }
        let batches: Vec<&IngestBatch> = decoded.iter().map(|(_, b)| b).collect();
        match self.store_with_retries(shard, &batches, cancel).await? {
            Attempt::Stored(counts) => {
                let ids: Vec<String> = decoded.iter().map(|(e, _)| e.id.clone()).collect();
                self.settle(shard, |s| s.ack(shard, &ids), cancel).await?;
                report.entries += ids.len();
                report.runs += counts.0;
                report.feedback += counts.1;
            }
            Attempt::Refused(error) if decoded.len() > 1 => {
                tracing::warn!(shard, %error, entries = decoded.len(), "ClickHouse refused a batch; storing its entries one by one");
                for (entry, batch) in &decoded {
                    match self.store_with_retries(shard, &[batch], cancel).await? {
                        Attempt::Stored(counts) => {
                            self.settle(
                                shard,
                                |s| s.ack(shard, std::slice::from_ref(&entry.id)),
                                cancel,
                            )
                            .await?;
                            report.entries += 1;
                            report.runs += counts.0;
                            report.feedback += counts.1;
                        }
                        Attempt::Refused(error) => {
                            self.poison(shard, entry, &error, cancel).await?;
                            report.dead_lettered += 1;
                        }
                    }
                }
            }
            Attempt::Refused(error) => {
                for (entry, _) in &decoded {
                    self.poison(shard, entry, &error, cancel).await?;
                    report.dead_lettered += 1;
                }
            }
        }
        metrics::counter!("ingest_runs_stored_total").increment(report.runs as u64);
        metrics::counter!("ingest_entries_dead_lettered_total")
            .increment(report.dead_lettered as u64);
        Ok(report)
    }

    pub(super) async fn poison(
        &self,
        shard: u16,
        entry: &ShardEntry,
        error: &IngestError,
        cancel: &CancellationToken,
    ) -> Result<(), Stop> {
        tracing::error!(shard, id = %entry.id, %error, "ClickHouse refuses an ingestion entry; dead-lettered");
        let reason = error.to_string();
        self.settle(shard, |s| s.dead_letter(shard, entry, &reason), cancel)
            .await
    }

    /// Stores `batches`: transient failures are retried until they pass (or the worker stops
    /// or loses the shard); content failures are retried `CONTENT_ATTEMPTS` times and then
    /// returned.
    pub(super) async fn store_with_retries(
        &self,
        shard: u16,
        batches: &[&IngestBatch],
        cancel: &CancellationToken,
    ) -> Result<Attempt, Stop> {
        let mut delay = Duration::from_millis(200);
        let mut content_failures = 0;
        loop {
            let stored = std::panic::AssertUnwindSafe(self.store(batches))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    Err(IngestError::Panicked(ironsmith_http::panic_message(
                        &*panic,
                    )))
                });
            let error = match stored {
                Ok(counts) => return Ok(Attempt::Stored(counts)),
                Err(error) => error,
            };
            if error.is_transient() {
                tracing::warn!(shard, %error, delay_ms = delay.as_millis() as u64, "storing runs failed; retrying");
            } else {
                content_failures += 1;
                if content_failures >= CONTENT_ATTEMPTS {
                    return Ok(Attempt::Refused(error));
                }
                tracing::warn!(shard, %error, attempt = content_failures, "ClickHouse refused runs; retrying");
            }
            tokio::select! {
                () = cancel.cancelled() => return Err(Stop::Abandon),
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(10));
            match self.stream.lease(shard, &self.owner, self.lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        shard,
                        "lost the shard lease while retrying; leaving the entries to its new holder"
                    );
                    return Err(Stop::Abandon);
                }
                // Redis is down too: keep trying ClickHouse; the lease is checked again later.
                Err(_) => {}
            }
        }
    }

    /// Runs a stream operation (ack, dead-letter) until it succeeds, or the worker stops.
    pub(super) async fn settle<'a, F, Fut>(
        &'a self,
        shard: u16,
        operation: F,
        cancel: &CancellationToken,
    ) -> Result<(), Stop>
    where
        F: Fn(&'a ShardedStream) -> Fut,
        Fut: Future<Output = Result<(), QueueError>>,
    {
        loop {
            match operation(&self.stream).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::warn!(shard, %error, "cannot settle ingestion entries; retrying in 1 s");
                    tokio::select! {
                        () = cancel.cancelled() => return Err(Stop::Abandon),
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
}

pub(super) fn decode(body: &[u8]) -> Result<IngestBatch, String> {
    let batch: IngestBatch =
        serde_json::from_slice(body).map_err(|e| format!("undecodable ingestion entry: {e}"))?;
    if !KNOWN_BATCH_VERSIONS.contains(&batch.v) {
        return Err(format!(
            "ingestion entry version {} is not known to this worker (it handles {KNOWN_BATCH_VERSIONS:?})",
            batch.v
        ));
    }
    Ok(batch)
}
