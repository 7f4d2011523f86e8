//! backend: the main REST API (projects, runs, datasets, feedback, ...) and, under `/api-host`,
//! the deployment control plane. It owns the Postgres and ClickHouse schemas (`backend migrate`).

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod datasets;
pub mod deployments;
pub mod example_filter;
pub mod feedback;
pub mod model_configs;
pub mod projects;
pub mod references;
pub mod routes;
pub mod runs;
pub mod sharing;
pub mod upload;
pub mod v2;
pub mod workspace_secrets;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use ironsmith_auth::Authenticator;
use ironsmith_config::Config;
use ironsmith_http::{PathStyle, Served, ServiceInfo};
use ironsmith_runtime::{Binary, StoreSet, Stores};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

pub const SERVICE: &str = "backend";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub stores: Stores,
    pub auth: Authenticator,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}

impl AppState {
    /// Signs attachment download URLs.
    pub fn url_signer(&self) -> runs::attachments::UrlSigner {
        runs::attachments::UrlSigner::new(
            self.config.auth.jwt_secret.expose(),
            &self.config.public.api_url,
            self.config.runs.attachment_url_ttl_secs,
        )
    }

    pub fn new(config: Arc<Config>) -> anyhow::Result<Self> {
        let stores = Stores::connect(&config)?;
        let auth = Authenticator::new(&config, stores.postgres.clone(), stores.redis.clone())?;
        Ok(AppState {
            config,
            stores,
            auth,
        })
    }
}

/// The public routes, each with its description in the API document.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(routes::settings::router())
        .merge(routes::hub::router())
        .merge(routes::v2_runs::router())
        .merge(routes::v2_traces::router())
        .merge(routes::v2_threads::router())
        .merge(routes::v2_thread_stats::router())
        .merge(routes::insights::router())
        .merge(routes::v2_datasets::router())
        .merge(routes::model_prices::router())
        .merge(routes::model_configs::router())
        .merge(routes::secrets::router())
        .merge(routes::projects::router())
        .merge(routes::runs::router())
        .merge(routes::live::router())
        .merge(routes::datasets::router())
        .merge(routes::examples::router())
        .merge(routes::feedback::router())
        .merge(routes::annotation_queues::router())
        .merge(routes::public::router())
}

/// The API document of the public routes, with paths as this service serves them (the
/// deployment control plane's under `/api-host`, where it is mounted when enabled).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, document) = public_routes()
        .nest("/api-host", routes::control_plane::routes())
        .split_for_parts();
    document
}

/// Every route of the service, with the shared health, metrics and middleware.
pub fn router(state: AppState) -> Router {
    let info = ServiceInfo::new(SERVICE, &state.config);
    let readiness = state.stores.readiness(
        StoreSet::ALL,
        Duration::from_millis(state.config.http.readiness_timeout_ms),
    );
    let (public, _) = public_routes().split_for_parts();
    // Operational: reached inside the stack, never through the edge.
    let mut routes = public
        .merge(routes::queue_metrics::router())
        .merge(routes::playground::router());
    if state.config.deployment.enabled {
        routes = routes.nest("/api-host", routes::control_plane::router());
    }
    ironsmith_http::service_router(&info, readiness, routes.with_state(state))
}

/// Binds the configured address and serves until `shutdown`.
pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Served> {
    let state = AppState::new(config.clone())?;
    rewrap_secrets_in_background(&state);
    let served = ironsmith_http::serve(
        config.services.backend.listen,
        router(state),
        PathStyle::Canonical,
        shutdown,
        &config.http,
    )
    .await?;
    Ok(served)
}

/// Completes a rotation of `secrets.encryption_key`: data keys still wrapped by a previous key
/// are re-wrapped with the current one.
fn rewrap_secrets_in_background(state: &AppState) {
    let (Some(current), _) = state.config.secrets.keys() else {
        return;
    };
    let envelope = ironsmith_secrets::Envelope::new(&state.config.secrets);
    let pg = state.stores.postgres.clone();
    tokio::spawn(async move {
        match workspace_secrets::rewrap_all(&pg, &envelope, &current.id).await {
            Ok(0) => {}
            Ok(count) => {
                tracing::info!(count, key_id = %current.id, "re-wrapped workspace secrets with the current key")
            }
            Err(error) => {
                tracing::warn!(%error, "re-wrapping workspace secrets failed; the next start tries again")
            }
        }
    });
}

pub async fn run(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    start(config, shutdown).await?.wait().await?;
    Ok(())
}

/// Applies the Postgres and ClickHouse migrations. Idempotent; safe while services run.
pub async fn migrate(config: Arc<Config>) -> anyhow::Result<()> {
    let report = ironsmith_runtime::migrate_all(&config).await?;
    tracing::info!(
        applied = ?report.applied,
        already_applied = report.already_applied,
        "Postgres and ClickHouse schemas are up to date"
    );
    Ok(())
}

pub struct Backend;

impl Binary for Backend {
    async fn serve(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
        run(config, shutdown).await
    }

    fn migrate(config: Arc<Config>) -> Option<impl Future<Output = anyhow::Result<()>>> {
        Some(migrate(config))
    }
}
