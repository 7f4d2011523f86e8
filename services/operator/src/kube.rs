//! The operator on a real cluster: each `LGP` in the watched namespaces becomes the objects of
//! [`crate::render`], written with server-side apply; its status follows the API server
//! Deployment's rollout. One replica acts at a time (a `coordination.k8s.io` Lease).

use std::time::Duration;

use chrono::Utc;
use ironsmith_dataplane::kube_cluster::lgp_resource;
use ironsmith_dataplane::lgp::{self, Lgp, LgpStatus, OPERATOR_FIELD_MANAGER};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::render::{self, Settings};

pub const FINALIZER: &str = "ironsmith.dev/operator";
const LEASE_NAME: &str = "ironsmith-operator-leader";
const LEASE_SECONDS: i32 = 30;

pub struct KubeOperator {
    pub client: Client,
    pub settings: Settings,
    /// Empty: every namespace.
    pub namespaces: Vec<String>,
    pub identity: String,
    /// Where the leader-election Lease lives.
    pub lease_namespace: String,
    pub leader_election: bool,
}

/// The resource of a rendered object, from its apiVersion and kind.
fn resource_of(object: &Value) -> anyhow::Result<ApiResource> {
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "Deployment" => "deployments",
        "StatefulSet" => "statefulsets",
        "Service" => "services",
        "Secret" => "secrets",
        "ScaledObject" => "scaledobjects",
        "HTTPRoute" => "httproutes",
        "Ingress" => "ingresses",
        other => anyhow::bail!("no resource for kind {other}"),
    };
    Ok(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind),
        plural,
    ))
}

fn random_password() -> String {
    (0..32)
        .map(|_| {
            let n = rand::random::<u8>() % 62;
            char::from(match n {
                0..=9 => b'0' + n,
                10..=35 => b'a' + n - 10,
                _ => b'A' + n - 36,
            })
        })
        .collect()
}

impl KubeOperator {
    fn apply(&self) -> PatchParams {
        PatchParams::apply(OPERATOR_FIELD_MANAGER).force()
    }

