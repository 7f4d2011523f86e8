//! Who a credential speaks for, and which workspace a request acts in.
//!
//! A [`Principal`] is what a credential resolves to — loaded from Postgres, cached in Redis.
//! [`Principal::workspace`] and [`Principal::organization`] then apply the workspace-selection
//! table to the request's `X-Tenant-Id` / `X-Organization-Id`; they are pure, so the table is
//! unit-tested here row by row.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AuthError;
use crate::limits::OrgLimits;
use crate::permissions::{Permission, PermissionSet, Role};
use crate::secrets::KeyKind;

/// The person or service account behind a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Identity {
    User {
        user_id: Uuid,
        email: String,
        full_name: String,
    },
    ServiceAccount {
        api_key_id: Uuid,
    },
}

impl Identity {
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Identity::User { user_id, .. } => Some(*user_id),
            Identity::ServiceAccount { .. } => None,
        }
    }
}

/// How the caller proved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credential {
    ApiKey { id: Uuid, kind: KeyKind },
    Session { id: Uuid },
}

impl Credential {
    pub fn api_key_id(self) -> Option<Uuid> {
        match self {
            Credential::ApiKey { id, .. } => Some(id),
            Credential::Session { .. } => None,
        }
    }
}

/// A user's standing in one organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgGrant {
    pub organization_id: Uuid,
    pub org_role: Role,
    /// Workspaces the user is a member of, with their role there.
    pub workspaces: Vec<(Uuid, Role)>,
    /// Every workspace of the organisation: an Organization Admin is Admin in all of them.
    pub all_workspaces: Vec<Uuid>,
    pub limits: OrgLimits,
}

impl OrgGrant {
    fn role_in(&self, workspace_id: Uuid) -> Option<Role> {
        if self.org_role == Role::OrganizationAdmin && self.all_workspaces.contains(&workspace_id) {
            return Some(Role::WorkspaceAdmin);
        }
        self.workspaces
            .iter()
            .find(|(id, _)| *id == workspace_id)
            .map(|(_, role)| *role)
    }

    pub fn first_workspace(&self) -> Option<(Uuid, Role)> {
        if self.org_role == Role::OrganizationAdmin {
            return self
                .all_workspaces
                .first()
                .map(|id| (*id, Role::WorkspaceAdmin));
        }
        self.workspaces.first().copied()
    }
}

/// What a credential may reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    /// A user (by session, or by personal token: then only the token's organisation).
    Member {
        orgs: Vec<OrgGrant>,
        default_workspace: Option<Uuid>,
    },
    /// A service key: one workspace, or (when `workspace_id` is `None`) every workspace of its
    /// organisation, which the caller must then name.
    Service {
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
        role: Role,
        all_workspaces: Vec<Uuid>,
        limits: OrgLimits,
    },
}

/// A resolved credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub identity: Identity,
    pub credential: Credential,
    pub scope: Scope,
    /// Unix seconds after which the credential is dead (key expiry, session end).
    pub expires_at: Option<i64>,
}

/// The organisation a request acts in, with the caller's organisation-level rights.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgAccess {
    pub organization_id: Uuid,
    pub org_role: Option<Role>,
    pub permissions: PermissionSet,
    pub limits: OrgLimits,
}

/// The workspace a request acts in, with the caller's rights there.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceAccess {
    pub org: OrgAccess,
    pub workspace_id: Uuid,
    pub workspace_role: Role,
    /// Organisation permissions plus those of the workspace role.
    pub permissions: PermissionSet,
}

fn no_access() -> AuthError {
    // Unknown and foreign workspaces answer identically.
    AuthError::Forbidden("This credential has no access to the requested workspace".into())
}

