//! `GET /settings`: the current workspace's settings, which the prompt hub reads to learn the
//! workspace's handle.

use axum::Json;
use axum::extract::State;
use ironsmith_api_types::resources::WorkspaceSettings;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::WorkspacesRead;
use ironsmith_http::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(settings))
}

#[utoipa::path(get, path = "/settings", tag = "settings",
    responses((status = 200, body = WorkspaceSettings)))]
async fn settings(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesRead>,
) -> Result<Json<WorkspaceSettings>, ApiError> {
    let workspace = ironsmith_db::workspaces::get(
        &state.stores.postgres,
        caller.organization_id,
        caller.workspace_id,
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("Workspace not found".into()))?;
    Ok(Json(WorkspaceSettings {
        id: workspace.id,
        display_name: workspace.display_name,
        created_at: workspace.created_at,
        tenant_handle: workspace.tenant_handle,
    }))
}
