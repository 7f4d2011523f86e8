//! `/feedback` and `/feedback-configs`: feedback CRUD, presigned feedback tokens
//! (submitted without a key, by GET or POST), and per-key feedback configurations.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use ironsmith_analytics::feedback::{self as feedback_store, FeedbackFilter};
use ironsmith_analytics::runs as run_rows;
use ironsmith_api_types::resources;
use ironsmith_auth::PublicAccess;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{FeedbackCreate, FeedbackDelete, FeedbackRead, FeedbackUpdate};
use ironsmith_db::feedback_configs;
use ironsmith_db::feedback_tokens::{self, FeedbackToken};
use ironsmith_http::Path;
use ironsmith_http::{ApiError, PathUuid, QueryPairs, ValidationIssue};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::feedback::{NewFeedback, check_against, check_config, record, render};
use crate::runs::body::{invalid, lenient_time};

mod configs;
mod tokens;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(tokens::list_tokens, tokens::create_tokens))
        .routes(routes!(tokens::submit_by_query, tokens::submit_by_body))
        .routes(routes!(read, update, remove))
        .routes(routes!(
            configs::list_configs,
            configs::create_config,
            configs::update_config,
            configs::delete_config
        ))
}

/// A score: a number, or a boolean (true = 1).
fn score_of(value: Option<&Value>) -> Result<Option<f64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(f64::from(u8::from(*b)))),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(invalid(
            "score",
            format!("{other} is not a number or a boolean"),
        )),
    }
}

/// A score: a number or a boolean (or absent).
fn score_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
struct FeedbackBody {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    run_id: Option<Uuid>,
    #[serde(default)]
    trace_id: Option<Uuid>,
    #[serde(default)]
    session_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    key: Option<String>,
    #[serde(default)]
    #[schema(schema_with = score_schema)]
    score: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    correction: Option<Value>,
    #[serde(default)]
    feedback_source: Option<Value>,
    #[serde(default, alias = "feedbackConfig")]
    #[schema(value_type = Option<ironsmith_api_types::bodies::FeedbackConfig>)]
    feedback_config: Option<Value>,
    #[serde(default)]
    comparative_experiment_id: Option<Uuid>,
    #[serde(default)]
    feedback_group_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    created_at: Option<i64>,
}

#[utoipa::path(post, path = "/feedback", operation_id = "create_feedback", tag = "feedback",
    request_body = FeedbackBody, responses((status = 200, body = resources::Feedback)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<FeedbackBody>,
) -> Result<Json<resources::Feedback>, ApiError> {
    crate::references::project(&state, caller.workspace_id, body.session_id).await?;
    let row = record(
        &state,
        caller.workspace_id,
        NewFeedback {
            id: body.id.unwrap_or_else(Uuid::now_v7),
            key: body.key.unwrap_or_default(),
            run_id: body.run_id,
            trace_id: body.trace_id,
            session_id: body.session_id,
            score: score_of(body.score.as_ref())?,
            value: body.value.unwrap_or(Value::Null),
            comment: body.comment,
            correction: body.correction.unwrap_or(Value::Null),
            feedback_source: body
                .feedback_source
                .unwrap_or_else(|| json!({"type": "api", "metadata": {}})),
            feedback_config: body.feedback_config,
            comparative_experiment_id: body.comparative_experiment_id,
            feedback_group_id: body.feedback_group_id,
            extra: body.extra.unwrap_or(Value::Null),
            created_at_us: body.created_at,
        },
    )
    .await?;
    Ok(Json(render(&row)))
}

#[utoipa::path(get, path = "/feedback/{id}", operation_id = "read_feedback", tag = "feedback",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = resources::Feedback)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<resources::Feedback>, ApiError> {
    let row = feedback_store::get(&state.stores.clickhouse, caller.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Feedback not found".into()))?;
    Ok(Json(render(&row)))
}

#[utoipa::path(get, path = "/feedback", operation_id = "list_feedback", tag = "feedback",
    params(
        ("run" = Option<Vec<Uuid>>, Query, description = "Feedback on these runs"),
        ("key" = Option<Vec<String>>, Query, description = "Feedback with these keys"),
        ("source" = Option<Vec<String>>, Query, description = "`api`, `model` or `app` (`FeedbackSourceType.MODEL` is read as `model`)"),
        ("session" = Option<Vec<Uuid>>, Query, description = "Feedback on runs of these projects"),
        ("comparative_experiment_id" = Option<Uuid>, Query, description = "Feedback of this pairwise comparison"),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::Feedback])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackRead>,
    query: QueryPairs,
) -> Result<Json<Vec<resources::Feedback>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let filter = FeedbackFilter {
        runs: query.uuids("run")?,
        keys: query.all("key").map(str::to_owned).collect(),
        // `FeedbackSourceType.MODEL` and `model` alike.
        sources: query
            .all("source")
            .map(|s| s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase())
            .collect(),
        sessions: query.uuids("session")?,
        comparative_experiment_id: query.uuid("comparative_experiment_id")?,
        offset: offset as u64,
        limit: limit as u64,
    };
    let rows = feedback_store::list(&state.stores.clickhouse, caller.workspace_id, &filter).await?;
    Ok(Json(rows.iter().map(render).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct FeedbackChange {
    #[serde(default)]
    #[schema(schema_with = score_schema)]
    score: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    correction: Option<Value>,
}

#[utoipa::path(patch, path = "/feedback/{id}", operation_id = "update_feedback", tag = "feedback",
    params(("id" = Uuid, Path)),
    request_body = FeedbackChange, responses((status = 200, body = resources::Feedback)))]
async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<FeedbackChange>,
) -> Result<Json<resources::Feedback>, ApiError> {
    let tenant_id = caller.workspace_id;
    let clickhouse = &state.stores.clickhouse;
    let mut row = feedback_store::get(clickhouse, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Feedback not found".into()))?;
    if let Some(score) = score_of(body.score.as_ref())? {
        row.score = Some(score);
    }
    if let Some(value) = body.value.filter(|v| !v.is_null()) {
        row.value = value.to_string();
    }
    if let Some(comment) = body.comment {
        row.comment = comment;
    }
    if let Some(correction) = body.correction.filter(|v| !v.is_null()) {
        row.correction = correction.to_string();
    }
    if let Some(stored) = feedback_configs::get(&state.stores.postgres, tenant_id, &row.key).await?
    {
        let value = serde_json::from_str(&row.value).unwrap_or(Value::Null);
        check_against(&stored.config, &row.key, row.score, &value)?;
    }
    let now_us = Utc::now().timestamp_micros();
    row.modified_at_us = now_us;
    row.version = (now_us.max(0) as u64).max(row.version + 1);
    run_rows::insert_feedback(clickhouse, std::slice::from_ref(&row)).await?;
    Ok(Json(render(&row)))
}

#[utoipa::path(delete, path = "/feedback/{id}", operation_id = "delete_feedback", tag = "feedback",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackDelete>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    let clickhouse = &state.stores.clickhouse;
    let mut row = feedback_store::get(clickhouse, caller.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Feedback not found".into()))?;
    let now_us = Utc::now().timestamp_micros();
    row.modified_at_us = now_us;
    row.version = (now_us.max(0) as u64).max(row.version + 1);
    row.is_deleted = 1;
    run_rows::insert_feedback(clickhouse, std::slice::from_ref(&row)).await?;
    Ok(StatusCode::NO_CONTENT)
}
