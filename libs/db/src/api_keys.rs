//! `api_keys`: personal access tokens and service keys. Only an HMAC of each key is stored.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

/// A key as authentication needs it.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub kind: String,
    pub workspace_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub service_role: Option<String>,
    pub key_hash: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key as the listing endpoints show it: never the secret.
#[derive(Debug, Clone)]
pub struct ApiKeyListing {
    pub id: Uuid,
    pub kind: String,
    pub workspace_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub service_role: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_by_email: Option<String>,
    pub description: String,
    pub short_key: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub kind: &'a str,
    pub workspace_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub service_role: Option<&'a str>,
    pub created_by: Option<Uuid>,
    /// The key that minted this one, when a key did.
    pub created_by_key: Option<Uuid>,
    pub description: &'a str,
    pub short_key: &'a str,
    pub key_hash: &'a [u8],
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(db: impl PgExecutor<'_>, key: &NewApiKey<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO api_keys
            (id, organization_id, kind, workspace_id, user_id, service_role, created_by,
             description, short_key, key_hash, expires_at, created_by_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        key.id,
        key.organization_id,
        key.kind,
        key.workspace_id,
        key.user_id,
        key.service_role,
        key.created_by,
        key.description,
        key.short_key,
        key.key_hash,
        key.expires_at,
        key.created_by_key
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The live (not revoked) key with this hash; expiry is the caller's to check.
pub async fn by_hash(
    db: impl PgExecutor<'_>,
    key_hash: &[u8],
) -> Result<Option<ApiKeyRecord>, DbError> {
    Ok(sqlx::query_as!(
        ApiKeyRecord,
        "SELECT id, organization_id, kind, workspace_id, user_id, service_role, key_hash,
                expires_at
         FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash
    )
    .fetch_optional(db)
    .await?)
}

/// Live service keys usable in `workspace_id`: its own and the organisation-wide ones.
pub async fn list_service_keys(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    workspace_id: Uuid,
) -> Result<Vec<ApiKeyListing>, DbError> {
    Ok(sqlx::query_as!(
        ApiKeyListing,
        r#"SELECT k.id, k.kind, k.workspace_id, k.user_id, k.service_role, k.created_by,
                  u.email AS "created_by_email?", k.description, k.short_key, k.created_at,
                  k.last_used_at, k.expires_at
           FROM api_keys k LEFT JOIN users u ON u.id = k.created_by
           WHERE k.organization_id = $1 AND k.kind = 'service' AND k.revoked_at IS NULL
             AND (k.workspace_id = $2 OR k.workspace_id IS NULL)
           ORDER BY k.created_at, k.id"#,
        organization_id,
        workspace_id
    )
    .fetch_all(db)
    .await?)
}

/// A user's live personal access tokens in an organisation.
pub async fn list_personal(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<ApiKeyListing>, DbError> {
    Ok(sqlx::query_as!(
        ApiKeyListing,
        r#"SELECT k.id, k.kind, k.workspace_id, k.user_id, k.service_role, k.created_by,
                  u.email AS "created_by_email?", k.description, k.short_key, k.created_at,
                  k.last_used_at, k.expires_at
           FROM api_keys k LEFT JOIN users u ON u.id = k.created_by
           WHERE k.organization_id = $1 AND k.kind = 'pat' AND k.user_id = $2
             AND k.revoked_at IS NULL
           ORDER BY k.created_at, k.id"#,
        organization_id,
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// Which keys a revocation may touch.
#[derive(Debug, Clone, Copy)]
pub enum RevokeScope {
    /// A service key of this workspace (not an organisation-wide one).
    ServiceKeyOfWorkspace { workspace_id: Uuid },
    /// Any service key of the organisation (organisation admins).
    AnyServiceKey,
    /// A personal token of this user.
    PersonalOf { user_id: Uuid },
}

/// Revokes a live key and returns its hash (so caches can drop it); `None` when the key is
/// unknown, already revoked, or outside `scope`.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
    scope: RevokeScope,
) -> Result<Option<Vec<u8>>, DbError> {
    let (scope_name, workspace_id, user_id) = match scope {
        RevokeScope::ServiceKeyOfWorkspace { workspace_id } => {
            ("workspace", Some(workspace_id), None)
        }
        RevokeScope::AnyServiceKey => ("organization", None, None),
        RevokeScope::PersonalOf { user_id } => ("personal", None, Some(user_id)),
    };
    Ok(sqlx::query_scalar!(
        "UPDATE api_keys SET revoked_at = now()
         WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL
           AND (($3 = 'workspace' AND kind = 'service' AND workspace_id = $4)
             OR ($3 = 'organization' AND kind = 'service')
             OR ($3 = 'personal' AND kind = 'pat' AND user_id = $5))
         RETURNING key_hash",
        organization_id,
        id,
        scope_name,
        workspace_id,
        user_id
    )
    .fetch_optional(db)
    .await?)
}

/// Revokes every live key minted through `id` (by it, or by a key it minted, and so on) and
/// returns their hashes, so caches can drop them.
pub async fn revoke_descendants(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Vec<Vec<u8>>, DbError> {
    Ok(sqlx::query_scalar!(
        "WITH RECURSIVE minted (id) AS (
            SELECT id FROM api_keys WHERE created_by_key = $1
            UNION
            SELECT k.id FROM api_keys k JOIN minted m ON k.created_by_key = m.id
         )
         UPDATE api_keys SET revoked_at = now()
         WHERE id IN (SELECT id FROM minted) AND revoked_at IS NULL
         RETURNING key_hash",
        id
    )
    .fetch_all(db)
    .await?)
}

/// Hashes of every key a user's change may affect (their personal tokens, live or not).
pub async fn hashes_of_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<Vec<u8>>, DbError> {
    Ok(
        sqlx::query_scalar!("SELECT key_hash FROM api_keys WHERE user_id = $1", user_id)
            .fetch_all(db)
            .await?,
    )
}

/// Records a use; callers rate-limit this to about once a minute per key.
pub async fn touch(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), DbError> {
    sqlx::query!("UPDATE api_keys SET last_used_at = now() WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// Hashes of every key of an organisation (for cache invalidation).
pub async fn hashes_of_organization(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> Result<Vec<Vec<u8>>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT key_hash FROM api_keys WHERE organization_id = $1",
        organization_id
    )
    .fetch_all(db)
    .await?)
}
