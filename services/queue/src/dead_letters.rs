//! The ingestion dead letters, for operators on the worker's own port: list them with their
//! errors, and redrive them onto their shards once the cause is fixed.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ingest::IngestWorker;

#[derive(Deserialize)]
struct Count {
    #[serde(default = "default_count")]
    count: usize,
}

fn default_count() -> usize {
    100
}

pub fn router(ingest: Arc<IngestWorker>) -> Router {
    Router::new()
        .route("/dead-letters/ingest", get(list))
        .route("/dead-letters/ingest/redrive", post(redrive))
        .with_state(ingest)
}

async fn list(
    State(ingest): State<Arc<IngestWorker>>,
    Query(count): Query<Count>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let letters = ingest
        .stream()
        .dead_letters(count.count)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!(
        letters
            .into_iter()
            .map(|l| json!({
                "id": l.id,
                "shard": l.shard,
                "error": l.error,
                "bytes": l.body.len(),
            }))
            .collect::<Vec<_>>()
    )))
}

async fn redrive(
    State(ingest): State<Arc<IngestWorker>>,
    Query(count): Query<Count>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let moved = ingest
        .stream()
        .redrive(count.count)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({ "redriven": moved })))
}

fn unavailable(error: ironsmith_queue::QueueError) -> (StatusCode, Json<Value>) {
    tracing::warn!(%error, "cannot reach the ingestion dead letters");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"detail": "Redis is not answering"})),
    )
}
