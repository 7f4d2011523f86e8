//! Feedback configurations: how feedback of each key is given (continuous, categorical,
//! free-form) and scored.

use super::*;

fn render_config(config: feedback_configs::FeedbackConfig) -> resources::FeedbackKeyConfig {
    resources::FeedbackKeyConfig {
        id: config.id,
        feedback_key: config.feedback_key,
        feedback_config: config.config,
        tenant_id: config.tenant_id,
        modified_at: config.modified_at,
        is_lower_score_better: config.is_lower_score_better,
        is_enforced: config.is_enforced,
        is_first: config.is_first,
        is_deleted: config.deleted_at.is_some(),
    }
}

fn config_not_found() -> ApiError {
    ApiError::NotFound("Feedback configuration not found".into())
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
    /// Create the key's enforced configuration (workspace admins only).
    #[serde(default)]
    is_enforced: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ConfigUpdate {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    feedback_key: Option<String>,
    /// The configuration to change, for keys with more than one; else the key's enforced
    /// configuration, or its first, or its most recently modified.
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<ironsmith_api_types::bodies::FeedbackConfig>)]
    feedback_config: Option<Value>,
    #[serde(default)]
    is_lower_score_better: Option<bool>,
    /// Categories to add to a categorical configuration.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ironsmith_api_types::bodies::FeedbackCategory>>)]
    add_categories: Option<Vec<Value>>,
    /// Values of categories to remove from a categorical configuration.
    #[serde(default)]
    remove_categories: Option<Vec<f64>>,
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
    if body.is_enforced {
        caller
            .require(ironsmith_auth::Permission::WorkspacesManage)
            .map_err(|_| {
                ApiError::Forbidden(
                    "Only workspace admins create a key's enforced configuration".into(),
                )
            })?;
    }
    let live = feedback_configs::of_key(db, tenant_id, &key).await?;
    let direction = body
        .is_lower_score_better
        .or_else(|| live.first().and_then(|c| c.is_lower_score_better));
    if let Some(same) = live.iter().find(|c| {
        c.config == config
            && (body.is_lower_score_better.is_none()
                || body.is_lower_score_better == c.is_lower_score_better)
            && (!body.is_enforced || c.is_enforced)
    }) {
        return Ok(Json(render_config(same.clone())));
    }
    if live.iter().any(|c| c.is_enforced) {
        return Err(ApiError::Conflict(format!(
            "Feedback key `{key}` has an enforced configuration; change that one instead"
        )));
    }
    let created = feedback_configs::insert(
        db,
        tenant_id,
        &feedback_configs::NewConfig {
            key: &key,
            config: &config,
            is_lower_score_better: direction,
            is_enforced: body.is_enforced,
            is_first: live.is_empty(),
        },
    )
    .await;
    match created {
        Ok(created) => Ok(Json(render_config(created))),
        Err(e) if e.is_unique_violation() => Err(ApiError::Conflict(
            "The feedback configuration changed meanwhile; retry".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/feedback-configs", tag = "feedback",
    params(("key" = Option<Vec<String>>, Query, description = "Only these feedback keys"),
        ("name_contains" = Option<String>, Query, description = "Keys containing this text"),
        ("include_all_configs" = Option<bool>, Query, description = "Every configuration of each key, deleted ones included (else one per key: the enforced, else the first)"),
        ("is_enforced" = Option<bool>, Query, description = "Only enforced (true) or other (false) configurations"),
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
        &feedback_configs::ConfigFilter {
            keys: &keys,
            name_contains: query.get("name_contains"),
            include_all: query.bool("include_all_configs")?.unwrap_or(false),
            is_enforced: query.bool("is_enforced")?,
            offset,
            limit,
        },
    )
    .await?;
    Ok(Json(found.into_iter().map(render_config).collect()))
}

/// `add_categories` and `remove_categories` applied to a categorical configuration.
fn edit_categories(
    config: &Value,
    add: Option<&[Value]>,
    remove: Option<&[f64]>,
) -> Result<Value, ApiError> {
    let mut config = config.clone();
    if config.get("type").and_then(Value::as_str) != Some("categorical") {
        return Err(invalid(
            "add_categories",
            "categories can be added to or removed from categorical configurations only".into(),
        ));
    }
    let categories = config
        .get_mut("categories")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| invalid("feedback_config", "has no categories".into()))?;
    if let Some(values) = remove {
        categories.retain(|c| {
            !c.get("value")
                .and_then(Value::as_f64)
                .is_some_and(|v| values.contains(&v))
        });
    }
    for category in add.unwrap_or_default() {
        let value = category.get("value").and_then(Value::as_f64);
        let label = category.get("label").and_then(Value::as_str);
        let clash = categories.iter().any(|c| {
            (value.is_some() && c.get("value").and_then(Value::as_f64) == value)
                || (label.is_some() && c.get("label").and_then(Value::as_str) == label)
        });
        if value.is_none() || clash {
            return Err(invalid(
                "add_categories",
                format!("category {category} has no value, or its value or label is already used"),
            ));
        }
        categories.push(category.clone());
    }
    check_config(&config)?;
    Ok(config)
}

#[utoipa::path(patch, path = "/feedback-configs", tag = "feedback",
    request_body = ConfigUpdate, responses((status = 200, body = resources::FeedbackKeyConfig)))]
pub(super) async fn update_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ConfigUpdate>,
) -> Result<Json<resources::FeedbackKeyConfig>, ApiError> {
    let key = body
        .feedback_key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| invalid("feedback_key", "is required".into()))?;
    let db = &state.stores.postgres;
    let tenant_id = caller.workspace_id;
    let target = match body.id {
        Some(id) => feedback_configs::get_by_id(db, tenant_id, id)
            .await?
            .filter(|c| c.feedback_key == key),
        None => feedback_configs::get(db, tenant_id, &key).await?,
    }
    .ok_or_else(config_not_found)?;
    let mut config = body.feedback_config;
    if let Some(config) = &config {
        check_config(config)?;
    }
    if body.add_categories.is_some() || body.remove_categories.is_some() {
        config = Some(edit_categories(
            config.as_ref().unwrap_or(&target.config),
            body.add_categories.as_deref(),
            body.remove_categories.as_deref(),
        )?);
    }
    let updated = feedback_configs::update(
        db,
        tenant_id,
        target.id,
        config.as_ref(),
        body.is_lower_score_better,
    )
    .await?
    .ok_or_else(config_not_found)?;
    Ok(Json(render_config(updated)))
}

#[utoipa::path(delete, path = "/feedback-configs", tag = "feedback",
    params(("feedback_key" = Option<String>, Query, min_length = 1, description = "Delete every configuration of this key"),
        ("id" = Option<Uuid>, Query, description = "Delete this one configuration")),
    responses((status = 204, description = "Done")))]
pub(super) async fn delete_config(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackDelete>,
    query: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let db = &state.stores.postgres;
    let deleted = match (query.uuid("id")?, query.get("feedback_key")) {
        (Some(id), _) => feedback_configs::delete_by_id(db, caller.workspace_id, id).await?,
        (None, Some(key)) => feedback_configs::delete(db, caller.workspace_id, key).await?,
        (None, None) => {
            return Err(ApiError::Unprocessable(vec![ValidationIssue {
                loc: vec!["query".into(), "feedback_key".into()],
                msg: "is required (or id)".into(),
                kind: "value_error".into(),
            }]));
        }
    };
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(config_not_found())
    }
}
