//! Redis access and a task queue on Redis Streams.
//!
//! Design:
//! - One stream per queue, one consumer group (`workers`). Producers `XADD` an envelope
//!   `{task: <json>, attempt: <n>}`; consumers `XREADGROUP` and acknowledge with `XACK` + `XDEL`
//!   in one transaction only after the handler succeeded: delivery is at least once, so handlers
//!   are idempotent.
//! - A failed attempt is re-enqueued with `attempt + 1` after an exponential back-off, atomically
//!   with the acknowledgement of the old entry; after `max_deliveries` attempts the entry moves
//!   to the queue's dead-letter stream with its error, where it can be inspected and redriven.
//! - A consumer that dies leaves its entries pending; other consumers take them over with
//!   `XAUTOCLAIM` once idle for `reclaim_idle`. An entry reclaimed too often (it keeps killing
//!   its consumer) is dead-lettered too. An entry that does not decode is dead-lettered at once.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod shards;
pub mod stream;
pub mod tasks;
pub mod worker;

pub use ironsmith_redis::{Redis, keys};
pub use shards::{DeadShardEntry, ShardEntry, ShardedStream};
pub use stream::{DeadLetter, Delivery, Queue, QueueDepth};
/// The ingestion stream: accepted run operations on their way to ClickHouse.
pub const INGEST_STREAM: &str = "ingest";
/// The general-purpose queue the worker consumes.
pub const DEFAULT_QUEUE: &str = "default";

pub use worker::{DrainReport, Handler, WorkerOptions, drain_once, run_worker};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot encode task: {0}")]
    Encode(#[source] serde_json::Error),
    #[error(transparent)]
    Url(#[from] ironsmith_redis::InvalidUrl),
}

impl QueueError {
    /// Redis could not be reached or did not answer in time: retrying later can succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, QueueError::Redis(e) if e.is_io_error() || e.is_timeout()
            || e.is_connection_dropped() || e.is_connection_refusal())
    }
}
