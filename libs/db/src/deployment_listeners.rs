//! `deployment_listeners`: the data planes registered with the control plane, one workspace
//! each.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone)]
pub struct Listener {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub compute_type: String,
    pub compute_id: String,
    pub k8s_namespaces: Vec<String>,
    pub version: Option<String>,
    pub is_default: bool,
    pub cluster_uid: Option<String>,
    pub watch_namespaces: Option<Vec<String>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewListener<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub compute_id: &'a str,
    pub k8s_namespaces: &'a [String],
    pub version: Option<&'a str>,
    pub is_default: bool,
}

/// Registers a listener; a `compute_id` taken in the workspace is a unique violation.
pub async fn create(db: impl PgExecutor<'_>, new: &NewListener<'_>) -> Result<Listener, DbError> {
    Ok(sqlx::query_as!(
        Listener,
        "INSERT INTO deployment_listeners (id, tenant_id, compute_id, k8s_namespaces, version, is_default)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, tenant_id, compute_type, compute_id, k8s_namespaces, version, is_default,
                   cluster_uid, watch_namespaces, last_heartbeat_at, created_at, updated_at",
        new.id,
        new.tenant_id,
        new.compute_id,
        new.k8s_namespaces,
        new.version,
        new.is_default,
    )
    .fetch_one(db)
    .await?)
}

/// Registers the workspace's in-cluster default listener unless it (or a listener with its
/// compute_id) exists; never fails on a concurrent creation, so it is safe inside a transaction.
pub async fn create_default_if_absent(
    db: impl PgExecutor<'_>,
    id: Uuid,
    tenant_id: Uuid,
    compute_id: &str,
    k8s_namespaces: &[String],
) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO deployment_listeners (id, tenant_id, compute_id, k8s_namespaces, is_default)
         VALUES ($1, $2, $3, $4, true)
         ON CONFLICT DO NOTHING",
        id,
        tenant_id,
        compute_id,
        k8s_namespaces,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    limit: i64,
    offset: i64,
) -> Result<Vec<Listener>, DbError> {
    Ok(sqlx::query_as!(
        Listener,
        "SELECT id, tenant_id, compute_type, compute_id, k8s_namespaces, version, is_default,
                cluster_uid, watch_namespaces, last_heartbeat_at, created_at, updated_at
         FROM deployment_listeners WHERE tenant_id = $1
         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        tenant_id,
        limit,
        offset,
    )
    .fetch_all(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Listener>, DbError> {
    Ok(sqlx::query_as!(
        Listener,
        "SELECT id, tenant_id, compute_type, compute_id, k8s_namespaces, version, is_default,
                cluster_uid, watch_namespaces, last_heartbeat_at, created_at, updated_at
         FROM deployment_listeners WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn get_default(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<Option<Listener>, DbError> {
    Ok(sqlx::query_as!(
        Listener,
        "SELECT id, tenant_id, compute_type, compute_id, k8s_namespaces, version, is_default,
                cluster_uid, watch_namespaces, last_heartbeat_at, created_at, updated_at
         FROM deployment_listeners WHERE tenant_id = $1 AND is_default",
        tenant_id
    )
    .fetch_optional(db)
    .await?)
}

/// Changes what a PATCH may change; `None` keeps the stored value.
pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    version: Option<&str>,
    k8s_namespaces: Option<&[String]>,
) -> Result<Option<Listener>, DbError> {
    Ok(sqlx::query_as!(
        Listener,
        "UPDATE deployment_listeners SET version = COALESCE($3, version),
                k8s_namespaces = COALESCE($4, k8s_namespaces), updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, tenant_id, compute_type, compute_id, k8s_namespaces, version, is_default,
                   cluster_uid, watch_namespaces, last_heartbeat_at, created_at, updated_at",
        tenant_id,
        id,
        version,
        k8s_namespaces,
    )
    .fetch_optional(db)
    .await?)
}

/// Records a heartbeat.
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    id: Uuid,
    version: Option<&str>,
    cluster_uid: Option<&str>,
    watch_namespaces: &[String],
) -> Result<Listener, DbError> {
    Ok(sqlx::query_as!(
        Listener,
        "UPDATE deployment_listeners SET version = COALESCE($2, version),
                cluster_uid = COALESCE($3, cluster_uid), watch_namespaces = $4,
                last_heartbeat_at = now()
         WHERE id = $1
         RETURNING id, tenant_id, compute_type, compute_id, k8s_namespaces, version, is_default,
                   cluster_uid, watch_namespaces, last_heartbeat_at, created_at, updated_at",
        id,
        version,
        cluster_uid,
        watch_namespaces,
    )
    .fetch_one(db)
    .await?)
}

/// Listeners of the whole installation in the cluster `cluster_uid`, other than `except`, whose
/// namespaces intersect `namespaces`: `(id, compute_id)`.
pub async fn overlapping(
    db: impl PgExecutor<'_>,
    cluster_uid: &str,
    namespaces: &[String],
    except: Uuid,
) -> Result<Vec<(Uuid, String)>, DbError> {
    Ok(sqlx::query!(
        "SELECT id, compute_id FROM deployment_listeners
         WHERE cluster_uid = $1 AND id <> $3 AND k8s_namespaces && $2",
        cluster_uid,
        namespaces,
        except,
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.id, r.compute_id))
    .collect())
}

pub async fn delete(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM deployment_listeners WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
