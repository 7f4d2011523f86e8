//! The stack on a Redis Cluster instead of one server: three masters from Debian's
//! `redis-server` (AOF, fsync on every write), started by `scripts/stores start-redis-cluster`.
//! The ingestion stream's shards spread over the masters (each shard's stream and its lease
//! share a slot through their hash tag); runs are ingested under load while one master is
//! stopped and started again, and the drill ends with exactly the acknowledged runs readable,
//! each once.

use std::time::Duration;

use ironsmith_config::Secret;
use ironsmith_e2e::Stack;
use ironsmith_test_support::PrivateRedisCluster;
use tokio_util::sync::CancellationToken;

use crate::ingest_faults::{Load, all_exactly_once, gather, ingest, start_loads};

/// Keys one master holds.
async fn keys_on(url: &str) -> anyhow::Result<u64> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    Ok(redis::cmd("DBSIZE").query_async(&mut conn).await?)
}

#[tokio::test]
async fn a_redis_cluster_keeps_every_acknowledged_run_through_a_master_restart()
-> anyhow::Result<()> {
    let cluster = PrivateRedisCluster::start()?;
    let url = cluster.url(1);
    let stack = Stack::start_with(|config| {
        config.redis.url = Secret::new(url.clone());
        config.redis.cluster = true;
    })
    .await?;

    let mut ids = ingest(&stack, "redis-cluster", 5, 100).await?;
    all_exactly_once(&stack, "redis-cluster", &ids, Duration::from_secs(60)).await?;
    // The stream's shards (and caches, counters) spread over every master.
    for master in 1..=3 {
        let held = keys_on(&cluster.url(master)).await?;
        assert!(held > 0, "master{master} holds no keys");
    }

    let stop = CancellationToken::new();
    let loads = start_loads(
        2,
        Load {
            base: &format!("{}/api/v1", stack.edge),
            key: &stack.admin_key,
            project: "redis-cluster",
            per_request: 50,
            payload_bytes: 500,
        },
        &stop,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.down("master2")?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    cluster.up("master2")?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.cancel();
    let acknowledged = gather(loads).await?;
    assert!(!acknowledged.is_empty());
    ids.extend(acknowledged);
    all_exactly_once(&stack, "redis-cluster", &ids, Duration::from_secs(180)).await?;
    stack.stop().await;
    Ok(())
}
