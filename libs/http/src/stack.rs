//! The standard tower stack and the routes every service shares, built in one place.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use ironsmith_config::HttpConfig;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::health::{self, HealthState, Readiness, ReadinessCache};
use crate::metrics;

/// The request id header: taken from the caller when present, minted otherwise, and echoed.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the shared routes and layers need to know about a service.
#[derive(Clone)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub region: String,
    pub http: HttpConfig,
    /// The largest body a handler that streams its body may read (`http.max_body_bytes` unless a
    /// service's streaming routes enforce larger caps of their own). Extractors that buffer a
    /// body (JSON, forms, bytes) keep `http.max_body_bytes`.
    pub max_stream_bytes: usize,
}

impl ServiceInfo {
    pub fn new(name: &'static str, config: &ironsmith_config::Config) -> Self {
        ServiceInfo {
            name,
            region: config.stack.region.to_string(),
            http: config.http.clone(),
            max_stream_bytes: config.http.max_body_bytes,
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
        readiness: ReadinessCache::new(
            readiness,
            Duration::from_millis(info.http.readiness_cache_ms),
        ),
        service: info.name,
        region: info.region.clone(),
        show_reasons: matches!(alias, HealthAlias::Readiness),
    };
    let router = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    match alias {
        HealthAlias::Readiness => router
            .route("/health", get(health::ready))
            .route("/ok", get(health::ready))
            .with_state(health_state)
            .route("/metrics", get(metrics::render)),
        // The edge is public: its own metrics are for the scrapers' networks only.
        HealthAlias::Liveness => {
            let networks = Arc::new(info.http.metrics_networks.clone());
            router
                .route("/health", get(health::live))
                .with_state(health_state)
                .route(
                    "/metrics",
                    get(move |request: Request| {
                        let allowed =
                            crate::client_ip::peer_of(request.extensions()).is_some_and(|ip| {
                                networks.iter().any(|n| n.contains(&ip.to_canonical()))
                            });
                        async move {
                            if allowed {
                                metrics::render().await.into_response()
                            } else {
                                not_found().await.into_response()
                            }
                        }
                    }),
                )
        }
    }
}

/// The JSON 404 of API services.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

/// Request id, trace span, panic catcher, CORS, timeout, body limit and request metrics
/// (outermost first). Extractors that buffer a body (JSON, bytes, forms) take the same limit as
/// the stream, set explicitly instead of axum's 2 MB default.
fn with_standard_layers(info: &ServiceInfo, routes: Router) -> Router {
    // Install the recorder now: anything recorded before it exists is lost.
    metrics::handle();
    let service = info.name;
    let drain_cap = info.http.max_body_bytes;
    routes
        .layer(axum::middleware::from_fn(move |req, next| {
            metrics::record(service, req, next)
        }))
        .layer(DefaultBodyLimit::max(info.http.max_body_bytes))
        // Innermost, in its own layer: axum turns its body type back into `Body`, which the
        // timeout and CORS layers need.
        .layer(RequestBodyLimitLayer::new(
            info.max_stream_bytes.max(info.http.max_body_bytes),
        ))
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
                            path = %loggable_path(request.uri().path()),
                            request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(move |panic| {
                    panicked(service, panic)
                }))
                .layer(cors(&info.http.cors_allowed_origins))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(info.http.request_timeout_secs),
                )),
        )
        // Outermost: it sees every answer, including timeouts and caught panics.
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::connection::drain_unread_body(drain_cap, request, next)
        }))
}

