//! `organizations`: the top of the tenancy tree.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Organization {
    pub id: Uuid,
    pub display_name: String,
    pub pat_creation_disabled: bool,
    pub disable_public_sharing: bool,
    /// The operator's plan for the organisation: rate and usage limits over the stack's
    /// defaults (the auth crate's `OrgLimits`).
    pub limits: serde_json::Value,
    /// The organisation's own limits, which may only lower the plan's.
    pub tenant_limits: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn create(db: impl PgExecutor<'_>, id: Uuid, display_name: &str) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO organizations (id, display_name) VALUES ($1, $2)",
        id,
        display_name
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Organization>, DbError> {
    Ok(sqlx::query_as!(
        Organization,
        "SELECT id, display_name, pat_creation_disabled, disable_public_sharing, limits, tenant_limits, created_at
         FROM organizations WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await?)
}

/// The oldest organisation: where single sign-on provisions new users.
pub async fn first(db: impl PgExecutor<'_>) -> Result<Option<Organization>, DbError> {
    Ok(sqlx::query_as!(
        Organization,
        "SELECT id, display_name, pat_creation_disabled, disable_public_sharing, limits, tenant_limits, created_at
         FROM organizations ORDER BY created_at, id LIMIT 1"
    )
    .fetch_optional(db)
    .await?)
}

/// Fields of `PATCH /orgs/current/info`; `None` leaves a field unchanged.
#[derive(Debug, Default)]
pub struct InfoUpdate<'a> {
    pub display_name: Option<&'a str>,
    pub pat_creation_disabled: Option<bool>,
    pub disable_public_sharing: Option<bool>,
}

pub async fn update_info(
    db: impl PgExecutor<'_>,
    id: Uuid,
    update: &InfoUpdate<'_>,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE organizations SET
            display_name = COALESCE($2, display_name),
            pat_creation_disabled = COALESCE($3, pat_creation_disabled),
            disable_public_sharing = COALESCE($4, disable_public_sharing)
         WHERE id = $1",
        id,
        update.display_name,
        update.pat_creation_disabled,
        update.disable_public_sharing
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Sets the operator's plan limits; false when there is no such organisation.
pub async fn set_plan_limits(
    db: impl PgExecutor<'_>,
    id: Uuid,
    limits: &serde_json::Value,
) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE organizations SET limits = $2 WHERE id = $1",
        id,
        limits
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the organisation's own limits (already checked to be within its plan).
pub async fn set_tenant_limits(
    db: impl PgExecutor<'_>,
    id: Uuid,
    limits: &serde_json::Value,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE organizations SET tenant_limits = $2 WHERE id = $1",
        id,
        limits
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the organisation owning `workspace_id` allows public links.
pub async fn sharing_allowed(db: impl PgExecutor<'_>, workspace_id: Uuid) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT NOT o.disable_public_sharing AS \"allowed!\"
         FROM workspaces w JOIN organizations o ON o.id = w.organization_id
         WHERE w.id = $1",
        workspace_id
    )
    .fetch_optional(db)
    .await?
    .unwrap_or(false))
}

/// Withdraws every public link (shared runs and datasets) of the organisation's workspaces;
/// returns how many there were.
pub async fn unshare_all(db: &mut sqlx::PgConnection, id: Uuid) -> Result<u64, DbError> {
    let runs = sqlx::query!(
        "DELETE FROM run_shares WHERE tenant_id IN (SELECT id FROM workspaces WHERE organization_id = $1)",
        id
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    let datasets = sqlx::query!(
        "DELETE FROM dataset_shares WHERE tenant_id IN (SELECT id FROM workspaces WHERE organization_id = $1)",
        id
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    Ok(runs + datasets)
}
