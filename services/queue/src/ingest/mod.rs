//! The ingestion consumer: folds accepted run operations into ClickHouse.
//!
//! Each shard of the ingestion stream is handled by one worker at a time, under a lease (see
//! `ironsmith_queue::shards`). A shard's loop reads entries in order — first those a previous
//! holder left unacknowledged, then new ones, lingering briefly to build large batches — and
//! for each batch:
//! 1. decodes the entries; one that does not decode goes to the dead-letter stream at once;
//! 2. looks up the latest stored version of every run the batch touches (`run_ids`, then
//!    `runs`), folds the operations into those rows in arrival order (`ironsmith_runs::merge`),
//!    completes positions from parents where `POST /runs` or OTLP could not, and computes the
//!    derived columns. An `extra` kept in object storage (the operation's, or the row's when
//!    an operation brings more to merge) is read back for the merge, and a merged `extra` that
//!    reaches the offload threshold is written back there;
//! 3. inserts the new versions (and feedback) in one insert per table;
//! 4. acknowledges the entries only after ClickHouse confirmed.
//!
//! A ClickHouse outage is retried with back-off for as long as it lasts, the lease renewed
//! meanwhile; nothing is acknowledged, so nothing is lost, and a repeated insert only adds a
//! version that reads collapse. A batch ClickHouse refuses for its content is retried, then
//! split entry by entry, and the entries that still fail are dead-lettered with the error.
//! A panic while folding or storing a batch counts as such a refusal (the entry that causes it
//! ends in the dead letters, the others are stored), and a shard loop that ends unexpectedly
//! is started again; readiness reports any shard whose loop is not running.
//!
//! Where each step lives: `gather` (the shard loop under its lease, reading and lingering),
//! `settle` (one batch: storing with retries, splitting, acknowledging, dead-lettering),
//! `fold` (operations into rows, and the inserts), `stored_fields` (fields kept in object
//! storage), `prices` (the model price table), `error` (what can fail, and what is retried).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use clickhouse::Client;
use futures::FutureExt;
use ironsmith_analytics::AnalyticsError;
use ironsmith_analytics::runs::{self, RunLocation, RunRow};
use ironsmith_config::Config;
use ironsmith_queue::{INGEST_STREAM, QueueError, ShardEntry, ShardedStream};
use ironsmith_runs::dotted_order;
use ironsmith_runs::merge::{
    apply, extra_projection, finish, needs_whole_extra, new_row, with_stored_extra,
};
use ironsmith_runs::op::KNOWN_BATCH_VERSIONS;
use ironsmith_runs::pricing::{self, Price, PriceTable};
use ironsmith_runs::{IngestBatch, RunOp};
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod error;
mod fold;
mod gather;
mod prices;
mod settle;
mod stored_fields;

pub use error::IngestError;

type PricesFingerprint = (i64, Option<chrono::DateTime<chrono::Utc>>);

/// What a stopped shard loop should do with its entries.
enum Stop {
    /// Cancelled, or the lease passed to another worker: leave the entries unacknowledged.
    Abandon,
}

/// Counts from one `drain_once`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestReport {
    pub entries: usize,
    pub runs: usize,
    pub feedback: usize,
    pub dead_lettered: usize,
}

pub struct IngestWorker {
    stream: ShardedStream,
    clickhouse: Client,
    postgres: ironsmith_db::Pool,
    storage: ironsmith_storage::ObjectStorage,
    /// A run's merged `extra` of at least this many bytes is kept in object storage.
    offload_threshold: usize,
    prices: RwLock<Arc<PriceTable>>,
    /// What the price table was last loaded from (see `model_prices::fingerprint`).
    prices_fingerprint: std::sync::Mutex<Option<PricesFingerprint>>,
    owner: String,
    lease: Duration,
    batch_rows: usize,
    linger: Duration,
    price_refresh: Duration,
    /// Whether each shard's loop is running, for readiness.
    running: Vec<AtomicBool>,
}

