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

type PricesFingerprint = (i64, Option<chrono::DateTime<chrono::Utc>>);
use ironsmith_runs::{IngestBatch, RunOp};
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Attempts at a batch ClickHouse refuses before it is split, and at each entry after.
const CONTENT_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    ClickHouse(#[from] AnalyticsError),
    /// Folding or storing the batch panicked: a bug its content reaches, never retried as
    /// transient.
    #[error("storing the batch panicked: {0}")]
    Panicked(String),
    #[error(transparent)]
    Storage(#[from] ironsmith_storage::StorageError),
    /// A field kept in object storage is not what ingestion wrote (not UTF-8 JSON).
    #[error("the stored field {key} is unreadable: {reason}")]
    StoredField { key: String, reason: String },
}

impl From<ironsmith_redis::RedisError> for IngestError {
    fn from(error: ironsmith_redis::RedisError) -> Self {
        IngestError::Queue(error.into())
    }
}

impl IngestError {
    /// Whether retrying later can succeed without changing the data: the store was unreachable
    /// or slow, rather than refusing what it was sent.
    fn is_transient(&self) -> bool {
        match self {
            IngestError::Queue(_) => true,
            IngestError::ClickHouse(AnalyticsError::ClickHouse(error)) => {
                matches!(
                    error,
                    clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut
                ) || is_overload(error)
            }
            // A missing object stays missing; any other storage failure is an outage.
            IngestError::Storage(error) => !error.is_not_found(),
            IngestError::ClickHouse(_)
            | IngestError::Panicked(_)
            | IngestError::StoredField { .. } => false,
        }
    }
}

/// Server-side errors that say "later", not "never": memory limits, too many parts, timeouts.
fn is_overload(error: &clickhouse::error::Error) -> bool {
    let clickhouse::error::Error::BadResponse(message) = error else {
        return false;
    };
    [
        "Code: 241",
        "Code: 252",
        "Code: 159",
        "Code: 209",
        "Code: 210",
        "Code: 202",
    ]
    .iter()
    .any(|code| message.contains(code))
}

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

    /// Reloads the price table when prices were added or removed since the last load; the
    /// patterns are compiled on a blocking thread.
    async fn refresh_prices(&self) {
        let fingerprint = match ironsmith_db::model_prices::fingerprint(&self.postgres).await {
            Ok(fingerprint) => fingerprint,
            Err(error) => {
                tracing::warn!(%error, "cannot check model prices; keeping the previous table");
                return;
            }
        };
        if self
            .prices_fingerprint
            .lock()
            .is_ok_and(|last| *last == Some(fingerprint))
        {
            return;
        }
        let rows = match ironsmith_db::model_prices::all(&self.postgres).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "cannot load model prices; keeping the previous table");
                return;
            }
        };
        let compiled = tokio::task::spawn_blocking(move || {
            let prices: Vec<Price> = rows
                .into_iter()
                .filter_map(|row| match pricing::compile_pattern(&row.match_pattern) {
                    Ok(pattern) => Some(Price {
                        id: row.id,
                        tenant_id: row.tenant_id,
                        provider: row.provider,
                        pattern,
                        prompt_per_million: row.prompt_cost_per_million,
                        completion_per_million: row.completion_cost_per_million,
                        priority: row.priority,
                        created_at_us: row.created_at.timestamp_micros(),
                    }),
                    Err(reason) => {
                        tracing::warn!(price = %row.id, %reason, "a model price's pattern cannot be used; skipped");
                        None
                    }
                })
                .collect();
            PriceTable::new(prices)
        })
        .await;
        match compiled {
            Ok(table) => {
                if let Ok(mut slot) = self.prices.write() {
                    *slot = Arc::new(table);
                }
                if let Ok(mut last) = self.prices_fingerprint.lock() {
                    *last = Some(fingerprint);
                }
            }
            Err(error) => {
                tracing::error!(%error, "compiling model prices failed; keeping the previous table")
            }
        }
    }

    fn prices(&self) -> Arc<PriceTable> {
        self.prices.read().map(|p| p.clone()).unwrap_or_default()
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

    async fn shard_loop(self: Arc<Self>, shard: u16, cancel: CancellationToken) {
        let mut reader: Option<redis::aio::ConnectionManager> = None;
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
    async fn gather(
        &self,
        conn: &mut redis::aio::ConnectionManager,
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

    /// Stores and acknowledges `entries`, retrying as the module documentation says.
    async fn handle(
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
            Ok(counts) => {
                let ids: Vec<String> = decoded.iter().map(|(e, _)| e.id.clone()).collect();
                self.settle(shard, |s| s.ack(shard, &ids), cancel).await?;
                report.entries += ids.len();
                report.runs += counts.0;
                report.feedback += counts.1;
            }
            Err(error) if decoded.len() > 1 => {
                tracing::warn!(shard, %error, entries = decoded.len(), "ClickHouse refused a batch; storing its entries one by one");
                for (entry, batch) in &decoded {
                    match self.store_with_retries(shard, &[batch], cancel).await? {
                        Ok(counts) => {
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
                        Err(error) => {
                            self.poison(shard, entry, &error, cancel).await?;
                            report.dead_lettered += 1;
                        }
                    }
                }
            }
            Err(error) => {
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

    async fn poison(
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
    async fn store_with_retries(
        &self,
        shard: u16,
        batches: &[&IngestBatch],
        cancel: &CancellationToken,
    ) -> Result<Result<(usize, usize), IngestError>, Stop> {
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
                Ok(counts) => return Ok(Ok(counts)),
                Err(error) => error,
            };
            if error.is_transient() {
                tracing::warn!(shard, %error, delay_ms = delay.as_millis() as u64, "storing runs failed; retrying");
            } else {
                content_failures += 1;
                if content_failures >= CONTENT_ATTEMPTS {
                    return Ok(Err(error));
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
    async fn settle<'a, F, Fut>(
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

    /// Folds `batches` into their runs' latest rows and inserts the new versions. Returns how
    /// many runs and feedback records were written.
    async fn store(&self, batches: &[&IngestBatch]) -> Result<(usize, usize), IngestError> {
        let prices = self.prices();
        let mut per_tenant: HashMap<Uuid, Vec<(&RunOp, i64)>> = HashMap::new();
        let mut feedback = Vec::new();
        for batch in batches {
            for op in &batch.runs {
                per_tenant
                    .entry(batch.tenant_id)
                    .or_default()
                    .push((op, batch.received_us));
            }
            for op in &batch.feedback {
                feedback.push(op.to_row(batch.tenant_id));
            }
        }
        let stored_extras = self.fetch_stored_extras(batches).await?;
        let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
        let mut all_rows = Vec::new();
        let mut relocated = HashSet::new();
        let mut touched: Vec<(Uuid, Uuid)> = Vec::new();
        let mut superseded = Vec::new();
        for (tenant_id, ops) in per_tenant {
            let mut ids: Vec<Uuid> = ops.iter().map(|(op, _)| op.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let partial: HashSet<Uuid> = ops
                .iter()
                .filter(|(op, _)| !is_full_create(op))
                .map(|(op, _)| op.id)
                .collect();
            touched.extend(partial.iter().map(|id| (tenant_id, *id)));
            let wanted = self.needing_lookup(tenant_id, &ids, &partial).await?;
            let locations = runs::locate(&self.clickhouse, tenant_id, &wanted).await?;
            let mut prior: HashMap<Uuid, RunRow> =
                runs::fetch_latest(&self.clickhouse, tenant_id, &locations)
                    .await?
                    .into_iter()
                    .map(|row| (row.id, row))
                    .collect();
            let located: HashMap<Uuid, RunLocation> =
                locations.into_iter().map(|l| (l.id, l)).collect();
            // Every stored version read here is about to be replaced by a newer one.
            superseded.extend(prior.values().map(runs::Superseded::of));

            let mut rows: HashMap<Uuid, RunRow> = HashMap::with_capacity(ids.len());
            let mut order = Vec::with_capacity(ids.len());
            for (op, received) in &ops {
                let row = rows.entry(op.id).or_insert_with(|| {
                    order.push(op.id);
                    prior.remove(&op.id).unwrap_or_else(|| {
                        let mut row = new_row(tenant_id, op.id, *received);
                        // Stored before without its row (a half-finished earlier insert):
                        // keep its partition.
                        if let Some(location) = located.get(&op.id) {
                            row.first_received_us = location.first_received_us;
                        }
                        row
                    })
                });
                if needs_whole_extra(row, op) {
                    row.extra = self.fetch_text(&row.extra_s3_key).await?;
                    row.extra_s3_key.clear();
                }
                match with_stored_extra(op, &stored_extras) {
                    Some(resolved) => apply(row, &resolved, *received),
                    None => apply(row, op, *received),
                }
            }
            self.complete_positions(tenant_id, &mut rows).await?;
            for id in order {
                let Some(mut row) = rows.remove(&id) else {
                    continue;
                };
                if row.trace_id.is_nil() {
                    row.trace_id = row.parent_run_id.unwrap_or(row.id);
                }
                let floor = located.get(&id).map_or(0, |l| l.version + 1);
                finish(&mut row, &prices, now.max(floor));
                self.offload_extra(&mut row).await?;
                let moved = located.get(&id).is_none_or(|l| {
                    l.session_id != row.session_id
                        || l.start_time_us != row.start_time_us
                        || l.dotted_order != row.dotted_order
                        || l.trace_id != row.trace_id
                });
                if moved {
                    relocated.insert(id);
                }
                all_rows.push(row);
            }
        }
        runs::insert_runs(&self.clickhouse, &all_rows, &superseded, |row| {
            relocated.contains(&row.id)
        })
        .await?;
        self.store_feedback(&feedback).await?;
        self.mark_touched(&touched).await?;
        Ok((all_rows.len(), feedback.len()))
    }

    /// Inserts feedback; the traces it is on move to the long retention tier.
    async fn store_feedback(
        &self,
        feedback: &[ironsmith_analytics::runs::FeedbackRow],
    ) -> Result<(), IngestError> {
        runs::insert_feedback(&self.clickhouse, feedback).await?;
        let mut upgraded: Vec<(Uuid, Uuid)> =
            feedback.iter().map(|f| (f.tenant_id, f.trace_id)).collect();
        upgraded.sort_unstable();
        upgraded.dedup();
        for (tenant_id, traces) in group_by_tenant(&upgraded) {
            ironsmith_analytics::feedback::upgrade_traces(
                &self.clickhouse,
                tenant_id,
                &traces,
                chrono::Utc::now().timestamp_micros(),
                "feedback",
            )
            .await?;
        }
        Ok(())
    }

    /// The whole `extra` of every operation of `batches` that carries it in object storage,
    /// by key, fetched with bounded concurrency.
    async fn fetch_stored_extras(
        &self,
        batches: &[&IngestBatch],
    ) -> Result<HashMap<String, Box<RawValue>>, IngestError> {
        let mut keys: Vec<String> = batches
            .iter()
            .flat_map(|b| &b.runs)
            .filter_map(|op| op.extra_stored.as_ref().map(|s| s.key.clone()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut fetched = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(8) {
            let texts =
                futures::future::try_join_all(chunk.iter().map(|key| self.fetch_text(key))).await?;
            for (key, text) in chunk.iter().zip(texts) {
                let raw = RawValue::from_string(text).map_err(|e| IngestError::StoredField {
                    key: key.clone(),
                    reason: e.to_string(),
                })?;
                fetched.insert(key.clone(), raw);
            }
        }
        Ok(fetched)
    }

    async fn fetch_text(&self, key: &str) -> Result<String, IngestError> {
        let bytes = self.storage.get(key).await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| IngestError::StoredField {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Moves a merged `extra` that reached the offload threshold to object storage, keeping
    /// inline only what derived columns read (`finish` has already read the whole).
    async fn offload_extra(&self, row: &mut RunRow) -> Result<(), IngestError> {
        if row.extra.len() < self.offload_threshold || !row.extra_s3_key.is_empty() {
            return Ok(());
        }
        let key = format!(
            "runs/{}/{}/extra-{}.json",
            row.tenant_id,
            row.id,
            Uuid::now_v7()
        );
        let whole = std::mem::take(&mut row.extra);
        row.extra = extra_projection(&whole);
        self.storage.put(&key, bytes::Bytes::from(whole)).await?;
        row.extra_s3_key = key;
        Ok(())
    }

    /// The runs whose stored version must be read before folding: every run the batch
    /// updates or sends fields of without its create (`partial`), and every created run that
    /// such an operation touched before. A run whose only operations so far are creates is new,
    /// or a repeat of a create already stored with the same content, so it needs no look-up;
    /// that spares ClickHouse a point query per run on the common path, where the SDKs send a
    /// run's create and end as one operation.
    async fn needing_lookup(
        &self,
        tenant_id: Uuid,
        ids: &[Uuid],
        partial: &HashSet<Uuid>,
    ) -> Result<Vec<Uuid>, IngestError> {
        let creates: Vec<Uuid> = ids
            .iter()
            .filter(|id| !partial.contains(id))
            .copied()
            .collect();
        let mut wanted: Vec<Uuid> = partial.iter().copied().collect();
        if creates.is_empty() {
            return Ok(wanted);
        }
        let redis = self.stream.redis();
        let keys: Vec<String> = creates
            .iter()
            .map(|id| redis.key(&touched_key(tenant_id, *id)))
            .collect();
        let mut conn = redis.connection().await?;
        let mut marks: Vec<Option<u8>> = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(5000) {
            let found: Vec<Option<u8>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .map_err(QueueError::from)?;
            marks.extend(found);
        }
        wanted.extend(
            creates
                .iter()
                .zip(marks)
                .filter(|(_, mark)| mark.is_some())
                .map(|(id, _)| *id),
        );
        Ok(wanted)
    }

    /// Remembers, for six hours (as long as upstream keeps pending run state), the runs an
    /// update or a lone field part touched, so that a create arriving later is folded into
    /// what they stored instead of replacing it.
    async fn mark_touched(&self, touched: &[(Uuid, Uuid)]) -> Result<(), IngestError> {
        if touched.is_empty() {
            return Ok(());
        }
        let redis = self.stream.redis();
        let mut conn = redis.connection().await?;
        for chunk in touched.chunks(5000) {
            let mut pipe = redis::pipe();
            for (tenant_id, id) in chunk {
                pipe.set_ex(redis.key(&touched_key(*tenant_id, *id)), 1u8, 6 * 3600)
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(QueueError::from)?;
        }
        Ok(())
    }

    /// Gives runs without a `dotted_order` (from `POST /runs` or OTLP, whose parent was not
    /// known when they were accepted) their position under their parent, found in this batch
    /// or in ClickHouse. Parents are resolved before their children.
    async fn complete_positions(
        &self,
        tenant_id: Uuid,
        rows: &mut HashMap<Uuid, RunRow>,
    ) -> Result<(), IngestError> {
        let orphans: Vec<Uuid> = rows
            .values()
            .filter(|r| r.dotted_order.is_empty() && r.parent_run_id.is_some())
            .map(|r| r.id)
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        let wanted: Vec<Uuid> = orphans
            .iter()
            .filter_map(|id| rows.get(id).and_then(|r| r.parent_run_id))
            .filter(|parent| !rows.contains_key(parent))
            .collect();
        let stored: HashMap<Uuid, (Uuid, String)> = if wanted.is_empty() {
            HashMap::new()
        } else {
            runs::locate(&self.clickhouse, tenant_id, &wanted)
                .await?
                .into_iter()
                .filter(|l| !l.dotted_order.is_empty())
                .map(|l| (l.id, (l.trace_id, l.dotted_order)))
                .collect()
        };
        // Repeat so chains of orphans in one batch resolve top-down.
        for _ in 0..orphans.len() {
            let mut progressed = false;
            for id in &orphans {
                let Some(row) = rows.get(id) else { continue };
                if !row.dotted_order.is_empty() {
                    continue;
                }
                let Some(parent) = row.parent_run_id else {
                    continue;
                };
                let position = rows
                    .get(&parent)
                    .filter(|p| !p.dotted_order.is_empty())
                    .map(|p| (p.trace_id, p.dotted_order.clone()))
                    .or_else(|| stored.get(&parent).cloned());
                if let Some((trace_id, parent_dotted)) = position
                    && let Some(row) = rows.get_mut(id)
                {
                    let start = if row.start_time_us == 0 {
                        row.received_us
                    } else {
                        row.start_time_us
                    };
                    row.trace_id = trace_id;
                    row.dotted_order =
                        format!("{parent_dotted}.{}", dotted_order::segment(start, row.id));
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(())
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

/// A create carrying its run part: what the SDKs send for almost every run.
fn is_full_create(op: &RunOp) -> bool {
    op.kind == ironsmith_runs::OpKind::Post && op.has_run_part
}

fn touched_key(tenant_id: Uuid, id: Uuid) -> String {
    ironsmith_redis::keys::ingest_touched(tenant_id, id)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Rows an entry will make, estimated from its size (a run operation is ~1–3 KB).
fn estimated_rows(entry: &ShardEntry) -> usize {
    (entry.body.len() / 1500).max(1)
}

fn decode(body: &[u8]) -> Result<IngestBatch, String> {
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

/// Sorted `(tenant, item)` pairs grouped by tenant.
fn group_by_tenant(pairs: &[(Uuid, Uuid)]) -> Vec<(Uuid, Vec<Uuid>)> {
    let mut groups: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
    for (tenant_id, item) in pairs {
        match groups.last_mut() {
            Some((last, items)) if last == tenant_id => items.push(*item),
            _ => groups.push((*tenant_id, vec![*item])),
        }
    }
    groups
}
