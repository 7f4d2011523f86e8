//! The data plane's shared parts: the `LGP` custom resource, and the cluster the listener and
//! the operator act on — a real one through the Kubernetes API, or a local folder that the
//! operator's local runtime turns into processes.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod kube_cluster;
pub mod lgp;
pub mod local;

use std::collections::BTreeMap;

pub use kube_cluster::KubeCluster;
pub use lgp::Lgp;
pub use local::LocalCluster;

/// Selects rustls' ring provider for the Kubernetes client's TLS (several providers are
/// compiled in, so rustls will not pick one itself). Idempotent.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Where the listener's objects go.
#[derive(Clone)]
pub enum Cluster {
    Kube(KubeCluster),
    Local(LocalCluster),
}

impl Cluster {
    pub async fn cluster_uid(&self) -> anyhow::Result<String> {
        match self {
            Cluster::Kube(k) => k.cluster_uid().await,
            Cluster::Local(l) => l.cluster_uid(),
        }
    }

    pub async fn apply_secret(
        &self,
        ns: &str,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        match self {
            Cluster::Kube(k) => k.apply_secret(ns, name, data).await,
            Cluster::Local(l) => l.apply_secret(ns, name, data),
        }
    }

    pub async fn delete_secret(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        match self {
            Cluster::Kube(k) => k.delete_secret(ns, name).await,
            Cluster::Local(l) => l.delete_secret(ns, name),
        }
    }

    pub async fn apply_lgp(&self, lgp: &Lgp) -> anyhow::Result<i64> {
        match self {
            Cluster::Kube(k) => k.apply_lgp(lgp).await,
            Cluster::Local(l) => l.apply_lgp(lgp),
        }
    }

    pub async fn get_lgp(&self, ns: &str, name: &str) -> anyhow::Result<Option<Lgp>> {
        match self {
            Cluster::Kube(k) => k.get_lgp(ns, name).await,
            Cluster::Local(l) => l.get_lgp(ns, name),
        }
    }

    pub async fn delete_lgp(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        match self {
            Cluster::Kube(k) => k.delete_lgp(ns, name).await,
            Cluster::Local(l) => l.delete_lgp(ns, name),
        }
    }

    /// Deletes the deployment's volume claims; the local runtime keeps none.
    pub async fn delete_pvcs(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        match self {
            Cluster::Kube(k) => k.delete_pvcs(ns, name).await,
            Cluster::Local(_) => Ok(()),
        }
    }

    pub async fn workload_logs(
        &self,
        ns: &str,
        name: &str,
        lines: usize,
    ) -> anyhow::Result<Vec<String>> {
        match self {
            Cluster::Kube(k) => k.workload_logs(ns, name, lines).await,
            Cluster::Local(l) => l.workload_logs(ns, name, lines),
        }
    }
}
