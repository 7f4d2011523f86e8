//! The reverse proxy: forwards a request to the service the routing table names, streaming the
//! request and response bodies without buffering them.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ironsmith_http::ApiError;
use url::Url;

use crate::routing::Upstream;

/// Connection-level headers that must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub type HttpClient = Client<HttpConnector, Body>;

/// HTTP/1.1 with keep-alive; connect timeout 60 s. The services close a connection left idle
/// for `http.header_read_timeout_secs`; the edge drops its idle connections in half that time,
/// so it never sends a request on a connection the service is closing (which fails as a 502).
pub fn client(upstream_idle_close_secs: u64) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(60)));
    connector.set_nodelay(true);
    let idle = Duration::from_millis(upstream_idle_close_secs.max(1) * 500);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(idle)
        .build(connector)
}

/// The upstream base URLs.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub backend: Url,
    pub platform_backend: Url,
    pub playground: Url,
}

impl Upstreams {
    pub fn base(&self, upstream: Upstream) -> &Url {
        match upstream {
            Upstream::Backend => &self.backend,
            Upstream::PlatformBackend => &self.platform_backend,
            Upstream::Playground => &self.playground,
        }
    }
}

/// Forwards `request` to `upstream` at `path`, on behalf of the client at `client_address`.
pub async fn forward(
    client: &HttpClient,
    upstreams: &Upstreams,
    upstream: Upstream,
    path: &str,
    client_address: Option<std::net::IpAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let base = upstreams.base(upstream).as_str().trim_end_matches('/');
    let target = match parts.uri.query() {
        Some(query) => format!("{base}{path}?{query}"),
        None => format!("{base}{path}"),
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return ApiError::BadRequest("Invalid request path".into()).into_response();
    };
    let original_host = parts.headers.get(header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    if let Some(host) = original_host {
        parts.headers.insert("x-forwarded-host", host);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    // The edge is the trust boundary: services take the client address for per-address
    // limits from this header, so it carries exactly the address the edge determined (from a
    // trusted load balancer's header, or the peer) and nothing a client wrote.
    parts.headers.remove("x-forwarded-for");
    if let Some(address) = client_address.and_then(|a| HeaderValue::from_str(&a.to_string()).ok()) {
        parts.headers.insert("x-forwarded-for", address);
    }
    parts.uri = uri;
    let upstream_request = Request::from_parts(parts, body);
    match client.request(upstream_request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        // The client's body passed the edge's cap while it was being forwarded: that is the
        // client's error (413), not the upstream's (a 502 would make SDKs retry the same body).
        Err(error) if ironsmith_http::is_body_too_large(&error) => ApiError::PayloadTooLarge(
            "The request body is larger than this server accepts; send smaller batches".into(),
        )
        .into_response(),
        Err(error) => {
            tracing::warn!(upstream = upstream.name(), %error, "upstream request failed");
            let mut response = ApiError::ServiceUnavailable(format!(
                "The {} service is unavailable",
                upstream.name()
            ))
            .into_response();
            *response.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
            response
        }
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    for name in named {
        headers.remove(name);
    }
}

/// `GET {base}{path}` on an upstream, within `timeout`: the frontend's own probes of the services.
pub async fn get(
    client: &HttpClient,
    base: &Url,
    path: &str,
    timeout: Duration,
) -> Result<axum::http::Response<hyper::body::Incoming>, String> {
    let uri: Uri = format!("{}{path}", base.as_str().trim_end_matches('/'))
        .parse()
        .map_err(|_| "bad upstream URL".to_owned())?;
    let request = Request::get(uri)
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| format!("unreachable: {e}"))
}
