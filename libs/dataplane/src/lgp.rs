//! The `LGP` custom resource (`lgps.apps.langchain.ai/v1alpha1`): one Agent Server deployment
//! in a namespace, as the listener declares it and the operator runs it. Group, version and
//! kind are upstream's, so existing RBAC and manifests carry over.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, LocalObjectReference, ResourceRequirements, Volume, VolumeMount,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "apps.langchain.ai";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "LGP";
pub const PLURAL: &str = "lgps";
pub const API_VERSION: &str = "apps.langchain.ai/v1alpha1";

/// Annotations the listener puts on an `LGP`.
pub const ANNOTATION_DEPLOYMENT_ID: &str = "ironsmith.dev/deployment-id";
pub const ANNOTATION_REVISION_ID: &str = "ironsmith.dev/revision-id";
/// Labels on every object of a deployment.
pub const LABEL_DEPLOYMENT: &str = "ironsmith.dev/deployment";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The field manager of every server-side apply by the listener and the operator.
pub const LISTENER_FIELD_MANAGER: &str = "ironsmith-listener";
pub const OPERATOR_FIELD_MANAGER: &str = "ironsmith-operator";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LgpSpec {
    pub server_spec: ServerSpec,
    #[serde(default)]
    pub autoscaling: Autoscaling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Redis>,
    #[serde(default)]
    pub ingress: Ingress,
    /// A project tarball to run instead of an image: only the local runtime can (a cluster
    /// needs an image built from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default)]
    pub queue_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_jobs_per_worker: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Container>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Autoscaling {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_max_replicas: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Database {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size_gi: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redis {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// A signed URL the tarball is downloaded from (no credentials needed).
    pub tarball_url: String,
    /// `langgraph.json`'s path inside the project.
    pub langgraph_config_path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub last_transition_time: String,
    #[serde(default)]
    pub observed_generation: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LgpStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<Value>,
}

impl LgpStatus {
    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// Sets a condition, keeping its transition time when its status did not change.
    pub fn set(&mut self, kind: &str, status: bool, reason: &str, message: &str, generation: i64) {
        let status = if status { "True" } else { "False" }.to_owned();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let previous = self.conditions.iter().position(|c| c.kind == kind);
        let transition = match previous.and_then(|i| self.conditions.get(i)) {
            Some(c) if c.status == status => c.last_transition_time.clone(),
            _ => now,
        };
        let condition = Condition {
            kind: kind.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.to_owned(),
            last_transition_time: transition,
            observed_generation: generation,
        };
        match previous.and_then(|i| self.conditions.get_mut(i)) {
            Some(slot) => *slot = condition,
            None => self.conditions.push(condition),
        }
    }

    pub fn is_true(&self, kind: &str) -> bool {
        self.condition(kind).is_some_and(|c| c.status == "True")
    }
}

/// An `LGP` as the listener reads it back: what it declared and what the operator reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lgp {
    pub name: String,
    pub namespace: String,
    pub generation: i64,
    pub annotations: BTreeMap<String, String>,
    pub spec: LgpSpec,
    pub status: Option<LgpStatus>,
    /// Being deleted (the operator is cleaning up).
    pub deleting: bool,
}

impl Lgp {
    /// The whole object as Kubernetes takes it in a server-side apply.
    pub fn manifest(&self) -> Value {
        serde_json::json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "annotations": self.annotations,
                "labels": {
                    LABEL_DEPLOYMENT: self.name,
                    LABEL_MANAGED_BY: "ironsmith-listener",
                },
            },
            "spec": self.spec,
        })
    }

    /// Reads an object as the API server returns it.
    pub fn from_object(object: &Value) -> Result<Lgp, serde_json::Error> {
        let metadata = object.get("metadata").cloned().unwrap_or_default();
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Lgp {
            name: text("name"),
            namespace: text("namespace"),
            generation: metadata
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            annotations: serde_json::from_value(
                metadata
                    .get("annotations")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({})),
            )?,
            spec: serde_json::from_value(object.get("spec").cloned().unwrap_or_default())?,
            status: object
                .get("status")
                .filter(|s| !s.is_null())
                .map(|s| serde_json::from_value(s.clone()))
                .transpose()?,
            deleting: metadata
                .get("deletionTimestamp")
                .is_some_and(|t| !t.is_null()),
        })
    }

    /// Whether the operator has acted on the current spec.
    pub fn observed(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.observed_generation >= self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_as_the_same_lgp() {
        let lgp = Lgp {
            name: "agent".into(),
            namespace: "team-a".into(),
            generation: 0,
            annotations: BTreeMap::from([(ANNOTATION_REVISION_ID.into(), "r1".into())]),
            spec: LgpSpec {
                server_spec: ServerSpec {
                    image: Some("registry/agent@sha256:abc".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            status: None,
            deleting: false,
        };
        let read = Lgp::from_object(&lgp.manifest()).unwrap_or_default();
        assert_eq!(read, lgp);
        assert_eq!(
            lgp.manifest()["spec"]["serverSpec"]["image"],
            "registry/agent@sha256:abc"
        );
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let mut status = LgpStatus::default();
        status.set("Ready", false, "Starting", "", 1);
        let first = status
            .condition("Ready")
            .map(|c| c.last_transition_time.clone());
        status.set("Ready", false, "Starting", "still", 2);
        assert_eq!(
            status
                .condition("Ready")
                .map(|c| c.last_transition_time.clone()),
            first
        );
        assert_eq!(status.conditions.len(), 1);
        status.set("Ready", true, "Running", "", 2);
        assert!(status.is_true("Ready"));
    }
}
