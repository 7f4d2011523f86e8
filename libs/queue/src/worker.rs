//! Running a handler over a queue: bounded concurrency, cancellation with drain, retries with
//! back-off, reclaiming the entries of dead consumers, and `drain_once` for tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironsmith_config::QueueWorkerConfig;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Delivery, Queue, QueueError};

pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Handles one decoded task. Delivery is at least once: handlers must be idempotent.
pub trait Handler: Send + Sync + 'static {
    type Task: DeserializeOwned + Send + 'static;

    fn handle(&self, task: Self::Task) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This consumer's name in the group; unique per process.
    pub consumer: String,
    pub concurrency: usize,
    pub batch_size: usize,
    pub block_ms: u64,
    pub reclaim_idle_ms: u64,
    pub max_deliveries: u64,
    /// First retry delay; doubles per attempt up to `retry_backoff_max`.
    pub retry_backoff_base: Duration,
    pub retry_backoff_max: Duration,
}

impl WorkerOptions {
    pub fn from_config(config: &QueueWorkerConfig, consumer: impl Into<String>) -> Self {
        WorkerOptions {
            consumer: consumer.into(),
            concurrency: config.concurrency,
            batch_size: config.batch_size,
            block_ms: config.block_ms,
            reclaim_idle_ms: config.reclaim_idle_ms,
            max_deliveries: config.max_deliveries,
            retry_backoff_base: Duration::from_millis(200),
            retry_backoff_max: Duration::from_secs(30),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.retry_backoff_base
            .saturating_mul(factor)
            .min(self.retry_backoff_max)
    }
}

/// What happened to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Handled,
    Retried,
    DeadLettered,
}

/// Counts from one `drain_once`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub handled: usize,
    pub retried: usize,
    pub dead_lettered: usize,
}

impl DrainReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Handled => self.handled += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::DeadLettered => self.dead_lettered += 1,
        }
    }
}

async fn process<H: Handler>(
    queue: &Queue,
    handler: &H,
    delivery: Delivery,
    options: &WorkerOptions,
) -> Result<Outcome, QueueError> {
    let task: H::Task = match delivery.decode() {
        Ok(task) => task,
        Err(error) => {
            tracing::error!(queue = queue.name(), id = %delivery.id, %error, "undecodable task; dead-lettered");
            queue
                .dead_letter(&delivery, &format!("undecodable task: {error}"))
                .await?;
            return Ok(Outcome::DeadLettered);
        }
    };
    match handler.handle(task).await {
        Ok(()) => {
            queue.ack(&delivery.id).await?;
            Ok(Outcome::Handled)
        }
        Err(error) if u64::from(delivery.attempt) + 1 >= options.max_deliveries => {
            tracing::error!(queue = queue.name(), id = %delivery.id, attempt = delivery.attempt, %error, "task failed for the last time; dead-lettered");
            queue.dead_letter(&delivery, &error.to_string()).await?;
            Ok(Outcome::DeadLettered)
        }
        Err(error) => {
            let delay = options.backoff(delivery.attempt);
            tracing::warn!(queue = queue.name(), id = %delivery.id, attempt = delivery.attempt, %error, delay_ms = delay.as_millis() as u64, "task failed; will retry");
            tokio::time::sleep(delay).await;
            queue.retry(&delivery).await?;
            Ok(Outcome::Retried)
        }
    }
}

/// Handles reclaimed entries: those delivered too often are dead-lettered.
async fn process_reclaimed<H: Handler>(
    queue: &Queue,
    handler: &H,
    delivery: Delivery,
    deliveries: u64,
    options: &WorkerOptions,
) -> Result<Outcome, QueueError> {
    if deliveries > options.max_deliveries {
        let reason = format!(
            "delivered {deliveries} times without being acknowledged: its consumers kept dying"
        );
        tracing::error!(queue = queue.name(), id = %delivery.id, "{reason}; dead-lettered");
        queue.dead_letter(&delivery, &reason).await?;
        return Ok(Outcome::DeadLettered);
    }
    process(queue, handler, delivery, options).await
}

