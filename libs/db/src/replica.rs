//! A streaming read replica: where reads that tolerate a moment of replication lag may go.
//!
//! A replica that fails is left alone for [`REST`], so while it is down each read costs one
//! failed attempt per rest period rather than one per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ironsmith_config::PostgresConfig;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::DbError;

/// How long a failed replica is passed over.
pub const REST: Duration = Duration::from_secs(5);

/// How long a read waits for a replica connection before falling back to the primary.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Replica {
    pool: PgPool,
    /// Milliseconds after `epoch` until which the replica is passed over (0: in use).
    resting_until_ms: Arc<AtomicU64>,
    epoch: Instant,
}

impl Replica {
    /// The replica of `config.replica_url`, or `None` when none is configured. Connects
    /// lazily.
    pub fn connect(config: &PostgresConfig) -> Result<Option<Self>, DbError> {
        if config.replica_url.is_empty() {
            return Ok(None);
        }
        let options: PgConnectOptions =
            config.replica_url.expose().parse().map_err(DbError::Url)?;
        Ok(Some(Replica {
            pool: PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options),
            resting_until_ms: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        }))
    }

    /// The replica's pool, unless it failed less than [`REST`] ago.
    pub fn pool(&self) -> Option<&PgPool> {
        let now = self.epoch.elapsed().as_millis() as u64;
        (now >= self.resting_until_ms.load(Ordering::Relaxed)).then_some(&self.pool)
    }

    /// Records that the replica failed: reads skip it for [`REST`].
    pub fn failed(&self) {
        let until = self.epoch.elapsed() + REST;
        self.resting_until_ms
            .store(until.as_millis() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_replica_rests() {
        let config = PostgresConfig {
            url: ironsmith_config::Secret::new("postgres://a@127.0.0.1:1/a"),
            replica_url: ironsmith_config::Secret::new("postgres://a@127.0.0.1:2/a"),
            max_connections: 2,
            acquire_timeout_secs: 5,
        };
        let replica = Replica::connect(&config)
            .expect("a valid url")
            .expect("configured");
        assert!(replica.pool().is_some());
        replica.failed();
        assert!(replica.pool().is_none());
        let none = PostgresConfig {
            replica_url: ironsmith_config::Secret::new(""),
            ..config
        };
        assert!(Replica::connect(&none).expect("valid").is_none());
    }
}
