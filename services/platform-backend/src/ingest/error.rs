//! Ingestion's error answers, in the body shape LangSmith's ingestion routes use:
//! `{"error": "<message>", "details": "<optional>"}`. Bad data is 400/422 (the SDKs drop the
//! batch with a warning and never retry); over-limit bodies are 413; a store that is down is
//! a 503 with Retry-After (retried), never a silent loss.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironsmith_auth::AuthError;
use ironsmith_runs::WireError;
use serde_json::json;

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

impl From<ironsmith_db::DbError> for IngestError {
    fn from(error: ironsmith_db::DbError) -> Self {
        tracing::error!(%error, "cannot resolve a project");
        IngestError::Unavailable("the database is unreachable; retry shortly".into())
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        if let IngestError::Auth(error) = self {
            return error.into_response();
        }
        let status = match &self {
            IngestError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IngestError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            IngestError::Auth(_) => StatusCode::FORBIDDEN,
        };
        let message = match &self {
            IngestError::Internal(error) => {
                tracing::error!(error = %error, "ingestion failed");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(2));
        }
        response
    }
}
