//! playground: forwards prompts to LLM providers, streaming. Sandboxed by design: it receives no
//! database, Redis or ClickHouse credentials and connects to none of them, so its readiness has
//! no store dependencies. Provider forwarding arrives with its own issue.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ironsmith_config::Config;
use ironsmith_http::{PathStyle, Readiness, Served, ServiceInfo};
use ironsmith_runtime::Binary;
use tokio_util::sync::CancellationToken;

pub const SERVICE: &str = "playground";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
}

pub fn router(state: AppState) -> Router {
    let info = ServiceInfo::new(SERVICE, &state.config);
    let readiness = Readiness::new(Duration::from_millis(
        state.config.http.readiness_timeout_ms,
    ));
    let routes: Router<AppState> = Router::new();
    ironsmith_http::service_router(&info, readiness, routes.with_state(state))
}

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Served> {
    let state = AppState {
        config: config.clone(),
    };
    Ok(ironsmith_http::serve(
        config.services.playground.listen,
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
}
