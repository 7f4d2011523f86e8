//! Test support: a configuration isolated per test against the real stores `scripts/test`
//! starts (own Postgres database, own ClickHouse database, own Redis key prefix, own bucket
//! prefix, every service on `127.0.0.1:0`), a typed HTTP client, and control of private store
//! instances for fault tests.

// Test support: a panic here is a failing test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use ironsmith_api_types::health::ReadinessReport;
use ironsmith_config::{Config, LoadOptions, StorageEngine};
use sqlx::Connection;
use uuid::Uuid;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")))
}

/// The stores' configuration as `scripts/test` exported it, with the `local` profile under it.
pub fn base_config() -> anyhow::Result<Config> {
    let options = LoadOptions {
        config_dir: Some(repo_root().join("config")),
        profile: Some("local".into()),
        read_env: true,
        ..LoadOptions::default()
    };
    ironsmith_config::load(&options).context("loading the test configuration")
}

/// A fresh, isolated, migrated configuration. Fails with a hint when the stores are not up.
pub async fn isolated_config() -> anyhow::Result<Config> {
    let mut config = base_config()?;
    if config.object_storage.engine != StorageEngine::S3 {
        bail!(
            "the tests run against the S3 server that scripts/test starts; run them with scripts/test"
        );
    }
    let id = format!("t_{}", &Uuid::new_v4().simple().to_string()[..16]);

    let admin_url = with_database(config.postgres.url.expose(), "postgres")?;
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .context("connecting to the test Postgres (is scripts/test running the stores?)")?;
    // `id` is ours: lowercase hex behind a fixed prefix, safe as an identifier.
    sqlx::query(&format!("CREATE DATABASE {id}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    config.postgres.url =
        ironsmith_config::Secret::new(with_database(config.postgres.url.expose(), &id)?);
    config.postgres.max_connections = 5;

    config.clickhouse.database = id.clone();
    config.redis.key_prefix = format!("{id}:");
    config.object_storage.prefix = id.clone();
    for listen in [
        &mut config.services.frontend.listen,
        &mut config.services.backend.listen,
        &mut config.services.platform_backend.listen,
        &mut config.services.playground.listen,
        &mut config.services.queue.listen,
    ] {
        *listen = SocketAddr::from(([127, 0, 0, 1], 0));
    }
    config.http.shutdown_grace_secs = 5;
    migrate(&config).await?;
    Ok(config)
}

/// Applies both schemas to the configuration's databases, as `backend migrate` does.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    ironsmith_runtime::migrate_all(config).await?;
    Ok(())
}

fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(url).context("postgres.url")?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

/// An HTTP client for tests, with a timeout so a hung server fails the test instead of CI.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// `GET {base}/health/ready`: the status code and the parsed report.
pub async fn readiness(base: &str) -> anyhow::Result<(u16, ReadinessReport)> {
    let response = http().get(format!("{base}/health/ready")).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// Polls readiness until `predicate` holds, for at most `within`.
pub async fn wait_for_readiness(
    base: &str,
    within: Duration,
    predicate: impl Fn(u16, &ReadinessReport) -> bool,
) -> anyhow::Result<ReadinessReport> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = readiness(base).await;
        if let Ok((status, report)) = &last
            && predicate(*status, report)
        {
            return Ok(report.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("readiness of {base} never matched; last answer: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A store instance of its own, started with `scripts/stores`, for tests that stop and start
/// a store. Stopped when dropped.
pub struct PrivateStore {
    name: &'static str,
    dir: tempfile_dir::Dir,
    ports: [u16; 5],
    /// Environment for `scripts/stores` (e.g. `IRONSMITH_REDIS_APPENDFSYNC`).
    env: Vec<(String, String)>,
}

impl PrivateStore {
    /// Starts a private `name` (`clickhouse`, `redis`, `postgres` or `s3`) on free ports.
    pub fn start(name: &'static str) -> anyhow::Result<Self> {
        Self::start_with_env(name, &[])
    }

    /// The same, with `env` set for `scripts/stores` whenever it starts the store.
    pub fn start_with_env(name: &'static str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let ports = [
            free_port()?,
            free_port()?,
            free_port()?,
            free_port()?,
            free_port()?,
        ];
        let store = PrivateStore {
            name,
            dir: tempfile_dir::Dir::new(name)?,
            ports,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        store.up()?;
        Ok(store)
    }

    /// `[postgres, redis, clickhouse http, clickhouse tcp, s3]`.
    pub fn ports(&self) -> [u16; 5] {
        self.ports
    }

    pub fn up(&self) -> anyhow::Result<()> {
        self.stores(&["start-one", self.name])
    }

    pub fn down(&self) -> anyhow::Result<()> {
        self.stores(&["stop-one", self.name])
    }

    /// SIGKILL: the store gets no chance to flush or shut down cleanly.
    pub fn kill(&self) -> anyhow::Result<()> {
        self.stores(&["kill-one", self.name])
    }

    fn stores(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut command = Command::new(repo_root().join("scripts/stores"));
        command.args(args).arg(self.dir.path());
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if args[0] == "start-one" {
            command.args(self.ports.iter().map(u16::to_string));
        }
        let output = command.output().context("running scripts/stores")?;
        if !output.status.success() {
            bail!(
                "scripts/stores {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for PrivateStore {
    fn drop(&mut self) {
        if let Err(error) = self.down() {
            eprintln!("could not stop the private {}: {error:#}", self.name);
        }
    }
}

/// Store processes of a test's own in a temporary directory, run by `scripts/stores`
/// `start-KIND`, `stop-KIND`, `start-KIND-one NAME` and `stop-KIND-one NAME` on `N` free ports.
/// Stopped when dropped.
struct ScriptedStores<const N: usize> {
    kind: &'static str,
    dir: tempfile_dir::Dir,
    ports: [u16; N],
}

impl<const N: usize> ScriptedStores<N> {
    fn start(kind: &'static str) -> anyhow::Result<Self> {
        let mut ports = [0; N];
        for port in &mut ports {
            *port = free_port()?;
        }
        let stores = ScriptedStores {
            kind,
            dir: tempfile_dir::Dir::new(kind)?,
            ports,
        };
        stores.run(&format!("start-{kind}"), None)?;
        Ok(stores)
    }

    /// Stops one process (SIGTERM, an orderly shutdown).
    fn down(&self, name: &str) -> anyhow::Result<()> {
        self.run(&format!("stop-{}-one", self.kind), Some(name))
    }

    fn up(&self, name: &str) -> anyhow::Result<()> {
        self.run(&format!("start-{}-one", self.kind), Some(name))
    }

    fn run(&self, action: &str, name: Option<&str>) -> anyhow::Result<()> {
        let mut command = Command::new(repo_root().join("scripts/stores"));
        command.arg(action);
        if let Some(name) = name {
            command.arg(name);
        }
        command.arg(self.dir.path());
        command.args(self.ports.iter().map(u16::to_string));
        let output = command.output().context("running scripts/stores")?;
        if !output.status.success() {
            bail!(
                "scripts/stores {action} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl<const N: usize> Drop for ScriptedStores<N> {
    fn drop(&mut self) {
        let output = Command::new(repo_root().join("scripts/stores"))
            .arg(format!("stop-{}", self.kind))
            .arg(self.dir.path())
            .output();
        if let Err(error) = output {
            eprintln!("could not stop the private {}: {error}", self.kind);
        }
    }
}

/// A ClickHouse cluster of its own (ZooKeeper and two 18.16 servers, the two replicas of one
/// shard of cluster `ironsmith`), started with `scripts/stores start-cluster`. Stopped when
/// dropped. Its ports: `[zookeeper, node1 http, node1 tcp, node1 interserver, node2 http, node2
/// tcp, node2 interserver]`.
pub struct PrivateCluster(ScriptedStores<7>);

impl PrivateCluster {
    pub const NAME: &'static str = "ironsmith";

    pub fn start() -> anyhow::Result<Self> {
        Ok(PrivateCluster(ScriptedStores::start("cluster")?))
    }

    /// The HTTP URL of `node` (1 or 2).
    pub fn url(&self, node: usize) -> String {
        let http = if node == 1 {
            self.0.ports[1]
        } else {
            self.0.ports[4]
        };
        format!("http://127.0.0.1:{http}")
    }

    /// Stops `name` (`node1`, `node2` or `zookeeper`) with SIGTERM, as an orderly shutdown.
    pub fn down(&self, name: &str) -> anyhow::Result<()> {
        self.0.down(name)
    }

    pub fn up(&self, name: &str) -> anyhow::Result<()> {
        self.0.up(name)
    }
}

/// A Redis Cluster of its own (three masters, AOF fsync always), started with
/// `scripts/stores start-redis-cluster`. Stopped when dropped.
pub struct PrivateRedisCluster(ScriptedStores<3>);

impl PrivateRedisCluster {
    pub fn start() -> anyhow::Result<Self> {
        Ok(PrivateRedisCluster(ScriptedStores::start("redis-cluster")?))
    }

    /// The URL of `master` (1 to 3): any one is a seed for the cluster client.
    pub fn url(&self, master: usize) -> String {
        let port = self.0.ports[master.clamp(1, 3) - 1];
        format!("redis://127.0.0.1:{port}/0")
    }

    /// Stops `master1`, `master2` or `master3` (SIGTERM; its AOF keeps what it acknowledged).
    pub fn down(&self, name: &str) -> anyhow::Result<()> {
        self.0.down(name)
    }

    pub fn up(&self, name: &str) -> anyhow::Result<()> {
        self.0.up(name)
    }
}

/// A Postgres primary and a streaming replica of it (a hot standby replaying the primary's
/// WAL), started with `scripts/stores start-postgres-replica`. Stopped when dropped.
pub struct PrivatePostgresReplica(ScriptedStores<2>);

impl PrivatePostgresReplica {
    pub fn start() -> anyhow::Result<Self> {
        Ok(PrivatePostgresReplica(ScriptedStores::start(
            "postgres-replica",
        )?))
    }

    /// The URL of the `ironsmith` database on `primary` or `replica`.
    pub fn url(&self, name: &str) -> String {
        let port = if name == "primary" {
            self.0.ports[0]
        } else {
            self.0.ports[1]
        };
        format!("postgres://ironsmith@127.0.0.1:{port}/ironsmith")
    }

    /// Stops `primary` or `replica` (a fast shutdown).
    pub fn down(&self, name: &str) -> anyhow::Result<()> {
        self.0.down(name)
    }

    pub fn up(&self, name: &str) -> anyhow::Result<()> {
        self.0.up(name)
    }
}

mod tempfile_dir {
    //! A directory removed on drop, under the system temp dir.
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(name: &str) -> std::io::Result<Self> {
            let path = std::env::temp_dir().join(format!(
                "ironsmith-{name}-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&path)?;
            Ok(Dir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            // For looking at a failed run's store logs afterwards.
            if std::env::var_os("KEEP_TEST_DIRS").is_some() {
                eprintln!("kept {}", self.0.display());
                return;
            }
            if let Err(error) = std::fs::remove_dir_all(&self.0) {
                eprintln!("could not remove {}: {error}", self.0.display());
            }
        }
    }
}

/// Runs one SQL statement of a test's own (fixtures, breaking things on purpose).
pub async fn execute(pool: &sqlx::PgPool, sql: &str) -> anyhow::Result<()> {
    sqlx::query(sql).execute(pool).await?;
    Ok(())
}
