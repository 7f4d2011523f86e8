//! The deployment control plane's resources (deployments of Agent Servers, their revisions,
//! the listeners of data planes) and the protocol a listener speaks with the control plane.
//! Field names and enums follow LangSmith's published control-plane API, which `langgraph
//! deploy` and the Terraform provider call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Where a deployment's code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentSource {
    /// A GitHub repository built by LangSmith Cloud's GitHub app (not available self-hosted).
    Github,
    /// An image the user built and pushed to a registry the cluster can pull from.
    ExternalDocker,
    /// An image `langgraph deploy` pushes with a registry token (not available here).
    InternalDocker,
    /// A project tarball `langgraph deploy` uploads; the data plane runs it.
    InternalSource,
    /// A deployment from a template (reserved).
    InternalTemplate,
}

impl DeploymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentSource::Github => "github",
            DeploymentSource::ExternalDocker => "external_docker",
            DeploymentSource::InternalDocker => "internal_docker",
            DeploymentSource::InternalSource => "internal_source",
            DeploymentSource::InternalTemplate => "internal_template",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// A deployment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    /// Created; its first revision has not been deployed yet.
    AwaitingDatabase,
    /// A revision serves.
    Ready,
    Unused,
    /// Deleted; the data plane is tearing it down.
    AwaitingDelete,
    AwaitingFinalDelete,
    Unknown,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::AwaitingDatabase => "AWAITING_DATABASE",
            DeploymentStatus::Ready => "READY",
            DeploymentStatus::Unused => "UNUSED",
            DeploymentStatus::AwaitingDelete => "AWAITING_DELETE",
            DeploymentStatus::AwaitingFinalDelete => "AWAITING_FINAL_DELETE",
            DeploymentStatus::Unknown => "UNKNOWN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// A revision's state. Final: `DEPLOYED`, `*_FAILED`, `SKIPPED`, `INTERRUPTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevisionStatus {
    Creating,
    Queued,
    AwaitingBuild,
    Building,
    AwaitingDeploy,
    Deploying,
    CreateFailed,
    BuildFailed,
    DeployFailed,
    Deployed,
    Skipped,
    Interrupted,
    Unknown,
}

impl RevisionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionStatus::Creating => "CREATING",
            RevisionStatus::Queued => "QUEUED",
            RevisionStatus::AwaitingBuild => "AWAITING_BUILD",
            RevisionStatus::Building => "BUILDING",
            RevisionStatus::AwaitingDeploy => "AWAITING_DEPLOY",
            RevisionStatus::Deploying => "DEPLOYING",
            RevisionStatus::CreateFailed => "CREATE_FAILED",
            RevisionStatus::BuildFailed => "BUILD_FAILED",
            RevisionStatus::DeployFailed => "DEPLOY_FAILED",
            RevisionStatus::Deployed => "DEPLOYED",
            RevisionStatus::Skipped => "SKIPPED",
            RevisionStatus::Interrupted => "INTERRUPTED",
            RevisionStatus::Unknown => "UNKNOWN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RevisionStatus::Deployed
                | RevisionStatus::CreateFailed
                | RevisionStatus::BuildFailed
                | RevisionStatus::DeployFailed
                | RevisionStatus::Skipped
                | RevisionStatus::Interrupted
        )
    }
}

/// An environment variable of the Agent Server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretEntry {
    pub name: String,
    pub value: String,
}

/// An environment variable filled from a Kubernetes Secret in the deployment's namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretReference {
    pub name: String,
    pub secret_name: String,
    pub secret_key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListenerConfig {
    pub k8s_namespace: Option<String>,
}

