//! `example_revisions`: dataset examples with their history. A write closes the
//! example's current revision and opens a new one at the write's version time (see
//! [`crate::datasets::begin_write`]); a delete only closes it. Reading "as of" `t` picks, for each
//! example, the revision with `valid_from <= t < valid_to`, which is exactly the example as it
//! was at `t`: absent if added later, old values if updated later, present if deleted later.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Example {
    pub id: Uuid,
    pub dataset_id: Uuid,
    pub inputs: Value,
    pub outputs: Option<Value>,
    pub metadata: Option<Value>,
    /// `{name: {"key": …, "mime_type": …}}`.
    pub attachments: Value,
    pub source_run_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, dataset_id, inputs, outputs, metadata, attachments, source_run_id, \
    created_at, valid_from AS modified_at";

/// Which state of the examples a read sees.
fn push_in_force(query: &mut QueryBuilder<'_, Postgres>, as_of: Option<DateTime<Utc>>) {
    match as_of {
        None => {
            query.push(" AND valid_to IS NULL");
        }
        Some(at) => {
            query
                .push(" AND valid_from <= ")
                .push_bind(at)
                .push(" AND (valid_to IS NULL OR valid_to > ")
                .push_bind(at)
                .push(")");
        }
    }
}

/// A condition on an example's `metadata`, as a filter expression states it.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataCondition {
    And(Vec<MetadataCondition>),
    Or(Vec<MetadataCondition>),
    Not(Box<MetadataCondition>),
    /// Every pair of this JSON object is present.
    Contains(Value),
    /// The key is present.
    HasKey(String),
    /// The key's value, as text, equals (or with `equal: false`, does not equal) `text`.
    KeyEquals {
        key: String,
        text: String,
        equal: bool,
    },
    /// Some value, as text, equals `text`.
    AnyValueEquals(String),
}

fn push_condition(query: &mut QueryBuilder<'_, Postgres>, condition: &MetadataCondition) {
    const METADATA: &str = "COALESCE(metadata, '{}'::jsonb)";
    match condition {
        MetadataCondition::And(parts) | MetadataCondition::Or(parts) => {
            let joiner = if matches!(condition, MetadataCondition::And(_)) {
                " AND "
            } else {
                " OR "
            };
            query.push("(");
            if parts.is_empty() {
                query.push(if joiner == " AND " { "TRUE" } else { "FALSE" });
            }
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    query.push(joiner);
                }
                push_condition(query, part);
            }
            query.push(")");
        }
        MetadataCondition::Not(inner) => {
            query.push("NOT (");
            push_condition(query, inner);
            query.push(")");
        }
        MetadataCondition::Contains(object) => {
            query
                .push(format!("{METADATA} @> "))
                .push_bind(object.clone());
        }
        MetadataCondition::HasKey(key) => {
            query.push(format!("{METADATA} ? ")).push_bind(key.clone());
        }
        MetadataCondition::KeyEquals { key, text, equal } => {
            query.push(if *equal { "COALESCE(" } else { "NOT COALESCE(" });
            query
                .push(format!("{METADATA} ->> "))
                .push_bind(key.clone())
                .push(" = ")
                .push_bind(text.clone())
                .push(", FALSE)");
        }
        MetadataCondition::AnyValueEquals(text) => {
            query
                .push(format!(
                    "EXISTS (SELECT 1 FROM jsonb_each_text({METADATA}) AS e WHERE e.value = "
                ))
                .push_bind(text.clone())
                .push(")");
        }
    }
}

/// Filters of `GET /examples`.
#[derive(Debug, Clone, Default)]
pub struct ExampleFilter {
    pub dataset: Option<Uuid>,
    pub ids: Vec<Uuid>,
    /// None of these.
    pub exclude_ids: Vec<Uuid>,
    pub as_of: Option<DateTime<Utc>>,
    /// In any of these splits (`base` = no split).
    pub splits: Vec<String>,
    /// Containment on `metadata`.
    pub metadata: Option<Value>,
    /// Case-insensitive text anywhere in the inputs or outputs.
    pub full_text: Option<String>,
    /// A condition on `metadata` (the `filter` expression).
    pub condition: Option<MetadataCondition>,
    pub offset: i64,
    pub limit: i64,
}

