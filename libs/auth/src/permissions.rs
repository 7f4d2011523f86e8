//! The roles and the permission strings (LangSmith's), and the one mapping between them.
//!
//! Organisation roles grant organisation permissions; an Organization Admin is also implicitly
//! workspace Admin everywhere in its organisation. Workspace roles grant workspace permissions:
//! Admin all of them, Editor all but `workspaces:manage` and `runs:delete`, Viewer every `:read`.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! permissions {
    ($($variant:ident = $text:literal),+ $(,)?) => {
        /// One permission string of the spec.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Permission { $($variant),+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $text),+ }
            }
        }

        /// Marker types for [`crate::RequirePermission`], one per permission.
        pub mod perm {
            $(
                #[derive(Debug, Clone, Copy)]
                pub struct $variant;
                impl super::PermissionMarker for $variant {
                    const PERMISSION: super::Permission = super::Permission::$variant;
                }
            )+
        }
    };
}

/// Names a permission at the type level, for the `RequirePermission` extractor.
pub trait PermissionMarker: Send + Sync + 'static {
    const PERMISSION: Permission;
}

permissions! {
    OrganizationManage = "organization:manage",
    OrganizationRead = "organization:read",
    OrganizationPatsCreate = "organization:pats:create",
    WorkspacesManage = "workspaces:manage",
    WorkspacesRead = "workspaces:read",
    ProjectsCreate = "projects:create",
    ProjectsRead = "projects:read",
    ProjectsUpdate = "projects:update",
    ProjectsDelete = "projects:delete",
    RunsCreate = "runs:create",
    RunsRead = "runs:read",
    RunsDelete = "runs:delete",
    RunsShare = "runs:share",
    DatasetsCreate = "datasets:create",
    DatasetsRead = "datasets:read",
    DatasetsUpdate = "datasets:update",
    DatasetsDelete = "datasets:delete",
    DatasetsShare = "datasets:share",
    PromptsCreate = "prompts:create",
    PromptsRead = "prompts:read",
    PromptsUpdate = "prompts:update",
    PromptsDelete = "prompts:delete",
    FeedbackCreate = "feedback:create",
    FeedbackRead = "feedback:read",
    FeedbackUpdate = "feedback:update",
    FeedbackDelete = "feedback:delete",
    RulesCreate = "rules:create",
    RulesRead = "rules:read",
    RulesUpdate = "rules:update",
    RulesDelete = "rules:delete",
    AnnotationQueuesCreate = "annotation-queues:create",
    AnnotationQueuesRead = "annotation-queues:read",
    AnnotationQueuesUpdate = "annotation-queues:update",
    AnnotationQueuesDelete = "annotation-queues:delete",
    ChartsCreate = "charts:create",
    ChartsRead = "charts:read",
    ChartsUpdate = "charts:update",
    ChartsDelete = "charts:delete",
    DeploymentsCreate = "deployments:create",
    DeploymentsRead = "deployments:read",
    DeploymentsUpdate = "deployments:update",
    DeploymentsDelete = "deployments:delete",
}

impl Permission {
    fn is_organization(self) -> bool {
        self.as_str().starts_with("organization:")
    }

    fn is_read(self) -> bool {
        self.as_str().ends_with(":read")
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn of(permissions: impl IntoIterator<Item = Permission>) -> Self {
        permissions
            .into_iter()
            .fold(Self::EMPTY, |set, p| set.with(p))
    }

    #[must_use]
    pub fn with(self, permission: Permission) -> Self {
        PermissionSet(self.0 | (1 << permission as u8))
    }

    #[must_use]
    pub fn union(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 | other.0)
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & (1 << permission as u8) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// The permission strings, in the spec's order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }
}

/// A role of the spec. Organisation roles and workspace roles share one id space so that the
/// membership endpoints can take a `role_id` of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    OrganizationAdmin,
    OrganizationUser,
    OrganizationViewer,
    WorkspaceAdmin,
    WorkspaceEditor,
    WorkspaceViewer,
}

