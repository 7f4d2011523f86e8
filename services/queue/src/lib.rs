//! queue: the worker. It folds ingested runs into ClickHouse (`ingest`), consumes the task
//! queue (Redis Streams), and serves health, metrics and the ingestion dead letters on its own
//! port (1989), which the edge does not expose.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod ingest;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ironsmith_config::Config;
use ironsmith_http::{DependencyCheck, PathStyle, Served, ServiceInfo};
use ironsmith_queue::worker::HandlerError;
use ironsmith_queue::{DEFAULT_QUEUE, Handler, Queue, WorkerOptions, run_worker};
use ironsmith_redis::set_ex;
use ironsmith_runtime::{Binary, StoreSet, Stores};
use tokio_util::sync::CancellationToken;

use crate::ingest::IngestWorker;
use ironsmith_queue::tasks::{Task, pong_key};

mod dead_letters;

pub const SERVICE: &str = "queue";

/// Handles every `Task`.
pub struct TaskHandler {
    stores: Stores,
    /// See `clickhouse.max_pending_mutations`.
    max_pending_mutations: u64,
    /// See `clickhouse.cluster` and `clickhouse.database`.
    cluster: String,
    database: String,
    /// See `object_storage.orphan_grace_secs`.
    orphan_grace_secs: u64,
    /// Shards of the ingestion stream (to tell whether runs are waiting).
    ingest_shards: u16,
    /// Sends prompt webhooks.
    http: reqwest::Client,
    /// See `hub.allow_private_webhook_targets`.
    allow_private_webhook_targets: bool,
    /// See `hub.webhook_timeout_secs`.
    webhook_timeout: std::time::Duration,
    /// See `services.queue.max_deliveries`: a webhook delivery failing this often has failed.
    max_deliveries: u64,
}

impl TaskHandler {
    pub fn new(stores: Stores, config: &Config) -> Self {
        TaskHandler {
            stores,
            max_pending_mutations: config.clickhouse.max_pending_mutations,
            cluster: config.clickhouse.cluster.clone(),
            database: config.clickhouse.database.clone(),
            orphan_grace_secs: config.object_storage.orphan_grace_secs,
            ingest_shards: config.ingest.shards,
            http: ironsmith_hub::webhooks::client(
                config.hub.allow_private_webhook_targets,
                std::time::Duration::from_secs(config.hub.webhook_timeout_secs),
            ),
            allow_private_webhook_targets: config.hub.allow_private_webhook_targets,
            webhook_timeout: std::time::Duration::from_secs(config.hub.webhook_timeout_secs),
            max_deliveries: config.services.queue.max_deliveries,
        }
    }
}

impl Handler for TaskHandler {
    type Task = Task;

    async fn handle(&self, task: Task) -> Result<(), HandlerError> {
        match task {
            Task::Ping { id } => {
                let redis = &self.stores.redis;
                let mut conn = redis.connection().await?;
                set_ex(&mut conn, &redis.key(&pong_key(id)), "1", 60).await?;
                Ok(())
            }
            Task::DeleteProjectRuns {
                tenant_id,
                session_id,
            } => {
                let runs = ironsmith_analytics::runs::delete_project(
                    &self.stores.clickhouse,
                    &self.cluster,
                    &self.database,
                    tenant_id,
                    session_id,
                    self.max_pending_mutations,
                )
                .await?;
                // Their offloaded payloads and attachments go too.
                let runs: std::collections::HashSet<uuid::Uuid> = runs.into_iter().collect();
                let mut objects = 0;
                for prefix in [
                    format!("runs/{tenant_id}"),
                    format!("attachments/{tenant_id}"),
                ] {
                    objects += self.stores.storage.delete_owned(&prefix, &runs).await?;
                }
                ironsmith_db::projects::purge(&self.stores.postgres, tenant_id, session_id).await?;
                tracing::info!(%tenant_id, %session_id, objects, "removed a deleted project's runs and objects");
                Ok(())
            }
            Task::SweepExampleObjects { tenant_id } => {
                let removed =
                    sweep_example_objects(&self.stores, tenant_id, self.orphan_grace_secs).await?;
                tracing::info!(%tenant_id, removed, "removed attachments of examples that no longer exist");
                Ok(())
            }
            Task::DeliverPromptWebhook {
                tenant_id,
                delivery_id,
            } => ironsmith_hub::webhooks::deliver(
                &self.stores.postgres,
                &self.http,
                tenant_id,
                delivery_id,
                self.allow_private_webhook_targets,
                self.webhook_timeout,
                self.max_deliveries,
            )
            .await
            .map_err(HandlerError::from),
            Task::SweepRunObjects { tenant_id } => {
                let depth = ironsmith_queue::ShardedStream::new(
                    self.stores.redis.clone(),
                    ironsmith_queue::INGEST_STREAM,
                    self.ingest_shards,
                )
                .depth()
                .await?;
                if depth.queued + depth.pending + depth.dead > 0 {
                    tracing::info!(%tenant_id, ?depth, "runs are still waiting to be stored; run objects are swept next time");
                    return Ok(());
                }
                let removed =
                    sweep_run_objects(&self.stores, tenant_id, self.orphan_grace_secs).await?;
                tracing::info!(%tenant_id, removed, "removed objects of runs that exist nowhere");
                Ok(())
            }
        }
    }
}

