//! `run_shares`: public links to traces. The token is the capability; a request
//! carrying it reads the shared run's trace and nothing else.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunShare {
    pub share_token: Uuid,
    pub tenant_id: Uuid,
    pub run_id: Uuid,
    pub trace_id: Uuid,
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
}

pub struct NewShare {
    pub share_token: Uuid,
    pub tenant_id: Uuid,
    pub run_id: Uuid,
    pub trace_id: Uuid,
    pub session_id: Uuid,
    pub created_by: Option<Uuid>,
}

/// Shares a run; a run already shared keeps its existing token, which is returned.
pub async fn share(db: impl PgExecutor<'_>, new: &NewShare) -> Result<RunShare, DbError> {
    Ok(sqlx::query_as!(
        RunShare,
        "INSERT INTO run_shares (share_token, tenant_id, run_id, trace_id, session_id, created_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, run_id) DO UPDATE SET run_id = EXCLUDED.run_id
         RETURNING share_token, tenant_id, run_id, trace_id, session_id, created_at",
        new.share_token,
        new.tenant_id,
        new.run_id,
        new.trace_id,
        new.session_id,
        new.created_by,
    )
    .fetch_one(db)
    .await?)
}

pub async fn of_run(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    run_id: Uuid,
) -> Result<Option<RunShare>, DbError> {
    Ok(sqlx::query_as!(
        RunShare,
        "SELECT share_token, tenant_id, run_id, trace_id, session_id, created_at
         FROM run_shares WHERE tenant_id = $1 AND run_id = $2",
        tenant_id,
        run_id
    )
    .fetch_optional(db)
    .await?)
}

/// The share behind a token, if its project still exists and its organisation allows public
/// links.
pub async fn by_token(db: impl PgExecutor<'_>, token: Uuid) -> Result<Option<RunShare>, DbError> {
    Ok(sqlx::query_as!(
        RunShare,
        "SELECT r.share_token, r.tenant_id, r.run_id, r.trace_id, r.session_id, r.created_at
         FROM run_shares r
         JOIN tracer_sessions s
           ON s.tenant_id = r.tenant_id AND s.id = r.session_id AND s.deleted_at IS NULL
         JOIN workspaces w ON w.id = r.tenant_id
         JOIN organizations o ON o.id = w.organization_id AND NOT o.disable_public_sharing
         WHERE r.share_token = $1",
        token
    )
    .fetch_optional(db)
    .await?)
}

/// Removes a run's link. False when it was not shared.
pub async fn unshare(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    run_id: Uuid,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM run_shares WHERE tenant_id = $1 AND run_id = $2",
        tenant_id,
        run_id
    )
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}
