//! Liveness and readiness.
//!
//! `/health/live` checks nothing: the process answers. `/health/ready` probes every dependency
//! concurrently, each within a timeout, and answers 503 naming the ones that are down. Probes
//! run on every request, so a dependency that comes back turns the service ready again without
//! a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures::future::{BoxFuture, join_all};
use ironsmith_api_types::health::{
    DependencyState, DependencyStatus, ReadinessReport, ReadinessState,
};

type Probe = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// One named dependency and how to probe it.
#[derive(Clone)]
pub struct DependencyCheck {
    name: &'static str,
    probe: Arc<Probe>,
}

impl DependencyCheck {
    /// `probe` answers `Err(reason)` when the dependency cannot serve.
    pub fn new<F, Fut, E>(name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let probe = Arc::new(move || -> BoxFuture<'static, Result<(), String>> {
            let fut = probe();
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        DependencyCheck { name, probe }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The dependencies a service needs before it can serve.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<DependencyCheck>,
    timeout: Duration,
}

impl Readiness {
    pub fn new(timeout: Duration) -> Self {
        Readiness {
            checks: Vec::new(),
            timeout,
        }
    }

    pub fn with(mut self, check: DependencyCheck) -> Self {
        self.checks.push(check);
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.checks.iter().map(DependencyCheck::name).collect()
    }

    /// Probes every dependency concurrently.
    pub async fn probe(&self) -> BTreeMap<String, DependencyStatus> {
        let timeout = self.timeout;
        let results = join_all(self.checks.iter().map(|check| async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(timeout, (check.probe)()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
            };
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let status = match outcome {
                Ok(()) => DependencyStatus {
                    status: DependencyState::Up,
                    latency_ms,
                    error: None,
                },
                Err(error) => {
                    tracing::warn!(dependency = check.name, %error, "dependency is down");
                    DependencyStatus {
                        status: DependencyState::Down,
                        latency_ms,
                        error: Some(error),
                    }
                }
            };
            (check.name.to_owned(), status)
        }))
        .await;
        results.into_iter().collect()
    }
}

/// A readiness result and when it was taken.
type Probed = (Instant, BTreeMap<String, DependencyStatus>);

/// Readiness probed at most once per `ttl`: callers within it get the last result, and callers
/// that arrive while a probe runs wait for that probe instead of starting their own.
#[derive(Clone)]
pub struct ReadinessCache {
    readiness: Readiness,
    ttl: Duration,
    last: Arc<tokio::sync::Mutex<Option<Probed>>>,
}

impl ReadinessCache {
    pub fn new(readiness: Readiness, ttl: Duration) -> Self {
        ReadinessCache {
            readiness,
            ttl,
            last: Arc::default(),
        }
    }

    pub async fn probe(&self) -> BTreeMap<String, DependencyStatus> {
        let mut last = self.last.lock().await;
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < self.ttl
        {
            return result.clone();
        }
        let result = self.readiness.probe().await;
        *last = Some((Instant::now(), result.clone()));
        result
    }
}

/// What the health handlers need.
#[derive(Clone)]
pub(crate) struct HealthState {
    pub readiness: ReadinessCache,
    /// Whether the report carries each failure's reason: not on the public edge, where anyone
    /// may read it (the reasons are logged either way).
    pub show_reasons: bool,
    pub service: &'static str,
    pub region: String,
}

pub(crate) async fn live() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    let mut dependencies = state.readiness.probe().await;
    if !state.show_reasons {
        for status in dependencies.values_mut() {
            status.error = None;
        }
    }
    let all_up = dependencies
        .values()
        .all(|d| d.status == DependencyState::Up);
    let report = ReadinessReport {
        status: if all_up {
            ReadinessState::Ready
        } else {
            ReadinessState::Unready
        },
        service: state.service.into(),
        region: state.region.clone(),
        dependencies,
    };
    let code = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}
