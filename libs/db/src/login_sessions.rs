//! `login_sessions`: one row per sign-in, named by the session token, so that logging out,
//! changing the password or an admin's revocation ends it before it expires.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone)]
pub struct LoginSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub method: String,
    pub user_agent: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct NewLoginSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub method: &'a str,
    pub user_agent: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(db: impl PgExecutor<'_>, new: &NewLoginSession<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO login_sessions (id, user_id, method, user_agent, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        new.id,
        new.user_id,
        new.method,
        new.user_agent,
        new.expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The session if it is neither revoked nor expired.
pub async fn live(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<LoginSession>, DbError> {
    Ok(sqlx::query_as!(
        LoginSession,
        "SELECT id, user_id, method, user_agent, created_at, expires_at FROM login_sessions
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()",
        id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn list_live(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<LoginSession>, DbError> {
    Ok(sqlx::query_as!(
        LoginSession,
        "SELECT id, user_id, method, user_agent, created_at, expires_at FROM login_sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
         ORDER BY created_at DESC",
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// Revokes one of the user's sessions; `false` when there is no such live session.
pub async fn revoke(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE login_sessions SET revoked_at = now()
         WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL",
        user_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every session of the user but `keep`, returning the ids revoked.
pub async fn revoke_all_but(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "UPDATE login_sessions SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)
         RETURNING id",
        user_id,
        keep
    )
    .fetch_all(db)
    .await?)
}

/// Ids of the user's live sessions (for cache invalidation).
pub async fn live_ids(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM login_sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()",
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// Ids of the live sessions of an organisation's members (for cache invalidation).
pub async fn live_ids_of_organization(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT s.id FROM login_sessions s JOIN org_members m ON m.user_id = s.user_id
         WHERE m.organization_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
        organization_id
    )
    .fetch_all(db)
    .await?)
}
