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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(list_tokens, create_tokens))
        .routes(routes!(submit_by_query, submit_by_body))
        .routes(routes!(read, update, remove))
        .routes(routes!(
            list_configs,
            create_config,
            update_config,
            delete_config
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ExpiresIn {
    #[serde(default)]
    days: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    minutes: i64,
}

impl ExpiresIn {
    /// `now` plus this delta; `None` when any part, or the sum, is out of range.
    fn after(&self, now: chrono::DateTime<Utc>) -> Option<chrono::DateTime<Utc>> {
        let delta = Duration::try_days(self.days)?
            .checked_add(&Duration::try_hours(self.hours)?)?
            .checked_add(&Duration::try_minutes(self.minutes)?)?;
        now.checked_add_signed(delta)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TokenBody {
    /// Proposed by the SDKs; read only to refuse a malformed one.
    #[serde(default, rename = "id")]
    _proposed_id: Option<Uuid>,
    #[serde(default)]
    run_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    feedback_key: Option<String>,
    #[serde(default)]
    feedback_config: Option<Value>,
    #[serde(default)]
    expires_in: Option<ExpiresIn>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    expires_at: Option<i64>,
}

/// One token request, or a list of them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum TokenRequest {
    Many(Vec<TokenBody>),
    One(TokenBody),
}

fn render_token(state: &AppState, token: &FeedbackToken) -> Value {
    let base = state.config.public.api_url.as_str().trim_end_matches('/');
    json!({
        "id": token.id,
        "url": format!("{base}/feedback/tokens/{}", token.id),
        "expires_at": crate::datasets::time(&token.expires_at),
        "feedback_key": token.feedback_key,
        "run_id": token.run_id,
    })
}

/// A token lives three hours unless told otherwise, at most a year.
const DEFAULT_TOKEN_LIFE: Duration = Duration::hours(3);

#[utoipa::path(post, path = "/feedback/tokens", tag = "feedback",
    request_body = TokenRequest, responses((status = 200, body = serde_json::Value)))]
async fn create_tokens(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackCreate>,
    ironsmith_http::Json(request): ironsmith_http::Json<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    let (bodies, many) = match request {
        TokenRequest::Many(bodies) => (bodies, true),
        TokenRequest::One(body) => (vec![body], false),
    };
    let now = Utc::now();
    let mut created = Vec::with_capacity(bodies.len());
    for body in bodies {
        let run_id = body
            .run_id
            .ok_or_else(|| invalid("run_id", "is required".into()))?;
        let key = body
            .feedback_key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| invalid("feedback_key", "is required".into()))?;
        if let Some(config) = body.feedback_config.as_ref().filter(|c| !c.is_null()) {
            check_config(config)?;
        }
        let expires_at = match (body.expires_at, body.expires_in) {
            (Some(at), _) => chrono::DateTime::from_timestamp_micros(at)
                .ok_or_else(|| invalid("expires_at", "is out of range".into()))?,
            (None, Some(delta)) => delta
                .after(now)
                .ok_or_else(|| invalid("expires_in", "is out of range".into()))?,
            (None, None) => now + DEFAULT_TOKEN_LIFE,
        };
        if expires_at <= now || expires_at > now + Duration::days(366) {
            return Err(invalid(
                "expires_at",
                "must be in the future and within a year".into(),
            ));
        }
        let token = feedback_tokens::create(
            &state.stores.postgres,
            &FeedbackToken {
                // The token is a capability: the server mints it. A proposed id is not used,
                // so it reveals nothing about the tokens that exist; the SDKs use the `url`
                // and `id` of the answer.
                id: Uuid::new_v4(),
                tenant_id: caller.workspace_id,
                run_id,
                feedback_key: key,
                feedback_config: body.feedback_config.filter(|c| !c.is_null()),
                expires_at,
                created_at: now,
            },
        )
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                ApiError::Conflict("A feedback token with this id already exists".into())
            } else {
                ApiError::from(e)
            }
        })?;
        created.push(render_token(&state, &token));
    }
    Ok(Json(if many {
        Value::Array(created)
    } else {
        created.remove(0)
    }))
}

#[utoipa::path(get, path = "/feedback/tokens", tag = "feedback",
    params(("run_id" = Uuid, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100),
        ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = [Object])))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackRead>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let run_id = query.uuid("run_id")?.ok_or_else(|| {
        ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["query".into(), "run_id".into()],
            msg: "is required".into(),
            kind: "value_error".into(),
        }])
    })?;
    let tokens = feedback_tokens::list(
        &state.stores.postgres,
        caller.workspace_id,
        run_id,
        offset,
        limit,
    )
    .await?;
    Ok(Json(Value::Array(
        tokens.iter().map(|t| render_token(&state, t)).collect(),
    )))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct Submission {
    #[serde(default)]
    score: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    correction: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// Records feedback through a token; no key is needed (the token is the capability).
async fn submit(
    state: &AppState,
    token: &str,
    submission: Submission,
) -> Result<Json<Value>, ApiError> {
    let id = Uuid::parse_str(token)
        .map_err(|_| ApiError::NotFound("Feedback token not found".into()))?;
    let token = feedback_tokens::by_id(&state.stores.postgres, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Feedback token not found".into()))?;
    if token.expires_at <= Utc::now() {
        return Err(ApiError::BadRequest(
            "The feedback token has expired".into(),
        ));
    }
    let cap = state.config.limits.feedback_token_submissions;
    if !feedback_tokens::count_submission(&state.stores.postgres, token.id, cap).await? {
        return Err(ApiError::TooManyRequests {
            message: format!("This feedback token has recorded its {cap} submissions"),
            retry_after_secs: u64::try_from((token.expires_at - Utc::now()).num_seconds())
                .unwrap_or(1),
        });
    }
    crate::feedback::record_batched(
        state,
        token.tenant_id,
        NewFeedback {
            id: Uuid::now_v7(),
            key: token.feedback_key.clone(),
            run_id: Some(token.run_id),
            score: score_of(submission.score.as_ref())?,
            value: submission.value.unwrap_or(Value::Null),
            comment: submission.comment,
            correction: submission.correction.unwrap_or(Value::Null),
            feedback_source: json!({
                "type": "app",
                "metadata": submission.metadata.unwrap_or_else(|| json!({})),
            }),
            feedback_config: token.feedback_config.clone(),
            extra: json!({"feedback_token_id": token.id}),
            ..NewFeedback::default()
        },
    )
    .await?;
    Ok(Json(json!({"message": "Feedback recorded"})))
}

#[utoipa::path(post, path = "/feedback/tokens/{token}", tag = "feedback", security(()),
    request_body = Option<Submission>,
    params(("token" = String, Path)),
    responses((status = 200, body = Object)))]
