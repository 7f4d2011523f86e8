//! playground: runs prompts against LLM providers, streaming, and traces each call. Sandboxed
//! by design: it receives no database, Redis or ClickHouse credentials and connects to none of
//! them. Backend authorises each call and hands over what it needs (the model configuration,
//! the provider key, the hub prompt); the traced run goes to ingestion with the caller's own
//! credentials. Provider base URLs reach only public addresses unless allow-listed.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod chat;
pub mod invoke;
pub mod limiter;
pub mod provider_call;
pub mod providers;
pub mod template;
pub mod trace;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ironsmith_config::Config;
use ironsmith_http::{PathStyle, Readiness, Served, ServiceInfo};
use ironsmith_runtime::Binary;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const SERVICE: &str = "playground";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub upstream: upstream::Upstream,
    /// Calls providers: every connection checked against `outbound`.
    pub provider_http: reqwest::Client,
    pub outbound: ironsmith_outbound::Policy,
    pub limiter: limiter::Limiter,
}

impl AppState {
    pub fn new(config: Arc<Config>) -> anyhow::Result<AppState> {
        let playground = &config.playground;
        let outbound = ironsmith_outbound::Policy::networks(playground.allowed_networks.clone());
        let provider_http = ironsmith_outbound::client(
            outbound.clone(),
            ironsmith_outbound::Limits {
                connect: Duration::from_secs(playground.connect_timeout_secs),
                read: Duration::from_secs(playground.idle_timeout_secs),
                total: Duration::from_secs(playground.request_timeout_secs),
                redirects: 3,
            },
        )?;
        Ok(AppState {
            upstream: upstream::Upstream::new(&config)?,
            provider_http,
            outbound,
            limiter: limiter::Limiter::new(playground.max_concurrent_per_workspace),
            config,
        })
    }
}

/// The public routes, each with its description in the API document.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(invoke::invoke))
}

/// The API document of the public routes, with paths as this service serves them.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, document) = public_routes().split_for_parts();
    document
}

pub fn router(state: AppState) -> Router {
    let info = ServiceInfo::new(SERVICE, &state.config);
    let readiness = Readiness::new(Duration::from_millis(
        state.config.http.readiness_timeout_ms,
    ));
    let (routes, _) = public_routes().split_for_parts();
    ironsmith_http::service_router(&info, readiness, routes.with_state(state))
}

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Served> {
    let state = AppState::new(config.clone())?;
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
