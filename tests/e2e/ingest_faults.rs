//! Ingestion survives its faults without losing an acknowledged run or showing one twice: the
//! worker killed with SIGKILL mid-batch, ClickHouse down for 30 seconds, Redis restarted (its
//! append-only file keeps what was acknowledged), and, under concurrent load, platform-backend
//! killed with SIGKILL, object storage down for 30 seconds, and Redis killed with SIGKILL while
//! it fsyncs every write (`appendfsync always`). Each drill ends with exactly the acknowledged
//! runs readable, each once.

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
pub(crate) async fn ingest(
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
pub(crate) async fn visible(stack: &Stack, project: &str) -> anyhow::Result<u64> {
    let Some(id) = stack.project_id(project).await? else {
        return Ok(0);
    };
    Ok(ironsmith_analytics::runs::count_runs(&stack.clickhouse(), stack.workspace_id, id).await?)
}

/// Waits until exactly `ids` are visible, each once, and the stream is drained.
pub(crate) async fn all_exactly_once(
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
            // Inputs inline, or (over the offload threshold) in object storage.
            assert!(
                runs.iter().all(|r| r.status == "success"
                    && (r.inputs.len() > 500 || !r.inputs_s3_key.is_empty()))
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A binary of the workspace built beside this test.
fn binary(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("no target directory above {}", exe.display()))?;
    let binary = dir.join(name);
    anyhow::ensure!(
        binary.exists(),
        "{} is not built (cargo build --workspace)",
        binary.display()
    );
    Ok(binary)
}

/// Starts a service binary as its own process on the stack's isolated stores (object storage
/// and secrets come from the environment and the `local` profile, as for the tests).
fn spawn(
    name: &str,
    config: &Config,
    env: &[(&str, String)],
) -> anyhow::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(binary(name)?);
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
        .env(
            "IRONSMITH_INGEST__LEASE_MS",
            config.ingest.lease_ms.to_string(),
        )
        .env(
            "IRONSMITH_INGEST__BATCH_ROWS",
            config.ingest.batch_rows.to_string(),
        )
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    Ok(command.spawn()?)
}

/// Starts the worker as its own process.
fn spawn_worker(config: &Config) -> anyhow::Result<tokio::process::Child> {
    spawn(
        "queue",
        config,
        &[("IRONSMITH_SERVICES__QUEUE__LISTEN", "127.0.0.1:0".into())],
    )
}

/// Sends batches of `per_request` root runs to `{base}/runs/batch` until `stop`, as an SDK
/// would: a 503 or a broken connection is retried with the same runs until it is answered 202.
/// Returns the acknowledged ids.
async fn load(
    base: String,
    key: String,
    project: &'static str,
    per_request: usize,
    payload_bytes: usize,
    stop: CancellationToken,
) -> anyhow::Result<Vec<Uuid>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut acknowledged = Vec::new();
    while !stop.is_cancelled() {
        let mut ids = Vec::with_capacity(per_request);
        let runs: Vec<Value> = (0..per_request)
            .map(|_| {
                let id = Uuid::now_v7();
                ids.push(id);
                let start = chrono::Utc::now();
                json!({"id": id, "trace_id": id, "name": "run", "run_type": "chain",
                       "dotted_order": format!("{}{id}", start.format("%Y%m%dT%H%M%S%6fZ")),
                       "start_time": start.to_rfc3339(), "end_time": start.to_rfc3339(),
                       "session_name": project, "inputs": {"text": "x".repeat(payload_bytes)},
                       "outputs": {"text": "y".repeat(500)}})
            })
            .collect();
        let body = json!({"post": runs});
        let mut attempts = 0;
        loop {
            attempts += 1;
            anyhow::ensure!(attempts < 600, "a batch was never acknowledged");
            match http
                .post(format!("{base}/runs/batch"))
                .header("x-api-key", &key)
                .json(&body)
                .send()
                .await
            {
                Ok(answer) if answer.status() == 202 => break,
                Ok(answer) if answer.status() == 503 => {}
                // Over the tenant's rate limit: the SDKs wait as told and send again.
                Ok(answer) if answer.status() == 429 => {
                    let wait = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait.min(10))).await;
                }
                Ok(answer) => anyhow::bail!(
                    "a batch was answered {}: {}",
                    answer.status(),
                    answer.text().await.unwrap_or_default()
                ),
                // The service is down or restarting: the SDKs retry.
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        acknowledged.extend(ids);
    }
    Ok(acknowledged)
}

/// What each sender of a load sends.
pub(crate) struct Load<'a> {
    pub base: &'a str,
    pub key: &'a str,
    pub project: &'static str,
    pub per_request: usize,
    pub payload_bytes: usize,
}

