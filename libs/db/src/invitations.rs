//! `invitations`: an emailed (or handed-over) token that makes its bearer a member.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub org_role: String,
    pub workspace_ids: Vec<Uuid>,
    pub workspace_role: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct NewInvitation<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: &'a str,
    pub org_role: &'a str,
    pub workspace_ids: &'a [Uuid],
    pub workspace_role: &'a str,
    pub token_hash: &'a [u8],
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(db: impl PgExecutor<'_>, new: &NewInvitation<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO invitations
            (id, organization_id, email, org_role, workspace_ids, workspace_role, token_hash,
             invited_by, expires_at)
         VALUES ($1, $2, lower($3), $4, $5, $6, $7, $8, $9)",
        new.id,
        new.organization_id,
        new.email,
        new.org_role,
        new.workspace_ids,
        new.workspace_role,
        new.token_hash,
        new.invited_by,
        new.expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Open (neither accepted, revoked nor expired) invitations of an organisation.
pub async fn list_open(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> Result<Vec<Invitation>, DbError> {
    Ok(sqlx::query_as!(
        Invitation,
        "SELECT id, organization_id, email, org_role, workspace_ids, workspace_role, invited_by,
                created_at, expires_at
         FROM invitations
         WHERE organization_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
           AND expires_at > now()
         ORDER BY created_at, id",
        organization_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn revoke(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE invitations SET revoked_at = now()
         WHERE organization_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        organization_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the open invitation with this token hash accepted and returns it; `None` when the
/// token is unknown, used, revoked or expired.
pub async fn accept(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<Invitation>, DbError> {
    Ok(sqlx::query_as!(
        Invitation,
        "UPDATE invitations SET accepted_at = now()
         WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL
           AND expires_at > now()
         RETURNING id, organization_id, email, org_role, workspace_ids, workspace_role,
                   invited_by, created_at, expires_at",
        token_hash
    )
    .fetch_optional(db)
    .await?)
}

/// Revokes the open invitation for `email`, if any (a new one replaces it).
pub async fn revoke_open_for(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    email: &str,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE invitations SET revoked_at = now()
         WHERE organization_id = $1 AND email = lower($2)
           AND accepted_at IS NULL AND revoked_at IS NULL",
        organization_id,
        email
    )
    .execute(db)
    .await?;
    Ok(())
}