impl Principal {
    /// Applies the workspace-selection table to the request's `X-Tenant-Id`.
    pub fn workspace(&self, tenant: Option<Uuid>) -> Result<WorkspaceAccess, AuthError> {
        let (grant_org, workspace_id, role) = match &self.scope {
            Scope::Member {
                orgs,
                default_workspace,
            } => match tenant {
                Some(tenant) => orgs
                    .iter()
                    .find_map(|g| g.role_in(tenant).map(|role| (g, tenant, role)))
                    .ok_or_else(no_access)?,
                None => {
                    let default = default_workspace.and_then(|id| {
                        orgs.iter()
                            .find_map(|g| g.role_in(id).map(|role| (g, id, role)))
                    });
                    default
                        .or_else(|| {
                            orgs.iter()
                                .find_map(|g| g.first_workspace().map(|(id, r)| (g, id, r)))
                        })
                        .ok_or_else(|| {
                            AuthError::Forbidden("This user belongs to no workspace".into())
                        })?
                }
            },
            Scope::Service {
                workspace_id: Some(own),
                role,
                ..
            } => match tenant {
                None => return Ok(self.service_access(*own, *role)),
                Some(tenant) if tenant == *own => return Ok(self.service_access(*own, *role)),
                Some(_) => return Err(no_access()),
            },
            Scope::Service {
                workspace_id: None,
                role,
                all_workspaces,
                ..
            } => match tenant {
                None => return Err(AuthError::OrgScopedKeyRequiresWorkspace),
                Some(tenant) if all_workspaces.contains(&tenant) => {
                    return Ok(self.service_access(tenant, *role));
                }
                Some(_) => return Err(no_access()),
            },
        };
        let org = member_org_access(grant_org);
        Ok(WorkspaceAccess {
            permissions: org.permissions.union(role.permissions()),
            org,
            workspace_id,
            workspace_role: role,
        })
    }

    fn service_access(&self, workspace_id: Uuid, role: Role) -> WorkspaceAccess {
        let org = self.service_org_access();
        WorkspaceAccess {
            permissions: org.permissions.union(role.permissions()),
            org,
            workspace_id,
            workspace_role: role,
        }
    }

    fn service_org_access(&self) -> OrgAccess {
        match &self.scope {
            Scope::Service {
                organization_id,
                limits,
                ..
            } => OrgAccess {
                organization_id: *organization_id,
                org_role: None,
                permissions: PermissionSet::of([Permission::OrganizationRead]),
                limits: limits.clone(),
            },
            Scope::Member { .. } => unreachable!("only called for service keys"),
        }
    }

    /// The organisation of an organisation-level request: `X-Organization-Id` if given, else
    /// the organisation of `X-Tenant-Id`, else the credential's own (a session's default).
    pub fn organization(
        &self,
        organization: Option<Uuid>,
        tenant: Option<Uuid>,
    ) -> Result<OrgAccess, AuthError> {
        match &self.scope {
            Scope::Service {
                organization_id,
                all_workspaces,
                workspace_id,
                ..
            } => {
                let foreign_org = organization.is_some_and(|o| o != *organization_id);
                let foreign_tenant = tenant.is_some_and(|t| match workspace_id {
                    Some(own) => t != *own,
                    None => !all_workspaces.contains(&t),
                });
                if foreign_org || foreign_tenant {
                    return Err(no_access());
                }
                Ok(self.service_org_access())
            }
            Scope::Member {
                orgs,
                default_workspace,
            } => {
                let grant = if let Some(org) = organization {
                    orgs.iter().find(|g| g.organization_id == org)
                } else if let Some(tenant) = tenant {
                    orgs.iter().find(|g| g.role_in(tenant).is_some())
                } else {
                    default_workspace
                        .and_then(|id| orgs.iter().find(|g| g.role_in(id).is_some()))
                        .or_else(|| orgs.first())
                };
                grant.map(member_org_access).ok_or_else(no_access)
            }
        }
    }
}

