//! Recording feedback: shared by `POST /feedback` and presigned-token submissions, through
//! the write path multipart ingestion shares (`ironsmith_runs::feedback`: wire type,
//! configuration rules, row builder). Feedback is located on its run when the run is known
//! (an unknown run is accepted: its trace is taken to be the run itself), written to
//! ClickHouse, and its trace is upgraded to the long retention tier.

use chrono::Utc;
use ironsmith_analytics::feedback as feedback_store;
use ironsmith_analytics::runs::{self as run_rows, FeedbackRow};
use ironsmith_http::ApiError;
use ironsmith_runs::feedback::{Anchor, FeedbackWire, enforce_configs};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;

/// Validates and stores feedback; returns the stored row.
pub async fn record(
    state: &AppState,
    tenant_id: Uuid,
    wire: FeedbackWire,
) -> Result<FeedbackRow, ApiError> {
    let row = prepare(state, tenant_id, wire, Uuid::now_v7()).await?;
    let clickhouse = &state.stores.clickhouse;
    run_rows::insert_feedback(clickhouse, std::slice::from_ref(&row)).await?;
    if !row.trace_id.is_nil() {
        feedback_store::upgrade_traces(
            clickhouse,
            tenant_id,
            &[row.trace_id],
            row.modified_at_us,
            "feedback",
        )
        .await?;
    }
    Ok(row)
}

/// Records feedback through the ingestion stream instead of inserting it at once: for
/// anonymous submissions (feedback tokens), which anyone holding a link can send one row at a
/// time. The worker inserts them in batches with the rest of the stream (and records the
/// trace's upgrade), so a flood of single rows cannot become a flood of tiny ClickHouse
/// inserts. Answered once the append is durable, like ingestion.
pub async fn record_batched(
    state: &AppState,
    tenant_id: Uuid,
    wire: FeedbackWire,
) -> Result<(), ApiError> {
    let row = prepare(state, tenant_id, wire, Uuid::now_v7()).await?;
    let organization_id =
        ironsmith_db::workspaces::organization_of(&state.stores.postgres, tenant_id)
            .await?
            .ok_or_else(|| ApiError::NotFound("Feedback token not found".into()))?;
    let op = ironsmith_runs::FeedbackOp::from_row(&row);
    let batch = ironsmith_runs::IngestBatch {
        v: ironsmith_runs::op::BATCH_VERSION,
        tenant_id,
        organization_id,
        received_us: row.modified_at_us,
        runs: Vec::new(),
        feedback: vec![op],
    };
    let stream = ironsmith_queue::ShardedStream::new(
        state.stores.redis.clone(),
        ironsmith_queue::INGEST_STREAM,
        state.config.ingest.shards,
    );
    let shard = stream.shard_of(row.trace_id.as_bytes());
    let body = serde_json::to_vec(&batch)?;
    stream.append(&[(shard, body)]).await.map_err(|error| {
        tracing::error!(%error, "cannot append token feedback to the ingestion stream");
        ApiError::ServiceUnavailable("The feedback queue is unreachable; retry shortly".into())
    })?;
    Ok(())
}

/// Checks `wire` against its key's configuration and builds its row, resolving its trace
/// when it names a known run. `id` names feedback that carries no id.
async fn prepare(
    state: &AppState,
    tenant_id: Uuid,
    wire: FeedbackWire,
    id: Uuid,
) -> Result<FeedbackRow, ApiError> {
    let now_us = Utc::now().timestamp_micros();
    let mut op = wire.into_op(id, now_us, Anchor::Any)?;
    op.modified_at_us = now_us;
    enforce_configs(&state.stores.postgres, tenant_id, std::slice::from_ref(&op)).await?;
    if let Some(run_id) = op.run_id {
        let located = run_rows::locate(&state.stores.clickhouse, tenant_id, &[run_id]).await?;
        if let Some(location) = located.iter().max_by_key(|l| l.version) {
            op.trace_id = location.trace_id;
            op.session_id = op.session_id.or(Some(location.session_id));
        }
    }
    // Unknown runs are accepted (the SDK retries on 404): until it arrives, a run is taken to
    // be its own trace, as for multipart feedback. Project-level feedback has no trace.
    Ok(op.to_row(tenant_id))
}

/// A JSON value as the wire type holds it.
pub fn raw_json(value: &Value) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(value).ok()
}

fn parsed(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
    }
}

/// `FeedbackSchema`.
pub fn render(row: &FeedbackRow) -> ironsmith_api_types::resources::Feedback {
    let source = match parsed(&row.feedback_source) {
        Value::Null => json!({"type": "api", "metadata": {}}),
        other => other,
    };
    ironsmith_api_types::resources::Feedback {
        id: row.id,
        key: row.key.clone(),
        score: row.score,
        value: parsed(&row.value),
        comment: (!row.comment.is_empty()).then(|| row.comment.clone()),
        correction: parsed(&row.correction),
        run_id: row.run_id,
        trace_id: (!row.trace_id.is_nil()).then_some(row.trace_id),
        session_id: row.session_id,
        start_time: None,
        created_at: chrono::DateTime::from_timestamp_micros(row.created_at_us),
        modified_at: chrono::DateTime::from_timestamp_micros(row.modified_at_us),
        feedback_source: source,
        feedback_group_id: row.feedback_group_id,
        comparative_experiment_id: row.comparative_experiment_id,
        extra: parsed(&row.extra),
        is_root: row.run_id.is_some() && row.run_id == Some(row.trace_id),
        feedback_thread_id: None,
    }
}
