//! The data plane's operator: reconciles each `LGP` custom resource into the workload that
//! serves it. On Kubernetes that is the API server and queue Deployments, Service, per-
//! deployment Postgres and Redis, KEDA scaling and a route ([`kube`], [`render`]); with the
//! local runtime it is a local Agent Server process ([`local`]).
//!
//! Configured like upstream's operator: `WATCH_NAMESPACE` (comma list), `KEDA_ENABLED`,
//! `ROOT_DOMAIN`, `TLS_ENABLED`, `BASE_PATH`, and one routing mode — Gateway API
//! (`GATEWAY_NAME`, `GATEWAY_NAMESPACE`) or a shared Ingress (`SHARED_INGRESS_NAME`,
//! `SHARED_INGRESS_NAMESPACE`); `--leader-elect` and `--health-probe-bind-address` as flags.
//! `OPERATOR_RUNTIME=local` with `LOCAL_CLUSTER_DIR`, `LANGGRAPH_BIN`, `LOCAL_IMAGE_COMMANDS`
//! (JSON: image → shell command serving on `$PORT`) and `LOCAL_STARTUP_TIMEOUT_SECONDS`
//! selects the local runtime.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod kube;
pub mod local;
pub mod render;

use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::render::{Routing, Settings};

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn flag(name: &str) -> bool {
    var(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

pub fn init_logging() {
    let filter = var("LOG_LEVEL").unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            filter.to_ascii_lowercase(),
        ))
        .try_init();
}

/// `--flag value` or `--flag=value` from the command line.
fn arg(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(&format!("{name}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

/// Exactly one routing mode.
pub fn routing_from_env() -> anyhow::Result<Routing> {
    match (
        var("GATEWAY_NAME"),
        var("SHARED_INGRESS_NAME"),
        var("ISTIO_GATEWAY_NAME"),
    ) {
        (Some(name), None, None) => Ok(Routing::Gateway {
            name,
            namespace: var("GATEWAY_NAMESPACE")
                .context("GATEWAY_NAMESPACE is required with GATEWAY_NAME")?,
        }),
        (None, Some(name), None) => Ok(Routing::SharedIngress {
            name,
            namespace: var("SHARED_INGRESS_NAMESPACE").unwrap_or_default(),
        }),
        (None, None, Some(_)) => anyhow::bail!(
            "Istio routing is not supported yet: use the Gateway API (GATEWAY_NAME) or a shared Ingress"
        ),
        _ => anyhow::bail!(
            "set exactly one routing mode: GATEWAY_NAME (Gateway API) or SHARED_INGRESS_NAME"
        ),
    }
}

async fn serve_probes(address: String, shutdown: CancellationToken) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));
    let address = if address.starts_with(':') {
        format!("0.0.0.0{address}")
    } else {
        address
    };
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

pub async fn run(args: Vec<String>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let probes = arg(&args, "--health-probe-bind-address").unwrap_or_else(|| ":8081".into());
    let probe_task = tokio::spawn(serve_probes(probes, shutdown.clone()));
    let namespaces: Vec<String> = var("WATCH_NAMESPACE")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let result = if var("OPERATOR_RUNTIME").as_deref() == Some("local") {
        let image_commands = match var("LOCAL_IMAGE_COMMANDS") {
            Some(json) => serde_json::from_str(&json)
                .context("LOCAL_IMAGE_COMMANDS must be a JSON object of image → command")?,
            None => Default::default(),
        };
        let config = local::LocalConfig {
            dir: var("LOCAL_CLUSTER_DIR")
                .context("LOCAL_CLUSTER_DIR is required with OPERATOR_RUNTIME=local")?
                .into(),
            langgraph_bin: var("LANGGRAPH_BIN")
                .unwrap_or_else(|| "langgraph".into())
                .into(),
            image_commands,
            startup_timeout: Duration::from_secs(
                var("LOCAL_STARTUP_TIMEOUT_SECONDS")
                    .map(|v| v.parse())
                    .transpose()?
                    .unwrap_or(120),
            ),
            poll: Duration::from_millis(500),
        };
        local::Runtime::new(config).run(shutdown).await
    } else {
        let settings = Settings {
            keda: flag("KEDA_ENABLED"),
            root_domain: var("ROOT_DOMAIN").context("ROOT_DOMAIN is required")?,
            base_path: var("BASE_PATH").unwrap_or_default(),
            tls: flag("TLS_ENABLED"),
            routing: routing_from_env()?,
        };
        ironsmith_dataplane::install_crypto();
        let operator = kube::KubeOperator {
            client: ::kube::Client::try_default().await?,
            settings,
            namespaces,
            identity: var("HOSTNAME").unwrap_or_else(|| format!("operator-{}", std::process::id())),
            lease_namespace: var("POD_NAMESPACE").unwrap_or_else(|| "default".into()),
            leader_election: args
                .iter()
                .any(|a| a == "--leader-elect" || a == "--leader-elect=true"),
        };
        operator.run(shutdown).await
    };
    probe_task.abort();
    result
}
