//! The stack on a ClickHouse cluster instead of one server: ZooKeeper and two ClickHouse 18.16
//! servers (the two replicas of one shard), started by `scripts/stores start-cluster`. The
//! migrations run `ON CLUSTER` (replicated local tables under a `Distributed` layer); runs are
//! ingested and read through the Distributed tables while first the replica the services do
//! not talk to, then the one they do, is stopped mid-load and started again. Every drill ends
//! with exactly the acknowledged runs readable once, through either node, and both replicas
//! holding them.

use std::time::Duration;

use anyhow::Context;

use ironsmith_e2e::Stack;
use ironsmith_test_support::{PrivateCluster, migrate};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::ingest_faults::{Load, all_exactly_once, gather, ingest, start_loads};

/// The distinct live runs of a project as one node's replicated table holds them.
async fn on_replica(url: &str, database: &str, tenant: Uuid, project: Uuid) -> anyhow::Result<u64> {
    let client = ironsmith_analytics::clickhouse::Client::default()
        .with_url(url)
        .with_database(database);
    Ok(client
        .query("SELECT uniqExact(id) FROM runs_local WHERE tenant_id = ? AND session_id = ?")
        .bind(tenant)
        .bind(project)
        .fetch_one::<u64>()
        .await?)
}

/// Waits until `node` holds `expected` runs of the project itself (replication caught up).
async fn replica_holds(
    cluster: &PrivateCluster,
    node: usize,
    stack: &Stack,
    project: Uuid,
    expected: u64,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let held = on_replica(
            &cluster.url(node),
            &stack.config.clickhouse.database,
            stack.workspace_id,
            project,
        )
        .await
        .unwrap_or(0);
        if held == expected {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "node{node} holds {held} of {expected} runs"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_clickhouse_cluster_keeps_every_acknowledged_run_through_replica_restarts()
-> anyhow::Result<()> {
    let cluster = PrivateCluster::start()?;
    let url = cluster.url(1);
    let stack = Stack::start_with_options(
        |config| {
            config.clickhouse.url = url.parse().unwrap_or_else(|_| unreachable!("url"));
            config.clickhouse.cluster = PrivateCluster::NAME.into();
        },
        false,
    )
    .await?;
    migrate(&stack.config)
        .await
        .context("migrating ON CLUSTER")?;
    // The migrations ran ON CLUSTER: both nodes have the replicated and Distributed tables.
    for node in [1, 2] {
        let client = ironsmith_analytics::clickhouse::Client::default().with_url(cluster.url(node));
        let engines: Vec<(String, String)> = client
            .query("SELECT name, engine FROM system.tables WHERE database = ? AND name LIKE 'runs%' ORDER BY name")
            .bind(&stack.config.clickhouse.database)
            .fetch_all()
            .await
            .with_context(|| format!("the tables on node{node}"))?;
        assert!(
            engines.contains(&("runs".into(), "Distributed".into())),
            "node{node}: {engines:?}"
        );
        assert!(
            engines.contains(&("runs_local".into(), "ReplicatedReplacingMergeTree".into())),
            "node{node}: {engines:?}"
        );
    }
    let shutdown = CancellationToken::new();
    let worker = ironsmith_queue_worker::start(stack.config.clone(), shutdown.clone()).await?;

    let mut ids = ingest(&stack, "cluster", 5, 100).await?;
    all_exactly_once(&stack, "cluster", &ids, Duration::from_secs(60))
        .await
        .context("before any node stopped")?;
    let project = stack
        .project_id("cluster")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no project"))?;
    replica_holds(&cluster, 2, &stack, project, ids.len() as u64).await?;

    for node in ["node2", "node1"] {
        // Under load from two senders, the node is stopped and started again.
        let stop = CancellationToken::new();
        let loads = start_loads(
            2,
            Load {
                base: &format!("{}/api/v1", stack.edge),
                key: &stack.admin_key,
                project: "cluster",
                per_request: 50,
                payload_bytes: 500,
            },
            &stop,
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        cluster.down(node)?;
        tokio::time::sleep(Duration::from_secs(10)).await;
        cluster.up(node)?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.cancel();
        let acknowledged = gather(loads)
            .await
            .with_context(|| format!("sending while {node} restarted"))?;
        assert!(!acknowledged.is_empty());
        ids.extend(acknowledged);
        all_exactly_once(&stack, "cluster", &ids, Duration::from_secs(180))
            .await
            .with_context(|| format!("after {node} restarted"))?;
        // Both replicas hold every run, and the Distributed table answers the same on node2.
        replica_holds(&cluster, 1, &stack, project, ids.len() as u64).await?;
        replica_holds(&cluster, 2, &stack, project, ids.len() as u64).await?;
        let mut on_node2 = (*stack.config).clone();
        on_node2.clickhouse.url = cluster.url(2).parse()?;
        let counted = ironsmith_analytics::runs::count_runs(
            &ironsmith_analytics::client(&on_node2.clickhouse),
            stack.workspace_id,
            project,
        )
        .await
        .context("counting through node2")?;
        assert_eq!(counted, ids.len() as u64, "after {node} restarted");
    }
    shutdown.cancel();
    worker.wait().await?;
    stack.stop().await;
    Ok(())
}
