//! Memberships as the API shows them (organisation and workspace members alike), and role ids
//! read from requests.

use ironsmith_api_types::timestamp;
use ironsmith_auth::{AccessScope, Role};
use ironsmith_db::members;
use serde::Serialize;
use uuid::Uuid;

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
