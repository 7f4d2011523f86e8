//! `/model-configs`: the playground's saved model configurations of a workspace (provider,
//! model, base URL, parameters and the secret holding the key). Members read them; editors
//! create, replace and delete them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::playground::{ModelConfig, ModelConfigFields};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{PromptsCreate, PromptsDelete, PromptsUpdate, WorkspacesRead};
use ironsmith_db::model_configs::{self, Fields};
use ironsmith_http::{ApiError, PathUuid};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::model_configs::{MAX_PER_WORKSPACE, fields_of, normalise};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, replace, remove))
}

fn render(row: model_configs::ModelConfig) -> Result<ModelConfig, ApiError> {
    let (id, tenant_id, created_at, updated_at) =
        (row.id, row.tenant_id, row.created_at, row.updated_at);
    Ok(ModelConfig {
        id,
        tenant_id,
        fields: fields_of(row)?,
        created_at,
        updated_at,
    })
}

/// The columns of a configuration that are stored as text or JSON.
struct Columns {
    provider: String,
    parameters: serde_json::Value,
    options: serde_json::Value,
}

fn columns(fields: &ModelConfigFields) -> Result<Columns, ApiError> {
    Ok(Columns {
        provider: serde_json::to_value(fields.provider)?
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        parameters: serde_json::to_value(&fields.parameters)?,
        options: serde_json::to_value(&fields.options)?,
    })
}

fn as_fields<'a>(fields: &'a ModelConfigFields, columns: &'a Columns) -> Fields<'a> {
    Fields {
        name: &fields.name,
        provider: &columns.provider,
        model: &fields.model,
        base_url: fields.base_url.as_deref(),
        secret_key: fields.secret_key.as_deref(),
        parameters: &columns.parameters,
        options: &columns.options,
    }
}

fn name_taken(error: ironsmith_db::DbError, name: &str) -> ApiError {
    match ApiError::from(error) {
        ApiError::Conflict(_) => ApiError::Conflict(format!(
            "A model configuration named {name:?} already exists"
        )),
        other => other,
    }
}

#[utoipa::path(get, path = "/model-configs", operation_id = "list_model_configs", tag = "playground",
    responses((status = 200, body = [ModelConfig])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesRead>,
) -> Result<Json<Vec<ModelConfig>>, ApiError> {
    let rows = model_configs::list(&state.stores.postgres, caller.workspace_id).await?;
    Ok(Json(
        rows.into_iter().map(render).collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(post, path = "/model-configs", operation_id = "create_model_config", tag = "playground",
    request_body = ModelConfigFields, responses((status = 201, body = ModelConfig), (status = 409)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ModelConfigFields>,
) -> Result<(StatusCode, Json<ModelConfig>), ApiError> {
    let fields = normalise(body)?;
    let columns = columns(&fields)?;
    let row = model_configs::create(
        &state.stores.postgres,
        caller.workspace_id,
        &as_fields(&fields, &columns),
        MAX_PER_WORKSPACE,
    )
    .await
    .map_err(|e| name_taken(e, &fields.name))?
    .ok_or_else(|| {
        ApiError::Rejected(format!(
            "a workspace holds at most {MAX_PER_WORKSPACE} model configurations"
        ))
    })?;
    Ok((StatusCode::CREATED, Json(render(row)?)))
}

fn not_found(id: uuid::Uuid) -> ApiError {
    ApiError::NotFound(format!("Model configuration {id} not found"))
}

#[utoipa::path(get, path = "/model-configs/{id}", operation_id = "read_model_config", tag = "playground",
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = ModelConfig), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<ModelConfig>, ApiError> {
    let row = model_configs::get(&state.stores.postgres, caller.workspace_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(render(row)?))
}

#[utoipa::path(put, path = "/model-configs/{id}", operation_id = "replace_model_config", tag = "playground",
    params(("id" = uuid::Uuid, Path)), request_body = ModelConfigFields,
    responses((status = 200, body = ModelConfig), (status = 404), (status = 409)))]
async fn replace(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<ModelConfigFields>,
) -> Result<Json<ModelConfig>, ApiError> {
    let fields = normalise(body)?;
    let columns = columns(&fields)?;
    let row = model_configs::replace(
        &state.stores.postgres,
        caller.workspace_id,
        id,
        &as_fields(&fields, &columns),
    )
    .await
    .map_err(|e| name_taken(e, &fields.name))?
    .ok_or_else(|| not_found(id))?;
    Ok(Json(render(row)?))
}

#[utoipa::path(delete, path = "/model-configs/{id}", operation_id = "delete_model_config", tag = "playground",
    params(("id" = uuid::Uuid, Path)), responses((status = 204), (status = 404)))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsDelete>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    if model_configs::delete(&state.stores.postgres, caller.workspace_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}
