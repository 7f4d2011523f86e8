//! `feedback_configs`: how each feedback key is scored. A key may hold several
//! configurations: its first (feedback that names no configuration is checked against it),
//! others added next to it, and at most one enforced configuration, which takes precedence.
//! Deleting is soft; a key whose configurations are all deleted starts afresh.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FeedbackConfig {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub feedback_key: String,
    pub config: Value,
    pub is_lower_score_better: Option<bool>,
    pub is_enforced: bool,
    pub is_first: bool,
    pub modified_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The configuration feedback of `key` is checked against: the enforced one, else the first,
/// else the most recently modified.
pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "SELECT id, tenant_id, feedback_key, config, is_lower_score_better, is_enforced, is_first,
                modified_at, deleted_at
         FROM feedback_configs WHERE tenant_id = $1 AND feedback_key = $2 AND deleted_at IS NULL
         ORDER BY is_enforced DESC, is_first DESC, modified_at DESC LIMIT 1",
        tenant_id,
        key
    )
    .fetch_optional(db)
    .await?)
}

pub async fn get_by_id(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "SELECT id, tenant_id, feedback_key, config, is_lower_score_better, is_enforced, is_first,
                modified_at, deleted_at
         FROM feedback_configs WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Every live configuration of `key`, the first one first.
pub async fn of_key(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
) -> Result<Vec<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "SELECT id, tenant_id, feedback_key, config, is_lower_score_better, is_enforced, is_first,
                modified_at, deleted_at
         FROM feedback_configs WHERE tenant_id = $1 AND feedback_key = $2 AND deleted_at IS NULL
         ORDER BY is_first DESC, created_at, id",
        tenant_id,
        key
    )
    .fetch_all(db)
    .await?)
}

/// What a new configuration holds.
#[derive(Debug, Clone)]
pub struct NewConfig<'a> {
    pub key: &'a str,
    pub config: &'a Value,
    pub is_lower_score_better: Option<bool>,
    pub is_enforced: bool,
    /// The key's first configuration (it has no live one yet).
    pub is_first: bool,
}

/// Adds a configuration; a second first or enforced configuration of the key (a racing
/// create) is a unique violation.
pub async fn insert(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    new: &NewConfig<'_>,
) -> Result<FeedbackConfig, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        "INSERT INTO feedback_configs (id, tenant_id, feedback_key, config, is_lower_score_better,
                                       is_enforced, is_first)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, tenant_id, feedback_key, config, is_lower_score_better, is_enforced,
                   is_first, modified_at, deleted_at",
        Uuid::now_v7(),
        tenant_id,
        new.key,
        new.config,
        new.is_lower_score_better,
        new.is_enforced,
        new.is_first
    )
    .fetch_one(db)
    .await?)
}

/// Creates the key's first configuration unless it has one; `None` when it does.
pub async fn create(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
    config: &Value,
    is_lower_score_better: Option<bool>,
) -> Result<Option<FeedbackConfig>, DbError> {
    match insert(
        db,
        tenant_id,
        &NewConfig {
            key,
            config,
            is_lower_score_better,
            is_enforced: false,
            is_first: true,
        },
    )
    .await
    {
        Ok(created) => Ok(Some(created)),
        Err(e) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Which configurations a listing returns.
#[derive(Debug, Clone, Default)]
pub struct ConfigFilter<'a> {
    pub keys: &'a [String],
    pub name_contains: Option<&'a str>,
    /// Every configuration, deleted ones included, instead of one per key.
    pub include_all: bool,
    pub is_enforced: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &ConfigFilter<'_>,
) -> Result<Vec<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        r#"SELECT id AS "id!", tenant_id AS "tenant_id!", feedback_key AS "feedback_key!",
                  config AS "config!", is_lower_score_better, is_enforced AS "is_enforced!",
                  is_first AS "is_first!", modified_at AS "modified_at!", deleted_at
           FROM (
             SELECT c.*, row_number() OVER (
                      PARTITION BY c.feedback_key
                      ORDER BY c.is_enforced DESC, c.is_first DESC, c.modified_at DESC) AS rank
             FROM feedback_configs c
             WHERE c.tenant_id = $1 AND ($4 OR c.deleted_at IS NULL)
               AND (cardinality($2::text[]) = 0 OR c.feedback_key = ANY($2))
               AND ($3::text IS NULL OR strpos(lower(c.feedback_key), lower($3)) > 0)
               AND ($5::boolean IS NULL OR c.is_enforced = $5)
           ) ranked
           WHERE $4 OR rank = 1
           ORDER BY feedback_key, is_first DESC, created_at, id OFFSET $6 LIMIT $7"#,
        tenant_id,
        filter.keys,
        filter.name_contains,
        filter.include_all,
        filter.is_enforced,
        filter.offset,
        filter.limit
    )
    .fetch_all(db)
    .await?)
}

/// Replaces one configuration's config (when given); the direction (`is_lower_score_better`)
/// is the key's, so it changes on every configuration of the key.
pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    config: Option<&Value>,
    is_lower_score_better: Option<bool>,
) -> Result<Option<FeedbackConfig>, DbError> {
    Ok(sqlx::query_as!(
        FeedbackConfig,
        r#"WITH target AS (
             UPDATE feedback_configs SET config = COALESCE($3, config), modified_at = now()
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL
             RETURNING feedback_key
           ), direction AS (
             UPDATE feedback_configs c SET is_lower_score_better = $4, modified_at = now()
             FROM target t
             WHERE $4::boolean IS NOT NULL AND c.tenant_id = $1 AND c.feedback_key = t.feedback_key
               AND c.deleted_at IS NULL
           )
           SELECT id AS "id!", tenant_id AS "tenant_id!", feedback_key AS "feedback_key!",
                  COALESCE($3, config) AS "config!",
                  COALESCE($4, is_lower_score_better) AS is_lower_score_better,
                  is_enforced AS "is_enforced!", is_first AS "is_first!",
                  now() AS "modified_at!", deleted_at
           FROM feedback_configs
           WHERE tenant_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM target)"#,
        tenant_id,
        id,
        config,
        is_lower_score_better
    )
    .fetch_optional(db)
    .await?)
}

/// Deletes every configuration of `key`; `false` when it had none.
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
        > 0)
}

/// Deletes one configuration; `false` when there is no such live configuration.
pub async fn delete_by_id(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "UPDATE feedback_configs SET deleted_at = now()
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