impl IngestWorker {
    pub fn new(config: &Config, stores: &ironsmith_runtime::Stores, owner: String) -> Self {
        IngestWorker {
            stream: ShardedStream::new(stores.redis.clone(), INGEST_STREAM, config.ingest.shards),
            clickhouse: stores.clickhouse.clone(),
            postgres: stores.postgres.clone(),
            storage: stores.storage.clone(),
            offload_threshold: config.ingest.offload_threshold_bytes,
            prices: RwLock::new(Arc::new(PriceTable::default())),
            prices_fingerprint: std::sync::Mutex::new(None),
            running: (0..config.ingest.shards)
                .map(|_| AtomicBool::new(false))
                .collect(),
            owner,
            lease: Duration::from_millis(config.ingest.lease_ms),
            batch_rows: config.ingest.batch_rows,
            linger: Duration::from_millis(config.ingest.linger_ms),
            price_refresh: Duration::from_secs(config.ingest.price_refresh_secs.max(1)),
        }
    }

    pub fn stream(&self) -> &ShardedStream {
        &self.stream
    }

    /// The shards whose loop is not running (before `run`, or after a loop died and before it
    /// was started again).
    pub fn stopped_shards(&self) -> Vec<u16> {
        (0..self.stream.shards())
            .filter(|&shard| {
                !self
                    .running
                    .get(usize::from(shard))
                    .is_some_and(|r| r.load(Ordering::Relaxed))
            })
            .collect()
    }

    /// Runs every shard's loop and the price refresher until `cancel`.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        for shard in 0..self.stream.shards() {
            tasks.spawn(self.clone().supervise(shard, cancel.clone()));
        }
        let refresher = self.clone();
        let refresh_cancel = cancel.clone();
        tasks.spawn(async move {
            loop {
                refresher.refresh_prices().await;
                tokio::select! {
                    () = refresh_cancel.cancelled() => break,
                    () = tokio::time::sleep(refresher.price_refresh) => {}
                }
            }
        });
        while let Some(done) = tasks.join_next().await {
            if let Err(error) = done {
                tracing::error!(%error, "an ingestion loop panicked");
            }
        }
    }

    /// Runs `shard`'s loop, starting it again (after a pause) if it ends by panicking.
    async fn supervise(self: Arc<Self>, shard: u16, cancel: CancellationToken) {
        let flag = |running: bool| {
            if let Some(r) = self.running.get(usize::from(shard)) {
                r.store(running, Ordering::Relaxed);
            }
        };
        loop {
            flag(true);
            let ended = tokio::spawn(self.clone().shard_loop(shard, cancel.clone())).await;
            flag(false);
            match ended {
                Ok(()) => break,
                Err(error) => {
                    metrics::counter!("ingest_shard_loop_restarts_total").increment(1);
                    tracing::error!(shard, %error, "an ingestion shard loop died; starting it again in 1 s");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    /// Handles every entry available now on every shard, then returns (tests and tools).
    pub async fn drain_once(&self) -> Result<IngestReport, QueueError> {
        self.stream.ensure_groups().await?;
        let cancel = CancellationToken::new();
        let mut report = IngestReport::default();
        let mut conn = self.stream.redis().connection().await?;
        for shard in 0..self.stream.shards() {
            if !self.stream.lease(shard, &self.owner, self.lease).await? {
                continue;
            }
            loop {
                let mut entries = self.stream.read(&mut conn, shard, true, 100, 0).await?;
                if entries.is_empty() {
                    entries = self.stream.read(&mut conn, shard, false, 100, 0).await?;
                }
                if entries.is_empty() {
                    break;
                }
                if let Ok(one) = self.handle(shard, entries, &cancel).await {
                    report.entries += one.entries;
                    report.runs += one.runs;
                    report.feedback += one.feedback;
                    report.dead_lettered += one.dead_lettered;
                }
            }
            self.stream.release(shard, &self.owner).await?;
        }
        Ok(report)
    }
}
