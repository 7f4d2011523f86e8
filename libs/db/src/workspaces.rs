//! `workspaces` (the API's tenants). Every lookup is scoped by organisation, so an id from
//! another organisation reads exactly like an unknown one.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Workspace {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub display_name: String,
    pub tenant_handle: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn create(
    db: impl PgExecutor<'_>,
    id: Uuid,
    organization_id: Uuid,
    display_name: &str,
) -> Result<Workspace, DbError> {
    // With its `default` project (every workspace has at least one).
    Ok(sqlx::query_as!(
        Workspace,
        r#"WITH workspace AS (
             INSERT INTO workspaces (id, organization_id, display_name) VALUES ($1, $2, $3)
             RETURNING id, organization_id, display_name, tenant_handle, created_at
           ), project AS (
             INSERT INTO tracer_sessions (id, tenant_id, name)
             SELECT $4, id, 'default' FROM workspace
           )
           SELECT id AS "id!", organization_id AS "organization_id!", display_name AS "display_name!",
                  tenant_handle, created_at AS "created_at!" FROM workspace"#,
        id,
        organization_id,
        display_name,
        Uuid::now_v7()
    )
    .fetch_one(db)
    .await?)
}

/// Every workspace of the installation (for the worker's periodic sweeps).
pub async fn all_ids(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!("SELECT id FROM workspaces ORDER BY id")
        .fetch_all(db)
        .await?)
}

/// The organisation a workspace belongs to.
pub async fn organization_of(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Uuid>, DbError> {
    Ok(
        sqlx::query_scalar!("SELECT organization_id FROM workspaces WHERE id = $1", id)
            .fetch_optional(db)
            .await?,
    )
}

pub async fn get(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<Workspace>, DbError> {
    Ok(sqlx::query_as!(
        Workspace,
        "SELECT id, organization_id, display_name, tenant_handle, created_at
         FROM workspaces WHERE organization_id = $1 AND id = $2",
        organization_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> Result<Vec<Workspace>, DbError> {
    Ok(sqlx::query_as!(
        Workspace,
        "SELECT id, organization_id, display_name, tenant_handle, created_at
         FROM workspaces WHERE organization_id = $1 ORDER BY created_at, id",
        organization_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn ids(db: impl PgExecutor<'_>, organization_id: Uuid) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM workspaces WHERE organization_id = $1 ORDER BY created_at, id",
        organization_id
    )
    .fetch_all(db)
    .await?)
}

/// Renames a workspace; `false` when there is no such workspace in the organisation.
pub async fn rename(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    display_name: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE workspaces SET display_name = $3 WHERE organization_id = $1 AND id = $2",
        organization_id,
        id,
        display_name
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a workspace with its memberships and keys; `false` when there is none.
pub async fn delete(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "DELETE FROM workspaces WHERE organization_id = $1 AND id = $2",
        organization_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
