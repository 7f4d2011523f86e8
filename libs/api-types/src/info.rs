//! The body of `GET /info`: what the SDKs tune their batching and compression by.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Info {
    /// The LangSmith server version this installation is compatible with.
    pub version: String,
    pub license_expiration_time: Option<String>,
    pub batch_ingest_config: BatchIngestConfig,
    pub instance_flags: InstanceFlags,
    /// `us`, `eu`, `apac` or `aws`.
    pub region: String,
    /// The caps a request is refused (413/422) beyond.
    pub ingest_limits: IngestLimits,
    /// This build of Ironsmith.
    pub ironsmith_version: String,
}

/// How the SDKs batch runs before sending them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchIngestConfig {
    pub use_multipart_endpoint: bool,
    /// Runs per batch.
    pub size_limit: u64,
    /// Bytes per batch.
    pub size_limit_bytes: u64,
    pub scale_up_qsize_trigger: u64,
    pub scale_up_nthreads_limit: u64,
    pub scale_down_nempty_trigger: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InstanceFlags {
    pub zstd_compression_enabled: bool,
    pub gzip_body_enabled: bool,
    pub dataset_examples_multipart_enabled: bool,
    pub examples_multipart_enabled: bool,
    pub ch_query_enabled: bool,
    pub sdb_query_enabled: bool,
    /// The deployment control plane runs (`/api-host`), so the UI shows its pages.
    pub deployments_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IngestLimits {
    pub max_body_bytes: u64,
    pub max_runs_per_request: u64,
    pub max_runs_per_trace: u64,
    pub max_payload_bytes: u64,
    pub max_field_bytes: u64,
    pub offload_threshold_bytes: u64,
}
