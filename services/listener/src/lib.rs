//! The data plane's listener. It serves one workspace and one listener registration: it sends
//! heartbeats, polls the control plane for the deployments bound to it, declares each as an
//! `LGP` (and a Secret) in its watched namespaces, health-checks what the operator rolls out,
//! reports every revision's progress and logs, and tears deleted deployments down. It only
//! pulls: the control plane never calls into the cluster.
//!
//! `GET /health` on `PORT` answers 200 while it reconciles, and 503 with the reason once the
//! control plane refused its key or its namespaces overlap another listener's;
//! `GET /metrics/queue/host` answers `{"queued", "pending"}` (rollouts waiting, in progress).

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod client;
pub mod config;
pub mod reconcile;
pub mod spec;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::routing::get;
use ironsmith_api_types::deployments::Heartbeat;
use ironsmith_dataplane::lgp::LISTENER_FIELD_MANAGER;
use ironsmith_dataplane::{Cluster, KubeCluster, LocalCluster};
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

use crate::client::{ClientError, ControlPlane};
use crate::config::{ClusterKind, Config};
use crate::reconcile::{Outcome, Reconciler};

pub fn init_logging() {
    let filter = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            filter.to_ascii_lowercase(),
        ))
        .try_init();
}

/// Cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        cancel.cancel();
    });
    token
}

/// What `/health` and `/metrics/queue/host` report.
#[derive(Default)]
struct Health {
    stopped: RwLock<Option<String>>,
    pending: AtomicU64,
    queued: AtomicU64,
}

async fn serve_health(
    port: u16,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let h1 = health.clone();
    let app = axum::Router::new()
        .route(
            "/health",
            get(move || {
                let health = h1.clone();
                async move {
                    match health.stopped.read().await.clone() {
                        None => (StatusCode::OK, Json(serde_json::json!({"ok": true}))),
                        Some(reason) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            Json(serde_json::json!({"ok": false, "error": reason})),
                        ),
                    }
                }
            }),
        )
        .route(
            "/metrics/queue/host",
            get(move || {
                let health = health.clone();
                async move {
                    Json(serde_json::json!({
                        "queued": health.queued.load(Ordering::Relaxed),
                        "pending": health.pending.load(Ordering::Relaxed),
                    }))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

async fn connect(config: &Config) -> anyhow::Result<Cluster> {
    Ok(match &config.cluster {
        ClusterKind::Kubernetes => {
            Cluster::Kube(KubeCluster::connect(LISTENER_FIELD_MANAGER).await?)
        }
        ClusterKind::Local(dir) => Cluster::Local(LocalCluster::new(dir)),
    })
}

/// Whether an error means the listener must stop reconciling (and say why in `/health`).
fn fatal(error: &ClientError) -> Option<String> {
    match error {
        ClientError::Denied { .. } => Some(error.to_string()),
        ClientError::Status { status, body } if status.as_u16() == 409 => {
            Some(format!("the control plane refused this listener: {body}"))
        }
        _ => None,
    }
}

pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let health = Arc::new(Health::default());
    let server = tokio::spawn(serve_health(config.port, health.clone(), shutdown.clone()));
    let control = ControlPlane::new(&config)?;
    let cluster = connect(&config).await?;
    let cluster_uid = cluster.cluster_uid().await?;
    let listener = control.listener(&config.listener_id).await?;
    let watched = if config.watch_namespaces.is_empty() {
        listener.compute_config.k8s_namespaces.clone()
    } else {
        config.watch_namespaces.clone()
    };
    tracing::info!(listener = %listener.id, compute_id = %listener.compute_id, ?watched, %cluster_uid, instance = %config.instance_id, "listener started");
    let reconciler = Reconciler {
        listener_path: config.listener_id.clone(),
        control: control.clone(),
        cluster,
        http: reqwest::Client::builder().build()?,
        config: config.clone(),
    };
    let mut poll = config.poll_interval.unwrap_or(Duration::from_secs(5));
    let mut heartbeat_every = Duration::from_secs(30);
    let mut last_heartbeat: Option<tokio::time::Instant> = None;
    while !shutdown.is_cancelled() {
        if health.stopped.read().await.is_some() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(poll) => continue,
            }
        }
        if last_heartbeat.is_none_or(|at| at.elapsed() >= heartbeat_every) {
            let beat = Heartbeat {
                version: Some(env!("CARGO_PKG_VERSION").into()),
                cluster_uid: Some(cluster_uid.clone()),
                watch_namespaces: watched.clone(),
                reconciled_at: Some(chrono::Utc::now()),
                pending_jobs: Some(health.pending.load(Ordering::Relaxed) as i64),
            };
            match control.heartbeat(&config.listener_id, &beat).await {
                Ok(ack) => {
                    last_heartbeat = Some(tokio::time::Instant::now());
                    heartbeat_every = Duration::from_secs(ack.heartbeat_interval_seconds.max(1));
                    if config.poll_interval.is_none() {
                        poll = Duration::from_secs(ack.poll_interval_seconds.max(1));
                    }
                }
                Err(e) => {
                    if let Some(reason) = fatal(&e) {
                        tracing::error!(%reason, "listener stops reconciling");
                        *health.stopped.write().await = Some(reason);
                        continue;
                    }
                    tracing::warn!(error = %e, "heartbeat failed");
                }
            }
        }
        match control.deployments(listener.id).await {
            Ok(deployments) => {
                let (mut pending, mut queued) = (0, 0);
                for deployment in &deployments {
                    match reconciler.pass(deployment, &watched).await {
                        Ok(Outcome::Pending) => pending += 1,
                        Ok(Outcome::Settled) => {}
                        Err(e) => {
                            if let ClientError::Denied { .. } = e {
                                *health.stopped.write().await = fatal(&e);
                            }
                            tracing::warn!(deployment = %deployment.name, error = %e, "reconcile failed; retrying next pass");
                            queued += 1;
                        }
                    }
                }
                health.pending.store(pending, Ordering::Relaxed);
                health.queued.store(queued, Ordering::Relaxed);
            }
            Err(e) => {
                if let Some(reason) = fatal(&e).filter(|_| matches!(e, ClientError::Denied { .. }))
                {
                    *health.stopped.write().await = Some(reason);
                }
                tracing::warn!(error = %e, "listing deployments failed");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
        }
    }
    server.abort();
    Ok(())
}