/// Compute resources and pod settings of a deployment. CPU is in cores, memory in MB. A
/// missing limit is twice its request (Redis memory: the request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ResourceSpec {
    #[serde(default)]
    pub min_scale: Option<i64>,
    #[serde(default)]
    pub max_scale: Option<i64>,
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub cpu_limit: Option<f64>,
    #[serde(default)]
    pub memory_mb: Option<i64>,
    #[serde(default)]
    pub memory_limit_mb: Option<i64>,
    #[serde(default)]
    pub queue_min_scale: Option<i64>,
    #[serde(default)]
    pub queue_max_scale: Option<i64>,
    #[serde(default)]
    pub queue_cpu: Option<f64>,
    #[serde(default)]
    pub queue_cpu_limit: Option<f64>,
    #[serde(default)]
    pub queue_memory_mb: Option<i64>,
    #[serde(default)]
    pub queue_memory_limit_mb: Option<i64>,
    #[serde(default)]
    pub redis_cpu: Option<f64>,
    #[serde(default)]
    pub redis_cpu_limit: Option<f64>,
    #[serde(default)]
    pub redis_memory_mb: Option<i64>,
    #[serde(default)]
    pub redis_memory_limit_mb: Option<i64>,
    #[serde(default)]
    pub db_cpu: Option<f64>,
    #[serde(default)]
    pub db_cpu_limit: Option<f64>,
    #[serde(default)]
    pub db_memory_mb: Option<i64>,
    #[serde(default)]
    pub db_memory_limit_mb: Option<i64>,
    #[serde(default)]
    pub db_storage_gi: Option<i64>,
    #[serde(default)]
    pub db_max_connections: Option<i64>,
    #[serde(default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// `[{name}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(default)]
    pub image_pull_secrets: Option<Vec<Value>>,
    /// Kubernetes `Volume`s.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(default)]
    pub volumes: Option<Vec<Value>>,
    /// Kubernetes `VolumeMount`s of the API server container.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(default)]
    pub volume_mounts: Option<Vec<Value>>,
    /// Kubernetes `Container`s run before the API server.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(default)]
    pub init_containers: Option<Vec<Value>>,
    /// Kubernetes `Container`s run beside the API server.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(default)]
    pub sidecars: Option<Vec<Value>>,
}

/// Settings of a deployment that never need a revision (all nullable, validated per source).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SourceConfig {
    #[serde(default)]
    pub integration_id: Option<Uuid>,
    #[serde(default)]
    pub repo_url: Option<String>,
    /// `dev_free`, `dev`, `prod` (and what newer clients send: `dev_zero`, `dev_free_zero`,
    /// `serverless`); stored and echoed, `prod` when unset.
    #[serde(default)]
    pub deployment_type: Option<String>,
    #[serde(default)]
    pub build_on_push: Option<bool>,
    /// The deployment's URL: set by the user, or by the control plane from the data plane's
    /// endpoint when the first revision is deployed.
    #[serde(default)]
    pub custom_url: Option<String>,
    #[serde(default)]
    pub resource_spec: Option<ResourceSpec>,
    #[serde(default)]
    pub listener_id: Option<Uuid>,
    #[serde(default)]
    pub listener_config: Option<ListenerConfig>,
    #[serde(default)]
    pub install_command: Option<String>,
    #[serde(default)]
    pub build_command: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
}

/// What one revision deploys (on a deployment: its latest revision's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SourceRevisionConfig {
    #[serde(default)]
    pub repo_ref: Option<String>,
    #[serde(default)]
    pub langgraph_config_path: Option<String>,
    #[serde(default)]
    pub image_uri: Option<String>,
    /// Only object paths handed out by `POST /v2/deployments/{id}/upload-url`.
    #[serde(default)]
    pub source_tarball_path: Option<String>,
    #[serde(default)]
    pub repo_commit_sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deployment {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub display_name: Option<String>,
    pub source: DeploymentSource,
    pub source_config: SourceConfig,
    pub source_revision_config: SourceRevisionConfig,
    /// Values are masked (`********`) for callers who may not update deployments.
    pub secrets: Vec<SecretEntry>,
    pub secret_references: Option<Vec<SecretReference>>,
    pub status: DeploymentStatus,
    pub latest_revision_id: Option<Uuid>,
    pub active_revision_id: Option<Uuid>,
    pub image_version: Option<String>,
    /// The tracing project the Agent Server traces into (same name as the deployment).
    pub tracer_session_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DeploymentCreate {
    pub name: String,
    pub source: DeploymentSource,
    pub source_config: SourceConfig,
    pub source_revision_config: SourceRevisionConfig,
    pub secrets: Vec<SecretEntry>,
    #[serde(default)]
    pub secret_references: Option<Vec<SecretReference>>,
    /// Sent by some clients; ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub tracked_packages: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DeploymentPatch {
    /// Applies only to the revision this PATCH creates.
    #[serde(default)]
    pub revision_source: Option<DeploymentSource>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub source: Option<DeploymentSource>,
    #[serde(default)]
    pub source_config: Option<SourceConfig>,
    #[serde(default)]
    pub source_revision_config: Option<SourceRevisionConfig>,
    /// Omitted or `[]`: keep the stored secrets; otherwise the list replaces them. A value sent
    /// back masked keeps the stored value of that name.
    #[serde(default)]
    pub secrets: Option<Vec<SecretEntry>>,
    #[serde(default)]
    pub secret_references: Option<Vec<SecretReference>>,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub tracked_packages: Option<Value>,
}

/// `POST /v2/deployments/{id}/revisions`: always creates a revision.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RevisionCreate {
    #[serde(default)]
    pub revision_source: Option<DeploymentSource>,
    #[serde(default)]
    pub source_config: Option<SourceConfig>,
    #[serde(default)]
    pub source_revision_config: Option<SourceRevisionConfig>,
    #[serde(default)]
    pub secrets: Option<Vec<SecretEntry>>,
    #[serde(default)]
    pub secret_references: Option<Vec<SecretReference>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revision {
    pub id: Uuid,
    pub deployment_id: Uuid,
    pub source: DeploymentSource,
    pub source_revision_config: SourceRevisionConfig,
    pub status: RevisionStatus,
    /// Why the revision is in its status (a failure's reason).
    pub status_message: Option<String>,
    /// Where the data plane serves this revision.
    pub endpoint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of deployments: pass `offset` back to get the next one.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeploymentPage {
    pub resources: Vec<Deployment>,
    pub offset: i64,
}

/// A page of revisions: pass `offset` back to get the next one.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevisionPage {
    pub resources: Vec<Revision>,
    pub offset: i64,
}

/// A page of listeners: pass `offset` back to get the next one.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListenerPage {
    pub resources: Vec<Listener>,
    pub offset: i64,
}

