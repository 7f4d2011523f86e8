//! `/model-price-map`: the prices the worker costs LLM runs by, when a run reports tokens but
//! no cost. Everyone in a workspace reads the defaults and the workspace's own prices; workspace
//! admins add and delete the workspace's own, which win over the defaults.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::resources;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{WorkspacesManage, WorkspacesRead};
use ironsmith_db::model_prices::{self, ModelPrice, NewPrice};
use ironsmith_http::{ApiError, PathUuid, ValidationIssue};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
}

fn render(price: &ModelPrice) -> resources::ModelPrice {
    resources::ModelPrice {
        id: price.id,
        tenant_id: price.tenant_id,
        name: price.name.clone(),
        provider: price.provider.clone(),
        match_pattern: price.match_pattern.clone(),
        prompt_cost_per_million: price.prompt_cost_per_million,
        completion_cost_per_million: price.completion_cost_per_million,
        priority: price.priority,
        created_at: price.created_at,
    }
}

#[utoipa::path(get, path = "/model-price-map", operation_id = "list_model_prices", tag = "model prices",
    responses((status = 200, body = [resources::ModelPrice])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesRead>,
) -> Result<Json<Vec<resources::ModelPrice>>, ApiError> {
    let prices = model_prices::visible_to(&state.stores.postgres, caller.workspace_id).await?;
    Ok(Json(prices.iter().map(render).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Create {
    #[schema(min_length = 1, pattern = "\\S")]
    name: String,
    #[serde(default)]
    provider: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    match_pattern: String,
    #[schema(minimum = 0, maximum = 999_999_999)]
    prompt_cost_per_million: f64,
    #[schema(minimum = 0, maximum = 999_999_999)]
    completion_cost_per_million: f64,
    #[serde(default)]
    priority: i32,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), field.into()],
        msg: message.into(),
        kind: "value_error".into(),
    }])
}

use ironsmith_runs::pricing::MAX_PRICES_PER_WORKSPACE;

/// The largest cost per million tokens a price may name: the column holds 18 digits, 9 of them
/// after the point.
const MAX_COST_PER_MILLION: f64 = 999_999_999.0;

#[utoipa::path(post, path = "/model-price-map", operation_id = "create_model_price", tag = "model prices",
    request_body = Create, responses((status = 201, body = resources::ModelPrice)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    ironsmith_http::Json(body): ironsmith_http::Json<Create>,
) -> Result<(StatusCode, Json<resources::ModelPrice>), ApiError> {
    if body.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if body.match_pattern.is_empty() {
        return Err(invalid(
            "match_pattern",
            "must not be empty (it would price every model)",
        ));
    }
    if let Err(reason) = ironsmith_runs::pricing::compile_pattern(&body.match_pattern) {
        return Err(invalid("match_pattern", reason));
    }
    for (field, cost) in [
        ("prompt_cost_per_million", body.prompt_cost_per_million),
        (
            "completion_cost_per_million",
            body.completion_cost_per_million,
        ),
    ] {
        if !cost.is_finite() || !(0.0..=MAX_COST_PER_MILLION).contains(&cost) {
            return Err(invalid(
                field,
                format!("must be a number from 0 to {MAX_COST_PER_MILLION}"),
            ));
        }
    }
    let price = model_prices::create(
        &state.stores.postgres,
        &NewPrice {
            tenant_id: caller.workspace_id,
            name: body.name.trim(),
            provider: body.provider.as_deref().filter(|p| !p.is_empty()),
            match_pattern: &body.match_pattern,
            prompt_cost_per_million: body.prompt_cost_per_million,
            completion_cost_per_million: body.completion_cost_per_million,
            priority: body.priority,
        },
        MAX_PRICES_PER_WORKSPACE,
    )
    .await?
    .ok_or_else(|| {
        ApiError::Conflict(format!(
            "This workspace already has {MAX_PRICES_PER_WORKSPACE} model prices; delete some first"
        ))
    })?;
    Ok((StatusCode::CREATED, Json(render(&price))))
}

#[utoipa::path(delete, path = "/model-price-map/{id}", operation_id = "delete_model_price", tag = "model prices",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    if model_prices::delete(&state.stores.postgres, caller.workspace_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("Model price not found".into()))
    }
}
