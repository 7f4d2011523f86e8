//! Workspaces (the API's tenants): list, create, rename, delete, and the current workspace's
//! members. A workspace id the caller cannot use reads exactly like an unknown one.

use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_auth::perm::{OrganizationManage, WorkspacesManage, WorkspacesRead};
use ironsmith_auth::{
    AuthError, OrgAuth, OrgContext, Permission, RequireOrgPermission, RequirePermission, Role,
};
use ironsmith_db::{members, workspaces};
use ironsmith_http::{Json, PathUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Result, conflict, invalid, not_found};
use crate::membership::{
    MemberView, WorkspaceView, accessible, parse_role, workspace_view as view,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(list_at_tenants))
        .routes(routes!(rename, remove))
        .routes(routes!(list_members, add_member))
        .routes(routes!(change_member_role, remove_member))
}

/// The workspaces the caller can reach, under their older name: the same list as
/// `GET /workspaces`.
#[utoipa::path(get, path = "/tenants", tag = "workspaces",
    responses((status = 200, body = Vec<WorkspaceView>)))]
async fn list_at_tenants(
    state: State<AppState>,
    caller: OrgAuth,
) -> Result<axum::Json<Vec<WorkspaceView>>> {
    list(state, caller).await
}

#[utoipa::path(get, path = "/workspaces", operation_id = "list_workspaces", tag = "workspaces",
    responses((status = 200, body = Vec<WorkspaceView>)))]
async fn list(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
) -> Result<axum::Json<Vec<WorkspaceView>>> {
    Ok(axum::Json(accessible(&state, &caller).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct WorkspaceBody {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    display_name: String,
}

fn display_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("display_name", "must be 1 to 200 characters"));
    }
    Ok(name)
}

#[utoipa::path(post, path = "/workspaces", operation_id = "create_workspace", tag = "workspaces",
    request_body = WorkspaceBody, responses((status = 200, body = WorkspaceView)))]
async fn create(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    Json(body): Json<WorkspaceBody>,
) -> Result<axum::Json<WorkspaceView>> {
    let name = display_name(&body.display_name)?;
    let mut tx = state.stores.postgres.begin().await?;
    let workspace =
        workspaces::create(&mut *tx, Uuid::now_v7(), caller.organization_id, name).await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(workspace.id),
            action: "workspace.created",
            target_type: "workspace",
            target_id: workspace.id.to_string(),
            details: json!({ "display_name": name }),
        },
    )
    .await?;
    tx.commit().await?;
    // Organisation admins and org-wide keys now reach one more workspace.
    state
        .auth
        .forget_organization(caller.organization_id)
        .await?;
    Ok(axum::Json(view(workspace, Role::WorkspaceAdmin)))
}

/// The caller's access to the workspace named in the path, or 404 when it has none.
fn access_to(caller: &OrgContext, id: Uuid, needs: Permission) -> Result<()> {
    let access = caller
        .principal
        .workspace(Some(id))
        .map_err(|_| not_found("Workspace"))?;
    if access.org.organization_id != caller.organization_id {
        return Err(not_found("Workspace"));
    }
    if !access.permissions.contains(needs) {
        return Err(AuthError::missing_permission(needs).into());
    }
    Ok(())
}

#[utoipa::path(patch, path = "/workspaces/{id}", operation_id = "rename_workspace", tag = "workspaces",
    params(("id" = Uuid, Path)),
    request_body = WorkspaceBody, responses((status = 200, body = WorkspaceView)))]
async fn rename(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
    PathUuid(id): PathUuid,
    Json(body): Json<WorkspaceBody>,
) -> Result<axum::Json<WorkspaceView>> {
    access_to(&caller, id, Permission::WorkspacesManage)?;
    let name = display_name(&body.display_name)?;
    let mut tx = state.stores.postgres.begin().await?;
    if !workspaces::rename(&mut *tx, caller.organization_id, id, name).await? {
        return Err(not_found("Workspace"));
    }
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(id),
            action: "workspace.renamed",
            target_type: "workspace",
            target_id: id.to_string(),
            details: json!({ "display_name": name }),
        },
    )
    .await?;
    let workspace = workspaces::get(&mut *tx, caller.organization_id, id)
        .await?
        .ok_or_else(|| not_found("Workspace"))?;
    tx.commit().await?;
    Ok(axum::Json(view(workspace, Role::WorkspaceAdmin)))
}

