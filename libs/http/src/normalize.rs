//! Path-prefix normalisation, applied to every route of every API service before
//! routing: one leading `/api` segment goes, then one leading `/v1` segment, and one trailing
//! `/` is insignificant. So `/api/v1/sessions`, `/api/sessions`, `/v1/sessions` and `/sessions/`
//! all reach `/sessions`; `/api/v1/platform/x` and `/v1/platform/x` meet at `/platform/x`.

use axum::extract::Request;
use http::Uri;
use http::uri::PathAndQuery;

/// The canonical form of a request path.
pub fn canonical_path(path: &str) -> String {
    let mut rest = strip_segment(path, "/api");
    rest = strip_segment(rest, "/v1");
    let mut canonical = if rest.is_empty() { "/" } else { rest }.to_owned();
    if canonical.len() > 1 && canonical.ends_with('/') {
        canonical.pop();
    }
    canonical
}

/// Removes `segment` from the front of `path` when it is a whole segment.
fn strip_segment<'a>(path: &'a str, segment: &str) -> &'a str {
    match path.strip_prefix(segment) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

/// Rewrites a request's URI to its canonical path, keeping the query string.
pub fn normalize_request(mut request: Request) -> Request {
    let uri = request.uri();
    let canonical = canonical_path(uri.path());
    if canonical != uri.path() {
        let path_and_query = match uri.query() {
            Some(query) => format!("{canonical}?{query}"),
            None => canonical,
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
            parts.path_and_query = Some(pq);
            if let Ok(new_uri) = Uri::from_parts(parts) {
                *request.uri_mut() = new_uri;
            }
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn the_three_url_families_meet() {
        for path in [
            "/sessions",
            "/api/sessions",
            "/api/v1/sessions",
            "/v1/sessions",
            "/sessions/",
        ] {
            assert_eq!(canonical_path(path), "/sessions", "{path}");
        }
        for path in ["/v1/platform/datasets", "/api/v1/platform/datasets"] {
            assert_eq!(canonical_path(path), "/platform/datasets", "{path}");
        }
        for path in ["/api/v2/runs", "/v2/runs"] {
            assert_eq!(canonical_path(path), "/v2/runs", "{path}");
        }
        assert_eq!(canonical_path("/api/v1/runs/multipart"), "/runs/multipart");
        assert_eq!(canonical_path("/api/v1/otel/v1/traces"), "/otel/v1/traces");
    }

    #[test]
    fn only_whole_segments_are_stripped() {
        assert_eq!(
            canonical_path("/api-host/v2/deployments"),
            "/api-host/v2/deployments"
        );
        assert_eq!(canonical_path("/apis"), "/apis");
        assert_eq!(canonical_path("/v1x/a"), "/v1x/a");
        assert_eq!(canonical_path("/api"), "/");
        assert_eq!(canonical_path("/api/v1/"), "/");
        assert_eq!(canonical_path("/"), "/");
    }

    #[test]
    fn only_one_of_each_prefix_goes() {
        assert_eq!(canonical_path("/api/api/x"), "/api/x");
        assert_eq!(canonical_path("/v1/v1/x"), "/v1/x");
        assert_eq!(canonical_path("/v1/api/x"), "/api/x");
    }

    #[test]
    fn a_query_string_survives() {
        let request = axum::extract::Request::builder()
            .uri("/api/v1/sessions/?name=a%2Fb&limit=1")
            .body(axum::body::Body::empty())
            .expect("request");
        let request = super::normalize_request(request);
        assert_eq!(request.uri().path(), "/sessions");
        assert_eq!(request.uri().query(), Some("name=a%2Fb&limit=1"));
    }
}
