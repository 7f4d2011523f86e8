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
