//! Memberships: a user in an organisation (`org_members`, whose id is the API's identity id)
//! and in a workspace (`workspace_members`). Roles are stored by name; the auth crate maps them
//! to permissions.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

/// A member as the membership endpoints list them.
#[derive(Debug, Clone)]
pub struct Member {
    /// The membership id (`identity_id`).
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

pub async fn add_to_org(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<Uuid, DbError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO org_members (id, organization_id, user_id, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role = org_members.role
         RETURNING id",
        Uuid::now_v7(),
        organization_id,
        user_id,
        role
    )
    .fetch_one(db)
    .await?)
}

pub async fn list_org(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> Result<Vec<Member>, DbError> {
    Ok(sqlx::query_as!(
        Member,
        "SELECT m.id, m.user_id, u.email, u.full_name, m.role, m.created_at
         FROM org_members m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = $1 ORDER BY m.created_at, m.id",
        organization_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn get_org_member(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    identity_id: Uuid,
) -> Result<Option<Member>, DbError> {
    Ok(sqlx::query_as!(
        Member,
        "SELECT m.id, m.user_id, u.email, u.full_name, m.role, m.created_at
         FROM org_members m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = $1 AND m.id = $2",
        organization_id,
        identity_id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn org_role_of(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT role FROM org_members WHERE organization_id = $1 AND user_id = $2",
        organization_id,
        user_id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn set_org_role(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    identity_id: Uuid,
    role: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE org_members SET role = $3 WHERE organization_id = $1 AND id = $2",
        organization_id,
        identity_id,
        role
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many Organization Admins the organisation has (the last one may not leave).
pub async fn count_org_admins(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM org_members
           WHERE organization_id = $1 AND role = 'ORGANIZATION_ADMIN'"#,
        organization_id
    )
    .fetch_one(db)
    .await?)
}

/// Removes a user from the organisation, its workspaces, and revokes their personal tokens
/// there. Returns the user id, or `None` when there was no such membership.
pub async fn remove_from_org(
    db: &mut sqlx::PgConnection,
    organization_id: Uuid,
    identity_id: Uuid,
) -> Result<Option<Uuid>, DbError> {
    let Some(user_id) = sqlx::query_scalar!(
        "DELETE FROM org_members WHERE organization_id = $1 AND id = $2 RETURNING user_id",
        organization_id,
        identity_id
    )
    .fetch_optional(&mut *db)
    .await?
    else {
        return Ok(None);
    };
    sqlx::query!(
        "DELETE FROM workspace_members wm USING workspaces w
         WHERE wm.workspace_id = w.id AND w.organization_id = $1 AND wm.user_id = $2",
        organization_id,
        user_id
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "UPDATE api_keys SET revoked_at = now()
         WHERE organization_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        organization_id,
        user_id
    )
    .execute(&mut *db)
    .await?;
    Ok(Some(user_id))
}

/// Adds a user to a workspace, or changes their role there.
pub async fn put_workspace_member(
    db: impl PgExecutor<'_>,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<Uuid, DbError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO workspace_members (id, workspace_id, user_id, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role
         RETURNING id",
        Uuid::now_v7(),
        workspace_id,
        user_id,
        role
    )
    .fetch_one(db)
    .await?)
}

pub async fn list_workspace(
    db: impl PgExecutor<'_>,
    workspace_id: Uuid,
) -> Result<Vec<Member>, DbError> {
    Ok(sqlx::query_as!(
        Member,
        "SELECT m.id, m.user_id, u.email, u.full_name, m.role, m.created_at
         FROM workspace_members m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 ORDER BY m.created_at, m.id",
        workspace_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn set_workspace_role(
    db: impl PgExecutor<'_>,
    workspace_id: Uuid,
    identity_id: Uuid,
    role: &str,
) -> Result<Option<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "UPDATE workspace_members SET role = $3 WHERE workspace_id = $1 AND id = $2
         RETURNING user_id",
        workspace_id,
        identity_id,
        role
    )
    .fetch_optional(db)
    .await?)
}

pub async fn remove_from_workspace(
    db: impl PgExecutor<'_>,
    workspace_id: Uuid,
    identity_id: Uuid,
) -> Result<Option<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "DELETE FROM workspace_members WHERE workspace_id = $1 AND id = $2 RETURNING user_id",
        workspace_id,
        identity_id
    )
    .fetch_optional(db)
    .await?)
}

/// One organisation a user belongs to, with their roles in it: what authentication needs.
#[derive(Debug, Clone)]
pub struct OrgGrantRow {
    pub organization_id: Uuid,
    pub org_role: String,
}

#[derive(Debug, Clone)]
pub struct WorkspaceGrantRow {
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub role: String,
}

pub async fn org_grants(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<OrgGrantRow>, DbError> {
    Ok(sqlx::query_as!(
        OrgGrantRow,
        "SELECT organization_id, role AS org_role FROM org_members WHERE user_id = $1
         ORDER BY created_at",
        user_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn workspace_grants(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<WorkspaceGrantRow>, DbError> {
    Ok(sqlx::query_as!(
        WorkspaceGrantRow,
        "SELECT w.organization_id, m.workspace_id, m.role
         FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 ORDER BY m.created_at",
        user_id
    )
    .fetch_all(db)
    .await?)
}
