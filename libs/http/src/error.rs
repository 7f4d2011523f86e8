//! The API error type and its body shapes.
//!
//! General routes answer `{"detail": "..."}`; ingestion and platform routes answer
//! `{"error": "...", "details": "..."}`; request validation answers
//! `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`. Client errors carry a specific,
//! stable message; 5xx bodies are generic and the cause is logged.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which body shape an error takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStyle {
    /// `{"detail": "..."}`: general routes.
    #[default]
    Detail,
    /// `{"error": "...", "details": "..."}`: ingestion and platform routes.
    Error,
}

pub use ironsmith_api_types::error::ValidationIssue;

/// How long a client is asked to wait before retrying a 503.
const SERVICE_UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Unprocessable(Vec<ValidationIssue>),
    /// A 422 explained by one message rather than a list of field issues: what ingestion
    /// routes answer for data they can parse but not accept.
    #[error("{0}")]
    Rejected(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A feature this server does not offer (one that needs a hosted service), said plainly.
    #[error("{0}")]
    NotImplemented(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) | ApiError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Renders the error in the given body shape.
    pub fn into_response_with(self, style: ErrorStyle) -> Response {
        let status = self.status();
        let body = match (&self, style) {
            (ApiError::Unprocessable(issues), _) => json!({ "detail": issues }),
            (ApiError::Internal(source), _) => {
                tracing::error!(error = %source, source = ?source, "internal error");
                message_body(style, "Internal server error")
            }
            (other, style) => message_body(style, &other.to_string()),
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(retry_after_secs.max(1)),
            // A store that is down: the SDKs retry, and this tells them when.
            ApiError::ServiceUnavailable(_) => Some(SERVICE_UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn message_body(style: ErrorStyle, message: &str) -> serde_json::Value {
    match style {
        ErrorStyle::Detail => json!({ "detail": message }),
        ErrorStyle::Error => json!({ "error": message }),
    }
}

/// Whether `error` (or anything in its source chain) is a request body passing a length limit
/// (`http.max_body_bytes`, or a streaming route's own cap): the client's error, a 413.
pub fn is_body_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_with(ErrorStyle::Detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn detail_and_error_shapes() {
        let r = ApiError::NotFound("Session not found".into()).into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(r).await, json!({"detail": "Session not found"}));

        let r =
            ApiError::BadRequest("bad dotted_order".into()).into_response_with(ErrorStyle::Error);
        assert_eq!(body(r).await, json!({"error": "bad dotted_order"}));
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let r = ApiError::internal(std::io::Error::other("password=hunter2")).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body(r).await, json!({"detail": "Internal server error"}));
    }

    #[tokio::test]
    async fn throttling_always_carries_retry_after() {
        let r = ApiError::TooManyRequests {
            message: "rate limit".into(),
            retry_after_secs: 0,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");

        let r = ApiError::ServiceUnavailable("queue down".into()).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
    }

    #[tokio::test]
    async fn validation_issues_are_listed() {
        let r = ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["body".into(), "name".into()],
            msg: "field required".into(),
            kind: "missing".into(),
        }])
        .into_response();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body(r).await,
            json!({"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "missing"}]})
        );
    }
}
