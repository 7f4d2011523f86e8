//! `annotation_queues` and their items. An item is a run waiting for review; each
//! reviewer (a user, or a service key) marks it done for themselves.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Queue {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub queue_type: String,
    pub rubric_instructions: Option<String>,
    pub rubric_items: Value,
    pub default_dataset: Option<Uuid>,
    pub num_reviewers_per_item: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, name, description, queue_type, rubric_instructions, \
    rubric_items, default_dataset, num_reviewers_per_item, created_at, updated_at";

pub struct NewQueue<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub rubric_instructions: Option<&'a str>,
    pub rubric_items: &'a Value,
    pub default_dataset: Option<Uuid>,
    pub num_reviewers_per_item: i32,
}

pub async fn create(db: impl PgExecutor<'_>, new: &NewQueue<'_>) -> Result<Queue, DbError> {
    Ok(sqlx::query_as!(
        Queue,
        "INSERT INTO annotation_queues (id, tenant_id, name, description, rubric_instructions,
                                        rubric_items, default_dataset, num_reviewers_per_item)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, tenant_id, name, description, queue_type, rubric_instructions,
                   rubric_items, default_dataset, num_reviewers_per_item, created_at, updated_at",
        new.id,
        new.tenant_id,
        new.name,
        new.description,
        new.rubric_instructions,
        new.rubric_items,
        new.default_dataset,
        new.num_reviewers_per_item
    )
    .fetch_one(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Queue>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM annotation_queues WHERE tenant_id = "
    ));
    query.push_bind(tenant_id).push(" AND id = ").push_bind(id);
    Ok(query.build_query_as::<Queue>().fetch_optional(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub ids: Vec<Uuid>,
    pub name: Option<String>,
    pub name_contains: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &QueueFilter,
) -> Result<Vec<Queue>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM annotation_queues WHERE tenant_id = "
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
    query
        .push(" ORDER BY created_at DESC, id DESC OFFSET ")
        .push_bind(filter.offset)
        .push(" LIMIT ")
        .push_bind(filter.limit);
    Ok(query.build_query_as::<Queue>().fetch_all(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct QueuePatch<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub rubric_instructions: Option<&'a str>,
    pub rubric_items: Option<&'a Value>,
    pub num_reviewers_per_item: Option<i32>,
}

pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    patch: &QueuePatch<'_>,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "UPDATE annotation_queues SET name = COALESCE($3, name),
           description = COALESCE($4, description),
           rubric_instructions = COALESCE($5, rubric_instructions),
           rubric_items = COALESCE($6, rubric_items),
           num_reviewers_per_item = COALESCE($7, num_reviewers_per_item), updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id,
        patch.name,
        patch.description,
        patch.rubric_instructions,
        patch.rubric_items,
        patch.num_reviewers_per_item
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

pub async fn delete(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM annotation_queues WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Item {
    pub id: Uuid,
    pub queue_id: Uuid,
    pub run_id: Uuid,
    pub session_id: Option<Uuid>,
    pub trace_id: Option<Uuid>,
    pub added_at: DateTime<Utc>,
    pub last_reviewed_time: Option<DateTime<Utc>>,
}

/// A run to add: its id and, when known, where it is.
pub struct NewItem {
    pub run_id: Uuid,
    pub session_id: Option<Uuid>,
    pub trace_id: Option<Uuid>,
    pub start_time: Option<DateTime<Utc>>,
}

/// Adds runs to a queue (a run already queued keeps its item); returns their items.
pub async fn add(
    db: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    queue_id: Uuid,
    runs: &[NewItem],
) -> Result<Vec<Item>, DbError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO annotation_queue_runs \
         (id, tenant_id, queue_id, run_id, session_id, trace_id, start_time) ",
    );
    query.push_values(runs, |mut row, run| {
        row.push_bind(Uuid::now_v7())
            .push_bind(tenant_id)
            .push_bind(queue_id)
            .push_bind(run.run_id)
            .push_bind(run.session_id)
            .push_bind(run.trace_id)
            .push_bind(run.start_time);
    });
    query.push(" ON CONFLICT (tenant_id, queue_id, run_id) DO NOTHING");
    query.build().execute(&mut *db).await?;
    let ids: Vec<Uuid> = runs.iter().map(|r| r.run_id).collect();
    Ok(sqlx::query_as!(
        Item,
        "SELECT id, queue_id, run_id, session_id, trace_id, added_at, last_reviewed_time
         FROM annotation_queue_runs WHERE tenant_id = $1 AND queue_id = $2 AND run_id = ANY($3)
         ORDER BY added_at, id",
        tenant_id,
        queue_id,
        &ids
    )
    .fetch_all(&mut *db)
    .await?)
}

/// Which items a listing returns, for one reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    All,
    /// Not yet done by this reviewer.
    NeedsMyReview(Uuid),
    /// Done by this reviewer, still short of the reviews it needs.
    NeedsOthersReview(Uuid),
    /// Done by as many reviewers as the queue asks for.
    Completed,
}

