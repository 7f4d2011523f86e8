//! A caller's credentials, passed on when one service calls another on the caller's behalf
//! (the playground asking backend for what a call needs, a playground experiment running its
//! calls): the receiving service authenticates and authorises the caller itself, exactly as if
//! the caller had asked it directly.

use axum::http::HeaderMap;

/// The request headers that carry a caller's credentials and workspace, and where a browser
/// request came from: a session cookie is only accepted with a same-origin `Origin` (or
/// `Sec-Fetch-Site`), which must reach the service that checks it.
const FORWARDED: [&str; 7] = [
    "authorization",
    "x-api-key",
    "cookie",
    "x-tenant-id",
    "x-organization-id",
    "origin",
    "sec-fetch-site",
];

#[derive(Debug, Clone, Default)]
pub struct Credentials(Vec<(&'static str, String)>);

impl Credentials {
    pub fn of(headers: &HeaderMap) -> Credentials {
        Credentials(
            FORWARDED
                .iter()
                .filter_map(|name| {
                    let value = headers.get(*name)?.to_str().ok()?;
                    Some((*name, value.to_owned()))
                })
                .collect(),
        )
    }

    /// The headers to send.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(name, value)| (*name, value.as_str()))
    }

    /// The headers to send when acting in workspace `tenant_id`.
    pub fn headers_in(&self, tenant_id: uuid::Uuid) -> Vec<(&'static str, String)> {
        std::iter::once(("x-tenant-id", tenant_id.to_string()))
            .chain(
                self.0
                    .iter()
                    .filter(|(name, _)| *name != "x-tenant-id")
                    .cloned(),
            )
            .collect()
    }
}

/// A service's failure answer (status and JSON body), passed on to the caller as it came: the
/// same status and the service's `detail`.
pub fn passed_on(status: u16, body: &serde_json::Value) -> crate::ApiError {
    use crate::ApiError;
    let message = body
        .get("detail")
        .map(|d| match d {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| format!("the stack answered {status}"));
    match status {
        400 => ApiError::BadRequest(message),
        401 => ApiError::Unauthorized(message),
        403 => ApiError::Forbidden(message),
        404 => ApiError::NotFound(message),
        409 => ApiError::Conflict(message),
        413 => ApiError::PayloadTooLarge(message),
        422 => ApiError::Rejected(message),
        429 => ApiError::TooManyRequests {
            message,
            retry_after_secs: 1,
        },
        503 => ApiError::ServiceUnavailable(message),
        _ => ApiError::internal(format!("a service answered {status}: {message}")),
    }
}