/// One result of a bulk delete.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkDeleteResult {
    pub deployment_id: String,
    pub status: u16,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkDeleteResults {
    pub results: Vec<BulkDeleteResult>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct UploadUrlRequest {
    /// The CLI sends `true`: the answer's `upload_headers` must be sent with the PUT.
    #[serde(default)]
    pub supports_upload_headers: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadUrl {
    /// Where to `PUT` the project tarball, without an API key; expires.
    pub upload_url: String,
    /// What to send as `source_revision_config.source_tarball_path`.
    pub object_path: String,
    pub upload_headers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComputeConfig {
    #[serde(default)]
    pub k8s_namespaces: Vec<String>,
}

/// How recently a listener was heard from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ListenerConnection {
    NeverConnected,
    Connected,
    /// No heartbeat for three intervals.
    Stale,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listener {
    pub id: Uuid,
    /// Always `k8s`.
    pub compute_type: String,
    pub compute_id: String,
    pub compute_config: ComputeConfig,
    pub version: Option<String>,
    /// The installation's in-cluster listener, which deployments created without one use.
    pub is_default: bool,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub connection: ListenerConnection,
    pub cluster_uid: Option<String>,
    /// Namespaces the data plane reported watching.
    pub watch_namespaces: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ListenerCreate {
    pub compute_type: String,
    pub compute_id: String,
    pub compute_config: ComputeConfig,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ListenerPatch {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub compute_config: Option<ComputeConfig>,
    /// Immutable: the same value is accepted, another is a 400.
    #[serde(default)]
    pub compute_id: Option<String>,
    #[serde(default)]
    pub compute_type: Option<String>,
}

/// A listener's heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Heartbeat {
    #[serde(default)]
    pub version: Option<String>,
    /// The uid of the cluster's `kube-system` namespace.
    #[serde(default)]
    pub cluster_uid: Option<String>,
    #[serde(default)]
    pub watch_namespaces: Vec<String>,
    #[serde(default)]
    pub reconciled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub pending_jobs: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeartbeatAck {
    pub poll_interval_seconds: u64,
    pub heartbeat_interval_seconds: u64,
    pub server_time: DateTime<Utc>,
}

/// A listener's report on a revision it rolls out.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusReport {
    pub status: RevisionStatus,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Which listener replica reports: the rollout is leased to one replica at a time.
    #[serde(default)]
    pub holder: Option<String>,
    /// How long the lease lasts from now, seconds (default 60).
    #[serde(default)]
    pub lease_seconds: Option<i64>,
}

/// A log line as clients read it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogPage {
    pub logs: Vec<LogEntry>,
    pub next_offset: Option<String>,
}

/// The body of the v1 log queries `langgraph deploy logs` sends.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LogQuery {
    #[serde(default)]
    pub limit: Option<i64>,
    /// `asc` or `desc` (default).
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub offset: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
}

/// Log lines a listener reports for a revision.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogAppend {
    /// `build` or `deploy`.
    pub kind: String,
    pub lines: Vec<LogAppendLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogAppendLine {
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
}

/// A signed URL the data plane downloads a revision's source tarball from, without a key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceUrl {
    pub url: String,
}
