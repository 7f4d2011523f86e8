//! platform-backend: authentication — organisations, workspaces, users, roles, API keys, login
//! (password and OIDC single sign-on), invitations and the audit log — and, with later issues,
//! the high-volume ingestion endpoints (`/runs/multipart`, `/runs/batch`, OTLP).

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod audit;
pub mod bootstrap;
pub mod error;
pub mod ingest;
pub mod login;
pub mod membership;
pub mod playground_evaluators;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use ironsmith_auth::Authenticator;
use ironsmith_config::Config;
use ironsmith_http::{PathStyle, Served, ServiceInfo};
use ironsmith_runtime::{Binary, StoreSet, Stores};
use tokio_util::sync::CancellationToken;

pub const SERVICE: &str = "platform-backend";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub stores: Stores,
    pub auth: Authenticator,
    /// Outbound HTTP (the OIDC issuer).
    pub http: reqwest::Client,
    pub ingest: ingest::Ingestor,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl AppState {
    pub fn new(config: Arc<Config>) -> anyhow::Result<Self> {
        let stores = Stores::connect(&config)?;
        let auth = Authenticator::new(&config, stores.postgres.clone(), stores.redis.clone())?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let ingest = ingest::Ingestor::new(config.clone(), &stores, auth.clone());
        Ok(AppState {
            config,
            stores,
            auth,
            http,
            ingest,
        })
    }
}

/// The API document of the public routes, with paths as this service serves them.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, document) = routes::public().split_for_parts();
    document
}

pub fn router(state: AppState) -> Router {
    let mut info = ServiceInfo::new(SERVICE, &state.config);
    // Ingestion bodies may be larger than other requests; the ingestion routes stream them and
    // enforce their own caps (`ingest.max_body_bytes`). JSON bodies keep `http.max_body_bytes`.
    info.max_stream_bytes = state.config.ingest.max_body_bytes;
    let readiness = state.stores.readiness(
        StoreSet::ALL,
        Duration::from_millis(state.config.http.readiness_timeout_ms),
    );
    let routes = routes::router(&state.config.auth.operator_token).with_state(state);
    ironsmith_http::service_router(&info, readiness, routes)
}

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Served> {
    let state = AppState::new(config.clone())?;
    tokio::spawn(bootstrap::bootstrap_in_background(
        state.stores.postgres.clone(),
        config.clone(),
        shutdown.clone(),
    ));
    Ok(ironsmith_http::serve(
        config.services.platform_backend.listen,
        router(state),
        PathStyle::Canonical,
        shutdown,
        &config.http,
    )
    .await?)
}

pub async fn run(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    start(config, shutdown).await?.wait().await?;
    Ok(())
}

pub struct Service;

impl Binary for Service {
    async fn serve(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
        run(config, shutdown).await
    }

    fn migrate(_: Arc<Config>) -> Option<impl Future<Output = anyhow::Result<()>>> {
        None::<std::future::Ready<anyhow::Result<()>>>
    }

    fn bootstrap(config: Arc<Config>) -> Option<impl Future<Output = anyhow::Result<()>>> {
        Some(async move {
            let pool = ironsmith_db::connect(&config.postgres)?;
            match bootstrap::bootstrap(&pool, &config).await? {
                bootstrap::Outcome::Created {
                    organization_id,
                    workspace_id,
                    ..
                } => {
                    tracing::info!(%organization_id, %workspace_id, admin = %config.bootstrap.admin_email, "bootstrapped the initial organisation")
                }
                bootstrap::Outcome::AlreadyBootstrapped => {
                    tracing::info!("already bootstrapped: an organisation exists");
                }
            }
            Ok(())
        })
    }
}
