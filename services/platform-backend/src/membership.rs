//! Memberships as the API shows them (organisation and workspace members alike), the
//! workspaces a caller may act in, and role ids read from requests.

use ironsmith_api_types::timestamp;
use ironsmith_auth::{AccessScope, OrgContext, Role};
use ironsmith_db::{members, workspaces};
use serde::Serialize;
use uuid::Uuid;

use crate::AppState;
use crate::error::{Result, invalid};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    /// The membership ("identity") id.
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role_id: Option<Uuid>,
    pub role_name: String,
    pub created_at: String,
}

impl From<members::Member> for MemberView {
    fn from(m: members::Member) -> Self {
        MemberView {
            id: m.id,
            user_id: m.user_id,
            email: m.email,
            full_name: m.full_name,
            role_id: Role::parse(&m.role).map(Role::id),
            role_name: m.role,
            created_at: timestamp::format(&m.created_at),
        }
    }
}

/// A role id from a request, which must be a role of the expected scope.
pub fn parse_role(id: Uuid, field: &str, workspace: bool) -> Result<Role> {
    let scope = if workspace {
        AccessScope::Workspace
    } else {
        AccessScope::Organization
    };
    Role::from_id(id)
        .filter(|r| r.access_scope() == scope)
        .ok_or_else(|| {
            invalid(
                field,
                format!(
                    "not a {} role id; see GET /orgs/current/roles",
                    if workspace {
                        "workspace"
                    } else {
                        "organisation"
                    }
                ),
            )
        })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkspaceView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub display_name: String,
    pub tenant_handle: Option<String>,
    pub created_at: String,
    /// The caller's role in it.
    pub role_name: &'static str,
    pub role_id: Uuid,
}

pub fn workspace_view(workspace: workspaces::Workspace, role: Role) -> WorkspaceView {
    WorkspaceView {
        id: workspace.id,
        organization_id: workspace.organization_id,
        display_name: workspace.display_name,
        tenant_handle: workspace.tenant_handle,
        created_at: timestamp::format(&workspace.created_at),
        role_name: role.as_str(),
        role_id: role.id(),
    }
}

/// The workspaces of the caller's organisation the caller may act in, with its role in each.
pub async fn accessible(state: &AppState, caller: &OrgContext) -> Result<Vec<WorkspaceView>> {
    let all = workspaces::list(&state.stores.postgres, caller.organization_id).await?;
    Ok(all
        .into_iter()
        .filter_map(|w| {
            let access = caller.principal.workspace(Some(w.id)).ok()?;
            (access.org.organization_id == caller.organization_id)
                .then(|| workspace_view(w, access.workspace_role))
        })
        .collect())
}
