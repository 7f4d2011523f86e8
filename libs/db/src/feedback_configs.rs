//! `feedback_configs`: how each feedback key is scored. Deleting is soft, so a
//! listing by the key returns nothing afterwards; creating it again revives the row.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FeedbackConfig {
    pub tenant_id: Uuid,
    pub feedback_key: String,
    pub config: Value,
    pub is_lower_score_better: Option<bool>,
    pub modified_at: DateTime<Utc>,
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "SELECT tenant_id, feedback_key, config, is_lower_score_better, modified_at
         FROM feedback_configs WHERE tenant_id = $1 AND feedback_key = $2 AND deleted_at IS NULL",
        tenant_id,
        key
    )
    .fetch_optional(db)
    .await?)
}

/// Creates the key's config, or revives a deleted one. `None` when a live config already
/// exists (the caller compares it).
pub async fn create(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
    config: &Value,
    is_lower_score_better: Option<bool>,
) -> Result<Option<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "INSERT INTO feedback_configs (tenant_id, feedback_key, config, is_lower_score_better)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, feedback_key) DO UPDATE SET
           config = EXCLUDED.config, is_lower_score_better = EXCLUDED.is_lower_score_better,
           modified_at = now(), deleted_at = NULL
         WHERE feedback_configs.deleted_at IS NOT NULL
         RETURNING tenant_id, feedback_key, config, is_lower_score_better, modified_at",
        tenant_id,
        key,
        config,
        is_lower_score_better
    )
    .fetch_optional(db)
    .await?)
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    keys: &[String],
    name_contains: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "SELECT tenant_id, feedback_key, config, is_lower_score_better, modified_at
         FROM feedback_configs
         WHERE tenant_id = $1 AND deleted_at IS NULL
           AND (cardinality($2::text[]) = 0 OR feedback_key = ANY($2))
           AND ($3::text IS NULL OR strpos(lower(feedback_key), lower($3)) > 0)
         ORDER BY feedback_key OFFSET $4 LIMIT $5",
        tenant_id,
        keys,
        name_contains,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}

pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
    config: Option<&Value>,
    is_lower_score_better: Option<bool>,
) -> Result<Option<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "UPDATE feedback_configs SET config = COALESCE($3, config),
           is_lower_score_better = COALESCE($4, is_lower_score_better), modified_at = now()
         WHERE tenant_id = $1 AND feedback_key = $2 AND deleted_at IS NULL
         RETURNING tenant_id, feedback_key, config, is_lower_score_better, modified_at",
        tenant_id,
        key,
        config,
        is_lower_score_better
    )
    .fetch_optional(db)
    .await?)
}

pub async fn delete(db: impl PgExecutor<'_>, tenant_id: Uuid, key: &str) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "UPDATE feedback_configs SET deleted_at = now()
         WHERE tenant_id = $1 AND feedback_key = $2 AND deleted_at IS NULL",
        tenant_id,
        key
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
