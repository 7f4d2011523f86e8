//! `audit_log`: who did what to whom, for organisation admins.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub organization_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct NewAuditEntry<'a> {
    pub organization_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub details: serde_json::Value,
}

pub async fn record(db: impl PgExecutor<'_>, entry: &NewAuditEntry<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO audit_log
            (organization_id, workspace_id, actor_user_id, actor_api_key_id, action,
             target_type, target_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        entry.organization_id,
        entry.workspace_id,
        entry.actor_user_id,
        entry.actor_api_key_id,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.details
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    offset: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, DbError> {
    Ok(sqlx::query_as!(
        AuditEntry,
        r#"SELECT a.id, a.organization_id, a.workspace_id, a.actor_user_id,
                  u.email AS "actor_email?", a.actor_api_key_id, a.action, a.target_type,
                  a.target_id, a.details, a.created_at
           FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
           WHERE a.organization_id = $1
           ORDER BY a.id DESC OFFSET $2 LIMIT $3"#,
        organization_id,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}
