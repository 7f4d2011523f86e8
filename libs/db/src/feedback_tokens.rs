//! `feedback_tokens`: presigned feedback. The token id is the capability: whoever
//! holds it may leave feedback under one key on one run until it expires.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FeedbackToken {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub run_id: Uuid,
    pub feedback_key: String,
    pub feedback_config: Option<Value>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn create(
    db: impl PgExecutor<'_>,
    token: &FeedbackToken,
) -> Result<FeedbackToken, DbError> {
    Ok(sqlx::query_as!(
        FeedbackToken,
        "INSERT INTO feedback_tokens (id, tenant_id, run_id, feedback_key, feedback_config, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, tenant_id, run_id, feedback_key, feedback_config, expires_at, created_at",
        token.id,
        token.tenant_id,
        token.run_id,
        token.feedback_key,
        token.feedback_config,
        token.expires_at
    )
    .fetch_one(db)
    .await?)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    run_id: Uuid,
    offset: i64,
    limit: i64,
) -> Result<Vec<FeedbackToken>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackToken,
        "SELECT id, tenant_id, run_id, feedback_key, feedback_config, expires_at, created_at
         FROM feedback_tokens WHERE tenant_id = $1 AND run_id = $2
         ORDER BY created_at, id OFFSET $3 LIMIT $4",
        tenant_id,
        run_id,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// A token by its id, whatever its workspace (the id is the capability).
pub async fn by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<FeedbackToken>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackToken,
        "SELECT id, tenant_id, run_id, feedback_key, feedback_config, expires_at, created_at
         FROM feedback_tokens WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Counts one submission through token `id`, unless it already recorded `cap`: false then.
pub async fn count_submission(
    db: impl PgExecutor<'_>,
    id: Uuid,
    cap: u32,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "UPDATE feedback_tokens SET submissions = submissions + 1 WHERE id = $1 AND submissions < $2",
        id,
        i32::try_from(cap).unwrap_or(i32::MAX)
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
