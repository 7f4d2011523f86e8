//! `model_configs`: the playground's saved model configurations, per workspace.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub provider: String,
    pub model: String,
    pub base_url: Option<String>,
    pub secret_key: Option<String>,
    pub parameters: Value,
    pub options: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a configuration is made of (create and replace).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    pub name: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub base_url: Option<&'a str>,
    pub secret_key: Option<&'a str>,
    pub parameters: &'a Value,
    pub options: &'a Value,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<Vec<ModelConfig>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelConfig,
        "SELECT id, tenant_id, name, provider, model, base_url, secret_key, parameters, options,
                created_at, updated_at
         FROM model_configs WHERE tenant_id = $1 ORDER BY name",
        tenant_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<ModelConfig>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelConfig,
        "SELECT id, tenant_id, name, provider, model, base_url, secret_key, parameters, options,
                created_at, updated_at
         FROM model_configs WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Adds a configuration unless the workspace has `cap` already (`None` then). A name taken in
/// the workspace is a unique violation.
pub async fn create(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    fields: &Fields<'_>,
    cap: i64,
) -> Result<Option<ModelConfig>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelConfig,
        "INSERT INTO model_configs
             (id, tenant_id, name, provider, model, base_url, secret_key, parameters, options)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE (SELECT count(*) FROM model_configs WHERE tenant_id = $2) < $10
         RETURNING id, tenant_id, name, provider, model, base_url, secret_key, parameters,
                   options, created_at, updated_at",
        Uuid::now_v7(),
        tenant_id,
        fields.name,
        fields.provider,
        fields.model,
        fields.base_url,
        fields.secret_key,
        fields.parameters,
        fields.options,
        cap
    )
    .fetch_optional(db)
    .await?)
}

pub async fn replace(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    fields: &Fields<'_>,
) -> Result<Option<ModelConfig>, crate::DbError> {
    Ok(sqlx::query_as!(
        ModelConfig,
        "UPDATE model_configs
         SET name = $3, provider = $4, model = $5, base_url = $6, secret_key = $7,
             parameters = $8, options = $9, updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, tenant_id, name, provider, model, base_url, secret_key, parameters,
                   options, created_at, updated_at",
        tenant_id,
        id,
        fields.name,
        fields.provider,
        fields.model,
        fields.base_url,
        fields.secret_key,
        fields.parameters,
        fields.options
    )
    .fetch_optional(db)
    .await?)
}

pub async fn delete(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, crate::DbError> {
    let result = sqlx::query!(
        "DELETE FROM model_configs WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}