    /// Takes or renews the leadership Lease; whether this replica leads.
    async fn lead(&self) -> anyhow::Result<bool> {
        if !self.leader_election {
            return Ok(true);
        }
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), &self.lease_namespace);
        let now = Utc::now();
        let current = leases.get_opt(LEASE_NAME).await?;
        let held_by_other = current
            .as_ref()
            .and_then(|l| l.spec.as_ref())
            .is_some_and(|s| {
                let holder = s.holder_identity.as_deref().unwrap_or_default();
                let renewed = s.renew_time.as_ref().map(|t| t.0).unwrap_or_default();
                let ttl = i64::from(s.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
                holder != self.identity && (now.timestamp() - renewed.as_second()) < ttl
            });
        if held_by_other {
            return Ok(false);
        }
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let body = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": self.lease_namespace},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": stamp},
        });
        match current {
            None => {
                let lease: Lease = serde_json::from_value(body)?;
                leases.create(&PostParams::default(), &lease).await?;
            }
            Some(existing) => {
                let mut lease: Lease = serde_json::from_value(body)?;
                lease.metadata.resource_version = existing.metadata.resource_version;
                // A replace carrying the version we read: two replicas cannot both win.
                leases
                    .replace(LEASE_NAME, &PostParams::default(), &lease)
                    .await?;
            }
        }
        Ok(true)
    }

    async fn lgps(&self) -> anyhow::Result<Vec<(Lgp, String, Vec<String>)>> {
        let mut found = Vec::new();
        let apis: Vec<Api<DynamicObject>> = if self.namespaces.is_empty() {
            vec![Api::all_with(self.client.clone(), &lgp_resource())]
        } else {
            self.namespaces
                .iter()
                .map(|ns| Api::namespaced_with(self.client.clone(), ns, &lgp_resource()))
                .collect()
        };
        for api in apis {
            for object in api.list(&ListParams::default()).await? {
                let uid = object.metadata.uid.clone().unwrap_or_default();
                let finalizers = object.metadata.finalizers.clone().unwrap_or_default();
                found.push((
                    Lgp::from_object(&serde_json::to_value(&object)?)?,
                    uid,
                    finalizers,
                ));
            }
        }
        Ok(found)
    }

    async fn postgres_password(&self, lgp: &Lgp) -> anyhow::Result<String> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &lgp.namespace);
        let existing = secrets.get_opt(&format!("{}-postgres", lgp.name)).await?;
        let kept = existing.and_then(|s| s.data).and_then(|d| {
            d.get("password")
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        });
        Ok(kept.unwrap_or_else(random_password))
    }

    async fn set_finalizers(&self, lgp: &Lgp, finalizers: Vec<String>) -> anyhow::Result<()> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &lgp.namespace, &lgp_resource());
        api.patch(
            &lgp.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
        )
        .await?;
        Ok(())
    }

    async fn write_status(&self, lgp: &Lgp, status: &LgpStatus) -> anyhow::Result<()> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &lgp.namespace, &lgp_resource());
        api.patch_status(
            &lgp.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?;
        Ok(())
    }

    /// One `LGP`: its objects, its status, and on deletion its volumes and finalizer.
    pub async fn reconcile(
        &self,
        lgp: &Lgp,
        uid: &str,
        finalizers: Vec<String>,
    ) -> anyhow::Result<()> {
        if lgp.deleting {
            // Owned objects are garbage-collected; volume claims of the StatefulSet are not
            // owned by the LGP, so they go here.
            Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), &lgp.namespace)
                .delete_collection(
                    &DeleteParams::default(),
                    &ListParams::default().labels(&format!(
                        "{}={}",
                        lgp::LABEL_DEPLOYMENT,
                        lgp.name
                    )),
                )
                .await?;
            let rest: Vec<String> = finalizers.into_iter().filter(|f| f != FINALIZER).collect();
            return self.set_finalizers(lgp, rest).await;
        }
        if !finalizers.iter().any(|f| f == FINALIZER) {
            let mut all = finalizers;
            all.push(FINALIZER.to_owned());
            self.set_finalizers(lgp, all).await?;
        }
        let mut status = lgp.status.clone().unwrap_or_default();
        let generation = lgp.generation;
        if lgp.spec.server_spec.image.is_none() {
            status.observed_generation = generation;
            status.set("Degraded", true, "NoImage", "A cluster runs images: build one from the source and deploy it as an image (source deployments run only on the local runtime)", generation);
            status.set("Ready", false, "NoImage", "", generation);
            return self.write_status(lgp, &status).await;
        }
        let password = self.postgres_password(lgp).await?;
        for object in render::objects(lgp, uid, &self.settings, &password) {
            let resource = resource_of(&object)?;
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &lgp.namespace, &resource);
            api.patch(&name, &self.apply(), &Patch::Apply(&object))
                .await?;
        }
        self.observe(lgp, &mut status).await?;
        self.write_status(lgp, &status).await
    }

    /// The `LGP`'s status from its API-server Deployment's rollout.
    async fn observe(&self, lgp: &Lgp, status: &mut LgpStatus) -> anyhow::Result<()> {
        let generation = lgp.generation;
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &lgp.namespace);
        let server = deployments
            .get_opt(&format!("{}-api-server", lgp.name))
            .await?;
        let d_status = server
            .as_ref()
            .and_then(|d| d.status.clone())
            .unwrap_or_default();
        let wanted = server
            .as_ref()
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas)
            .unwrap_or(1);
        let observed = server
            .as_ref()
            .is_some_and(|d| d_status.observed_generation >= d.metadata.generation);
        let ready = d_status.ready_replicas.unwrap_or(0);
        let updated = d_status.updated_replicas.unwrap_or(0);
        let stalled = d_status.conditions.iter().flatten().find(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        status.observed_generation = generation;
        status.endpoint = Some(self.settings.endpoint(&lgp.name));
        status.deployment_status = Some(json!({
            "replicas": d_status.replicas.unwrap_or(0),
            "readyReplicas": ready,
            "availableReplicas": d_status.available_replicas.unwrap_or(0),
            "updatedReplicas": updated,
            "lastUpdateTime": Utc::now().to_rfc3339(),
        }));
        if let Some(c) = stalled {
            status.set(
                "Degraded",
                true,
                "ProgressDeadlineExceeded",
                c.message.as_deref().unwrap_or_default(),
                generation,
            );
            status.set(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                "",
                generation,
            );
        } else if observed && ready >= 1 && updated >= wanted.min(1) {
            status.set("Ready", true, "MinimumReplicasAvailable", "", generation);
            status.set("Progressing", false, "RolledOut", "", generation);
            status.set("Degraded", false, "RolledOut", "", generation);
        } else {
            status.set(
                "Ready",
                false,
                "RollingOut",
                "Waiting for the API server pods",
                generation,
            );
            status.set("Progressing", true, "RollingOut", "", generation);
        }
        Ok(())
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        while !shutdown.is_cancelled() {
            match self.lead().await {
                Ok(true) => match self.lgps().await {
                    Ok(lgps) => {
                        for (lgp, uid, finalizers) in lgps {
                            if let Err(e) = self.reconcile(&lgp, &uid, finalizers).await {
                                tracing::warn!(lgp = %format!("{}/{}", lgp.namespace, lgp.name), error = format!("{e:#}"), "reconcile failed");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "listing LGPs failed"),
                },
                Ok(false) => tracing::debug!("another replica leads"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "leader election failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
        Ok(())
    }
}