fn member_org_access(grant: &OrgGrant) -> OrgAccess {
    OrgAccess {
        organization_id: grant.organization_id,
        org_role: Some(grant.org_role),
        permissions: grant.org_role.permissions(),
        limits: grant.limits.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid, Uuid, Uuid) {
        (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        )
    }

    fn service(org: Uuid, workspace: Option<Uuid>, all: Vec<Uuid>) -> Principal {
        Principal {
            identity: Identity::ServiceAccount {
                api_key_id: Uuid::now_v7(),
            },
            credential: Credential::ApiKey {
                id: Uuid::now_v7(),
                kind: KeyKind::Service,
            },
            scope: Scope::Service {
                organization_id: org,
                workspace_id: workspace,
                role: Role::WorkspaceAdmin,
                all_workspaces: all,
                limits: OrgLimits::default(),
            },
            expires_at: None,
        }
    }

    fn member(grant: OrgGrant, default_workspace: Option<Uuid>) -> Principal {
        Principal {
            identity: Identity::User {
                user_id: Uuid::now_v7(),
                email: "a@example.com".into(),
                full_name: String::new(),
            },
            credential: Credential::ApiKey {
                id: Uuid::now_v7(),
                kind: KeyKind::Pat,
            },
            scope: Scope::Member {
                orgs: vec![grant],
                default_workspace,
            },
            expires_at: None,
        }
    }

    #[test]
    fn personal_token_uses_its_default_workspace_or_a_member_one() {
        let (org, a, b, foreign) = ids();
        let p = member(
            OrgGrant {
                organization_id: org,
                org_role: Role::OrganizationUser,
                workspaces: vec![(a, Role::WorkspaceEditor), (b, Role::WorkspaceViewer)],
                all_workspaces: vec![a, b],
                limits: OrgLimits::default(),
            },
            Some(b),
        );
        let default = p.workspace(None).expect("default");
        assert_eq!(default.workspace_id, b);
        assert_eq!(default.workspace_role, Role::WorkspaceViewer);
        assert!(!default.permissions.contains(Permission::RunsCreate));
        assert!(
            default
                .permissions
                .contains(Permission::OrganizationPatsCreate)
        );

        let chosen = p.workspace(Some(a)).expect("member workspace");
        assert_eq!(chosen.workspace_role, Role::WorkspaceEditor);
        assert!(chosen.permissions.contains(Permission::RunsCreate));

        let refused = p.workspace(Some(foreign)).expect_err("foreign");
        assert_eq!(refused, no_access());
    }

    #[test]
    fn organisation_admins_are_admin_in_every_workspace_of_their_org_only() {
        let (org, a, b, foreign) = ids();
        let p = member(
            OrgGrant {
                organization_id: org,
                org_role: Role::OrganizationAdmin,
                workspaces: vec![],
                all_workspaces: vec![a, b],
                limits: OrgLimits::default(),
            },
            None,
        );
        assert_eq!(p.workspace(None).expect("first").workspace_id, a);
        let b_access = p.workspace(Some(b)).expect("b");
        assert_eq!(b_access.workspace_role, Role::WorkspaceAdmin);
        assert!(
            b_access
                .permissions
                .contains(Permission::OrganizationManage)
        );
        assert_eq!(p.workspace(Some(foreign)), Err(no_access()));
    }

    #[test]
    fn workspace_scoped_service_key_accepts_only_its_workspace() {
        let (org, own, other, _) = ids();
        let p = service(org, Some(own), vec![own, other]);
        assert_eq!(p.workspace(None).expect("own").workspace_id, own);
        assert_eq!(p.workspace(Some(own)).expect("own").workspace_id, own);
        assert_eq!(p.workspace(Some(other)), Err(no_access()));
    }

    #[test]
    fn org_scoped_service_key_requires_a_workspace_of_its_org() {
        let (org, a, _, foreign) = ids();
        let p = service(org, None, vec![a]);
        assert_eq!(
            p.workspace(None),
            Err(AuthError::OrgScopedKeyRequiresWorkspace)
        );
        assert_eq!(p.workspace(Some(a)).expect("a").workspace_id, a);
        assert_eq!(p.workspace(Some(foreign)), Err(no_access()));
        // Organisation-level requests need no workspace.
        let org_access = p.organization(None, None).expect("org");
        assert_eq!(org_access.organization_id, org);
        assert!(
            !org_access
                .permissions
                .contains(Permission::OrganizationManage)
        );
    }
}
