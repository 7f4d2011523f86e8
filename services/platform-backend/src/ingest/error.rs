//! Ingestion's error answers, in the body shape LangSmith's ingestion routes use:
//! `{"error": "<message>", "details": "<optional>"}`. Bad data is 400/422 (the SDKs drop the
//! batch with a warning and never retry); over-limit bodies are 413; a store that is down is
//! a 503 with Retry-After (retried), never a silent loss.

use axum::response::{IntoResponse, Response};
use ironsmith_auth::AuthError;
use ironsmith_http::{ApiError, ErrorStyle};
use ironsmith_runs::WireError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("Bad request: {0}")]
    BadRequest(String),
    #[error("Unprocessable entity: {0}")]
    Unprocessable(String),
    #[error("Payload too large: {0}")]
    TooLarge(String),
    #[error("Unsupported media type: {0}")]
    UnsupportedMedia(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A store the request needs is unreachable: retry later.
    #[error("Service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl IngestError {
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        IngestError::Internal(error.into())
    }

    /// A multipart body that cannot be read, in LangSmith's wording.
    pub fn multipart(reason: impl std::fmt::Display) -> Self {
        IngestError::Unprocessable(format!("error reading multipart data: {reason}"))
    }
}

impl From<WireError> for IngestError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::DottedOrder(message) => {
                IngestError::BadRequest(format!("invalid 'dotted_order': {message}"))
            }
            missing @ WireError::Missing { .. } => IngestError::BadRequest(missing.to_string()),
            invalid @ WireError::Invalid { .. } => IngestError::Unprocessable(invalid.to_string()),
        }
    }
}

impl From<ironsmith_redis::RedisError> for IngestError {
    fn from(error: ironsmith_redis::RedisError) -> Self {
        ironsmith_queue::QueueError::from(error).into()
    }
}

impl From<ironsmith_queue::QueueError> for IngestError {
    fn from(error: ironsmith_queue::QueueError) -> Self {
        tracing::error!(%error, "cannot append to the ingestion stream");
        IngestError::Unavailable("the ingestion queue is unreachable; retry shortly".into())
    }
}

impl From<ironsmith_storage::StorageError> for IngestError {
    fn from(error: ironsmith_storage::StorageError) -> Self {
        tracing::error!(%error, "cannot write a payload to object storage");
        IngestError::Unavailable("object storage is unreachable; retry shortly".into())
    }
}

impl From<ironsmith_runs::feedback::EnforceError> for IngestError {
    fn from(error: ironsmith_runs::feedback::EnforceError) -> Self {
        match error {
            rule @ ironsmith_runs::feedback::EnforceError::Rule { .. } => {
                IngestError::Unprocessable(rule.to_string())
            }
            ironsmith_runs::feedback::EnforceError::Db(error) => error.into(),
        }
    }
}

impl From<ironsmith_db::DbError> for IngestError {
    fn from(error: ironsmith_db::DbError) -> Self {
        tracing::error!(%error, "cannot read projects or feedback configurations");
        IngestError::Unavailable("the database is unreachable; retry shortly".into())
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        let message = error.to_string();
        match error {
            IngestError::BadRequest(_) => ApiError::BadRequest(message),
            IngestError::Unprocessable(_) => ApiError::Rejected(message),
            IngestError::TooLarge(_) => ApiError::PayloadTooLarge(message),
            IngestError::UnsupportedMedia(_) => ApiError::UnsupportedMediaType(message),
            IngestError::Unavailable(_) => ApiError::ServiceUnavailable(message),
            IngestError::Internal(source) => ApiError::Internal(source),
            // Rendered by the authenticator's own answer (see `into_response`).
            IngestError::Auth(auth) => ApiError::Forbidden(auth.to_string()),
        }
    }
}

/// Ingestion answers in the `{"error": ...}` shape, through the same renderer as every other
/// API error (status, Retry-After on 503, hidden 5xx causes).
impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        match self {
            IngestError::Auth(error) => error.into_response(),
            other => ApiError::from(other).into_response_with(ErrorStyle::Error),
        }
    }
}