fn push_filter(query: &mut QueryBuilder<'_, Postgres>, tenant_id: Uuid, filter: &ExampleFilter) {
    query.push(" WHERE tenant_id = ");
    query.push_bind(tenant_id);
    push_in_force(query, filter.as_of);
    if let Some(dataset) = filter.dataset {
        query.push(" AND dataset_id = ").push_bind(dataset);
    }
    if !filter.ids.is_empty() {
        query
            .push(" AND id = ANY(")
            .push_bind(filter.ids.clone())
            .push(")");
    }
    if !filter.exclude_ids.is_empty() {
        query
            .push(" AND NOT (id = ANY(")
            .push_bind(filter.exclude_ids.clone())
            .push("))");
    }
    if !filter.splits.is_empty() {
        query
            .push(" AND COALESCE(metadata -> 'dataset_split', '[\"base\"]'::jsonb) ?| ")
            .push_bind(filter.splits.clone());
    }
    if let Some(metadata) = &filter.metadata {
        query
            .push(" AND COALESCE(metadata, '{}'::jsonb) @> ")
            .push_bind(metadata.clone());
    }
    if let Some(condition) = &filter.condition {
        query.push(" AND ");
        push_condition(query, condition);
    }
    if let Some(text) = &filter.full_text {
        query
            .push(" AND strpos(lower(inputs::text || ' ' || COALESCE(outputs::text, '')), lower(")
            .push_bind(text.clone())
            .push(")) > 0");
    }
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &ExampleFilter,
) -> Result<Vec<Example>, DbError> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM example_revisions"));
    push_filter(&mut query, tenant_id, filter);
    query
        .push(" ORDER BY created_at, id OFFSET ")
        .push_bind(filter.offset)
        .push(" LIMIT ")
        .push_bind(filter.limit);
    Ok(query.build_query_as::<Example>().fetch_all(db).await?)
}

/// How many examples [`list`] would return without paging.
pub async fn count(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &ExampleFilter,
) -> Result<i64, DbError> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT count(*) FROM example_revisions");
    push_filter(&mut query, tenant_id, filter);
    Ok(query.build_query_scalar::<i64>().fetch_one(db).await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<Example>, DbError> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM example_revisions"));
    query.push(" WHERE tenant_id = ").push_bind(tenant_id);
    query.push(" AND id = ").push_bind(id);
    push_in_force(&mut query, as_of);
    Ok(query.build_query_as::<Example>().fetch_optional(db).await?)
}

/// The current state of these examples, in whichever dataset of the workspace they are.
pub async fn current(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Example>, DbError> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM example_revisions"));
    query.push(" WHERE tenant_id = ").push_bind(tenant_id);
    query
        .push(" AND valid_to IS NULL AND id = ANY(")
        .push_bind(ids.to_vec())
        .push(")");
    Ok(query.build_query_as::<Example>().fetch_all(db).await?)
}

/// The full new state of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleWrite {
    pub id: Uuid,
    pub inputs: Value,
    pub outputs: Option<Value>,
    pub metadata: Option<Value>,
    pub attachments: Value,
    pub source_run_id: Option<Uuid>,
    /// Kept from the current revision when `None`; the write time for a new example.
    pub created_at: Option<DateTime<Utc>>,
}

