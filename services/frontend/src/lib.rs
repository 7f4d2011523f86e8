//! frontend: the one public origin. It serves the web UI and forwards API paths to backend,
//! platform-backend and playground by the edge routing table, streaming bodies both ways.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod assets;
pub mod proxy;
pub mod routing;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironsmith_config::Config;
use ironsmith_http::{ApiError, DependencyCheck, PathStyle, Readiness, Served, ServiceInfo};
use ironsmith_runtime::Binary;
use tokio_util::sync::CancellationToken;
use tower_http::compression::predicate::{And, Predicate, SizeAbove};

use crate::proxy::{HttpClient, Upstreams};
use crate::routing::{Destination, Upstream};

pub const SERVICE: &str = "frontend";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub client: HttpClient,
    pub upstreams: Upstreams,
    pub readiness_timeout: Duration,
}

impl AppState {
    pub fn new(config: Arc<Config>) -> Self {
        AppState {
            upstreams: Upstreams {
                backend: config.endpoints.backend.clone(),
                platform_backend: config.endpoints.platform_backend.clone(),
                playground: config.endpoints.playground.clone(),
            },
            readiness_timeout: Duration::from_millis(config.http.readiness_timeout_ms),
            client: proxy::client(config.http.header_read_timeout_secs),
            config,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let info = ServiceInfo::new(SERVICE, &state.config);
    let mut readiness = Readiness::new(state.readiness_timeout);
    for upstream in [
        Upstream::Backend,
        Upstream::PlatformBackend,
        Upstream::Playground,
    ] {
        let client = state.client.clone();
        let base = state.upstreams.base(upstream).clone();
        let timeout = state.readiness_timeout;
        readiness = readiness.with(DependencyCheck::new(upstream.name(), move || {
            live(client.clone(), base.clone(), timeout)
        }));
    }
    let routes = Router::new()
        .fallback(edge)
        .with_state(state)
        .layer(compression())
        .layer(axum::middleware::map_response(security_headers));
    ironsmith_http::edge_router(&info, readiness, routes)
}

/// API answers (JSON, text) compressed for clients that accept it: zstd, else gzip, at the
/// fastest level, for bodies over 1 KiB. A whole trace of 10,000 runs is about 6 MB of JSON.
/// Event streams (the live tail, the playground) stay as they are, so each event is delivered
/// when it is written; the UI's assets are precompressed and served as such.
fn compression() -> tower_http::compression::CompressionLayer<And<SizeAbove, ByHeaders>> {
    let textual: ByHeaders = |_, _, headers, _| {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        matches!(
            essence.as_str(),
            "application/json" | "text/plain" | "text/csv" | "text/html"
        )
    };
    tower_http::compression::CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(textual))
}

/// A compression predicate on an answer's status and headers.
type ByHeaders = fn(StatusCode, http::Version, &http::HeaderMap, &http::Extensions) -> bool;

/// An upstream is up when its `/health/live` answers 200.
async fn live(client: HttpClient, base: url::Url, timeout: Duration) -> Result<(), String> {
    let response = proxy::get(&client, &base, "/health/live", timeout).await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", response.status()))
    }
}

async fn edge(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    match routing::route(request.method(), &path, state.config.deployment.enabled) {
        Destination::Proxy { upstream, path } => {
            let client_address =
                ironsmith_http::client_ip::peer_of(request.extensions()).map(|peer| {
                    ironsmith_http::client_address(
                        request.headers(),
                        peer,
                        &state.config.http.trusted_proxies,
                    )
                });
            proxy::forward(
                &state.client,
                &state.upstreams,
                upstream,
                &path,
                client_address,
                request,
            )
            .await
        }
        Destination::Ui if path == "/status" => ui::status_page(&state).await,
        Destination::Ui => assets::serve(request.method(), &path, request.headers()),
        Destination::Health => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Destination::OpenApi => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            OPENAPI_DOCUMENT,
        )
            .into_response(),
        Destination::NotFound => ApiError::NotFound("Not Found".into()).into_response(),
    }
}

/// The API document of every public route, generated from the services' code by
/// `cargo run -p ironsmith-openapi` (a test fails when it and the code differ).
pub const OPENAPI_DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The edge's response headers.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'self'"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    response
}

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<Served> {
    let state = AppState::new(config.clone());
    Ok(ironsmith_http::serve(
        config.services.frontend.listen,
        router(state),
        PathStyle::AsIs,
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
