//! `workspace_secrets`: encrypted values (see the `ironsmith-secrets` crate) by workspace and name.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A secret as listed: never its value.
#[derive(Debug, Clone)]
pub struct SecretSummary {
    pub key: String,
    pub last_four: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A secret's stored ciphertext.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub tenant_id: Uuid,
    pub key: String,
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<Vec<SecretSummary>, crate::DbError> {
    Ok(sqlx::query_as!(
        SecretSummary,
        "SELECT key, last_four, created_at, updated_at FROM workspace_secrets
         WHERE tenant_id = $1 ORDER BY key",
        tenant_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<StoredSecret>, crate::DbError> {
    Ok(sqlx::query_as!(
        StoredSecret,
        "SELECT tenant_id, key, ciphertext, wrapped_key, key_id FROM workspace_secrets
         WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key
    )
    .fetch_optional(db)
    .await?)
}

/// Creates or replaces a secret, unless that would give the workspace more than `cap` secrets
/// (`false` then).
pub async fn upsert(
    db: impl PgExecutor<'_>,
    secret: &StoredSecret,
    last_four: &str,
    cap: i64,
) -> Result<bool, crate::DbError> {
    let stored = sqlx::query_scalar!(
        r#"INSERT INTO workspace_secrets (tenant_id, key, ciphertext, wrapped_key, key_id, last_four)
           SELECT $1, $2, $3, $4, $5, $6
           WHERE EXISTS (SELECT 1 FROM workspace_secrets WHERE tenant_id = $1 AND key = $2)
              OR (SELECT count(*) FROM workspace_secrets WHERE tenant_id = $1) < $7
           ON CONFLICT (tenant_id, key) DO UPDATE
           SET ciphertext = EXCLUDED.ciphertext, wrapped_key = EXCLUDED.wrapped_key,
               key_id = EXCLUDED.key_id, last_four = EXCLUDED.last_four, updated_at = now()
           RETURNING 1 AS "one!""#,
        secret.tenant_id,
        secret.key,
        secret.ciphertext,
        secret.wrapped_key,
        secret.key_id,
        last_four,
        cap
    )
    .fetch_optional(db)
    .await?;
    Ok(stored.is_some())
}

pub async fn delete(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    key: &str,
) -> Result<bool, crate::DbError> {
    let result = sqlx::query!(
        "DELETE FROM workspace_secrets WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Up to `limit` secrets whose data key is wrapped by a key other than `current_key_id`.
pub async fn wrapped_by_other_keys(
    db: impl PgExecutor<'_>,
    current_key_id: &str,
    limit: i64,
) -> Result<Vec<StoredSecret>, crate::DbError> {
    Ok(sqlx::query_as!(
        StoredSecret,
        "SELECT tenant_id, key, ciphertext, wrapped_key, key_id FROM workspace_secrets
         WHERE key_id <> $1 LIMIT $2",
        current_key_id,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Replaces a secret's wrapped data key, if it is still wrapped by `old_key_id`.
pub async fn rewrap(
    db: impl PgExecutor<'_>,
    secret: &StoredSecret,
    old_key_id: &str,
) -> Result<bool, crate::DbError> {
    let result = sqlx::query!(
        "UPDATE workspace_secrets SET wrapped_key = $3, key_id = $4
         WHERE tenant_id = $1 AND key = $2 AND key_id = $5",
        secret.tenant_id,
        secret.key,
        secret.wrapped_key,
        secret.key_id,
        old_key_id
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}
