//! `GET /info`: what the SDKs tune their batching and compression by, from this installation's
//! configuration, and the ingestion limits a request is held to. No key needed.

use axum::Json;
use axum::extract::State;
use ironsmith_api_types::info::{BatchIngestConfig, Info, IngestLimits, InstanceFlags};

use crate::AppState;

/// The server version we advertise: at least 0.8.10 (feedback rides in multipart) and 0.16
/// (v2 resources without warnings).
pub const ADVERTISED_VERSION: &str = "0.16.0";

/// This installation's version, batching configuration and ingestion limits.
#[utoipa::path(get, path = "/info", tag = "ingestion", security(()),
    responses((status = 200, body = Info)))]
pub async fn info(State(state): State<AppState>) -> Json<Info> {
    let config = &state.config;
    let ingest = &config.ingest;
    Json(Info {
        version: ADVERTISED_VERSION.to_owned(),
        license_expiration_time: None,
        batch_ingest_config: BatchIngestConfig {
            use_multipart_endpoint: true,
            size_limit: ingest.sdk_batch_runs as u64,
            size_limit_bytes: ingest.sdk_batch_bytes as u64,
            scale_up_qsize_trigger: 1000,
            scale_up_nthreads_limit: 16,
            scale_down_nempty_trigger: 4,
        },
        instance_flags: InstanceFlags {
            zstd_compression_enabled: true,
            gzip_body_enabled: true,
            dataset_examples_multipart_enabled: true,
            examples_multipart_enabled: true,
            ch_query_enabled: true,
            sdb_query_enabled: false,
            deployments_enabled: config.deployment.enabled,
        },
        region: config.stack.region.as_str().to_owned(),
        ingest_limits: IngestLimits {
            max_body_bytes: ingest.max_body_bytes.min(config.http.max_body_bytes) as u64,
            max_runs_per_request: ingest.max_runs_per_request as u64,
            max_runs_per_trace: ingest.max_runs_per_trace,
            max_payload_bytes: ingest.max_payload_bytes as u64,
            max_field_bytes: ingest.max_field_bytes as u64,
            offload_threshold_bytes: ingest.offload_threshold_bytes as u64,
        },
        ironsmith_version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