/// Objects last modified before this are old enough to be swept.
fn sweep_cutoff(grace_secs: u64) -> chrono::DateTime<chrono::Utc> {
    let grace = chrono::Duration::seconds(i64::try_from(grace_secs).unwrap_or(i64::MAX / 1000));
    chrono::Utc::now() - grace
}

/// Deletes `tenant_id`'s run payloads and attachments (older than `grace_secs`) whose run is
/// in no table of ClickHouse. The caller has checked that no run waits in the stream.
async fn sweep_run_objects(
    stores: &Stores,
    tenant_id: uuid::Uuid,
    grace_secs: u64,
) -> Result<usize, HandlerError> {
    let cutoff = sweep_cutoff(grace_secs);
    let mut objects = Vec::new();
    for prefix in [
        format!("runs/{tenant_id}"),
        format!("attachments/{tenant_id}"),
    ] {
        objects.extend(
            stores
                .storage
                .owned_objects(&prefix)
                .await?
                .into_iter()
                .filter(|o| o.last_modified < cutoff),
        );
    }
    let mut owners: Vec<uuid::Uuid> = objects.iter().map(|o| o.owner).collect();
    owners.sort_unstable();
    owners.dedup();
    let mut known = std::collections::HashSet::new();
    for chunk in owners.chunks(1000) {
        known.extend(
            ironsmith_analytics::runs::locate(&stores.clickhouse, tenant_id, chunk)
                .await?
                .into_iter()
                .map(|location| location.id),
        );
    }
    let doomed = objects
        .into_iter()
        .filter(|o| !known.contains(&o.owner))
        .collect();
    Ok(stores.storage.delete_objects(doomed).await?)
}

/// Waits `interval`; false when the worker shuts down first.
async fn tick(interval: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(interval) => true,
    }
}

/// Every `interval`, one worker of the installation (whichever takes the lock) asks for a sweep
/// of every workspace's objects.
async fn sweep_periodically(stores: Stores, interval: Duration, shutdown: CancellationToken) {
    let queue = Queue::new(stores.redis.clone(), DEFAULT_QUEUE);
    while tick(interval, &shutdown).await {
        let result: Result<usize, HandlerError> = async {
            let mut conn = stores.redis.connection().await?;
            let taken: Option<String> = redis::cmd("SET")
                .arg(stores.redis.key(&ironsmith_redis::keys::sweep_lock()))
                .arg("1")
                .arg("NX")
                .arg("EX")
                .arg(interval.as_secs().max(1))
                .query_async(&mut conn)
                .await?;
            if taken.is_none() {
                return Ok(0);
            }
            let workspaces = ironsmith_db::workspaces::all_ids(&stores.postgres).await?;
            for &tenant_id in &workspaces {
                queue
                    .enqueue(&Task::SweepExampleObjects { tenant_id })
                    .await?;
                queue.enqueue(&Task::SweepRunObjects { tenant_id }).await?;
            }
            Ok(workspaces.len())
        }
        .await;
        match result {
            Ok(0) => {}
            Ok(workspaces) => {
                tracing::info!(workspaces, "asked for a sweep of every workspace's objects")
            }
            Err(error) => {
                tracing::warn!(%error, "best effort: could not start the periodic object sweep")
            }
        }
    }
}

/// Every `interval`, queues again the prompt webhook deliveries left pending with no task to
/// send them (`stale` untouched): a commit whose delivery could not be queued (Redis down at
/// that moment) is still delivered, once Redis is back.
async fn redeliver_periodically(
    stores: Stores,
    interval: Duration,
    stale: Duration,
    shutdown: CancellationToken,
) {
    let queue = Queue::new(stores.redis.clone(), DEFAULT_QUEUE);
    while tick(interval, &shutdown).await {
        let result: Result<usize, HandlerError> = async {
            let stale_secs = i64::try_from(stale.as_secs()).unwrap_or(i64::MAX);
            let claimed =
                ironsmith_db::prompt_webhooks::claim_stale(&stores.postgres, stale_secs, 1000)
                    .await?;
            for &(tenant_id, delivery_id) in &claimed {
                queue
                    .enqueue(&Task::DeliverPromptWebhook {
                        tenant_id,
                        delivery_id,
                    })
                    .await?;
            }
            Ok(claimed.len())
        }
        .await;
        match result {
            Ok(0) => {}
            Ok(queued) => {
                tracing::warn!(
                    queued,
                    "queued prompt webhook deliveries that were left pending"
                )
            }
            // Claimed but not queued: untouched again for `stale`, they are claimed again.
            Err(error) => tracing::warn!(%error, "could not queue left-behind webhook deliveries"),
        }
    }
}

