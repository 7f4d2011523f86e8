//! platform-backend: authentication (organisations, workspaces, users, API keys, login) and the
//! high-volume ingestion endpoints (`/runs/multipart`, `/runs/batch`, OTLP). Those arrive with
//! their own issues; this crate is the service they plug into.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ironsmith_config::Config;
use ironsmith_http::{PathStyle, Served, ServiceInfo};
use ironsmith_runtime::{Binary, StoreSet, Stores};
use tokio_util::sync::CancellationToken;

pub const SERVICE: &str = "platform-backend";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub stores: Stores,
}

impl AppState {
    pub fn new(config: Arc<Config>) -> anyhow::Result<Self> {
        let stores = Stores::connect(&config)?;
        Ok(AppState { config, stores })
    }
}

pub fn router(state: AppState) -> Router {
    let info = ServiceInfo::new(SERVICE, &state.config);
    let readiness = state.stores.readiness(
        StoreSet::ALL,
        Duration::from_millis(state.config.http.readiness_timeout_ms),
    );
    let routes: Router<AppState> = Router::new();
    ironsmith_http::service_router(&info, readiness, routes.with_state(state))
}

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Served> {
    let state = AppState::new(config.clone())?;
    Ok(ironsmith_http::serve(
        config.services.platform_backend.listen,
        router(state),
        PathStyle::Canonical,
        shutdown,
        Duration::from_secs(config.http.shutdown_grace_secs),
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
}
