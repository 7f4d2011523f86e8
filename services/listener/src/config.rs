//! The listener's configuration: environment variables named as upstream's data-plane chart
//! names them, so its install values carry over.

use std::time::Duration;

use anyhow::Context;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterKind {
    /// The Kubernetes API (in a pod: its service account; elsewhere: the kubeconfig).
    Kubernetes,
    /// A local folder the operator's local runtime reconciles (development and tests).
    Local(std::path::PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The control plane (`HOST_BACKEND_ENDPOINT`), e.g. `https://ironsmith.example.com/api-host`.
    pub host_backend_endpoint: url::Url,
    /// What Agent Servers trace to (`HOST_LANGCHAIN_API_ENDPOINT`), e.g. `…/api/v1`.
    pub langsmith_endpoint: String,
    /// A key of the listener's workspace (`HOST_WORKER_LANGSMITH_API_KEY`).
    pub api_key: String,
    /// The workspace (`HOST_WORKER_TENANT_ID`).
    pub tenant_id: uuid::Uuid,
    /// The listener (`HOST_WORKER_LISTENER_ID`); absent: the in-cluster default listener.
    pub listener_id: String,
    /// Namespaces to act in (`WATCH_NAMESPACES`, comma-separated); empty: the listener's own.
    pub watch_namespaces: Vec<String>,
    /// `ENABLE_LGP_DEPLOYMENT_HEALTH_CHECK`: call each deployment's `/ok` before `DEPLOYED`.
    pub health_check: bool,
    /// The health endpoint's port (`PORT`).
    pub port: u16,
    /// This replica's name in rollout leases (`LISTENER_INSTANCE_ID`, else `HOSTNAME`).
    pub instance_id: String,
    pub cluster: ClusterKind,
    /// How long a rollout may take before it fails (`LGP_DEPLOY_TIMEOUT_SECONDS`, 600).
    pub deploy_timeout: Duration,
    /// Overrides the poll interval the control plane asks for (`LISTENER_POLL_INTERVAL_MS`).
    pub poll_interval: Option<Duration>,
    /// How long a claimed rollout stays this replica's without a report, seconds.
    pub lease_seconds: i64,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(name: &str) -> anyhow::Result<String> {
    var(name).with_context(|| format!("{name} is required"))
}

fn flag(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => anyhow::bail!("{name} must be true or false, not {v:?}"),
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let endpoint = required("HOST_BACKEND_ENDPOINT")?;
        let mut host_backend_endpoint: url::Url = endpoint
            .parse()
            .with_context(|| format!("HOST_BACKEND_ENDPOINT {endpoint:?} is not a URL"))?;
        if !host_backend_endpoint.path().ends_with('/') {
            let path = format!("{}/", host_backend_endpoint.path());
            host_backend_endpoint.set_path(&path);
        }
        let tenant = required("HOST_WORKER_TENANT_ID")?;
        let cluster = match var("LISTENER_CLUSTER").as_deref() {
            None | Some("kubernetes") => ClusterKind::Kubernetes,
            Some("local") => ClusterKind::Local(required("LOCAL_CLUSTER_DIR")?.into()),
            Some(other) => {
                anyhow::bail!("LISTENER_CLUSTER must be kubernetes or local, not {other:?}")
            }
        };
        let instance_id = var("LISTENER_INSTANCE_ID")
            .or_else(|| var("HOSTNAME"))
            .unwrap_or_else(|| format!("listener-{}", uuid::Uuid::new_v4().simple()));
        Ok(Config {
            host_backend_endpoint,
            langsmith_endpoint: required("HOST_LANGCHAIN_API_ENDPOINT")?,
            api_key: required("HOST_WORKER_LANGSMITH_API_KEY")?,
            tenant_id: tenant
                .parse()
                .with_context(|| format!("HOST_WORKER_TENANT_ID {tenant:?} is not a UUID"))?,
            listener_id: var("HOST_WORKER_LISTENER_ID").unwrap_or_else(|| "default".into()),
            watch_namespaces: var("WATCH_NAMESPACES")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            health_check: flag("ENABLE_LGP_DEPLOYMENT_HEALTH_CHECK", true)?,
            port: var("PORT")
                .map(|p| p.parse())
                .transpose()
                .context("PORT")?
                .unwrap_or(8080),
            instance_id,
            cluster,
            deploy_timeout: Duration::from_secs(
                var("LGP_DEPLOY_TIMEOUT_SECONDS")
                    .map(|v| v.parse())
                    .transpose()
                    .context("LGP_DEPLOY_TIMEOUT_SECONDS")?
                    .unwrap_or(600),
            ),
            poll_interval: var("LISTENER_POLL_INTERVAL_MS")
                .map(|v| v.parse().map(Duration::from_millis))
                .transpose()
                .context("LISTENER_POLL_INTERVAL_MS")?,
            lease_seconds: 30,
        })
    }
}
