//! Handles to the four stores, connected lazily so a service starts while one is down and
//! reports it by name in `/health/ready` until it returns.

use std::time::Duration;

use ironsmith_analytics::clickhouse;
use ironsmith_config::{Config, Region};
use ironsmith_db::Pool;
use ironsmith_http::{DependencyCheck, Readiness};
use ironsmith_queue::Redis;
use ironsmith_storage::ObjectStorage;

/// Which stores a service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSet {
    pub postgres: bool,
    pub redis: bool,
    pub clickhouse: bool,
    pub object_storage: bool,
}

impl StoreSet {
    pub const ALL: StoreSet = StoreSet {
        postgres: true,
        redis: true,
        clickhouse: true,
        object_storage: true,
    };
}

/// Cheap, cloneable handles to every store.
#[derive(Clone)]
pub struct Stores {
    pub postgres: Pool,
    /// The streaming read replica, when configured: see [`ironsmith_db::Replica`].
    pub postgres_replica: Option<ironsmith_db::Replica>,
    pub redis: Redis,
    pub clickhouse: clickhouse::Client,
    pub storage: ObjectStorage,
    region: Region,
}

impl Stores {
    /// Builds the handles; no network traffic happens here.
    pub fn connect(config: &Config) -> anyhow::Result<Self> {
        Ok(Stores {
            postgres: ironsmith_db::connect(&config.postgres)?,
            postgres_replica: ironsmith_db::Replica::connect(&config.postgres)?,
            redis: Redis::new(&config.redis)?,
            clickhouse: ironsmith_analytics::client(&config.clickhouse),
            storage: ObjectStorage::from_config(&config.object_storage)?,
            region: config.stack.region,
        })
    }

    /// Readiness checks named `postgres`, `redis`, `clickhouse` and `object_storage`.
    pub fn readiness(&self, used: StoreSet, timeout: Duration) -> Readiness {
        let mut readiness = Readiness::new(timeout);
        if used.postgres {
            let pool = self.postgres.clone();
            let region = self.region;
            readiness = readiness.with(DependencyCheck::new("postgres", move || {
                let pool = pool.clone();
                async move { ironsmith_db::check(&pool, region).await }
            }));
        }
        if used.redis {
            let redis = self.redis.clone();
            readiness = readiness.with(DependencyCheck::new("redis", move || {
                let redis = redis.clone();
                async move { redis.ping().await }
            }));
        }
        if used.clickhouse {
            let client = self.clickhouse.clone();
            readiness = readiness.with(DependencyCheck::new("clickhouse", move || {
                let client = client.clone();
                async move { ironsmith_analytics::check(&client).await }
            }));
        }
        if used.object_storage {
            let storage = self.storage.clone();
            readiness = readiness.with(DependencyCheck::new("object_storage", move || {
                let storage = storage.clone();
                async move { storage.check().await }
            }));
        }
        readiness
    }
}

/// Applies the Postgres migrations (recording or checking the region), then the ClickHouse
/// ones. Idempotent; safe while services run. Returns what ClickHouse applied.
pub async fn migrate_all(
    config: &Config,
) -> anyhow::Result<ironsmith_analytics::migrate::MigrationReport> {
    let pool = ironsmith_db::connect(&config.postgres)?;
    ironsmith_db::migrate(&pool, config.stack.region).await?;
    pool.close().await;
    let report = ironsmith_analytics::migrate::run(
        &ironsmith_analytics::server_client(&config.clickhouse),
        &ironsmith_analytics::client(&config.clickhouse),
        &config.clickhouse.database,
        &config.clickhouse.cluster,
        &ironsmith_analytics::migrate::embedded()?,
    )
    .await?;
    Ok(report)
}
