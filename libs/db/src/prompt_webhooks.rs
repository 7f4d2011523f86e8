//! `prompt_webhooks` and their `prompt_webhook_deliveries`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    pub headers: Value,
    pub include_prompts: Vec<Uuid>,
    pub exclude_prompts: Vec<Uuid>,
    pub triggers: Vec<String>,
    pub signing_secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a webhook is made of (also what an update replaces).
#[derive(Debug, Clone)]
pub struct WebhookFields<'a> {
    pub url: &'a str,
    pub headers: &'a Value,
    pub include_prompts: &'a [Uuid],
    pub exclude_prompts: &'a [Uuid],
    pub triggers: &'a [String],
}

pub async fn create(
    db: impl PgExecutor<'_>,
    id: Uuid,
    tenant_id: Uuid,
    fields: &WebhookFields<'_>,
    signing_secret: &str,
) -> Result<Webhook, DbError> {
    Ok(sqlx::query_as!(
        Webhook,
        "INSERT INTO prompt_webhooks (id, tenant_id, url, headers, include_prompts,
                                      exclude_prompts, triggers, signing_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, tenant_id, url, headers, include_prompts, exclude_prompts, triggers,
                   signing_secret, created_at, updated_at",
        id,
        tenant_id,
        fields.url,
        fields.headers,
        fields.include_prompts,
        fields.exclude_prompts,
        fields.triggers,
        signing_secret
    )
    .fetch_one(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Webhook>, DbError> {
    Ok(sqlx::query_as!(
        Webhook,
        "SELECT id, tenant_id, url, headers, include_prompts, exclude_prompts, triggers,
                signing_secret, created_at, updated_at
         FROM prompt_webhooks WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn list(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Vec<Webhook>, DbError> {
    Ok(sqlx::query_as!(
        Webhook,
        "SELECT id, tenant_id, url, headers, include_prompts, exclude_prompts, triggers,
                signing_secret, created_at, updated_at
         FROM prompt_webhooks WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant_id
    )
    .fetch_all(db)
    .await?)
}

/// The workspace's webhooks that `event` on prompt `repo_id` fires.
pub async fn firing(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    repo_id: Uuid,
    event: &str,
) -> Result<Vec<Webhook>, DbError> {
    Ok(sqlx::query_as!(
        Webhook,
        "SELECT id, tenant_id, url, headers, include_prompts, exclude_prompts, triggers,
                signing_secret, created_at, updated_at
         FROM prompt_webhooks
         WHERE tenant_id = $1 AND $3 = ANY(triggers)
           AND (cardinality(include_prompts) = 0 OR $2 = ANY(include_prompts))
           AND NOT ($2 = ANY(exclude_prompts))
         ORDER BY created_at, id",
        tenant_id,
        repo_id,
        event
    )
    .fetch_all(db)
    .await?)
}

pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    fields: &WebhookFields<'_>,
) -> Result<Option<Webhook>, DbError> {
    Ok(sqlx::query_as!(
        Webhook,
        "UPDATE prompt_webhooks SET url = $3, headers = $4, include_prompts = $5,
           exclude_prompts = $6, triggers = $7, updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, tenant_id, url, headers, include_prompts, exclude_prompts, triggers,
                   signing_secret, created_at, updated_at",
        tenant_id,
        id,
        fields.url,
        fields.headers,
        fields.include_prompts,
        fields.exclude_prompts,
        fields.triggers
    )
    .fetch_optional(db)
    .await?)
}

pub async fn delete(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM prompt_webhooks WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub tenant_id: Uuid,
    pub event: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn add_delivery(
    db: impl PgExecutor<'_>,
    webhook: &Webhook,
    event: &str,
    payload: &str,
) -> Result<Uuid, DbError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO prompt_webhook_deliveries (id, webhook_id, tenant_id, event, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        Uuid::now_v7(),
        webhook.id,
        webhook.tenant_id,
        event,
        payload
    )
    .fetch_one(db)
    .await?)
}

/// Pending deliveries untouched for `stale_secs` (their task was never queued, or was lost),
/// at most `limit`: each is touched now and returned as `(tenant, delivery)`, so the next look
/// and a concurrent one skip it.
pub async fn claim_stale(
    db: impl PgExecutor<'_>,
    stale_secs: i64,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>, DbError> {
    let rows = sqlx::query!(
        "UPDATE prompt_webhook_deliveries SET updated_at = clock_timestamp()
         WHERE id IN (SELECT id FROM prompt_webhook_deliveries
                      WHERE status = 'pending'
                        AND updated_at < clock_timestamp() - make_interval(secs => $1)
                      ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING tenant_id, id",
        stale_secs as f64,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.id)).collect())
}

pub async fn get_delivery(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Delivery>, DbError> {
    Ok(sqlx::query_as!(
        Delivery,
        "SELECT id, webhook_id, tenant_id, event, payload, status, attempts, last_status_code,
                last_error, created_at, updated_at
         FROM prompt_webhook_deliveries WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// The webhook's deliveries, newest first.
pub async fn deliveries(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    webhook_id: Uuid,
    offset: i64,
    limit: i64,
) -> Result<Vec<Delivery>, DbError> {
    Ok(sqlx::query_as!(
        Delivery,
        "SELECT id, webhook_id, tenant_id, event, payload, status, attempts, last_status_code,
                last_error, created_at, updated_at
         FROM prompt_webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2
         ORDER BY created_at DESC, id DESC OFFSET $3 LIMIT $4",
        tenant_id,
        webhook_id,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Records one attempt: its outcome and the delivery's status afterwards.
pub async fn record_attempt(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: &str,
    status_code: Option<i32>,
    error: Option<&str>,
) -> Result<i32, DbError> {
    Ok(sqlx::query_scalar!(
        "UPDATE prompt_webhook_deliveries SET attempts = attempts + 1, status = $2,
           last_status_code = $3, last_error = $4, updated_at = clock_timestamp()
         WHERE id = $1 RETURNING attempts",
        id,
        status,
        status_code,
        error
    )
    .fetch_one(db)
    .await?)
}