/// Starts `senders` concurrent loads (see `load`) that run until `stop`.
pub(crate) fn start_loads(
    senders: usize,
    shape: Load<'_>,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Uuid>>>> {
    (0..senders)
        .map(|_| {
            tokio::spawn(load(
                shape.base.to_owned(),
                shape.key.to_owned(),
                shape.project,
                shape.per_request,
                shape.payload_bytes,
                stop.clone(),
            ))
        })
        .collect()
}

/// Gathers what the loads got acknowledged.
pub(crate) async fn gather(
    loads: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Uuid>>>>,
) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    for load in loads {
        ids.extend(load.await??);
    }
    Ok(ids)
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

#[tokio::test]
async fn platform_backend_killed_under_load_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let port = ironsmith_test_support::free_port()?;
    let address = format!("127.0.0.1:{port}");
    let base = format!("http://{address}");
    let listen = [(
        "IRONSMITH_SERVICES__PLATFORM_BACKEND__LISTEN",
        address.clone(),
    )];
    let mut first = spawn("platform-backend", &stack.config, &listen)?;
    ironsmith_test_support::wait_for_readiness(&base, Duration::from_secs(60), |status, _| {
        status == 200
    })
    .await?;

    let stop = CancellationToken::new();
    let loads = start_loads(
        4,
        Load {
            base: &base,
            key: &stack.admin_key,
            project: "platform-killed",
            per_request: 50,
            payload_bytes: 500,
        },
        &stop,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.start_kill()?; // SIGKILL, mid-request
    first.wait().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut second = spawn("platform-backend", &stack.config, &listen)?;
    ironsmith_test_support::wait_for_readiness(&base, Duration::from_secs(60), |status, _| {
        status == 200
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    let ids = gather(loads).await?;
    assert!(
        ids.len() >= 400,
        "the load ran ({} acknowledged)",
        ids.len()
    );
    all_exactly_once(&stack, "platform-killed", &ids, Duration::from_secs(120)).await?;
    second.start_kill()?;
    second.wait().await?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn object_storage_down_for_30_seconds_under_load_loses_and_duplicates_nothing()
-> anyhow::Result<()> {
    let s3 = PrivateStore::start("s3")?;
    let endpoint = format!("http://127.0.0.1:{}", s3.ports()[4]);
    let stack = Stack::start_with(|config| config.object_storage.endpoint = endpoint).await?;
    let base = format!("{}/api/v1", stack.edge);
    let stop = CancellationToken::new();
    // Inputs over the offload threshold: every request writes to object storage first.
    let loads = start_loads(
        3,
        Load {
            base: &base,
            key: &stack.admin_key,
            project: "storage-down",
            per_request: 10,
            payload_bytes: 30_000,
        },
        &stop,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    s3.down()?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    s3.up()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    let ids = gather(loads).await?;
    all_exactly_once(&stack, "storage-down", &ids, Duration::from_secs(120)).await?;
    // And their payloads are whole: read back through the API from object storage.
    let sample = ids.last().copied().unwrap_or_default();
    let run = stack
        .admin()
        .get(&format!("/runs/{sample}"))
        .await?
        .expect(200)?;
    assert_eq!(run["inputs"]["text"].as_str().map(str::len), Some(30_000));
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn redis_killed_under_load_with_fsync_always_loses_and_duplicates_nothing()
-> anyhow::Result<()> {
    let redis =
        PrivateStore::start_with_env("redis", &[("IRONSMITH_REDIS_APPENDFSYNC", "always")])?;
    let url = format!("redis://127.0.0.1:{}/0", redis.ports()[1]);
    let stack = Stack::start_with_options(
        |config| config.redis.url = ironsmith_config::Secret::new(url.as_str()),
        false,
    )
    .await?;
    let base = format!("{}/api/v1", stack.edge);
    let stop = CancellationToken::new();
    // No worker yet: until it runs, only Redis holds what was acknowledged.
    let loads = start_loads(
        4,
        Load {
            base: &base,
            key: &stack.admin_key,
            project: "redis-killed",
            per_request: 50,
            payload_bytes: 500,
        },
        &stop,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.kill()?; // SIGKILL: no shutdown, no final flush
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.up()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    let ids = gather(loads).await?;
    assert!(
        ids.len() >= 400,
        "the load ran ({} acknowledged)",
        ids.len()
    );

    let shutdown = CancellationToken::new();
    let worker = ironsmith_queue_worker::start(stack.config.clone(), shutdown.clone()).await?;
    all_exactly_once(&stack, "redis-killed", &ids, Duration::from_secs(120)).await?;
    shutdown.cancel();
    worker.wait().await?;
    stack.stop().await;
    Ok(())
}
