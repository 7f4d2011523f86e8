//! `thread_shares`: public links to conversations. The token is the capability; a request
//! carrying it reads the traces of the shared thread and nothing else.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadShare {
    pub share_token: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub thread_id: String,
    pub created_at: DateTime<Utc>,
}

/// Shares a thread of a project; a thread already shared keeps its token, which is returned.
pub async fn share(
    db: impl PgExecutor<'_>,
    share_token: Uuid,
    tenant_id: Uuid,
    session_id: Uuid,
    thread_id: &str,
    created_by: Option<Uuid>,
) -> Result<ThreadShare, DbError> {
    Ok(sqlx::query_as!(
        ThreadShare,
        "INSERT INTO thread_shares (share_token, tenant_id, session_id, thread_id, created_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, session_id, thread_id) DO UPDATE SET thread_id = EXCLUDED.thread_id
         RETURNING share_token, tenant_id, session_id, thread_id, created_at",
        share_token,
        tenant_id,
        session_id,
        thread_id,
        created_by,
    )
    .fetch_one(db)
    .await?)
}

pub async fn of_thread(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    session_id: Uuid,
    thread_id: &str,
) -> Result<Option<ThreadShare>, DbError> {
    Ok(sqlx::query_as!(
        ThreadShare,
        "SELECT share_token, tenant_id, session_id, thread_id, created_at FROM thread_shares
         WHERE tenant_id = $1 AND session_id = $2 AND thread_id = $3",
        tenant_id,
        session_id,
        thread_id
    )
    .fetch_optional(db)
    .await?)
}

/// The share behind a token, if its project still exists and its organisation allows public
/// links.
pub async fn by_token(
    db: impl PgExecutor<'_>,
    token: Uuid,
) -> Result<Option<ThreadShare>, DbError> {
    Ok(sqlx::query_as!(
        ThreadShare,
        "SELECT t.share_token, t.tenant_id, t.session_id, t.thread_id, t.created_at
         FROM thread_shares t
         JOIN tracer_sessions s
           ON s.tenant_id = t.tenant_id AND s.id = t.session_id AND s.deleted_at IS NULL
         JOIN workspaces w ON w.id = t.tenant_id
         JOIN organizations o ON o.id = w.organization_id AND NOT o.disable_public_sharing
         WHERE t.share_token = $1",
        token
    )
    .fetch_optional(db)
    .await?)
}

/// Removes a thread's link; removing one that does not exist is fine.
pub async fn unshare(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    session_id: Uuid,
    thread_id: &str,
) -> Result<(), DbError> {
    sqlx::query!(
        "DELETE FROM thread_shares WHERE tenant_id = $1 AND session_id = $2 AND thread_id = $3",
        tenant_id,
        session_id,
        thread_id
    )
    .execute(db)
    .await?;
    Ok(())
}