/// Handles every entry available now, one at a time, until the queue is empty, then returns.
/// Retries are immediate re-enqueues, handled in the same call when their back-off is zero.
pub async fn drain_once<H: Handler>(
    queue: &Queue,
    handler: &H,
    options: &WorkerOptions,
) -> Result<DrainReport, QueueError> {
    queue.ensure_group().await?;
    let mut conn = queue.redis().connection().await?;
    let mut report = DrainReport::default();
    for (delivery, deliveries) in queue
        .reclaim(
            &options.consumer,
            options.reclaim_idle_ms,
            options.batch_size,
        )
        .await?
    {
        report.count(process_reclaimed(queue, handler, delivery, deliveries, options).await?);
    }
    loop {
        let batch = queue
            .read(&mut conn, &options.consumer, options.batch_size, 0)
            .await?;
        if batch.is_empty() {
            return Ok(report);
        }
        for delivery in batch {
            report.count(process(queue, handler, delivery, options).await?);
        }
    }
}

/// Runs until `cancel`: reads batches, handles up to `concurrency` entries at once, reclaims the
/// entries of dead consumers, and on cancellation stops reading and waits for in-flight entries.
pub async fn run_worker<H: Handler>(
    queue: Queue,
    handler: Arc<H>,
    options: WorkerOptions,
    cancel: CancellationToken,
) {
    let options = Arc::new(options);
    let semaphore = Arc::new(Semaphore::new(options.concurrency));
    let mut in_flight = JoinSet::new();
    let mut reader: Option<ironsmith_redis::Connection> = None;
    let reclaim_every = Duration::from_millis((options.reclaim_idle_ms / 2).max(1000));
    let mut last_reclaim: Option<Instant> = None;
    let mut group_ready = false;

    while !cancel.is_cancelled() {
        while let Some(done) = in_flight.try_join_next() {
            log_join(done);
        }
        let step: Result<Vec<(Delivery, Option<u64>)>, QueueError> = async {
            if !group_ready {
                queue.ensure_group().await?;
                group_ready = true;
            }
            let mut batch = Vec::new();
            if last_reclaim.is_none_or(|t| t.elapsed() >= reclaim_every) {
                last_reclaim = Some(Instant::now());
                for (delivery, deliveries) in queue
                    .reclaim(
                        &options.consumer,
                        options.reclaim_idle_ms,
                        options.batch_size,
                    )
                    .await?
                {
                    batch.push((delivery, Some(deliveries)));
                }
            }
            let free = semaphore.available_permits().min(options.batch_size);
            if free > 0 {
                let conn = match reader.as_mut() {
                    Some(conn) => conn,
                    None => reader.insert(
                        queue
                            .redis()
                            .dedicated_connection(Duration::from_millis(options.block_ms + 5000))
                            .await?,
                    ),
                };
                let block = if batch.is_empty() {
                    options.block_ms
                } else {
                    0
                };
                for delivery in queue.read(conn, &options.consumer, free, block).await? {
                    batch.push((delivery, None));
                }
            }
            Ok(batch)
        }
        .await;
        let batch = match step {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(queue = queue.name(), %error, "cannot read the queue; retrying in 1 s");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if batch.is_empty() && semaphore.available_permits() == 0 {
            // Every slot is busy: wait for one to free before polling again.
            if let Some(done) = in_flight.join_next().await {
                log_join(done);
            }
            continue;
        }
        for (delivery, deliveries) in batch {
            let Ok(permit) = semaphore.clone().acquire_owned().await else {
                break;
            };
            let queue = queue.clone();
            let handler = handler.clone();
            let options = options.clone();
            in_flight.spawn(async move {
                let id = delivery.id.clone();
                let outcome = match deliveries {
                    Some(n) => process_reclaimed(&queue, &*handler, delivery, n, &options).await,
                    None => process(&queue, &*handler, delivery, &options).await,
                };
                if let Err(error) = outcome {
                    // Not acknowledged: the entry stays pending and is reclaimed later.
                    tracing::warn!(queue = queue.name(), %id, %error, "could not settle a task; it will be reclaimed");
                }
                drop(permit);
            });
        }
    }
    tracing::info!(
        queue = queue.name(),
        in_flight = in_flight.len(),
        "worker stopping; draining in-flight tasks"
    );
    while let Some(done) = in_flight.join_next().await {
        log_join(done);
    }
}

fn log_join(result: Result<(), tokio::task::JoinError>) {
    if let Err(error) = result {
        tracing::error!(%error, "a task handler panicked; its entry will be reclaimed");
    }
}
