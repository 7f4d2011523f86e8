//! Ingestion survives its faults without losing an acknowledged run or showing one twice: the
//! worker killed with SIGKILL mid-batch, ClickHouse down for 30 seconds, and Redis restarted
//! (its append-only file keeps what was acknowledged).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ironsmith_config::Config;
use ironsmith_e2e::Stack;
use ironsmith_test_support::{PrivateStore, migrate, repo_root};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Sends `requests` batches of `per_request` root runs to `project`; every one must be 202.
async fn ingest(
    stack: &Stack,
    project: &str,
    requests: usize,
    per_request: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let admin = stack.admin();
    let mut ids = Vec::new();
    for _ in 0..requests {
        let runs: Vec<Value> = (0..per_request)
            .map(|_| {
                let id = Uuid::now_v7();
                ids.push(id);
                let start = chrono::Utc::now();
                json!({"id": id, "trace_id": id, "name": "run", "run_type": "chain",
                       "dotted_order": format!("{}{id}", start.format("%Y%m%dT%H%M%S%6fZ")),
                       "start_time": start.to_rfc3339(), "end_time": start.to_rfc3339(),
                       "session_name": project, "inputs": {"text": "x".repeat(500)},
                       "outputs": {"text": "y".repeat(500)}})
            })
            .collect();
        let body = json!({"post": runs});
        // As the SDKs do: 503 (a store reconnecting) is retried.
        let mut answer = admin.post("/runs/batch", body.clone()).await?;
        for _ in 0..40 {
            if answer.status != 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            answer = admin.post("/runs/batch", body.clone()).await?;
        }
        answer.expect(202)?;
    }
    Ok(ids)
}

/// How many distinct runs the project shows, as every read must count them.
async fn visible(stack: &Stack, project: &str) -> anyhow::Result<u64> {
    let Some(id) = stack.project_id(project).await? else {
        return Ok(0);
    };
    Ok(ironsmith_analytics::runs::count_runs(&stack.clickhouse(), stack.workspace_id, id).await?)
}

/// Waits until exactly `ids` are visible, each once, and the stream is drained.
async fn all_exactly_once(
    stack: &Stack,
    project: &str,
    ids: &[Uuid],
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let count = visible(stack, project).await.unwrap_or(0);
        if count >= ids.len() as u64 || tokio::time::Instant::now() >= deadline {
            let runs = stack
                .wait_for_runs(project, ids.len(), Duration::from_secs(1))
                .await?;
            let mut seen: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
            seen.sort_unstable();
            let mut expected = ids.to_vec();
            expected.sort_unstable();
            assert_eq!(seen.len(), expected.len(), "each run is read once");
            assert_eq!(seen, expected, "exactly the acknowledged runs");
            assert!(
                runs.iter()
                    .all(|r| r.status == "success" && r.inputs.len() > 500)
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `queue` binary built beside this test.
fn queue_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("no target directory above {}", exe.display()))?;
    let binary = dir.join("queue");
    anyhow::ensure!(
        binary.exists(),
        "{} is not built (cargo build --workspace)",
        binary.display()
    );
    Ok(binary)
}

/// Starts the worker as its own process on the stack's isolated stores.
fn spawn_worker(config: &Config) -> anyhow::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(queue_binary()?);
    command
        .env("IRONSMITH_CONFIG_DIR", repo_root().join("config"))
        .env("IRONSMITH_PROFILE", "local")
        .env("IRONSMITH_POSTGRES__URL", config.postgres.url.expose())
        .env("IRONSMITH_REDIS__URL", config.redis.url.expose())
        .env("IRONSMITH_REDIS__KEY_PREFIX", &config.redis.key_prefix)
        .env("IRONSMITH_CLICKHOUSE__URL", config.clickhouse.url.as_str())
        .env(
            "IRONSMITH_CLICKHOUSE__DATABASE",
            &config.clickhouse.database,
        )
        .env(
            "IRONSMITH_OBJECT_STORAGE__PREFIX",
            &config.object_storage.prefix,
        )
        .env("IRONSMITH_SERVICES__QUEUE__LISTEN", "127.0.0.1:0")
        .env(
            "IRONSMITH_INGEST__LEASE_MS",
            config.ingest.lease_ms.to_string(),
        )
        .env(
            "IRONSMITH_INGEST__BATCH_ROWS",
            config.ingest.batch_rows.to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    Ok(command.spawn()?)
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let stack = Stack::start_with_options(
        |config| {
            config.ingest.lease_ms = 2000;
            config.ingest.batch_rows = 2000;
        },
        false,
    )
    .await?;
    let ids = ingest(&stack, "killed", 150, 100).await?;

    let mut first = spawn_worker(&stack.config)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let count = visible(&stack, "killed").await?;
        if count > 0 {
            assert!(
                count < ids.len() as u64,
                "killed before it finished ({count} visible)"
            );
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the first worker stored nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.start_kill()?; // SIGKILL
    first.wait().await?;
    let at_kill = visible(&stack, "killed").await?;

    let mut second = spawn_worker(&stack.config)?;
    all_exactly_once(&stack, "killed", &ids, Duration::from_secs(180)).await?;
    assert!(
        at_kill < ids.len() as u64,
        "the second worker had work left ({at_kill} visible at the kill)"
    );
    second.start_kill()?;
    second.wait().await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn clickhouse_down_for_30_seconds_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let clickhouse = PrivateStore::start("clickhouse")?;
    let url = format!("http://127.0.0.1:{}", clickhouse.ports()[2]);
    let stack = Stack::start_with_options(
        |config| config.clickhouse.url = url.parse().unwrap_or_else(|_| unreachable!("url")),
        false,
    )
    .await?;
    migrate(&stack.config).await?;
    let shutdown = CancellationToken::new();
    let worker = ironsmith_queue_worker::start(stack.config.clone(), shutdown.clone()).await?;

    let mut ids = ingest(&stack, "outage", 10, 100).await?;
    all_exactly_once(&stack, "outage", &ids, Duration::from_secs(60)).await?;

    clickhouse.down()?;
    // Acknowledged while ClickHouse is away: the stream holds them.
    ids.extend(ingest(&stack, "outage", 10, 100).await?);
    tokio::time::sleep(Duration::from_secs(30)).await;
    ids.extend(ingest(&stack, "outage", 5, 100).await?);
    clickhouse.up()?;

    all_exactly_once(&stack, "outage", &ids, Duration::from_secs(120)).await?;
    shutdown.cancel();
    worker.wait().await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_redis_restart_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let redis = PrivateStore::start("redis")?;
    let url = format!("redis://127.0.0.1:{}/0", redis.ports()[1]);
    let stack = Stack::start_with_options(
        |config| config.redis.url = ironsmith_config::Secret::new(url.as_str()),
        false,
    )
    .await?;
    // Acknowledged with no worker running: only Redis holds them.
    let mut ids = ingest(&stack, "restart", 20, 100).await?;
    redis.down()?;
    redis.up()?;
    ids.extend(ingest(&stack, "restart", 5, 100).await?);

    let config: Arc<Config> = stack.config.clone();
    let shutdown = CancellationToken::new();
    let worker = ironsmith_queue_worker::start(config, shutdown.clone()).await?;
    all_exactly_once(&stack, "restart", &ids, Duration::from_secs(120)).await?;

    // A restart while the worker runs.
    redis.down()?;
    redis.up()?;
    ids.extend(ingest(&stack, "restart", 5, 100).await?);
    all_exactly_once(&stack, "restart", &ids, Duration::from_secs(120)).await?;
    shutdown.cancel();
    worker.wait().await?;
    stack.stop().await;
    Ok(())
}