pub async fn items(
    db: impl PgExecutor<'_>,
    queue: &Queue,
    status: ItemStatus,
    offset: i64,
    limit: i64,
) -> Result<Vec<Item>, DbError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT i.id, i.queue_id, i.run_id, i.session_id, i.trace_id, i.added_at, \
         i.last_reviewed_time FROM annotation_queue_runs i WHERE i.tenant_id = ",
    );
    query
        .push_bind(queue.tenant_id)
        .push(" AND i.queue_id = ")
        .push_bind(queue.id);
    let done = "(SELECT count(*) FROM annotation_queue_reviews r WHERE r.queue_run_id = i.id)";
    match status {
        ItemStatus::All => {}
        ItemStatus::NeedsMyReview(reviewer) => {
            query
                .push(" AND NOT EXISTS (SELECT 1 FROM annotation_queue_reviews r WHERE r.queue_run_id = i.id AND r.reviewer_id = ")
                .push_bind(reviewer)
                .push(format!(") AND {done} < "))
                .push_bind(queue.num_reviewers_per_item);
        }
        ItemStatus::NeedsOthersReview(reviewer) => {
            query
                .push(" AND EXISTS (SELECT 1 FROM annotation_queue_reviews r WHERE r.queue_run_id = i.id AND r.reviewer_id = ")
                .push_bind(reviewer)
                .push(format!(") AND {done} < "))
                .push_bind(queue.num_reviewers_per_item);
        }
        ItemStatus::Completed => {
            query
                .push(format!(" AND {done} >= "))
                .push_bind(queue.num_reviewers_per_item);
        }
    }
    query
        .push(" ORDER BY i.added_at, i.id OFFSET ")
        .push_bind(offset)
        .push(" LIMIT ")
        .push_bind(limit);
    Ok(query.build_query_as::<Item>().fetch_all(db).await?)
}

pub async fn size(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    queue_id: Uuid,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM annotation_queue_runs
           WHERE tenant_id = $1 AND queue_id = $2"#,
        tenant_id,
        queue_id
    )
    .fetch_one(db)
    .await?)
}

/// Removes an item, named by its own id or by its run's id.
pub async fn remove(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    queue_id: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    Ok(sqlx::query!(
        "DELETE FROM annotation_queue_runs
         WHERE tenant_id = $1 AND queue_id = $2 AND (id = $3 OR run_id = $3)",
        tenant_id,
        queue_id,
        id
    )
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// Marks an item (by its id or its run's id) reviewed by `reviewer`; `completed` also records
/// the review as done. `None` when the queue has no such item.
pub async fn mark_reviewed(
    db: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    queue_id: Uuid,
    id: Uuid,
    reviewer: Uuid,
    completed: bool,
) -> Result<Option<Item>, DbError> {
    let Some(item) = sqlx::query_as!(
        Item,
        "UPDATE annotation_queue_runs SET last_reviewed_time = now()
         WHERE tenant_id = $1 AND queue_id = $2 AND (id = $3 OR run_id = $3)
         RETURNING id, queue_id, run_id, session_id, trace_id, added_at, last_reviewed_time",
        tenant_id,
        queue_id,
        id
    )
    .fetch_optional(&mut *db)
    .await?
    else {
        return Ok(None);
    };
    if completed {
        sqlx::query!(
            "INSERT INTO annotation_queue_reviews (queue_run_id, reviewer_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            item.id,
            reviewer
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(Some(item))
}
