//! The web UI: a single-page app built by Vite from `web/` into `web/dist` and embedded into
//! this binary. Hashed files under `/assets/` never change, so a CDN or browser may keep them
//! for a year; `index.html` names the current ones and is revalidated on every load. Each
//! text asset is embedded with its gzip and brotli forms (made at build time), served by what
//! the browser accepts.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist"]
#[allow_missing = true]
struct Built;

const INDEX: &str = "index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Answers a UI request: an asset by its path, else the app's page (which routes in the
/// browser). Paths the app has no page for still get the page, with 404, so a pasted wrong
/// link shows the app's own "not found" and a crawler sees the status.
pub fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
        )
            .into_response();
    }
    let file = path.trim_start_matches('/');
    if file.starts_with("assets/") {
        return asset(file, headers, IMMUTABLE);
    }
    if !file.is_empty() && file != INDEX && !file.contains('/') && Built::get(file).is_some() {
        // Unhashed files at the root (the icon): a day, then revalidated.
        return asset(file, headers, "public, max-age=86400");
    }
    let status = if is_page(path) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    page(status, headers)
}

/// The paths the app has pages for (its router decides the rest).
fn is_page(path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    matches!(
        first,
        "" | "login" | "o" | "public" | "prompts" | "hub" | "datasets" | "oauth-callback"
    )
}

fn page(status: StatusCode, headers: &HeaderMap) -> Response {
    let Some(index) = Built::get(INDEX) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><title>Ironsmith</title><p>The web UI was not built into this \
             binary: run <code>scripts/web build</code>, then rebuild the frontend.</p>",
        )
            .into_response();
    };
    let etag = etag(&index.metadata.sha256_hash());
    let mut response = if status == StatusCode::OK && if_none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (status, Body::from(index.data.into_owned())).into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    response
}

fn asset(file: &str, headers: &HeaderMap, cache: &'static str) -> Response {
    let Some(plain) = Built::get(file) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "no-store")],
            "Not Found",
        )
            .into_response();
    };
    let content_type = content_type(file);
    let accepted = accepted_encodings(headers);
    let (data, encoding) = [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(name, _)| accepted.contains(name))
        .find_map(|(name, suffix)| Built::get(&format!("{file}{suffix}")).map(|f| (f, Some(name))))
        .unwrap_or((plain, None));
    let mut response = Body::from(data.data.into_owned()).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(encoding) = encoding {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

/// The codings of `Accept-Encoding` not refused with `q=0` (RFC 9110, section 12.5.3).
fn accepted_encodings(headers: &HeaderMap) -> Vec<&'static str> {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let mut accepted = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        match coding.as_str() {
            "br" => accepted.push("br"),
            "gzip" | "x-gzip" => accepted.push("gzip"),
            _ => {}
        }
    }
    accepted
}

fn etag(hash: &[u8; 32]) -> String {
    let hex: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next().unwrap_or_default() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::{accepted_encodings, is_page};

    fn accepting(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn encodings_refused_with_q_zero_are_not_used() {
        assert_eq!(
            accepted_encodings(&accepting("gzip, deflate, br")),
            ["gzip", "br"]
        );
        assert_eq!(
            accepted_encodings(&accepting("br;q=0, gzip;q=0.5")),
            ["gzip"]
        );
        assert!(accepted_encodings(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn the_app_owns_its_routes_and_nothing_else() {
        for path in [
            "/",
            "/login",
            "/o/abc/projects/p/def/r/ghi",
            "/public/tok/r",
            "/prompts/joke/abcd1234",
            "/hub/me/joke:abcd1234",
            "/datasets/xyz",
        ] {
            assert!(is_page(path), "{path}");
        }
        assert!(!is_page("/no/such/page"));
        assert!(!is_page("/wp-admin"));
    }
}
