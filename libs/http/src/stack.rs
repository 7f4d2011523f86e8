//! The standard tower stack and the routes every service shares, built in one place.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use ironsmith_config::HttpConfig;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::health::{self, HealthState, Readiness};
use crate::metrics;

/// The request id header: taken from the caller when present, minted otherwise, and echoed.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the shared routes and layers need to know about a service.
#[derive(Clone)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub region: String,
    pub http: HttpConfig,
}

impl ServiceInfo {
    pub fn new(name: &'static str, config: &ironsmith_config::Config) -> Self {
        ServiceInfo {
            name,
            region: config.stack.region.to_string(),
            http: config.http.clone(),
        }
    }
}

/// Wraps an API service's own routes with the shared ones (`/health/live`, `/health/ready`,
/// `/metrics`, and the upstream aliases `/health` and `/ok` of readiness), a JSON 404 for
/// unknown paths, and the standard middleware.
pub fn service_router(info: &ServiceInfo, readiness: Readiness, routes: Router) -> Router {
    let routes = routes
        .merge(shared_routes(info, readiness, HealthAlias::Readiness))
        .fallback(not_found);
    with_standard_layers(info, routes)
}

/// The same for the edge (frontend): `/health` is answered locally, and unknown paths go to
/// the fallback `routes` brings (the UI and the proxy).
pub fn edge_router(info: &ServiceInfo, readiness: Readiness, routes: Router) -> Router {
    let routes = routes.merge(shared_routes(info, readiness, HealthAlias::Liveness));
    with_standard_layers(info, routes)
}

enum HealthAlias {
    Readiness,
    Liveness,
}

fn shared_routes(info: &ServiceInfo, readiness: Readiness, alias: HealthAlias) -> Router {
    let health_state = HealthState {
        readiness,
        service: info.name,
        region: info.region.clone(),
    };
    let router = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    let router = match alias {
        HealthAlias::Readiness => router
            .route("/health", get(health::ready))
            .route("/ok", get(health::ready)),
        HealthAlias::Liveness => router.route("/health", get(health::live)),
    };
    router
        .with_state(health_state)
        .route("/metrics", get(metrics::render))
}

/// The JSON 404 of API services.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

/// Request id, trace span, CORS, timeout, body limit and request metrics (outermost first).
fn with_standard_layers(info: &ServiceInfo, routes: Router) -> Router {
    // Install the recorder now: anything recorded before it exists is lost.
    metrics::handle();
    let service = info.name;
    routes
        .layer(axum::middleware::from_fn(move |req, next| {
            metrics::record(service, req, next)
        }))
        // Innermost, in its own layer: axum turns its body type back into `Body`, which the
        // timeout and CORS layers need.
        .layer(RequestBodyLimitLayer::new(info.http.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(move |request: &Request| {
                        let request_id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            service,
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(cors(&info.http.cors_allowed_origins))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(info.http.request_timeout_secs),
                )),
        )
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods(Any)
        .allow_headers(Any)
        .expose_headers([REQUEST_ID]);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(origins))
    }
}
