//! Feedback configurations: how feedback of each key is given (continuous, categorical,
//! free-form) and scored.

use super::*;

fn render_config(config: feedback_configs::FeedbackConfig) -> resources::FeedbackKeyConfig {
    resources::FeedbackKeyConfig {
        feedback_key: config.feedback_key,
        feedback_config: config.config,
        tenant_id: config.tenant_id,
        modified_at: config.modified_at,
        is_lower_score_better: config.is_lower_score_better,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ConfigBody {
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
    request_body = ConfigBody, responses((status = 200, body = resources::FeedbackKeyConfig)))]
pub(super) async fn create_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ConfigBody>,
) -> Result<Json<resources::FeedbackKeyConfig>, ApiError> {
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
        return Ok(Json(render_config(created)));
    }
    let existing = feedback_configs::get(db, tenant_id, &key)
        .await?
        .ok_or_else(|| ApiError::Conflict("The feedback configuration changed; retry".into()))?;
    let same_flag = body.is_lower_score_better.is_none()
        || body.is_lower_score_better == existing.is_lower_score_better;
    if existing.config == config && same_flag {
        Ok(Json(render_config(existing)))
    } else {
        Err(ApiError::BadRequest(format!(
            "Feedback key `{key}` already has a different configuration"
        )))
    }
}

#[utoipa::path(get, path = "/feedback-configs", tag = "feedback",
    params(("key" = Option<Vec<String>>, Query, description = "Only these feedback keys"),
        ("name_contains" = Option<String>, Query, description = "Keys containing this text"),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::FeedbackKeyConfig])))]
pub(super) async fn list_configs(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackRead>,
    query: QueryPairs,
) -> Result<Json<Vec<resources::FeedbackKeyConfig>>, ApiError> {
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
    Ok(Json(found.into_iter().map(render_config).collect()))
}

#[utoipa::path(patch, path = "/feedback-configs", tag = "feedback",
    request_body = ConfigBody, responses((status = 200, body = resources::FeedbackKeyConfig)))]
pub(super) async fn update_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ConfigBody>,
) -> Result<Json<resources::FeedbackKeyConfig>, ApiError> {
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
    Ok(Json(render_config(updated)))
}

#[utoipa::path(delete, path = "/feedback-configs", tag = "feedback",
    params(("feedback_key" = String, Query, min_length = 1)),
    responses((status = 204, description = "Done")))]
pub(super) async fn delete_config(
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
