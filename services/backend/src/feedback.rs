//! Recording feedback: shared by `POST /feedback` and presigned-token submissions.
//! Feedback is checked against its key's configuration, located on its run when the run is
//! known (an unknown run is accepted: its trace is taken to be the run itself), written to
//! ClickHouse, and its trace is upgraded to the long retention tier.

use chrono::Utc;
use ironsmith_analytics::feedback as feedback_store;
use ironsmith_analytics::runs::{self as run_rows, FeedbackRow};
use ironsmith_db::feedback_configs;
use ironsmith_http::{ApiError, ValidationIssue};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;

fn invalid(field: &str, msg: String) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), field.into()],
        msg,
        kind: "value_error".into(),
    }])
}

/// Checks a feedback configuration's shape (`continuous`, `categorical` or `freeform`).
pub fn check_config(config: &Value) -> Result<(), ApiError> {
    let kind = config
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "continuous" => {
            for bound in ["min", "max"] {
                if config
                    .get(bound)
                    .is_some_and(|v| !v.is_null() && !v.is_number())
                {
                    return Err(invalid(
                        "feedback_config",
                        format!("`{bound}` must be a number or null"),
                    ));
                }
            }
            let min = config.get("min").and_then(Value::as_f64);
            let max = config.get("max").and_then(Value::as_f64);
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                return Err(invalid(
                    "feedback_config",
                    format!("min ({min}) is greater than max ({max})"),
                ));
            }
            Ok(())
        }
        "categorical" => {
            let categories = config.get("categories").and_then(Value::as_array);
            let Some(categories) = categories.filter(|c| !c.is_empty()) else {
                return Err(invalid(
                    "feedback_config",
                    "a categorical configuration needs categories".into(),
                ));
            };
            // Each category is `{"value": <number>, "label": <text, optional>}`.
            for (index, category) in categories.iter().enumerate() {
                let has_value = category.get("value").is_some_and(Value::is_number);
                let label_ok = category
                    .get("label")
                    .is_none_or(|label| label.is_string() || label.is_null());
                if !has_value || !label_ok {
                    return Err(invalid(
                        "feedback_config",
                        format!(
                            "category {index} must be an object with a numeric `value` and an \
                             optional text `label`"
                        ),
                    ));
                }
            }
            Ok(())
        }
        "freeform" => Ok(()),
        other => Err(invalid(
            "feedback_config",
            format!("type `{other}` is not one of continuous, categorical, freeform"),
        )),
    }
}

/// Whether a score and value fit a configuration.
pub fn check_against(
    config: &Value,
    key: &str,
    score: Option<f64>,
    value: &Value,
) -> Result<(), ApiError> {
    match config.get("type").and_then(Value::as_str) {
        Some("continuous") => {
            if let Some(score) = score {
                let min = config.get("min").and_then(Value::as_f64);
                let max = config.get("max").and_then(Value::as_f64);
                if min.is_some_and(|m| score < m) || max.is_some_and(|m| score > m) {
                    return Err(invalid(
                        "score",
                        format!(
                            "{score} is outside the range of `{key}` ({} to {})",
                            min.map_or("any".into(), |m| m.to_string()),
                            max.map_or("any".into(), |m| m.to_string())
                        ),
                    ));
                }
            }
            Ok(())
        }
        Some("categorical") => {
            let categories = config
                .get("categories")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let by_score = score.is_some_and(|s| {
                categories
                    .iter()
                    .any(|c| c.get("value").and_then(Value::as_f64) == Some(s))
            });
            let by_label = value.as_str().is_some_and(|v| {
                categories
                    .iter()
                    .any(|c| c.get("label").and_then(Value::as_str) == Some(v))
            });
            if score.is_none() && value.is_null() || by_score || by_label {
                Ok(())
            } else {
                Err(invalid(
                    "score",
                    format!("the feedback is not one of the categories of `{key}`"),
                ))
            }
        }
        _ => Ok(()),
    }
}

