//! `tracer_sessions`: projects. Ingestion resolves a run's project here — by name, creating it
//! on first use, or by id within the workspace. The project API creates, lists,
//! updates and deletes them. A deleted project keeps its row (`deleted_at`) until the worker
//! has removed its runs; every read here skips it, and its name is free again at once.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Project {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub extra: Value,
    pub reference_dataset_id: Option<Uuid>,
    pub default_dataset_id: Option<Uuid>,
    pub trace_tier: Option<String>,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, name, description, extra, reference_dataset_id, \
    default_dataset_id, trace_tier, start_time, end_time, created_at, updated_at";

/// Longest project name, in characters.
pub const MAX_NAME_CHARS: usize = 1000;

/// The rule a project name breaks, if any: 1 to 1000 characters, no NUL (which Postgres text
/// cannot hold).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a project name must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "a project name has at most {MAX_NAME_CHARS} characters"
        ));
    }
    if name.contains('\0') {
        return Err("a project name must not contain NUL characters".into());
    }
    Ok(())
}

/// The id of `tenant_id`'s project called `name`, created if it does not exist yet.
pub async fn ensure_named(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    name: &str,
) -> Result<Uuid, DbError> {
    // `DO UPDATE` (a no-op) rather than `DO NOTHING`, so the existing row is returned.
    Ok(sqlx::query_scalar!(
        "INSERT INTO tracer_sessions (id, tenant_id, name) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) WHERE deleted_at IS NULL DO UPDATE SET name = EXCLUDED.name
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

/// Which of `ids` are live projects of `tenant_id`.
pub async fn live_ids(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM tracer_sessions
         WHERE tenant_id = $1 AND id = ANY($2) AND deleted_at IS NULL",
        tenant_id,
        ids
    )
    .fetch_all(db)
    .await?)
}

/// Every live project of `tenant_id`.
pub async fn all_live_ids(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM tracer_sessions WHERE tenant_id = $1 AND deleted_at IS NULL",
        tenant_id
    )
    .fetch_all(db)
    .await?)
}

pub struct NewProject<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub extra: &'a Value,
    pub reference_dataset_id: Option<Uuid>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

/// Creates a project; a live project of the same name is a unique violation (409).
pub async fn create(db: impl PgExecutor<'_>, new: &NewProject<'_>) -> Result<Project, DbError> {
    Ok(sqlx::query_as!(
        Project,
        "INSERT INTO tracer_sessions
           (id, tenant_id, name, description, extra, reference_dataset_id, start_time, end_time)
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, now()), $8)
         RETURNING id, tenant_id, name, description, extra, reference_dataset_id,
                   default_dataset_id, trace_tier, start_time, end_time, created_at, updated_at",
        new.id,
        new.tenant_id,
        new.name,
        new.description,
        new.extra,
        new.reference_dataset_id,
        new.start_time,
        new.end_time,
    )
    .fetch_one(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Project>, DbError> {
    Ok(sqlx::query_as!(
        Project,
        "SELECT id, tenant_id, name, description, extra, reference_dataset_id,
                default_dataset_id, trace_tier, start_time, end_time, created_at, updated_at
         FROM tracer_sessions WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn get_by_name(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    name: &str,
) -> Result<Option<Project>, DbError> {
    Ok(sqlx::query_as!(
        Project,
        "SELECT id, tenant_id, name, description, extra, reference_dataset_id,
                default_dataset_id, trace_tier, start_time, end_time, created_at, updated_at
         FROM tracer_sessions WHERE tenant_id = $1 AND name = $2 AND deleted_at IS NULL",
        tenant_id,
        name
    )
    .fetch_optional(db)
    .await?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    StartTime,
    Name,
    CreatedAt,
}

/// Filters of `GET /sessions`.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub ids: Vec<Uuid>,
    pub name: Option<String>,
    pub name_contains: Option<String>,
    pub reference_dataset: Option<Uuid>,
    /// `Some(true)`: only projects without a reference dataset; `Some(false)`: only with one.
    pub reference_free: Option<bool>,
    /// Containment on `extra.metadata`.
    pub metadata: Option<Value>,
    /// `extra.metadata.dataset_version` equals this.
    pub dataset_version: Option<String>,
    pub sort_by: SortBy,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &ProjectFilter,
) -> Result<Vec<Project>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM tracer_sessions WHERE deleted_at IS NULL AND tenant_id = "
    ));
    query.push_bind(tenant_id);
    if !filter.ids.is_empty() {
        query
            .push(" AND id = ANY(")
            .push_bind(&filter.ids)
            .push(")");
    }
    if let Some(name) = &filter.name {
        query.push(" AND name = ").push_bind(name);
    }
    if let Some(part) = &filter.name_contains {
        query
            .push(" AND strpos(lower(name), lower(")
            .push_bind(part)
            .push(")) > 0");
    }
    if let Some(dataset) = filter.reference_dataset {
        query
            .push(" AND reference_dataset_id = ")
            .push_bind(dataset);
    }
    match filter.reference_free {
        Some(true) => {
            query.push(" AND reference_dataset_id IS NULL");
        }
        Some(false) => {
            query.push(" AND reference_dataset_id IS NOT NULL");
        }
        None => {}
    }
    if let Some(metadata) = &filter.metadata {
        query
            .push(" AND COALESCE(extra -> 'metadata', '{}'::jsonb) @> ")
            .push_bind(metadata);
    }
    if let Some(version) = &filter.dataset_version {
        query
            .push(" AND extra -> 'metadata' ->> 'dataset_version' = ")
            .push_bind(version);
    }
    let column = match filter.sort_by {
        SortBy::StartTime => "start_time",
        SortBy::Name => "name",
        SortBy::CreatedAt => "created_at",
    };
    let direction = if filter.descending { "DESC" } else { "ASC" };
    query.push(format!(
        " ORDER BY {column} {direction}, id {direction} OFFSET "
    ));
    query
        .push_bind(filter.offset)
        .push(" LIMIT ")
        .push_bind(filter.limit);
    Ok(query.build_query_as::<Project>().fetch_all(db).await?)
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    /// Replaces `extra` whole.
    pub extra: Option<&'a Value>,
    pub end_time: Option<DateTime<Utc>>,
    pub default_dataset_id: Option<Uuid>,
}

pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    patch: &ProjectPatch<'_>,
) -> Result<Option<Project>, DbError> {
    Ok(sqlx::query_as!(
        Project,
        "UPDATE tracer_sessions SET
           name = COALESCE($3, name),
           description = COALESCE($4, description),
           extra = COALESCE($5, extra),
           end_time = COALESCE($6, end_time),
           default_dataset_id = COALESCE($7, default_dataset_id),
           updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL
         RETURNING id, tenant_id, name, description, extra, reference_dataset_id,
                   default_dataset_id, trace_tier, start_time, end_time, created_at, updated_at",
        tenant_id,
        id,
        patch.name,
        patch.description,
        patch.extra,
        patch.end_time,
        patch.default_dataset_id,
    )
    .fetch_optional(db)
    .await?)
}

/// Marks a project deleted. False when there was no such live project.
pub async fn mark_deleted(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "UPDATE tracer_sessions SET deleted_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Forgets a deleted project once the worker has removed its runs.
pub async fn purge(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<(), DbError> {
    sqlx::query!(
        "DELETE FROM tracer_sessions WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NOT NULL",
        tenant_id,
        id
    )
    .execute(db)
    .await?;
    Ok(())
}
