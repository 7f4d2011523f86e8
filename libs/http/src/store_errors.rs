//! How the stores' failures answer over HTTP, so a handler writes `?` on any store call: a
//! store that is down or slow is a 503 (clients retry), a unique violation nobody anticipated
//! a 409, a foreign-key violation a 422 (the request names something that does not exist), and
//! anything else a logged 500. Handlers that expect a particular violation (a duplicate name)
//! still match on it first, to answer with a precise message.

use ironsmith_analytics::AnalyticsError;
use ironsmith_db::DbError;
use ironsmith_queue::QueueError;
use ironsmith_storage::StorageError;

use crate::error::{ApiError, ValidationIssue};

/// The 503 of a store that did not answer; the cause is logged, not shown.
fn unavailable(store: &str, error: &dyn std::error::Error) -> ApiError {
    tracing::warn!(%error, store, "a store is unavailable; answering 503");
    ApiError::ServiceUnavailable(format!("{store} is unavailable; try again shortly"))
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        if error.is_unique_violation() {
            ApiError::Conflict("It already exists".into())
        } else if error.is_foreign_key_violation() {
            ApiError::Unprocessable(vec![ValidationIssue {
                loc: vec!["body".into()],
                msg: "refers to something that does not exist".into(),
                kind: "value_error".into(),
            }])
        } else if error.is_invalid_value() {
            tracing::info!(%error, "the database refused a value of the request");
            ApiError::Unprocessable(vec![ValidationIssue {
                loc: vec!["body".into()],
                msg: "a value cannot be stored: a number out of range, a text too long, or a NUL character".into(),
                kind: "value_error".into(),
            }])
        } else if error.is_unavailable() {
            unavailable("The database", &error)
        } else {
            ApiError::internal(error)
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        DbError::Sqlx(error).into()
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(error: AnalyticsError) -> Self {
        if error.is_unavailable() {
            unavailable("The analytics store", &error)
        } else {
            ApiError::internal(error)
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        if error.is_unavailable() {
            unavailable("Object storage", &error)
        } else {
            ApiError::internal(error)
        }
    }
}

impl From<ironsmith_redis::RedisError> for ApiError {
    fn from(error: ironsmith_redis::RedisError) -> Self {
        QueueError::Redis(error).into()
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        if error.is_unavailable() {
            unavailable("The queue", &error)
        } else {
            ApiError::internal(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn a_store_that_does_not_answer_is_a_503_and_anything_else_a_500() {
        let status = |error: ApiError| error.status();
        assert_eq!(
            status(DbError::Sqlx(sqlx::Error::PoolTimedOut).into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(DbError::Sqlx(sqlx::Error::RowNotFound).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(AnalyticsError::Busy.into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(
                AnalyticsError::BadMigration {
                    name: "x".into(),
                    reason: "y".into()
                }
                .into()
            ),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let missing = object_store::Error::NotFound {
            path: "k".into(),
            source: "gone".into(),
        };
        assert_eq!(
            status(StorageError::Store(missing).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let down = object_store::Error::Generic {
            store: "S3",
            source: "connection refused".into(),
        };
        assert_eq!(
            status(StorageError::Store(down).into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            status(QueueError::Redis(refused).into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
