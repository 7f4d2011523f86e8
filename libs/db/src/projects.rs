//! `tracer_sessions`: projects. Ingestion resolves a run's project here — by name, creating it
//! on first use (API.md §5.1), or by id within the workspace.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

/// The id of `tenant_id`'s project called `name`, created if it does not exist yet.
pub async fn ensure_named(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    name: &str,
) -> Result<Uuid, DbError> {
    // `DO UPDATE` (a no-op) rather than `DO NOTHING`, so the existing row is returned.
    Ok(sqlx::query_scalar!(
        "INSERT INTO tracer_sessions (id, tenant_id, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) DO UPDATE SET name = EXCLUDED.name
         RETURNING id",
        Uuid::now_v7(),
        tenant_id,
        name
    )
    .fetch_one(db)
    .await?)
}

/// Whether `id` is a live project of `tenant_id`.
pub async fn exists(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM tracer_sessions
                        WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL)",
        id,
        tenant_id
    )
    .fetch_one(db)
    .await?
    .unwrap_or(false))
}