/// Writes new revisions at `as_of` (from [`crate::datasets::begin_write`], same transaction),
/// replacing the current revision of each example already in the dataset. An id that is current
/// in another dataset of the workspace is a unique violation (409). When an id appears twice,
/// the last write wins.
pub async fn put(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    dataset_id: Uuid,
    as_of: DateTime<Utc>,
    writes: &[ExampleWrite],
) -> Result<(), DbError> {
    let mut last: BTreeMap<Uuid, &ExampleWrite> = BTreeMap::new();
    for write in writes {
        last.insert(write.id, write);
    }
    let ids: Vec<Uuid> = last.keys().copied().collect();
    let closed = sqlx::query!(
        "UPDATE example_revisions SET valid_to = $4
         WHERE tenant_id = $1 AND dataset_id = $2 AND id = ANY($3) AND valid_to IS NULL
         RETURNING id, created_at",
        tenant_id,
        dataset_id,
        &ids,
        as_of
    )
    .fetch_all(&mut *tx)
    .await?;
    let created: BTreeMap<Uuid, DateTime<Utc>> =
        closed.into_iter().map(|r| (r.id, r.created_at)).collect();
    let rows: Vec<&ExampleWrite> = last.into_values().collect();
    for chunk in rows.chunks(1000) {
        let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO example_revisions (id, tenant_id, dataset_id, inputs, outputs, metadata, \
             attachments, source_run_id, created_at, valid_from) ",
        );
        query.push_values(chunk, |mut row, write| {
            let created_at = write
                .created_at
                .or_else(|| created.get(&write.id).copied())
                .unwrap_or(as_of);
            row.push_bind(write.id)
                .push_bind(tenant_id)
                .push_bind(dataset_id)
                .push_bind(&write.inputs)
                .push_bind(&write.outputs)
                .push_bind(&write.metadata)
                .push_bind(&write.attachments)
                .push_bind(write.source_run_id)
                .push_bind(created_at)
                .push_bind(as_of);
        });
        query.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Closes the current revision of these examples of the dataset at `as_of`; returns the ids
/// that were current.
pub async fn close(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    dataset_id: Uuid,
    ids: &[Uuid],
    as_of: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "UPDATE example_revisions SET valid_to = $4
         WHERE tenant_id = $1 AND dataset_id = $2 AND id = ANY($3) AND valid_to IS NULL
         RETURNING id",
        tenant_id,
        dataset_id,
        ids,
        as_of
    )
    .fetch_all(&mut *tx)
    .await?)
}

/// Which of `ids` are examples of `tenant_id` in any revision (current or past).
pub async fn known_ids(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT DISTINCT id FROM example_revisions WHERE tenant_id = $1 AND id = ANY($2)",
        tenant_id,
        ids
    )
    .fetch_all(db)
    .await?)
}

/// Erases these examples and their history; returns the ids that existed.
pub async fn hard_delete(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, DbError> {
    let deleted = sqlx::query_scalar!(
        "DELETE FROM example_revisions WHERE tenant_id = $1 AND id = ANY($2) RETURNING id",
        tenant_id,
        ids
    )
    .fetch_all(db)
    .await?;
    let mut seen = HashSet::new();
    Ok(deleted.into_iter().filter(|id| seen.insert(*id)).collect())
}

/// Which datasets of the workspace hold these examples now.
pub async fn datasets_of(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT DISTINCT dataset_id FROM example_revisions
         WHERE tenant_id = $1 AND id = ANY($2) AND valid_to IS NULL",
        tenant_id,
        ids
    )
    .fetch_all(db)
    .await?)
}

/// Examples added, modified and removed between two versions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    pub added: Vec<Uuid>,
    pub modified: Vec<Uuid>,
    pub removed: Vec<Uuid>,
}

pub async fn diff(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Diff, DbError> {
    let rows = sqlx::query!(
        r#"WITH a AS (SELECT id, revision FROM example_revisions
                      WHERE tenant_id = $1 AND dataset_id = $2
                      AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)),
                b AS (SELECT id, revision FROM example_revisions
                      WHERE tenant_id = $1 AND dataset_id = $2
                      AND valid_from <= $4 AND (valid_to IS NULL OR valid_to > $4))
           SELECT COALESCE(a.id, b.id) AS "id!", a.revision AS "before?", b.revision AS "after?"
           FROM a FULL JOIN b ON a.id = b.id
           WHERE a.revision IS DISTINCT FROM b.revision
           ORDER BY 1"#,
        tenant_id,
        dataset_id,
        from,
        to
    )
    .fetch_all(db)
    .await?;
    let mut diff = Diff::default();
    for row in rows {
        match (row.before, row.after) {
            (None, _) => diff.added.push(row.id),
            (_, None) => diff.removed.push(row.id),
            _ => diff.modified.push(row.id),
        }
    }
    Ok(diff)
}

/// The split names in use (`base` for examples without one).
pub async fn splits(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    dataset_id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<String>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT DISTINCT s FROM example_revisions, jsonb_array_elements_text(CASE \
         WHEN jsonb_typeof(metadata -> 'dataset_split') = 'array' THEN metadata -> 'dataset_split' \
         ELSE '[\"base\"]'::jsonb END) AS s",
    );
    query.push(" WHERE tenant_id = ").push_bind(tenant_id);
    query.push(" AND dataset_id = ").push_bind(dataset_id);
    push_in_force(&mut query, as_of);
    query.push(" ORDER BY s");
    Ok(query.build_query_scalar::<String>().fetch_all(db).await?)
}
