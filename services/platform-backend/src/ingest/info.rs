//! `GET /info`: what the SDKs tune their batching and compression by. No key needed.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;

/// The server version we advertise: at least 0.8.10 (feedback rides in multipart) and 0.16
/// (v2 resources without warnings).
pub const ADVERTISED_VERSION: &str = "0.16.0";

pub async fn info(State(state): State<AppState>) -> Json<Value> {
    let config = &state.config;
    Json(json!({
        "version": ADVERTISED_VERSION,
        "license_expiration_time": null,
        "batch_ingest_config": {
            "use_multipart_endpoint": true,
            "size_limit": 100,
            "size_limit_bytes": 20_971_520,
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
        "ironsmith_version": env!("CARGO_PKG_VERSION"),
    }))
}