/// Where a role applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessScope {
    Organization,
    Workspace,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::OrganizationAdmin,
        Role::OrganizationUser,
        Role::OrganizationViewer,
        Role::WorkspaceAdmin,
        Role::WorkspaceEditor,
        Role::WorkspaceViewer,
    ];

    /// The name stored in Postgres and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::OrganizationAdmin => "ORGANIZATION_ADMIN",
            Role::OrganizationUser => "ORGANIZATION_USER",
            Role::OrganizationViewer => "ORGANIZATION_VIEWER",
            Role::WorkspaceAdmin => "WORKSPACE_ADMIN",
            Role::WorkspaceEditor => "WORKSPACE_EDITOR",
            Role::WorkspaceViewer => "WORKSPACE_VIEWER",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The display name of the spec (`Organization Admin`, `Editor`, …).
    pub fn display_name(self) -> &'static str {
        match self {
            Role::OrganizationAdmin => "Organization Admin",
            Role::OrganizationUser => "Organization User",
            Role::OrganizationViewer => "Organization Viewer",
            Role::WorkspaceAdmin => "Admin",
            Role::WorkspaceEditor => "Editor",
            Role::WorkspaceViewer => "Viewer",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::OrganizationAdmin => {
                "Manages the organisation, its workspaces and members; Admin in every workspace"
            }
            Role::OrganizationUser => "Reads the organisation and creates personal access tokens",
            Role::OrganizationViewer => "Reads the organisation",
            Role::WorkspaceAdmin => "Every workspace permission",
            Role::WorkspaceEditor => "Everything except managing the workspace and deleting runs",
            Role::WorkspaceViewer => "Read-only access to the workspace",
        }
    }

    pub fn access_scope(self) -> AccessScope {
        match self {
            Role::OrganizationAdmin | Role::OrganizationUser | Role::OrganizationViewer => {
                AccessScope::Organization
            }
            Role::WorkspaceAdmin | Role::WorkspaceEditor | Role::WorkspaceViewer => {
                AccessScope::Workspace
            }
        }
    }

    /// A fixed id per system role, stable across installations, so clients may keep it.
    pub fn id(self) -> Uuid {
        let n = match self {
            Role::OrganizationAdmin => 1,
            Role::OrganizationUser => 2,
            Role::OrganizationViewer => 3,
            Role::WorkspaceAdmin => 4,
            Role::WorkspaceEditor => 5,
            Role::WorkspaceViewer => 6,
        };
        Uuid::from_u128(0x00000000_0000_4000_8000_5e1f00000000 | n)
    }

    pub fn from_id(id: Uuid) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.id() == id)
    }

    /// What this role may do.
    pub fn permissions(self) -> PermissionSet {
        let all = Permission::ALL.iter().copied();
        match self {
            Role::OrganizationAdmin => PermissionSet::of(all.filter(|p| p.is_organization())),
            Role::OrganizationUser => PermissionSet::of([
                Permission::OrganizationRead,
                Permission::OrganizationPatsCreate,
            ]),
            Role::OrganizationViewer => PermissionSet::of([Permission::OrganizationRead]),
            Role::WorkspaceAdmin => PermissionSet::of(all.filter(|p| !p.is_organization())),
            Role::WorkspaceEditor => PermissionSet::of(all.filter(|p| {
                !p.is_organization()
                    && !matches!(p, Permission::WorkspacesManage | Permission::RunsDelete)
            })),
            Role::WorkspaceViewer => {
                PermissionSet::of(all.filter(|p| !p.is_organization() && p.is_read()))
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_lacks_exactly_workspace_management_and_run_deletion() {
        let admin = Role::WorkspaceAdmin.permissions();
        let editor = Role::WorkspaceEditor.permissions();
        let missing: Vec<_> = admin.iter().filter(|p| !editor.contains(*p)).collect();
        assert_eq!(
            missing,
            vec![Permission::WorkspacesManage, Permission::RunsDelete]
        );
    }

    #[test]
    fn viewer_only_reads() {
        let viewer = Role::WorkspaceViewer.permissions();
        assert!(viewer.contains(Permission::RunsRead));
        assert!(viewer.contains(Permission::WorkspacesRead));
        assert!(!viewer.contains(Permission::RunsCreate));
        assert!(viewer.iter().all(|p| p.as_str().ends_with(":read")));
    }

    #[test]
    fn organisation_roles_hold_no_workspace_permissions() {
        assert_eq!(
            Role::OrganizationAdmin.permissions().names(),
            vec![
                "organization:manage",
                "organization:read",
                "organization:pats:create"
            ]
        );
        assert!(
            !Role::OrganizationViewer
                .permissions()
                .contains(Permission::OrganizationPatsCreate)
        );
    }

    #[test]
    fn role_ids_and_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_id(role.id()), Some(role));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Permission::ALL.len(), 42);
        assert!(Permission::ALL.len() <= 64, "PermissionSet is a u64");
    }
}