/// Feedback to record.
#[derive(Debug, Clone, Default)]
pub struct NewFeedback {
    pub id: Uuid,
    pub key: String,
    pub run_id: Option<Uuid>,
    pub trace_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub score: Option<f64>,
    pub value: Value,
    pub comment: Option<String>,
    pub correction: Value,
    pub feedback_source: Value,
    pub feedback_config: Option<Value>,
    pub comparative_experiment_id: Option<Uuid>,
    pub feedback_group_id: Option<Uuid>,
    pub extra: Value,
    pub created_at_us: Option<i64>,
}

fn raw(value: &Value) -> String {
    if value.is_null() {
        String::new()
    } else {
        value.to_string()
    }
}

/// Validates and stores feedback; returns the stored row.
pub async fn record(
    state: &AppState,
    tenant_id: Uuid,
    new: NewFeedback,
) -> Result<FeedbackRow, ApiError> {
    let row = prepare(state, tenant_id, new).await?;
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
    new: NewFeedback,
) -> Result<(), ApiError> {
    let row = prepare(state, tenant_id, new).await?;
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
    let body = serde_json::to_vec(&batch).map_err(ApiError::internal)?;
    stream.append(&[(shard, body)]).await.map_err(|error| {
        tracing::error!(%error, "cannot append token feedback to the ingestion stream");
        ApiError::ServiceUnavailable("The feedback queue is unreachable; retry shortly".into())
    })?;
    Ok(())
}

/// Validates `new` against its key's configuration and builds its row, resolving its trace.
async fn prepare(
    state: &AppState,
    tenant_id: Uuid,
    new: NewFeedback,
) -> Result<FeedbackRow, ApiError> {
    let key = new.key.trim();
    if key.is_empty() {
        return Err(invalid("key", "is required".into()));
    }
    if new.run_id.is_none() && new.session_id.is_none() && new.trace_id.is_none() {
        return Err(invalid(
            "run_id",
            "feedback needs a run, a trace or a project (session_id)".into(),
        ));
    }
    let db = &state.stores.postgres;
    match feedback_configs::get(db, tenant_id, key).await? {
        Some(stored) => check_against(&stored.config, key, new.score, &new.value)?,
        None => {
            if let Some(config) = new.feedback_config.as_ref().filter(|c| !c.is_null()) {
                check_config(config)?;
                check_against(config, key, new.score, &new.value)?;
                feedback_configs::create(db, tenant_id, key, config, None).await?;
            }
        }
    }
    let clickhouse = &state.stores.clickhouse;
    let mut trace_id = new.trace_id;
    let mut session_id = new.session_id;
    if let Some(run_id) = new.run_id {
        let located = run_rows::locate(clickhouse, tenant_id, &[run_id]).await?;
        if let Some(location) = located.iter().max_by_key(|l| l.version) {
            trace_id = Some(location.trace_id);
            session_id = session_id.or(Some(location.session_id));
        }
    }
    // Unknown runs are accepted (the SDK retries on 404): until it arrives, a run is taken to
    // be its own trace, as for multipart feedback. Project-level feedback has no trace.
    let trace_id = trace_id.or(new.run_id).unwrap_or(Uuid::nil());
    let now_us = Utc::now().timestamp_micros();
    let created = new.created_at_us.unwrap_or(now_us);
    let row = FeedbackRow {
        tenant_id,
        trace_id,
        id: new.id,
        run_id: new.run_id,
        session_id,
        key: key.to_owned(),
        score: new.score,
        value: raw(&new.value),
        comment: new.comment.unwrap_or_default(),
        correction: raw(&new.correction),
        feedback_source: raw(&new.feedback_source),
        feedback_config: new.feedback_config.as_ref().map(raw).unwrap_or_default(),
        comparative_experiment_id: new.comparative_experiment_id,
        feedback_group_id: new.feedback_group_id,
        extra: raw(&new.extra),
        created_at_us: created,
        modified_at_us: now_us,
        version: now_us.max(0) as u64,
        is_deleted: 0,
    };
    Ok(row)
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
