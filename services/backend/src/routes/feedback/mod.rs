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
use crate::feedback::{raw_json, record, render};
use crate::runs::body::{invalid, lenient_time};
use ironsmith_runs::feedback::{
    FeedbackWire, check_against, check_config, lenient_score, score_of, score_schema,
};

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

#[utoipa::path(post, path = "/feedback", operation_id = "create_feedback", tag = "feedback",
    request_body = FeedbackWire, responses((status = 200, body = resources::Feedback)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackCreate>,
    ironsmith_http::Json(mut body): ironsmith_http::Json<FeedbackWire>,
) -> Result<Json<resources::Feedback>, ApiError> {
    crate::references::project(&state, caller.workspace_id, body.session_id).await?;
    if body.feedback_source.is_none() {
        body.feedback_source = raw_json(&json!({"type": "api", "metadata": {}}));
    }
    let row = record(&state, caller.workspace_id, body).await?;
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
    #[serde(default, deserialize_with = "lenient_score")]
    #[schema(schema_with = score_schema)]
    score: Option<f64>,
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
    if let Some(score) = body.score {
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
