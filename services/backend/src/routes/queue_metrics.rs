//! `GET /metrics/queue/{queue}`: queue depth for the autoscaler (`{"queued": n, "pending": m}`).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use ironsmith_http::ApiError;
use ironsmith_queue::{DEFAULT_QUEUE, INGEST_STREAM, Queue, QueueDepth, ShardedStream};

use crate::AppState;

/// Queues whose depth is published.
const PUBLISHED: &[&str] = &[DEFAULT_QUEUE, INGEST_STREAM];

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics/queue/{queue}", get(depth))
}

async fn depth(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<QueueDepth>, ApiError> {
    let Some(name) = PUBLISHED.iter().find(|q| **q == name) else {
        return Err(ApiError::NotFound(format!("Unknown queue {name:?}")));
    };
    let depth = if *name == INGEST_STREAM {
        ShardedStream::new(state.stores.redis.clone(), name, state.config.ingest.shards)
            .depth()
            .await
    } else {
        Queue::new(state.stores.redis.clone(), name).depth().await
    };
    let depth = depth.map_err(|e| {
        tracing::warn!(error = %e, "cannot read queue depth");
        ApiError::ServiceUnavailable("Queue depth is unavailable: Redis is not answering".into())
    })?;
    Ok(Json(depth))
}
