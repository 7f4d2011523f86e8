//! Cross-service end-to-end tests live in `tests/e2e/` (one test binary, a module per area).
//! This library is their harness: a whole stack (backend, platform-backend, frontend as the
//! edge) on isolated stores with the initial organisation bootstrapped, and a small typed
//! client.

// The test harness: a panic here is a failing test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

pub mod providers;
mod typed;

use std::sync::Arc;

use anyhow::Context;
use ironsmith_config::{Config, Secret};
use ironsmith_test_support::isolated_config;
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// A running stack on isolated stores.
pub struct Stack {
    pub config: Arc<Config>,
    /// The public origin (the frontend).
    pub edge: String,
    pub backend: String,
    pub platform: String,
    /// The playground service, directly.
    pub playground: String,
    /// The queue worker's own port (health, metrics, dead letters).
    pub worker: String,
    /// The bootstrap admin's personal access token.
    pub admin_key: String,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    shutdown: CancellationToken,
    waits: Vec<tokio::task::JoinHandle<()>>,
}

fn bootstrap_key() -> String {
    format!(
        "lsv2_pt_{}_{}",
        Uuid::new_v4().simple(),
        &Uuid::new_v4().simple().to_string()[..10]
    )
}

/// The services' logs go to the test's captured output (shown when a test fails), at the level
/// `RUST_LOG` asks for, warnings and errors otherwise.
fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        // Best effort: another subscriber may already be installed in this process.
        if tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init()
            .is_err()
        {
            eprintln!("a tracing subscriber was already installed");
        }
    });
}

