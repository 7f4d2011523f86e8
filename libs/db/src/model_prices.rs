//! `model_prices`: what LLM tokens cost, per model name pattern, stack-wide or per workspace.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelPrice {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub provider: Option<String>,
    pub match_pattern: String,
    pub prompt_cost_per_million: f64,
    pub completion_cost_per_million: f64,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
}

/// Every price: the defaults and every workspace's own (the worker keeps them in memory).
pub async fn all(db: impl PgExecutor<'_>) -> Result<Vec<ModelPrice>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelPrice,
        r#"SELECT id, tenant_id, name, provider, match_pattern,
                  prompt_cost_per_million::float8 AS "prompt_cost_per_million!",
                  completion_cost_per_million::float8 AS "completion_cost_per_million!",
                  priority, created_at
           FROM model_prices ORDER BY created_at"#
    )
    .fetch_all(db)
    .await?)
}

/// What a workspace adds to the price table.
#[derive(Debug, Clone)]
pub struct NewPrice<'a> {
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub provider: Option<&'a str>,
    pub match_pattern: &'a str,
    pub prompt_cost_per_million: f64,
    pub completion_cost_per_million: f64,
    pub priority: i32,
}

/// The stack-wide defaults and `tenant_id`'s own prices, the workspace's first.
pub async fn visible_to(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<Vec<ModelPrice>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelPrice,
        r#"SELECT id, tenant_id, name, provider, match_pattern,
                  prompt_cost_per_million::float8 AS "prompt_cost_per_million!",
                  completion_cost_per_million::float8 AS "completion_cost_per_million!",
                  priority, created_at
           FROM model_prices WHERE tenant_id IS NULL OR tenant_id = $1
           ORDER BY tenant_id NULLS LAST, priority DESC, created_at DESC"#,
        tenant_id
    )
    .fetch_all(db)
    .await?)
}

/// Adds a workspace price unless the workspace already has `cap` of its own (`None` then).
pub async fn create(
    db: impl PgExecutor<'_>,
    price: &NewPrice<'_>,
    cap: i64,
) -> Result<Option<ModelPrice>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelPrice,
        r#"INSERT INTO model_prices
               (id, tenant_id, name, provider, match_pattern, prompt_cost_per_million,
                completion_cost_per_million, priority)
           SELECT $1, $2, $3, $4, $5, $6::float8, $7::float8, $8
           WHERE (SELECT count(*) FROM model_prices WHERE tenant_id = $2) < $9
           RETURNING id, tenant_id, name, provider, match_pattern,
                     prompt_cost_per_million::float8 AS "prompt_cost_per_million!",
                     completion_cost_per_million::float8 AS "completion_cost_per_million!",
                     priority, created_at"#,
        Uuid::now_v7(),
        price.tenant_id,
        price.name,
        price.provider,
        price.match_pattern,
        price.prompt_cost_per_million,
        price.completion_cost_per_million,
        price.priority,
        cap
    )
    .fetch_optional(db)
    .await?)
}

/// A summary that changes whenever a price is added or removed (prices are never edited in
/// place): how many there are and the newest creation time. The worker reloads and recompiles
/// the table only when it changes.
pub async fn fingerprint(
    db: impl PgExecutor<'_>,
) -> Result<(i64, Option<DateTime<Utc>>), crate::DbError> {
    let row =
        sqlx::query!(r#"SELECT count(*) AS "count!", max(created_at) AS newest FROM model_prices"#)
            .fetch_one(db)
            .await?;
    Ok((row.count, row.newest))
}

/// Deletes one of `tenant_id`'s own prices; the defaults cannot be deleted this way.
pub async fn delete(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, crate::DbError> {
    Ok(sqlx::query!(
        "DELETE FROM model_prices WHERE id = $1 AND tenant_id = $2",
        id,
        tenant_id
    )
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}
