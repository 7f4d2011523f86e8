//! A real cluster, through the Kubernetes API (kube-rs). Objects are written with server-side
//! apply under the caller's field manager, so the listener and the operator each own their
//! fields and re-applying the same object is a no-op.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};

use crate::lgp::{self, Lgp};

#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    field_manager: &'static str,
}

/// The `LGP` resource, for the dynamic API.
pub fn lgp_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(lgp::GROUP, lgp::VERSION, lgp::KIND),
        lgp::PLURAL,
    )
}

fn not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

impl KubeCluster {
    pub fn new(client: Client, field_manager: &'static str) -> Self {
        KubeCluster {
            client,
            field_manager,
        }
    }

    /// In a pod: its service account; elsewhere: the kubeconfig.
    pub async fn connect(field_manager: &'static str) -> anyhow::Result<Self> {
        crate::install_crypto();
        Ok(KubeCluster::new(
            Client::try_default().await?,
            field_manager,
        ))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn apply_params(&self) -> PatchParams {
        PatchParams::apply(self.field_manager).force()
    }

    fn lgps(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &lgp_resource())
    }

    pub async fn cluster_uid(&self) -> anyhow::Result<String> {
        let ns: Namespace = Api::all(self.client.clone()).get("kube-system").await?;
        ns.metadata
            .uid
            .ok_or_else(|| anyhow::anyhow!("namespace kube-system has no uid"))
    }

    pub async fn apply_secret(
        &self,
        ns: &str,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let manifest = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {lgp::LABEL_DEPLOYMENT: name, lgp::LABEL_MANAGED_BY: self.field_manager},
            },
            "type": "Opaque",
            "stringData": data,
        });
        Api::<Secret>::namespaced(self.client.clone(), ns)
            .patch(name, &self.apply_params(), &Patch::Apply(manifest))
            .await?;
        Ok(())
    }

    pub async fn delete_secret(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        match Api::<Secret>::namespaced(self.client.clone(), ns)
            .delete(name, &DeleteParams::default())
            .await
        {
            Err(e) if !not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Applies the `LGP`; returns its generation.
    pub async fn apply_lgp(&self, lgp: &Lgp) -> anyhow::Result<i64> {
        let applied = self
            .lgps(&lgp.namespace)
            .patch(
                &lgp.name,
                &self.apply_params(),
                &Patch::Apply(lgp.manifest()),
            )
            .await?;
        Ok(applied.metadata.generation.unwrap_or_default())
    }

    pub async fn get_lgp(&self, ns: &str, name: &str) -> anyhow::Result<Option<Lgp>> {
        match self.lgps(ns).get_opt(name).await? {
            None => Ok(None),
            Some(object) => Ok(Some(Lgp::from_object(&serde_json::to_value(object)?)?)),
        }
    }

    pub async fn delete_lgp(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        match self.lgps(ns).delete(name, &DeleteParams::default()).await {
            Err(e) if !not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Deletes the deployment's volume claims (its database's data).
    pub async fn delete_pvcs(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), ns)
            .delete_collection(
                &DeleteParams::default(),
                &ListParams::default().labels(&format!("{}={name}", lgp::LABEL_DEPLOYMENT)),
            )
            .await?;
        Ok(())
    }

    /// The last `lines` lines of the deployment's API-server pods.
    pub async fn workload_logs(
        &self,
        ns: &str,
        name: &str,
        lines: usize,
    ) -> anyhow::Result<Vec<String>> {
        let pods = Api::<Pod>::namespaced(self.client.clone(), ns);
        let selector = format!(
            "{}={name},app.kubernetes.io/component=api-server",
            lgp::LABEL_DEPLOYMENT
        );
        let mut out = Vec::new();
        for pod in pods.list(&ListParams::default().labels(&selector)).await? {
            let Some(pod_name) = pod.metadata.name else {
                continue;
            };
            let params = LogParams {
                tail_lines: Some(lines as i64),
                container: Some("api-server".into()),
                ..LogParams::default()
            };
            match pods.logs(&pod_name, &params).await {
                Ok(text) => out.extend(text.lines().map(|l| format!("[{pod_name}] {l}"))),
                Err(e) => out.push(format!("[{pod_name}] logs unavailable: {e}")),
            }
        }
        Ok(out)
    }
}
