//! What storing a batch can fail with, and which failures are worth retrying unchanged.

use super::*;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    ClickHouse(#[from] AnalyticsError),
    /// Folding or storing the batch panicked: a bug its content reaches, never retried as
    /// transient.
    #[error("storing the batch panicked: {0}")]
    Panicked(String),
    #[error(transparent)]
    Storage(#[from] ironsmith_storage::StorageError),
    /// A field kept in object storage is not what ingestion wrote (not UTF-8 JSON).
    #[error("the stored field {key} is unreadable: {reason}")]
    StoredField { key: String, reason: String },
}

impl From<ironsmith_redis::RedisError> for IngestError {
    fn from(error: ironsmith_redis::RedisError) -> Self {
        IngestError::Queue(error.into())
    }
}

impl IngestError {
    /// Whether retrying later can succeed without changing the data: the store was unreachable
    /// or slow, rather than refusing what it was sent.
    pub(super) fn is_transient(&self) -> bool {
        match self {
            IngestError::Queue(_) => true,
            IngestError::ClickHouse(AnalyticsError::ClickHouse(error)) => {
                matches!(
                    error,
                    clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut
                ) || is_overload(error)
            }
            // A missing object stays missing; any other storage failure is an outage.
            IngestError::Storage(error) => !error.is_not_found(),
            IngestError::ClickHouse(_)
            | IngestError::Panicked(_)
            | IngestError::StoredField { .. } => false,
        }
    }
}

/// Server-side errors that say "later", not "never": memory limits, too many parts, timeouts.
pub(super) fn is_overload(error: &clickhouse::error::Error) -> bool {
    let clickhouse::error::Error::BadResponse(message) = error else {
        return false;
    };
    [
        "Code: 241",
        "Code: 252",
        "Code: 159",
        "Code: 209",
        "Code: 210",
        "Code: 202",
    ]
    .iter()
    .any(|code| message.contains(code))
}
