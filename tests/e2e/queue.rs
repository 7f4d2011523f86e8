//! The Redis Streams queue and the worker, against a real Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ironsmith_queue::tasks::{Task, pong_key};
use ironsmith_queue::worker::HandlerError;
use ironsmith_queue::{DEFAULT_QUEUE, Handler, Queue, Redis, WorkerOptions, drain_once};
use ironsmith_test_support::isolated_config;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Serialize, Deserialize)]
struct Job {
    n: u32,
}

/// Fails the first `failures` attempts of every job, then succeeds; counts what it handled.
struct Flaky {
    failures: usize,
    attempts: AtomicUsize,
    handled: AtomicUsize,
}

impl Handler for Flaky {
    type Task = Job;

    async fn handle(&self, _job: Job) -> Result<(), HandlerError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        if attempt < self.failures {
            return Err(format!("transient failure {attempt}").into());
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn flaky(failures: usize) -> Flaky {
    Flaky {
        failures,
        attempts: AtomicUsize::new(0),
        handled: AtomicUsize::new(0),
    }
}

async fn queue(name: &str) -> anyhow::Result<(Queue, WorkerOptions)> {
    let config = isolated_config().await?;
    let redis = Redis::new(&config.redis)?;
    let mut options = WorkerOptions::from_config(&config.services.queue, "test-consumer");
    options.retry_backoff_base = Duration::ZERO;
    options.max_deliveries = 3;
    Ok((Queue::new(redis, name), options))
}

#[tokio::test]
async fn a_task_is_handled_once_and_removed() -> anyhow::Result<()> {
    let (queue, options) = queue("jobs").await?;
    queue.enqueue(&Job { n: 1 }).await?;
    queue.enqueue(&Job { n: 2 }).await?;
    assert_eq!(queue.depth().await?.queued, 2);
    let handler = flaky(0);
    let report = drain_once(&queue, &handler, &options).await?;
    assert_eq!(report.handled, 2);
    assert_eq!(handler.handled.load(Ordering::SeqCst), 2);
    let depth = queue.depth().await?;
    assert_eq!((depth.queued, depth.pending, depth.dead), (0, 0, 0));
    Ok(())
}

#[tokio::test]
async fn failures_retry_then_dead_letter_and_can_be_redriven() -> anyhow::Result<()> {
    let (queue, options) = queue("jobs").await?;
    queue.enqueue(&Job { n: 7 }).await?;

    // Fails every attempt: 3 deliveries, then the dead-letter stream.
    let always = flaky(usize::MAX);
    let report = drain_once(&queue, &always, &options).await?;
    assert_eq!(
        (report.retried, report.dead_lettered, report.handled),
        (2, 1, 0)
    );
    let letters = queue.dead_letters(10).await?;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].task, r#"{"n":7}"#);
    assert_eq!(letters[0].error, "transient failure 2");
    assert_eq!(queue.depth().await?.dead, 1);

    // Redriven, it is handled by a handler that now succeeds.
    assert_eq!(queue.redrive(10).await?, 1);
    let fixed = flaky(0);
    let report = drain_once(&queue, &fixed, &options).await?;
    assert_eq!(report.handled, 1);
    assert_eq!(queue.depth().await?.dead, 0);

    // A transient failure recovers within its deliveries.
    queue.enqueue(&Job { n: 8 }).await?;
    let twice = flaky(2);
    let report = drain_once(&queue, &twice, &options).await?;
    assert_eq!(
        (report.retried, report.handled, report.dead_lettered),
        (2, 1, 0)
    );
    Ok(())
}

#[tokio::test]
async fn an_undecodable_task_is_dead_lettered_at_once() -> anyhow::Result<()> {
    let (queue, options) = queue("jobs").await?;
    queue
        .enqueue(&serde_json::json!({"unexpected": true}))
        .await?;
    let handler = flaky(0);
    let report = drain_once(&queue, &handler, &options).await?;
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(handler.attempts.load(Ordering::SeqCst), 0);
    let letters = queue.dead_letters(10).await?;
    assert!(
        letters[0].error.starts_with("undecodable task"),
        "{letters:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_dead_consumers_entries_are_reclaimed() -> anyhow::Result<()> {
    let config = isolated_config().await?;
    let redis = Redis::new(&config.redis)?;
    let queue = Queue::new(redis.clone(), "jobs");
    queue.ensure_group().await?;
    queue.enqueue(&Job { n: 1 }).await?;

    // Consumer "crashed" reads the entry and dies without acknowledging it.
    let mut conn = redis.connection().await?;
    let taken = queue.read(&mut conn, "crashed", 10, 0).await?;
    assert_eq!(taken.len(), 1);
    assert_eq!(queue.depth().await?.pending, 1);

    let mut options = WorkerOptions::from_config(&config.services.queue, "survivor");
    options.reclaim_idle_ms = 0;
    let handler = flaky(0);
    let report = drain_once(&queue, &handler, &options).await?;
    assert_eq!(report.handled, 1);
    assert_eq!(queue.depth().await?.pending, 0);
    Ok(())
}

#[tokio::test]
async fn the_worker_handles_a_ping_end_to_end() -> anyhow::Result<()> {
    let config = Arc::new(isolated_config().await?);
    let shutdown = CancellationToken::new();
    let worker = ironsmith_queue_worker::start(config.clone(), shutdown.clone()).await?;
    let redis = Redis::new(&config.redis)?;
    let queue = Queue::new(redis.clone(), DEFAULT_QUEUE);
    let id = uuid::Uuid::new_v4();
    queue.enqueue(&Task::Ping { id }).await?;

    let key = redis.key(&pong_key(id));
    let mut conn = redis.connection().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        if exists {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never answered the ping"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let depth = queue.depth().await?;
    assert_eq!((depth.queued, depth.pending), (0, 0));
    shutdown.cancel();
    worker.wait().await?;
    Ok(())
}