/// Deletes `tenant_id`'s example attachments (older than `grace_secs`) whose example is gone
/// from every revision.
async fn sweep_example_objects(
    stores: &Stores,
    tenant_id: uuid::Uuid,
    grace_secs: u64,
) -> Result<usize, HandlerError> {
    let cutoff = sweep_cutoff(grace_secs);
    let objects: Vec<_> = stores
        .storage
        .owned_objects(&format!("examples/{tenant_id}"))
        .await?
        .into_iter()
        .filter(|o| o.last_modified < cutoff)
        .collect();
    let owners: Vec<uuid::Uuid> = {
        let mut owners: Vec<uuid::Uuid> = objects.iter().map(|o| o.owner).collect();
        owners.sort_unstable();
        owners.dedup();
        owners
    };
    let mut known = std::collections::HashSet::new();
    for chunk in owners.chunks(1000) {
        known.extend(ironsmith_db::examples::known_ids(&stores.postgres, tenant_id, chunk).await?);
    }
    let doomed = objects
        .into_iter()
        .filter(|o| !known.contains(&o.owner))
        .collect();
    Ok(stores.storage.delete_objects(doomed).await?)
}

/// Health, metrics and dead-letter routes of the worker.
pub fn router(config: &Config, stores: &Stores, ingest: Arc<IngestWorker>) -> Router {
    let info = ServiceInfo::new(SERVICE, config);
    let shards = ingest.clone();
    let readiness = stores
        .readiness(
            StoreSet::ALL,
            Duration::from_millis(config.http.readiness_timeout_ms),
        )
        .with(DependencyCheck::new("ingest_shards", move || {
            let stopped = shards.stopped_shards();
            async move {
                if stopped.is_empty() {
                    Ok(())
                } else {
                    Err(format!("ingestion shards {stopped:?} are not running"))
                }
            }
        }));
    let dead_letters = ironsmith_http::operator::operator_only(
        dead_letters::router(ingest),
        &config.auth.operator_token,
    );
    ironsmith_http::service_router(&info, readiness, dead_letters)
}

/// A running worker: its health server and its consumer loop.
pub struct Running {
    pub served: Served,
    worker: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn wait(self) -> anyhow::Result<()> {
        self.worker.await?;
        self.served.wait().await?;
        Ok(())
    }
}

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let stores = Stores::connect(&config)?;
    let owner = format!("{}-{}", SERVICE, uuid::Uuid::new_v4().simple());
    let ingest = Arc::new(IngestWorker::new(&config, &stores, owner));
    let served = ironsmith_http::serve(
        config.services.queue.listen,
        router(&config, &stores, ingest.clone()),
        PathStyle::Canonical,
        shutdown.clone(),
        &config.http,
    )
    .await?;
    let consumer = format!("{}-{}", SERVICE, uuid::Uuid::new_v4().simple());
    let options = WorkerOptions::from_config(&config.services.queue, consumer);
    let queue = Queue::new(stores.redis.clone(), DEFAULT_QUEUE);
    let handler = Arc::new(TaskHandler::new(stores.clone(), &config));
    let tasks = tokio::spawn(run_worker(queue, handler, options, shutdown.clone()));
    if config.object_storage.sweep_interval_secs > 0 {
        tokio::spawn(sweep_periodically(
            stores.clone(),
            Duration::from_secs(config.object_storage.sweep_interval_secs),
            shutdown.clone(),
        ));
    }
    if config.hub.webhook_redelivery_interval_secs > 0 {
        tokio::spawn(redeliver_periodically(
            stores.clone(),
            Duration::from_secs(config.hub.webhook_redelivery_interval_secs),
            Duration::from_secs(config.hub.webhook_stale_secs),
            shutdown.clone(),
        ));
    }
    let ingestion = tokio::spawn(ingest.run(shutdown));
    let worker = tokio::spawn(async move {
        for (name, done) in [("tasks", tasks.await), ("ingestion", ingestion.await)] {
            if let Err(error) = done {
                tracing::error!(%error, name, "a worker loop panicked");
            }
        }
    });
    Ok(Running { served, worker })
}

pub async fn run(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    start(config, shutdown).await?.wait().await
}

pub struct Service;

impl Binary for Service {
    async fn serve(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
        run(config, shutdown).await
    }

    fn migrate(_: Arc<Config>) -> Option<impl Future<Output = anyhow::Result<()>>> {
        None::<std::future::Ready<anyhow::Result<()>>>
    }
}
