//! The Redis handle every service shares: connected lazily, so services start while Redis is
//! down, report it in readiness, and recover when it returns (the connection manager reconnects
//! on its own). Every key carries the configured prefix ([`Redis::key`]); the names of the keys
//! themselves are built in [`keys`].
//!
//! With `redis.cluster` on, the same handle speaks to a Redis Cluster (any node of it as the
//! seed `redis.url`). Key names carry hash tags (`{…}`) so that keys used together share a slot:
//! a stream shard with its lease, a task queue with its dead letters, a cached principal with
//! its tombstone, one tenant's ingestion bookkeeping. On a single server the braces are left
//! out, so key names there are what they always were.

pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use ironsmith_config::RedisConfig;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

/// `redis.url` is not a Redis URL.
#[derive(Debug, thiserror::Error)]
#[error("invalid redis.url")]
pub struct InvalidUrl(#[source] pub redis::RedisError);

pub use redis::RedisError;

#[derive(Clone)]
enum Client {
    Single(redis::Client),
    Cluster(String),
}

#[derive(Clone)]
pub struct Redis {
    client: Client,
    shared: Arc<OnceCell<Connection>>,
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
        let client = if config.cluster {
            // Checked here, connected (and the cluster's nodes discovered) on first use. A
            // cluster has database 0 only: another would be silently ignored.
            let info = redis::IntoConnectionInfo::into_connection_info(config.url.expose())
                .map_err(InvalidUrl)?;
            if info.redis.db != 0 {
                return Err(InvalidUrl(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "a Redis Cluster has only database 0",
                ))));
            }
            ClusterClient::new(vec![config.url.expose()]).map_err(InvalidUrl)?;
            Client::Cluster(config.url.expose().to_owned())
        } else {
            Client::Single(redis::Client::open(config.url.expose()).map_err(InvalidUrl)?)
        };
        Ok(Redis {
            client,
            shared: Arc::new(OnceCell::new()),
            prefix: config.key_prefix.clone(),
        })
    }

    /// The configured key prefix applied to `name`; `name`'s hash tag is kept on a cluster and
    /// left out on a single server.
    pub fn key(&self, name: &str) -> String {
        if self.is_cluster() {
            format!("{}{name}", self.prefix)
        } else {
            format!("{}{}", self.prefix, name.replace(['{', '}'], ""))
        }
    }

    /// Whether this is a Redis Cluster: commands and transactions must then stay within one
    /// slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
    }

    /// The shared multiplexed connection. Never send blocking commands on it.
    pub async fn connection(&self) -> Result<Connection, RedisError> {
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
    ) -> Result<Connection, RedisError> {
        self.open(response_timeout).await
    }

    async fn open(&self, response_timeout: Duration) -> Result<Connection, RedisError> {
        match &self.client {
            Client::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(response_timeout)
                    .set_number_of_retries(1);
                Ok(Connection::Single(
                    ConnectionManager::new_with_config(client.clone(), config).await?,
                ))
            }
            Client::Cluster(url) => {
                let client = ClusterClientBuilder::new(vec![url.as_str()])
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(response_timeout)
                    .retries(2)
                    .build()?;
                Ok(Connection::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// Readiness: Redis answers PING.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self.connection().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

/// A Redis connection as handed out by [`Redis::connection`]: to one server, or to a cluster
/// (each command routed to the node holding its key's slot).
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cluster: bool) -> RedisConfig {
        RedisConfig {
            url: ironsmith_config::Secret::new("redis://127.0.0.1:6379/0"),
            cluster,
            key_prefix: "p:".into(),
        }
    }

    #[test]
    fn hash_tags_are_kept_on_a_cluster_and_dropped_on_one_server() {
        let name = keys::stream_shard("ingest", 3);
        let single = Redis::new(&config(false))
            .map_err(|e| e.0)
            .unwrap_or_else(|e| panic!("{e}"));
        let cluster = Redis::new(&config(true))
            .map_err(|e| e.0)
            .unwrap_or_else(|e| panic!("{e}"));
        // The single-server names are the ones earlier releases wrote.
        assert_eq!(single.key(&name), "p:stream:ingest:3");
        assert_eq!(cluster.key(&name), "p:stream:{ingest:3}");
        assert!(!single.is_cluster() && cluster.is_cluster());
    }

    #[test]
    fn a_cluster_url_naming_another_database_is_refused() {
        let mut on_db_2 = config(true);
        on_db_2.url = ironsmith_config::Secret::new("redis://127.0.0.1:6379/2");
        assert!(Redis::new(&on_db_2).is_err());
        on_db_2.cluster = false;
        assert!(Redis::new(&on_db_2).is_ok());
    }
}