#[utoipa::path(delete, path = "/workspaces/{id}", operation_id = "delete_workspace", tag = "workspaces",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode> {
    access_to(&caller, id, Permission::WorkspacesManage)?;
    let mut tx = state.stores.postgres.begin().await?;
    if workspaces::ids(&mut *tx, caller.organization_id)
        .await?
        .len()
        <= 1
    {
        return Err(conflict("An organisation keeps at least one workspace"));
    }
    if !workspaces::delete(&mut *tx, caller.organization_id, id).await? {
        return Err(not_found("Workspace"));
    }
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(id),
            action: "workspace.deleted",
            target_type: "workspace",
            target_id: id.to_string(),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    state
        .auth
        .forget_organization(caller.organization_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/workspaces/current/members", operation_id = "list_workspace_members", tag = "workspaces",
    responses((status = 200, body = Vec<MemberView>)))]
async fn list_members(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesRead>,
) -> Result<axum::Json<Vec<MemberView>>> {
    let members = members::list_workspace(&state.stores.postgres, caller.workspace_id).await?;
    Ok(axum::Json(
        members.into_iter().map(MemberView::from).collect(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AddMember {
    user_id: Uuid,
    #[serde(default)]
    workspace_role_id: Option<Uuid>,
    #[serde(default)]
    role_id: Option<Uuid>,
}

/// A user's membership of a workspace.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WorkspaceMembership {
    /// The membership ("identity") id.
    id: Uuid,
    user_id: Uuid,
    workspace_id: Uuid,
    role_id: Uuid,
    role_name: &'static str,
}

#[utoipa::path(post, path = "/workspaces/current/members", tag = "workspaces",
    request_body = AddMember, responses((status = 200, body = WorkspaceMembership)))]
async fn add_member(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    Json(body): Json<AddMember>,
) -> Result<axum::Json<WorkspaceMembership>> {
    let role = match body.workspace_role_id.or(body.role_id) {
        Some(id) => parse_role(id, "workspace_role_id", true)?,
        None => Role::WorkspaceViewer,
    };
    let mut tx = state.stores.postgres.begin().await?;
    if members::org_role_of(&mut *tx, caller.organization_id, body.user_id)
        .await?
        .is_none()
    {
        return Err(not_found("Organisation member"));
    }
    let identity_id =
        members::put_workspace_member(&mut *tx, caller.workspace_id, body.user_id, role.as_str())
            .await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(caller.workspace_id),
            action: "workspace_member.added",
            target_type: "user",
            target_id: body.user_id.to_string(),
            details: json!({ "role": role.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    state.auth.forget_user(body.user_id).await?;
    Ok(axum::Json(WorkspaceMembership {
        id: identity_id,
        user_id: body.user_id,
        workspace_id: caller.workspace_id,
        role_id: role.id(),
        role_name: role.as_str(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct WorkspaceRoleChange {
    role_id: Uuid,
}

#[utoipa::path(patch, path = "/workspaces/current/members/{identity_id}", tag = "workspaces",
    params(("identity_id" = Uuid, Path)),
    request_body = WorkspaceRoleChange, responses((status = 204, description = "Changed")))]
async fn change_member_role(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    PathUuid(identity_id): PathUuid,
    Json(body): Json<WorkspaceRoleChange>,
) -> Result<StatusCode> {
    let role = parse_role(body.role_id, "role_id", true)?;
    let mut tx = state.stores.postgres.begin().await?;
    let user_id =
        members::set_workspace_role(&mut *tx, caller.workspace_id, identity_id, role.as_str())
            .await?
            .ok_or_else(|| not_found("Workspace member"))?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(caller.workspace_id),
            action: "workspace_member.role_changed",
            target_type: "user",
            target_id: user_id.to_string(),
            details: json!({ "role": role.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    state.auth.forget_user(user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/workspaces/current/members/{identity_id}", operation_id = "remove_workspace_member", tag = "workspaces",
    params(("identity_id" = Uuid, Path)),
    responses((status = 204, description = "Removed")))]
async fn remove_member(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    PathUuid(identity_id): PathUuid,
) -> Result<StatusCode> {
    let mut tx = state.stores.postgres.begin().await?;
    let user_id = members::remove_from_workspace(&mut *tx, caller.workspace_id, identity_id)
        .await?
        .ok_or_else(|| not_found("Workspace member"))?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(caller.workspace_id),
            action: "workspace_member.removed",
            target_type: "user",
            target_id: user_id.to_string(),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    state.auth.forget_user(user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