async fn submit_by_body(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let submission = if body.iter().all(u8::is_ascii_whitespace) {
        Submission::default()
    } else {
        ironsmith_http::extract::parse_json::<Option<Submission>>(&body)?.unwrap_or_default()
    };
    submit(&state, &token, submission).await
}

/// `GET` with the feedback in the query string, so the URL works when opened in a browser.
#[utoipa::path(get, path = "/feedback/tokens/{token}", tag = "feedback", security(()),
    params(("token" = String, Path)),
    responses((status = 200, body = Object)))]
async fn submit_by_query(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let as_json = |text: &str| serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
    let submission = Submission {
        score: query.get("score").map(as_json),
        value: query.get("value").map(as_json),
        comment: query.get("comment").map(str::to_owned),
        correction: query.get("correction").map(as_json),
        metadata: None,
    };
    submit(&state, &token, submission).await
}

fn render_config(config: &feedback_configs::FeedbackConfig) -> Value {
    json!({
        "feedback_key": config.feedback_key,
        "feedback_config": config.config,
        "tenant_id": config.tenant_id,
        "modified_at": crate::datasets::time(&config.modified_at),
        "is_lower_score_better": config.is_lower_score_better,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ConfigBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    feedback_key: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<ironsmith_api_types::bodies::FeedbackConfig>)]
    feedback_config: Option<Value>,
    #[serde(default)]
    is_lower_score_better: Option<bool>,
}

#[utoipa::path(post, path = "/feedback-configs", tag = "feedback",
    request_body = ConfigBody, responses((status = 200, body = Object)))]
async fn create_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ConfigBody>,
) -> Result<Json<Value>, ApiError> {
    let key = body
        .feedback_key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| invalid("feedback_key", "is required".into()))?;
    let config = body
        .feedback_config
        .ok_or_else(|| invalid("feedback_config", "is required".into()))?;
    check_config(&config)?;
    let db = &state.stores.postgres;
    let tenant_id = caller.workspace_id;
    if let Some(created) =
        feedback_configs::create(db, tenant_id, &key, &config, body.is_lower_score_better).await?
    {
        return Ok(Json(render_config(&created)));
    }
    let existing = feedback_configs::get(db, tenant_id, &key)
        .await?
        .ok_or_else(|| ApiError::Conflict("The feedback configuration changed; retry".into()))?;
    let same_flag = body.is_lower_score_better.is_none()
        || body.is_lower_score_better == existing.is_lower_score_better;
    if existing.config == config && same_flag {
        Ok(Json(render_config(&existing)))
    } else {
        Err(ApiError::BadRequest(format!(
            "Feedback key `{key}` already has a different configuration"
        )))
    }
}

#[utoipa::path(get, path = "/feedback-configs", tag = "feedback",
    responses((status = 200, body = [Object])))]
async fn list_configs(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackRead>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let keys: Vec<String> = query.all("key").map(str::to_owned).collect();
    let found = feedback_configs::list(
        &state.stores.postgres,
        caller.workspace_id,
        &keys,
        query.get("name_contains"),
        offset,
        limit,
    )
    .await?;
    Ok(Json(Value::Array(
        found.iter().map(render_config).collect(),
    )))
}

#[utoipa::path(patch, path = "/feedback-configs", tag = "feedback",
    request_body = ConfigBody, responses((status = 200, body = Object)))]
async fn update_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ConfigBody>,
) -> Result<Json<Value>, ApiError> {
    let key = body
        .feedback_key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| invalid("feedback_key", "is required".into()))?;
    if let Some(config) = &body.feedback_config {
        check_config(config)?;
    }
    let updated = feedback_configs::update(
        &state.stores.postgres,
        caller.workspace_id,
        &key,
        body.feedback_config.as_ref(),
        body.is_lower_score_better,
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("Feedback configuration not found".into()))?;
    Ok(Json(render_config(&updated)))
}

#[utoipa::path(delete, path = "/feedback-configs", tag = "feedback",
    params(("feedback_key" = String, Query, min_length = 1)),
    responses((status = 204, description = "Done")))]
async fn delete_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackDelete>,
    query: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let key = query.get("feedback_key").ok_or_else(|| {
        ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["query".into(), "feedback_key".into()],
            msg: "is required".into(),
            kind: "value_error".into(),
        }])
    })?;
    if feedback_configs::delete(&state.stores.postgres, caller.workspace_id, key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "Feedback configuration not found".into(),
        ))
    }
}