/// `path` as logs may show it: the capability tokens of public links (`/public/{token}/…`)
/// and feedback tokens (`/feedback/tokens/{token}`) are credentials, and are replaced.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let mut segments: Vec<&str> = path.split('/').collect();
    let mut changed = false;
    for i in 1..segments.len() {
        let after = |name: &str| segments.get(i - 1).is_some_and(|s| *s == name);
        let token_follows_tokens =
            i >= 2 && segments.get(i - 2).is_some_and(|s| *s == "feedback") && after("tokens");
        let is_token = (after("public") && segments.get(i).is_some_and(|s| *s != "download"))
            || token_follows_tokens;
        if is_token
            && let Some(segment) = segments.get_mut(i)
            && !segment.is_empty()
        {
            *segment = "{token}";
            changed = true;
        }
    }
    if changed {
        std::borrow::Cow::Owned(segments.join("/"))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// The message a panic carried, if it carried one.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// A handler that panicked: the panic is logged and counted, the client gets the generic 500
/// every internal error gets, and the connection and the service carry on.
fn panicked(
    service: &'static str,
    panic: Box<dyn std::any::Any + Send + 'static>,
) -> axum::response::Response {
    let message = panic_message(&*panic);
    tracing::error!(service, panic = %message, "a request handler panicked");
    ::metrics::counter!("http_handler_panics_total", "service" => service).increment(1);
    ApiError::internal(std::io::Error::other(message)).into_response()
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    fn info() -> ServiceInfo {
        ServiceInfo {
            name: "test",
            region: "us".into(),
            http: HttpConfig {
                request_timeout_secs: 10,
                shutdown_grace_secs: 1,
                readiness_timeout_ms: 100,
                max_body_bytes: 1024,
                cors_allowed_origins: vec!["*".into()],
                max_connections: 10,
                header_read_timeout_secs: 1,
                trusted_proxies: Vec::new(),
                metrics_networks: Vec::new(),
                readiness_cache_ms: 1000,
            },
            max_stream_bytes: 1024,
        }
    }

    async fn call(app: &Router, path: &str, body: &str) -> (StatusCode, String) {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_logged_500_and_the_service_carries_on() {
        let routes = Router::new()
            .route(
                "/boom",
                axum::routing::post(|| async {
                    let empty: Vec<u8> = Vec::new();
                    // An out-of-bounds index: the kind of bug a client's input can reach.
                    #[allow(clippy::indexing_slicing)]
                    let byte = empty[usize::from(u8::MAX)];
                    byte.to_string()
                }),
            )
            .route("/fine", axum::routing::post(|| async { "fine" }));
        let app = service_router(&info(), Readiness::default(), routes);
        let (status, body) = call(&app, "/boom", "{}").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, r#"{"detail":"Internal server error"}"#);
        let (status, body) = call(&app, "/fine", "{}").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "fine"));
    }

    #[test]
    fn capability_tokens_stay_out_of_logged_paths() {
        let token = "3f1d2a4e-0000-4000-8000-000000000001";
        for (path, logged) in [
            (
                format!("/public/{token}/run"),
                "/public/{token}/run".to_owned(),
            ),
            (
                format!("/api/v1/public/{token}/datasets"),
                "/api/v1/public/{token}/datasets".to_owned(),
            ),
            (
                format!("/feedback/tokens/{token}"),
                "/feedback/tokens/{token}".to_owned(),
            ),
            ("/public/download".to_owned(), "/public/download".to_owned()),
            ("/feedback/tokens".to_owned(), "/feedback/tokens".to_owned()),
            ("/runs/query".to_owned(), "/runs/query".to_owned()),
        ] {
            assert_eq!(loggable_path(&path), logged, "{path}");
        }
    }

    #[tokio::test]
    async fn json_bodies_take_the_configured_limit() {
        let routes = Router::new().route(
            "/echo",
            axum::routing::post(
                |crate::Json(v): crate::Json<serde_json::Value>| async move { v.to_string() },
            ),
        );
        // Streaming handlers may take more; buffered JSON still stops at `http.max_body_bytes`.
        let mut info = info();
        info.max_stream_bytes = 1 << 20;
        let app = service_router(&info, Readiness::default(), routes);
        let small = format!("\"{}\"", "x".repeat(100));
        assert_eq!(call(&app, "/echo", &small).await.0, StatusCode::OK);
        let large = format!("\"{}\"", "x".repeat(2048));
        assert_eq!(
            call(&app, "/echo", &large).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
