//! The service's API error: everything a handler can fail with, rendered in LangSmith's error
//! body shapes. A unique-constraint violation that a handler did not anticipate is a 409.

use axum::response::{IntoResponse, Response};
use ironsmith_auth::AuthError;
use ironsmith_db::DbError;
use ironsmith_http::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Db(DbError::Sqlx(error))
    }
}

impl From<ironsmith_auth::HashError> for Error {
    fn from(error: ironsmith_auth::HashError) -> Self {
        Error::Api(error.into())
    }
}

/// A value the server built or stored that does not (de)serialise: a logged 500.
impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Api(error.into())
    }
}

impl From<ironsmith_queue::QueueError> for Error {
    fn from(error: ironsmith_queue::QueueError) -> Self {
        Error::Api(error.into())
    }
}

impl From<redis::RedisError> for Error {
    fn from(error: redis::RedisError) -> Self {
        ironsmith_queue::QueueError::from(error).into()
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Api(error) => error.into_response(),
            Error::Auth(error) => error.into_response(),
            Error::Db(error) => ApiError::from(error).into_response(),
        }
    }
}

pub fn not_found(what: &str) -> Error {
    Error::Api(ApiError::NotFound(format!("{what} not found")))
}

pub fn bad_request(message: impl Into<String>) -> Error {
    Error::Api(ApiError::BadRequest(message.into()))
}

pub fn forbidden(message: impl Into<String>) -> Error {
    Error::Api(ApiError::Forbidden(message.into()))
}

pub fn conflict(message: impl Into<String>) -> Error {
    Error::Api(ApiError::Conflict(message.into()))
}

/// A 422 on one body field.
pub fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Api(ApiError::Unprocessable(vec![
        ironsmith_http::ValidationIssue {
            loc: vec!["body".into(), field.into()],
            msg: message.into(),
            kind: "value_error".into(),
        },
    ]))
}