/// Whether starting a service failed because its address was taken.
fn address_in_use(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// The key-encryption key of test stacks' workspace secrets.
pub const SECRETS_KEY: &str = "test:BLD5303I/F5kkjEi0lzC1ODs54zDGefH4S5hiA3OP04=";
/// The token backend and playground share in test stacks.
pub const PLAYGROUND_TOKEN: &str = "test-playground-token-0123456789abcdef";

/// How long `drain` waits for the worker in `ingested_runs` and `ingested_feedback`.
const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The operator credential of test stacks (`auth.operator_token`).
pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789abcdef";

impl Stack {
    pub async fn start() -> anyhow::Result<Stack> {
        Self::start_with(|_| {}).await
    }

    /// Starts a stack after `adjust` has changed the isolated configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Stack> {
        Self::start_with_options(adjust, true).await
    }

    /// Starts a stack, with or without the in-process queue worker (fault tests run their own
    /// worker processes).
    pub async fn start_with_options(
        adjust: impl FnOnce(&mut Config),
        worker: bool,
    ) -> anyhow::Result<Stack> {
        capture_logs();
        let mut config = isolated_config().await?;
        config.bootstrap.admin_email = ADMIN_EMAIL.into();
        config.bootstrap.admin_password = Secret::new(ADMIN_PASSWORD);
        config.bootstrap.api_key = Secret::new(bootstrap_key());
        config.auth.operator_token = Secret::new(OPERATOR_TOKEN);
        config.secrets.encryption_key = Secret::new(SECRETS_KEY);
        config.playground.internal_token = Secret::new(PLAYGROUND_TOKEN);
        // Provider stand-ins listen on 127.0.0.1; the rest of loopback stays refused.
        config.playground.allowed_networks = vec!["127.0.0.1/32".parse()?];
        config.playground.retry_base_ms = 20;
        // The edge's address is fixed up front so the public URLs (OIDC redirects, cookies)
        // name it.
        let edge_port = ironsmith_test_support::free_port()?;
        config.services.frontend.listen = std::net::SocketAddr::from(([127, 0, 0, 1], edge_port));
        config.public.ui_url = format!("http://127.0.0.1:{edge_port}").parse()?;
        config.public.api_url = format!("http://127.0.0.1:{edge_port}/api/v1").parse()?;
        config.public.control_plane_url =
            format!("http://127.0.0.1:{edge_port}/api-host").parse()?;
        adjust(&mut config);
        let pool = ironsmith_db::connect(&config.postgres)?;
        let outcome = ironsmith_platform_backend::bootstrap::bootstrap(&pool, &config).await?;
        let ironsmith_platform_backend::bootstrap::Outcome::Created {
            organization_id,
            workspace_id,
            ..
        } = outcome
        else {
            anyhow::bail!("a fresh database was already bootstrapped");
        };
        Self::serve(config, organization_id, workspace_id, worker).await
    }

    async fn serve(
        mut config: Config,
        organization_id: Uuid,
        workspace_id: Uuid,
        with_worker: bool,
    ) -> anyhow::Result<Stack> {
        let mut shutdown = CancellationToken::new();
        // The playground's address is fixed up front: platform-backend calls it (playground
        // experiments) and it calls platform-backend. Another test may take the free port
        // before the playground binds it: then the three start again on another.
        let mut attempt = 0;
        let (backend, platform, playground) = loop {
            attempt += 1;
            let playground_port = ironsmith_test_support::free_port()?;
            config.services.playground.listen =
                std::net::SocketAddr::from(([127, 0, 0, 1], playground_port));
            config.endpoints.playground = format!("http://127.0.0.1:{playground_port}").parse()?;
            let backend =
                ironsmith_backend::start(Arc::new(config.clone()), shutdown.clone()).await?;
            config.endpoints.backend = format!("http://{}", backend.local_addr).parse()?;
            let platform =
                ironsmith_platform_backend::start(Arc::new(config.clone()), shutdown.clone())
                    .await?;
            config.endpoints.platform_backend =
                format!("http://{}", platform.local_addr).parse()?;
            match ironsmith_playground::start(Arc::new(config.clone()), shutdown.clone()).await {
                Ok(playground) => break (backend, platform, playground),
                Err(error) if attempt < 5 && address_in_use(&error) => {
                    shutdown.cancel();
                    drop(backend.wait().await);
                    drop(platform.wait().await);
                    shutdown = CancellationToken::new();
                }
                Err(error) => return Err(error),
            }
        };
        let config = Arc::new(config);
        let frontend = ironsmith_frontend::start(config.clone(), shutdown.clone()).await?;
        let worker = if with_worker {
            Some(ironsmith_queue_worker::start(config.clone(), shutdown.clone()).await?)
        } else {
            None
        };
        Ok(Stack {
            worker: worker
                .as_ref()
                .map(|w| format!("http://{}", w.served.local_addr))
                .unwrap_or_default(),
            admin_key: config.bootstrap.api_key.expose().to_owned(),
            edge: format!("http://{}", frontend.local_addr),
            backend: format!("http://{}", backend.local_addr),
            platform: format!("http://{}", platform.local_addr),
            playground: format!("http://{}", playground.local_addr),
            waits: vec![
                tokio::spawn(async move { drop(playground.wait().await) }),
                tokio::spawn(async move { drop(backend.wait().await) }),
                tokio::spawn(async move { drop(platform.wait().await) }),
                tokio::spawn(async move { drop(frontend.wait().await) }),
                tokio::spawn(async move {
                    if let Some(worker) = worker {
                        drop(worker.wait().await);
                    }
                }),
            ],
            config,
            organization_id,
            workspace_id,
            shutdown,
        })
    }

    /// Stops the services and starts them again on the same stores (new ports).
    pub async fn restart(self) -> anyhow::Result<Stack> {
        let config = (*self.config).clone();
        let (organization_id, workspace_id) = (self.organization_id, self.workspace_id);
        let with_worker = !self.worker.is_empty();
        self.stop().await;
        let mut config = config;
        for listen in [
            &mut config.services.frontend.listen,
            &mut config.services.backend.listen,
            &mut config.services.platform_backend.listen,
            &mut config.services.queue.listen,
        ] {
            *listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        }
        Self::serve(config, organization_id, workspace_id, with_worker).await
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        for wait in self.waits {
            drop(wait.await);
        }
    }

    /// A client of the public API (`<edge>/api/v1`) with the admin's key.
    pub fn admin(&self) -> Client {
        Client::new(&format!("{}/api/v1", self.edge)).key(&self.admin_key)
    }

    /// A client of the public API with no credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&format!("{}/api/v1", self.edge))
    }

    pub fn pool(&self) -> anyhow::Result<ironsmith_db::Pool> {
        Ok(ironsmith_db::connect(&self.config.postgres)?)
    }

    pub fn clickhouse(&self) -> ironsmith_analytics::clickhouse::Client {
        ironsmith_analytics::client(&self.config.clickhouse)
    }

    /// The id of the admin workspace's project `name`, once it exists.
    pub async fn project_id(&self, name: &str) -> anyhow::Result<Option<Uuid>> {
        let pool = self.pool()?;
        Ok(sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM tracer_sessions WHERE tenant_id = $1 AND name = $2",
        )
        .bind(self.workspace_id)
        .bind(name)
        .fetch_optional(&pool)
        .await?)
    }

    /// Waits until the worker has stored everything appended to the ingestion stream so far:
    /// no shard holds an entry that is unread or unacknowledged, and the worker acknowledges an
    /// entry only once ClickHouse confirmed its rows. Every accepted run and feedback (a 202
    /// means the append was durable) is then readable. This watches the queue, not the
    /// results, so a test that only waits for ingestion knows when it is done. Fails after
    /// `within` (no worker running, ClickHouse down).
    pub async fn drain(&self, within: std::time::Duration) -> anyhow::Result<()> {
        let stream = ironsmith_queue::ShardedStream::new(
            ironsmith_redis::Redis::new(&self.config.redis)?,
            ironsmith_queue::INGEST_STREAM,
            self.config.ingest.shards,
        );
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let depth = stream.depth().await?;
            if depth.queued == 0 && depth.pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "the ingestion stream still holds {} unread and {} unacknowledged entries \
                     after {within:?}",
                    depth.queued,
                    depth.pending
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The runs of project `name` once everything accepted so far is stored (`drain`): the
    /// latest version of each, in start order; none when the project does not exist. For tests
    /// that only wait for ingestion: the answer is final, no polling.
    pub async fn ingested_runs(
        &self,
        name: &str,
    ) -> anyhow::Result<Vec<ironsmith_analytics::runs::RunRow>> {
        self.drain(DRAIN_WITHIN).await?;
        let Some(project) = self.project_id(name).await? else {
            return Ok(Vec::new());
        };
        Ok(
            ironsmith_analytics::runs::latest_runs(&self.clickhouse(), self.workspace_id, project)
                .await?,
        )
    }

    /// The feedback on `trace_id` once everything accepted so far is stored (`drain`).
    pub async fn ingested_feedback(
        &self,
        trace_id: Uuid,
    ) -> anyhow::Result<Vec<ironsmith_analytics::runs::FeedbackRow>> {
        self.drain(DRAIN_WITHIN).await?;
        Ok(ironsmith_analytics::runs::trace_feedback(
            &self.clickhouse(),
            self.workspace_id,
            trace_id,
        )
        .await?)
    }

    /// Waits until project `name` holds `count` runs in ClickHouse, then returns them (the
    /// latest version of each, in start order). Fails after `within`. Polls: for runs whose
    /// producer is itself asynchronous (a deployed agent, a playground experiment, a live
    /// tail); runs a test sent and had accepted are read with `ingested_runs`.
    pub async fn wait_for_runs(
        &self,
        name: &str,
        count: usize,
        within: std::time::Duration,
    ) -> anyhow::Result<Vec<ironsmith_analytics::runs::RunRow>> {
        self.wait_for_runs_where(name, count, within, |_| true)
            .await
    }

    /// Like `wait_for_runs`, until `settled` also holds for the runs (later operations folded
    /// in: ends, patches).
    pub async fn wait_for_runs_where(
        &self,
        name: &str,
        count: usize,
        within: std::time::Duration,
        settled: impl Fn(&[ironsmith_analytics::runs::RunRow]) -> bool,
    ) -> anyhow::Result<Vec<ironsmith_analytics::runs::RunRow>> {
        let deadline = tokio::time::Instant::now() + within;
        let clickhouse = self.clickhouse();
        loop {
            let mut last = Vec::new();
            if let Some(project) = self.project_id(name).await? {
                last =
                    ironsmith_analytics::runs::latest_runs(&clickhouse, self.workspace_id, project)
                        .await?;
                if last.len() >= count && settled(&last) {
                    return Ok(last);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "project {name:?} holds {} runs after {within:?}, expected {count} settled: {:?}",
                    last.len(),
                    last.iter()
                        .map(|r| (&r.name, &r.status))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until feedback on `trace_id` is in ClickHouse (or `within` passes), and returns it.
    pub async fn wait_for_feedback(
        &self,
        trace_id: Uuid,
        within: std::time::Duration,
    ) -> anyhow::Result<Vec<ironsmith_analytics::runs::FeedbackRow>> {
        let deadline = tokio::time::Instant::now() + within;
        let clickhouse = self.clickhouse();
        loop {
            let feedback =
                ironsmith_analytics::runs::trace_feedback(&clickhouse, self.workspace_id, trace_id)
                    .await?;
            if !feedback.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(feedback);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// An HTTP answer: status and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The body, after checking the status.
    pub fn expect(self, status: u16) -> anyhow::Result<Value> {
        anyhow::ensure!(
            self.status == status,
            "expected {status}, got {}: {}",
            self.status,
            self.body
        );
        Ok(self.body)
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }
}

/// A small client of our API with a fixed credential and workspace.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    key: Option<String>,
    bearer: Option<String>,
    tenant: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            http: ironsmith_test_support::http(),
            key: None,
            bearer: None,
            tenant: None,
        }
    }

    pub fn key(mut self, key: &str) -> Client {
        self.key = Some(key.to_owned());
        self
    }

    pub fn bearer(mut self, token: &str) -> Client {
        self.bearer = Some(token.to_owned());
        self
    }

    pub fn tenant(mut self, tenant: impl ToString) -> Client {
        self.tenant = Some(tenant.to_string());
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The status and content type of `GET path`, without reading the body (an event stream
    /// never ends).
    pub async fn open(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.request(Method::GET, path).send().await?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((response.status().as_u16(), content_type))
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            request = request.header("x-api-key", key);
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some(tenant) = &self.tenant {
            request = request.header("x-tenant-id", tenant);
        }
        request
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// `POST path` answered with server-sent events: the status and each event's JSON `data`
    /// (read until the server ends the stream).
    pub async fn post_events(&self, path: &str, body: Value) -> anyhow::Result<(u16, Vec<Value>)> {
        let response = self.request(Method::POST, path).json(&body).send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if status != 200 {
            // Refused before streaming: the error body stands as the one event.
            return Ok((
                status,
                vec![serde_json::from_str(&text).unwrap_or(Value::String(text))],
            ));
        }
        let events = text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| serde_json::from_str(data.trim()).unwrap_or(Value::String(data.to_owned())))
            .collect();
        Ok((status, events))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        self.send(Method::POST, path, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        self.send(Method::PATCH, path, Some(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        self.send(Method::PUT, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(Method::DELETE, path, None).await
    }

    /// Signs in with email and password; a client carrying the session token.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<Client> {
        let body = self
            .post(
                "/auth/login",
                serde_json::json!({"email": email, "password": password}),
            )
            .await?
            .expect(200)?;
        let token = body["access_token"]
            .as_str()
            .context("no access_token")?
            .to_owned();
        Ok(Client::new(&self.base).bearer(&token))
    }
}

/// Invites `email` into the admin's organisation with the given roles, accepts the
/// invitation with `password`, and returns the new user's id.
pub async fn add_user(
    admin: &Client,
    email: &str,
    password: &str,
    org_role: ironsmith_auth::Role,
    workspaces: &[(Uuid, ironsmith_auth::Role)],
) -> anyhow::Result<Uuid> {
    let first_role = workspaces
        .first()
        .map(|(_, r)| *r)
        .unwrap_or(ironsmith_auth::Role::WorkspaceViewer);
    let invite = admin
        .post(
            "/orgs/current/members",
            serde_json::json!({
                "email": email,
                "role_id": org_role.id(),
                "workspace_ids": workspaces.iter().map(|(w, _)| w).collect::<Vec<_>>(),
                "workspace_role_id": first_role.id(),
            }),
        )
        .await?
        .expect(200)?;
    let accepted = Client::new(admin.base())
        .post(
            "/auth/invites/accept",
            serde_json::json!({"token": invite["token"], "password": password}),
        )
        .await?
        .expect(200)?;
    let user_id: Uuid = accepted["user_id"].as_str().context("user_id")?.parse()?;
    // Workspaces beyond the first get their own role.
    for (workspace, role) in workspaces.iter().skip(1) {
        admin
            .clone()
            .tenant(workspace)
            .post(
                "/workspaces/current/members",
                serde_json::json!({"user_id": user_id, "workspace_role_id": role.id()}),
            )
            .await?
            .expect(200)?;
    }
    Ok(user_id)
}

/// The interpreter of the venv `scripts/stores install` prepares with the real Python SDKs
/// (`IRONSMITH_PYTHON` overrides it).
pub fn python() -> std::path::PathBuf {
    std::env::var_os("IRONSMITH_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/ironsmith/venv/bin/python")
        })
}

/// `node`, for the JS SDK (`IRONSMITH_NODE` overrides it).
pub fn node() -> std::path::PathBuf {
    std::env::var_os("IRONSMITH_NODE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join("node"))
                .find(|p| p.exists())
                .unwrap_or_else(|| "/usr/bin/node".into())
        })
}

/// Runs a client script (`program script`) with only `PATH`, `HOME` and `env` set, and parses
/// the JSON it prints. Fails with its stderr when it fails.
pub async fn run_client(
    program: &std::path::Path,
    script: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Value> {
    run_client_within(program, script, env, std::time::Duration::from_secs(120)).await
}

/// [`run_client`] with its own time limit (the browser tests walk many pages).
pub async fn run_client_within(
    program: &std::path::Path,
    script: &str,
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> anyhow::Result<Value> {
    anyhow::ensure!(
        program.exists(),
        "{} is missing: run scripts/stores install (it installs the SDKs)",
        program.display()
    );
    let mut command = tokio::process::Command::new(program);
    command
        .arg(ironsmith_test_support::repo_root().join(script))
        .current_dir(ironsmith_test_support::repo_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = tokio::time::timeout(limit, command.output())
        .await
        .with_context(|| format!("the client script did not finish within {limit:?}"))??;
    anyhow::ensure!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Shown when the test fails: what the client warned about while succeeding.
    eprintln!(
        "{script} stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{script} printed {stdout:?}"))
}

/// Sums a counter in this process's Prometheus text for series whose labels contain every one
/// of `labels` (`key="value"`).
pub async fn metric(base: &str, name: &str, labels: &[&str]) -> anyhow::Result<f64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with(name) && labels.iter().all(|l| line.contains(l)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// A second organisation (created the way bootstrap creates one, with its own admin key) that
/// invites the stack's admin into its workspace as a viewer; the admin accepts. Returns the
/// organisation's workspace and its admin's client.
pub async fn second_organisation(stack: &Stack, name: &str) -> anyhow::Result<(Uuid, Client)> {
    use ironsmith_platform_backend::bootstrap::{OrganizationSpec, Outcome, create_organization};
    let key = bootstrap_key();
    let admin_email = format!(
        "admin@{}.example.com",
        name.to_lowercase().replace(' ', "-")
    );
    let mut tx = stack.pool()?.begin().await?;
    let Outcome::Created { workspace_id, .. } = create_organization(
        &mut tx,
        &OrganizationSpec {
            organization_name: name,
            workspace_name: &format!("{name} workspace"),
            admin_email: &admin_email,
            admin_password_hash: None,
            admin_api_key: Some(&key),
        },
        &ironsmith_auth::SecretHasher::new(stack.config.auth.api_key_salt.expose().as_bytes()),
    )
    .await?
    else {
        anyhow::bail!("expected a new organisation");
    };
    tx.commit().await?;
    let admin = stack.anonymous().key(&key);
    let invite = admin
        .post(
            "/orgs/current/members",
            serde_json::json!({
                "email": ADMIN_EMAIL,
                "role_id": ironsmith_auth::Role::OrganizationUser.id(),
                "workspace_ids": [workspace_id],
                "workspace_role_id": ironsmith_auth::Role::WorkspaceViewer.id(),
            }),
        )
        .await?
        .expect(200)?;
    stack
        .anonymous()
        .post(
            "/auth/invites/accept",
            serde_json::json!({"token": invite["token"]}),
        )
        .await?
        .expect(200)?;
    Ok((workspace_id, admin))
}
