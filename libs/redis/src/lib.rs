//! The Redis handle every service shares: connected lazily, so services start while Redis is
//! down, report it in readiness, and recover when it returns (the connection manager reconnects
//! on its own). Every key carries the configured prefix ([`Redis::key`]); the names of the keys
//! themselves are built in [`keys`].

pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use ironsmith_config::RedisConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

/// `redis.url` is not a Redis URL.
#[derive(Debug, thiserror::Error)]
#[error("invalid redis.url")]
pub struct InvalidUrl(#[source] pub redis::RedisError);

pub use redis::RedisError;

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    shared: Arc<OnceCell<ConnectionManager>>,
    prefix: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Response timeout of ordinary commands; blocking reads use dedicated connections.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Redis {
    pub fn new(config: &RedisConfig) -> Result<Self, InvalidUrl> {
        let client = redis::Client::open(config.url.expose()).map_err(InvalidUrl)?;
        Ok(Redis {
            client,
            shared: Arc::new(OnceCell::new()),
            prefix: config.key_prefix.clone(),
        })
    }

    /// The configured key prefix applied to `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The shared multiplexed connection. Never send blocking commands on it.
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let manager = self
            .shared
            .get_or_try_init(|| self.open(RESPONSE_TIMEOUT))
            .await?;
        Ok(manager.clone())
    }

    /// A connection of its own, for blocking reads that would stall the shared one.
    pub async fn dedicated_connection(
        &self,
        response_timeout: Duration,
    ) -> Result<ConnectionManager, RedisError> {
        self.open(response_timeout).await
    }

    async fn open(&self, response_timeout: Duration) -> Result<ConnectionManager, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(response_timeout)
            .set_number_of_retries(1);
        ConnectionManager::new_with_config(self.client.clone(), config).await
    }

    /// Readiness: Redis answers PING.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self.connection().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

/// A Redis connection as handed out by [`Redis::connection`].
pub type Connection = ConnectionManager;

/// `SET key value EX seconds`.
pub async fn set_ex(
    conn: &mut Connection,
    key: &str,
    value: &str,
    seconds: u64,
) -> Result<(), RedisError> {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("EX")
        .arg(seconds)
        .query_async::<()>(conn)
        .await?;
    Ok(())
}
