//! `datasets`, their versions, tags and public links. Example writes go through
//! [`begin_write`], which locks the dataset row and records the new version, so a dataset's
//! versions are strictly increasing and each write's examples carry exactly its `as_of`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Dataset {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub data_type: String,
    pub inputs_schema: Option<Value>,
    pub outputs_schema: Option<Value>,
    pub transformations: Option<Value>,
    pub metadata: Option<Value>,
    pub externally_managed: bool,
    pub baseline_experiment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// A dataset with the counts `Dataset` reads carry.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DatasetWithCounts {
    #[sqlx(flatten)]
    pub dataset: Dataset,
    pub example_count: i64,
    pub session_count: i64,
    pub last_session_start_time: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "d.id, d.tenant_id, d.name, d.description, d.data_type, d.inputs_schema, \
    d.outputs_schema, d.transformations, d.metadata, d.externally_managed, \
    d.baseline_experiment_id, d.created_at, d.modified_at";

const COUNTS: &str = ", (SELECT count(*) FROM example_revisions e
        WHERE e.tenant_id = d.tenant_id AND e.dataset_id = d.id AND e.valid_to IS NULL)
        AS example_count,
    (SELECT count(*) FROM tracer_sessions s WHERE s.tenant_id = d.tenant_id
        AND s.reference_dataset_id = d.id AND s.deleted_at IS NULL) AS session_count,
    (SELECT max(s.start_time) FROM tracer_sessions s WHERE s.tenant_id = d.tenant_id
        AND s.reference_dataset_id = d.id AND s.deleted_at IS NULL) AS last_session_start_time";

pub struct NewDataset<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub data_type: &'a str,
    pub inputs_schema: Option<&'a Value>,
    pub outputs_schema: Option<&'a Value>,
    pub transformations: Option<&'a Value>,
    pub metadata: Option<&'a Value>,
    pub externally_managed: bool,
}

/// Creates a dataset; a taken name (or id) is a unique violation (409).
pub async fn create(db: impl PgExecutor<'_>, new: &NewDataset<'_>) -> Result<Dataset, DbError> {
    Ok(sqlx::query_as!(
        Dataset,
        "INSERT INTO datasets (id, tenant_id, name, description, data_type, inputs_schema,
                               outputs_schema, transformations, metadata, externally_managed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id, tenant_id, name, description, data_type, inputs_schema, outputs_schema,
                   transformations, metadata, externally_managed, baseline_experiment_id,
                   created_at, modified_at",
        new.id,
        new.tenant_id,
        new.name,
        new.description,
        new.data_type,
        new.inputs_schema,
        new.outputs_schema,
        new.transformations,
        new.metadata,
        new.externally_managed,
    )
    .fetch_one(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<DatasetWithCounts>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {COLUMNS}{COUNTS} FROM datasets d WHERE d.tenant_id = "
    ));
    query
        .push_bind(tenant_id)
        .push(" AND d.id = ")
        .push_bind(id);
    Ok(query
        .build_query_as::<DatasetWithCounts>()
        .fetch_optional(db)
        .await?)
}

/// Filters of `GET /datasets`.
#[derive(Debug, Clone, Default)]
pub struct DatasetFilter {
    pub ids: Vec<Uuid>,
    pub data_type: Option<String>,
    pub name: Option<String>,
    pub name_contains: Option<String>,
    /// Containment on `metadata`.
    pub metadata: Option<Value>,
    pub offset: i64,
    pub limit: i64,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &DatasetFilter,
) -> Result<Vec<DatasetWithCounts>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {COLUMNS}{COUNTS} FROM datasets d WHERE d.tenant_id = "
    ));
    query.push_bind(tenant_id);
    if !filter.ids.is_empty() {
        query
            .push(" AND d.id = ANY(")
            .push_bind(&filter.ids)
            .push(")");
    }
    if let Some(data_type) = &filter.data_type {
        query.push(" AND d.data_type = ").push_bind(data_type);
    }
    if let Some(name) = &filter.name {
        query.push(" AND d.name = ").push_bind(name);
    }
    if let Some(part) = &filter.name_contains {
        query
            .push(" AND strpos(lower(d.name), lower(")
            .push_bind(part)
            .push(")) > 0");
    }
    if let Some(metadata) = &filter.metadata {
        query
            .push(" AND COALESCE(d.metadata, '{}'::jsonb) @> ")
            .push_bind(metadata);
    }
    query
        .push(" ORDER BY d.created_at DESC, d.id DESC OFFSET ")
        .push_bind(filter.offset)
        .push(" LIMIT ")
        .push_bind(filter.limit);
    Ok(query
        .build_query_as::<DatasetWithCounts>()
        .fetch_all(db)
        .await?)
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DatasetPatch<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub inputs_schema: Option<&'a Value>,
    pub outputs_schema: Option<&'a Value>,
    pub metadata: Option<&'a Value>,
    pub baseline_experiment_id: Option<Uuid>,
}

pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    patch: &DatasetPatch<'_>,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "UPDATE datasets SET
           name = COALESCE($3, name),
           description = COALESCE($4, description),
           inputs_schema = COALESCE($5, inputs_schema),
           outputs_schema = COALESCE($6, outputs_schema),
           metadata = COALESCE($7, metadata),
           baseline_experiment_id = COALESCE($8, baseline_experiment_id),
           modified_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id,
        patch.name,
        patch.description,
        patch.inputs_schema,
        patch.outputs_schema,
        patch.metadata,
        patch.baseline_experiment_id,
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Deletes a dataset with its examples, versions, tags and link. False when there was none.
pub async fn delete(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM datasets WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Starts an example write inside a transaction: locks the dataset (so writes to it are
/// serialised) and records the new version, whose time is returned. `None` when the dataset
/// does not exist in this workspace.
pub async fn begin_write(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<(Dataset, DateTime<Utc>)>, DbError> {
    let Some(dataset) = sqlx::query_as!(
        Dataset,
        "SELECT id, tenant_id, name, description, data_type, inputs_schema, outputs_schema,
                transformations, metadata, externally_managed, baseline_experiment_id,
                created_at, modified_at
         FROM datasets WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    // Strictly after the previous version, even if the clock stepped back. Microseconds, as
    // Postgres stores them, so the value read back is exactly the one returned here.
    let as_of = sqlx::query_scalar!(
        r#"INSERT INTO dataset_versions (tenant_id, dataset_id, as_of)
           SELECT $1, $2, greatest(date_trunc('microseconds', clock_timestamp()),
                                   (SELECT max(as_of) + interval '1 microsecond'
                                    FROM dataset_versions WHERE tenant_id = $1 AND dataset_id = $2))
           RETURNING as_of"#,
        tenant_id,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE datasets SET modified_at = $3 WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id,
        as_of
    )
    .execute(&mut *tx)
    .await?;
    Ok(Some((dataset, as_of)))
}

/// One version: its time and the tags pointing at it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Version {
    pub as_of: DateTime<Utc>,
    pub tags: Option<Vec<String>>,
}

/// Versions, newest first. `search` keeps those with a tag containing it.
pub async fn versions(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
    search: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Version>, DbError> {
    Ok(sqlx::query_as!(
        Version,
        r#"SELECT v.as_of AS "as_of!", t.tags
           FROM dataset_versions v
           LEFT JOIN LATERAL (SELECT array_agg(tag ORDER BY tag) AS tags FROM dataset_tags t
                              WHERE t.tenant_id = v.tenant_id AND t.dataset_id = v.dataset_id
                                AND t.as_of = v.as_of) t ON true
           WHERE v.tenant_id = $1 AND v.dataset_id = $2
             AND ($3::text IS NULL OR EXISTS (
                   SELECT 1 FROM dataset_tags t2 WHERE t2.tenant_id = v.tenant_id
                     AND t2.dataset_id = v.dataset_id AND t2.as_of = v.as_of
                     AND strpos(lower(t2.tag), lower($3)) > 0))
           ORDER BY v.as_of DESC OFFSET $4 LIMIT $5"#,
        tenant_id,
        dataset_id,
        search,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The version in force at `at` (the latest at or before it), with its tags.
pub async fn version_at(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<Version>, DbError> {
    Ok(sqlx::query_as!(
        Version,
        r#"SELECT v.as_of AS "as_of!",
                  (SELECT array_agg(tag ORDER BY tag) FROM dataset_tags t
                   WHERE t.tenant_id = v.tenant_id AND t.dataset_id = v.dataset_id
                     AND t.as_of = v.as_of) AS tags
           FROM dataset_versions v WHERE v.tenant_id = $1 AND v.dataset_id = $2 AND v.as_of <= $3
           ORDER BY v.as_of DESC LIMIT 1"#,
        tenant_id,
        dataset_id,
        at
    )
    .fetch_optional(db)
    .await?)
}

/// The time a tag of one of `tenant_id`'s datasets points at.
pub async fn tag_time(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
    tag: &str,
) -> Result<Option<DateTime<Utc>>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT as_of FROM dataset_tags WHERE tenant_id = $1 AND dataset_id = $2 AND tag = $3",
        tenant_id,
        dataset_id,
        tag
    )
    .fetch_optional(db)
    .await?)
}

/// Points `tag` at the version in force at `as_of`, moving it if it named another. `None` when
/// the dataset has no version at or before `as_of`.
pub async fn set_tag(
    db: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    dataset_id: Uuid,
    as_of: DateTime<Utc>,
    tag: &str,
) -> Result<Option<Version>, DbError> {
    let Some(version) = version_at(&mut *db, tenant_id, dataset_id, as_of).await? else {
        return Ok(None);
    };
    sqlx::query!(
        "INSERT INTO dataset_tags (tenant_id, dataset_id, tag, as_of) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, dataset_id, tag) DO UPDATE SET as_of = EXCLUDED.as_of",
        tenant_id,
        dataset_id,
        tag,
        version.as_of
    )
    .execute(&mut *db)
    .await?;
    version_at(&mut *db, tenant_id, dataset_id, version.as_of).await
}

/// Shares a dataset; one already shared keeps its token, which is returned.
pub async fn share(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
) -> Result<Uuid, DbError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO dataset_shares (share_token, tenant_id, dataset_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, dataset_id) DO UPDATE SET dataset_id = EXCLUDED.dataset_id
         RETURNING share_token",
        Uuid::new_v4(),
        tenant_id,
        dataset_id
    )
    .fetch_one(db)
    .await?)
}

pub async fn share_token(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
) -> Result<Option<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT share_token FROM dataset_shares WHERE tenant_id = $1 AND dataset_id = $2",
        tenant_id,
        dataset_id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn unshare(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM dataset_shares WHERE tenant_id = $1 AND dataset_id = $2",
        tenant_id,
        dataset_id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// The workspace and dataset a share token opens, if its organisation allows public links.
pub async fn by_share_token(
    db: impl PgExecutor<'_>,
    token: Uuid,
) -> Result<Option<(Uuid, Uuid)>, DbError> {
    Ok(sqlx::query!(
        "SELECT d.tenant_id, d.dataset_id FROM dataset_shares d
         JOIN workspaces w ON w.id = d.tenant_id
         JOIN organizations o ON o.id = w.organization_id AND NOT o.disable_public_sharing
         WHERE d.share_token = $1",
        token
    )
    .fetch_optional(db)
    .await?
    .map(|row| (row.tenant_id, row.dataset_id)))
}

/// A comparative experiment.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Comparative {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub reference_dataset_id: Uuid,
    pub experiment_ids: Vec<Uuid>,
    pub extra: Value,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

pub async fn create_comparative(
    db: impl PgExecutor<'_>,
    new: &Comparative,
) -> Result<Comparative, DbError> {
    Ok(sqlx::query_as!(
        Comparative,
        "INSERT INTO comparative_experiments
           (id, tenant_id, name, description, reference_dataset_id, experiment_ids, extra,
            created_at, modified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         RETURNING id, tenant_id, name, description, reference_dataset_id, experiment_ids,
                   extra, created_at, modified_at",
        new.id,
        new.tenant_id,
        new.name,
        new.description,
        new.reference_dataset_id,
        &new.experiment_ids,
        new.extra,
        new.created_at,
    )
    .fetch_one(db)
    .await?)
}

pub async fn comparatives(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
    offset: i64,
    limit: i64,
) -> Result<Vec<Comparative>, DbError> {
    Ok(sqlx::query_as!(
        Comparative,
        "SELECT id, tenant_id, name, description, reference_dataset_id, experiment_ids, extra,
                created_at, modified_at
         FROM comparative_experiments WHERE tenant_id = $1 AND reference_dataset_id = $2
         ORDER BY created_at DESC OFFSET $3 LIMIT $4",
        tenant_id,
        dataset_id,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}

pub async fn delete_comparative(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM comparative_experiments WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
