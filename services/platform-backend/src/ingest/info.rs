//! `GET /info`: what the SDKs tune their batching and compression by, from this installation's
//! configuration, and the ingestion limits a request is held to. No key needed.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;

/// The server version we advertise: at least 0.8.10 (feedback rides in multipart) and 0.16
/// (v2 resources without warnings).
pub const ADVERTISED_VERSION: &str = "0.16.0";

pub async fn info(State(state): State<AppState>) -> Json<Value> {
    let config = &state.config;
    let ingest = &config.ingest;
    Json(json!({
        "version": ADVERTISED_VERSION,
        "license_expiration_time": null,
        "batch_ingest_config": {
            "use_multipart_endpoint": true,
            "size_limit": ingest.sdk_batch_runs,
            "size_limit_bytes": ingest.sdk_batch_bytes,
            "scale_up_qsize_trigger": 1000,
            "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4,
        },
        "instance_flags": {
            "zstd_compression_enabled": true,
            "gzip_body_enabled": true,
            "dataset_examples_multipart_enabled": true,
            "examples_multipart_enabled": true,
            "ch_query_enabled": true,
            "sdb_query_enabled": false,
        },
        "region": config.stack.region.as_str(),
        // Beyond what the SDKs read: the caps a request is refused (413/422) beyond.
        "ingest_limits": {
            "max_body_bytes": ingest.max_body_bytes.min(config.http.max_body_bytes),
            "max_runs_per_request": ingest.max_runs_per_request,
            "max_runs_per_trace": ingest.max_runs_per_trace,
            "max_payload_bytes": ingest.max_payload_bytes,
            "max_field_bytes": ingest.max_field_bytes,
            "offload_threshold_bytes": ingest.offload_threshold_bytes,
        },
        "ironsmith_version": env!("CARGO_PKG_VERSION"),
    }))
}
