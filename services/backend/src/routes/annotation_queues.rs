//! `/annotation-queues`: queues with their rubric, runs added for review, the next
//! item for each reviewer, marking items done, and sizes. Adding a run upgrades its trace to the
//! long retention tier.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use ironsmith_analytics::feedback as feedback_store;
use ironsmith_analytics::runs as run_rows;
use ironsmith_api_types::resources;
use ironsmith_auth::AuthContext;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{
    AnnotationQueuesCreate, AnnotationQueuesDelete, AnnotationQueuesRead, AnnotationQueuesUpdate,
};
use ironsmith_db::annotation_queues::{
    self, Item, ItemStatus, NewItem, NewQueue, Queue, QueueFilter, QueuePatch,
};
use ironsmith_http::{ApiError, Path, PathUuid, QueryPairs, ValidationIssue};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::{invalid, lenient_time};
use crate::runs::render_one;
use ironsmith_api_types::runs::QueueRun;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(items, add_runs))
        .routes(routes!(add_runs_by_key))
        .routes(routes!(remove_item, review_item))
        .routes(routes!(item_at))
        .routes(routes!(size))
}

fn render(queue: &Queue) -> resources::AnnotationQueue {
    resources::AnnotationQueue {
        id: queue.id,
        name: queue.name.clone(),
        description: queue.description.clone(),
        created_at: queue.created_at,
        updated_at: queue.updated_at,
        tenant_id: queue.tenant_id,
        queue_type: queue.queue_type.clone(),
        rubric_instructions: queue.rubric_instructions.clone(),
        rubric_items: queue.rubric_items.clone(),
        default_dataset: queue.default_dataset,
        num_reviewers_per_item: queue.num_reviewers_per_item,
    }
}

fn render_item(item: &Item) -> resources::AnnotationQueueItem {
    resources::AnnotationQueueItem {
        id: item.id,
        run_id: item.run_id,
        queue_id: item.queue_id,
        added_at: item.added_at,
        last_reviewed_time: item.last_reviewed_time,
    }
}

fn checked_reviewers(reviewers: i32) -> Result<i32, ApiError> {
    if reviewers < 1 {
        return Err(invalid(
            "num_reviewers_per_item",
            "must be at least 1".into(),
        ));
    }
    Ok(reviewers)
}

/// Rubric items must each name a feedback key.
fn checked_rubric(items: Option<Value>) -> Result<Option<Value>, ApiError> {
    match items {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                if item
                    .get("feedback_key")
                    .and_then(Value::as_str)
                    .is_none_or(|k| k.trim().is_empty())
                {
                    return Err(invalid(
                        "rubric_items",
                        format!("item {index} has no `feedback_key`"),
                    ));
                }
            }
            Ok(Some(Value::Array(items)))
        }
        Some(_) => Err(invalid("rubric_items", "must be a list".into())),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct QueueBody {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    #[schema(min_length = 1, pattern = "\\S")]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    rubric_instructions: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ironsmith_api_types::bodies::RubricItem>>)]
    rubric_items: Option<Value>,
    #[serde(default)]
    default_dataset: Option<Uuid>,
    #[serde(default)]
    #[schema(minimum = 1)]
    num_reviewers_per_item: Option<i32>,
}

async fn get_queue(state: &AppState, tenant_id: Uuid, id: Uuid) -> Result<Queue, ApiError> {
    annotation_queues::get(&state.stores.postgres, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Annotation queue not found".into()))
}

#[utoipa::path(post, path = "/annotation-queues", operation_id = "create_annotation_queue", tag = "annotation queues",
    request_body = QueueBody, responses((status = 200, body = resources::AnnotationQueue)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<QueueBody>,
) -> Result<Json<resources::AnnotationQueue>, ApiError> {
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name", "must not be empty".into()))?;
    let rubric = checked_rubric(body.rubric_items)?.unwrap_or_else(|| json!([]));
    let reviewers = checked_reviewers(body.num_reviewers_per_item.unwrap_or(1))?;
    let queue = annotation_queues::create(
        &state.stores.postgres,
        &NewQueue {
            id: body.id.unwrap_or_else(Uuid::now_v7),
            tenant_id: caller.workspace_id,
            name,
            description: body.description.as_deref(),
            rubric_instructions: body.rubric_instructions.as_deref(),
            rubric_items: &rubric,
            default_dataset: body.default_dataset,
            num_reviewers_per_item: reviewers,
        },
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            ApiError::Conflict("An annotation queue with this id already exists".into())
        } else {
            ApiError::from(e)
        }
    })?;
    Ok(Json(render(&queue)))
}

#[utoipa::path(get, path = "/annotation-queues/{id}", operation_id = "read_annotation_queue", tag = "annotation queues",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = resources::AnnotationQueue)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<resources::AnnotationQueue>, ApiError> {
    Ok(Json(render(
        &get_queue(&state, caller.workspace_id, id).await?,
    )))
}

#[utoipa::path(get, path = "/annotation-queues", operation_id = "list_annotation_queues", tag = "annotation queues",
    params(
        ("ids" = Option<Vec<Uuid>>, Query, description = "Only these queues"),
        ("name" = Option<String>, Query, description = "The queue of this exact name"),
        ("name_contains" = Option<String>, Query, description = "Names containing this text"),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::AnnotationQueue])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesRead>,
    query: QueryPairs,
) -> Result<Json<Vec<resources::AnnotationQueue>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let filter = QueueFilter {
        ids: query.uuids("ids")?,
        name: query.get("name").map(str::to_owned),
        name_contains: query.get("name_contains").map(str::to_owned),
        offset,
        limit,
    };
    let found =
        annotation_queues::list(&state.stores.postgres, caller.workspace_id, &filter).await?;
    Ok(Json(found.iter().map(render).collect()))
}

#[utoipa::path(patch, path = "/annotation-queues/{id}", operation_id = "update_annotation_queue", tag = "annotation queues",
    params(("id" = Uuid, Path)),
    request_body = QueueBody, responses((status = 200, body = resources::AnnotationQueue)))]
async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<QueueBody>,
) -> Result<Json<resources::AnnotationQueue>, ApiError> {
    let name = body.name.as_deref().map(str::trim);
    if name.is_some_and(str::is_empty) {
        return Err(invalid("name", "must not be empty".into()));
    }
    let rubric = checked_rubric(body.rubric_items)?;
    let reviewers = body
        .num_reviewers_per_item
        .map(checked_reviewers)
        .transpose()?;
    let patch = QueuePatch {
        name,
        description: body.description.as_deref(),
        rubric_instructions: body.rubric_instructions.as_deref(),
        rubric_items: rubric.as_ref(),
        num_reviewers_per_item: reviewers,
    };
    if !annotation_queues::update(&state.stores.postgres, caller.workspace_id, id, &patch).await? {
        return Err(ApiError::NotFound("Annotation queue not found".into()));
    }
    Ok(Json(render(
        &get_queue(&state, caller.workspace_id, id).await?,
    )))
}

#[utoipa::path(delete, path = "/annotation-queues/{id}", operation_id = "delete_annotation_queue", tag = "annotation queues",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesDelete>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    if annotation_queues::delete(&state.stores.postgres, caller.workspace_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("Annotation queue not found".into()))
    }
}

/// Adds runs of the caller's workspace (located, when already ingested, so their traces are
/// upgraded); returns the queue items.
async fn add(
    state: &AppState,
    tenant_id: Uuid,
    queue_id: Uuid,
    mut runs: Vec<NewItem>,
) -> Result<Json<Vec<resources::AnnotationQueueItem>>, ApiError> {
    get_queue(state, tenant_id, queue_id).await?;
    let clickhouse = &state.stores.clickhouse;
    let ids: Vec<Uuid> = runs.iter().map(|r| r.run_id).collect();
    let located = if ids.is_empty() {
        Vec::new()
    } else {
        run_rows::locate(clickhouse, tenant_id, &ids).await?
    };
    for run in &mut runs {
        if let Some(location) = located
            .iter()
            .filter(|l| l.id == run.run_id)
            .max_by_key(|l| l.version)
        {
            run.trace_id = Some(location.trace_id);
            run.session_id = run.session_id.or(Some(location.session_id));
            run.start_time = run.start_time.or(chrono::DateTime::from_timestamp_micros(
                location.start_time_us,
            ));
        }
    }
    let mut traces: Vec<Uuid> = runs.iter().filter_map(|r| r.trace_id).collect();
    traces.sort_unstable();
    traces.dedup();
    let mut conn = state.stores.postgres.acquire().await?;
    let items = annotation_queues::add(&mut conn, tenant_id, queue_id, &runs).await?;
    feedback_store::upgrade_traces(
        clickhouse,
        tenant_id,
        &traces,
        Utc::now().timestamp_micros(),
        "annotation_queue",
    )
    .await?;
    Ok(Json(items.iter().map(render_item).collect()))
}

#[utoipa::path(post, path = "/annotation-queues/{id}/runs", tag = "annotation queues",
    request_body = Vec<Uuid>,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [resources::AnnotationQueueItem])))]
async fn add_runs(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(run_ids): ironsmith_http::Json<Vec<Uuid>>,
) -> Result<Json<Vec<resources::AnnotationQueueItem>>, ApiError> {
    let runs = run_ids
        .into_iter()
        .map(|run_id| NewItem {
            run_id,
            session_id: None,
            trace_id: None,
            start_time: None,
        })
        .collect();
    add(&state, caller.workspace_id, id, runs).await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RunKey {
    run_id: Uuid,
    #[serde(default)]
    session_id: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    start_time: Option<i64>,
}

#[utoipa::path(post, path = "/annotation-queues/{id}/runs/by-key", tag = "annotation queues",
    request_body = Vec<RunKey>,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [resources::AnnotationQueueItem])))]
async fn add_runs_by_key(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(keys): ironsmith_http::Json<Vec<RunKey>>,
) -> Result<Json<Vec<resources::AnnotationQueueItem>>, ApiError> {
    let runs = keys
        .into_iter()
        .map(|key| NewItem {
            run_id: key.run_id,
            session_id: key.session_id,
            trace_id: None,
            start_time: key
                .start_time
                .and_then(chrono::DateTime::from_timestamp_micros),
        })
        .collect();
    add(&state, caller.workspace_id, id, runs).await
}

/// Who reviews: the user, or for a service key the key itself.
fn reviewer(caller: &AuthContext) -> Uuid {
    caller
        .user_id()
        .or(caller.credential.api_key_id())
        .unwrap_or(Uuid::nil())
}

/// Items as runs (`RunSchema` plus the item's fields). Items whose run has not arrived yet are
/// left out until it does.
async fn render_items(
    state: &AppState,
    tenant_id: Uuid,
    found: &[Item],
) -> Result<Vec<QueueRun>, ApiError> {
    let mut out = Vec::with_capacity(found.len());
    for item in found {
        if let Some(run) = render_one(state, tenant_id, item.run_id).await? {
            out.push(QueueRun {
                run,
                queue_run_id: item.id,
                added_at: item.added_at,
                last_reviewed_time: item.last_reviewed_time,
            });
        }
    }
    Ok(out)
}

fn status_of(query: &QueryPairs, caller: &AuthContext) -> Result<ItemStatus, ApiError> {
    match query.get("status") {
        None => Ok(ItemStatus::All),
        Some("needs_my_review") => Ok(ItemStatus::NeedsMyReview(reviewer(caller))),
        Some("needs_others_review") => Ok(ItemStatus::NeedsOthersReview(reviewer(caller))),
        Some("completed") => Ok(ItemStatus::Completed),
        Some(other) => Err(ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["query".into(), "status".into()],
            msg: format!("`{other}` is not one of needs_my_review, needs_others_review, completed"),
            kind: "value_error".into(),
        }])),
    }
}

#[utoipa::path(get, path = "/annotation-queues/{id}/runs", tag = "annotation queues",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [QueueRun])))]
async fn items(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Vec<QueueRun>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let queue = get_queue(&state, caller.workspace_id, id).await?;
    let status = status_of(&query, &caller)?;
    let found =
        annotation_queues::items(&state.stores.postgres, &queue, status, offset, limit).await?;
    Ok(Json(
        render_items(&state, caller.workspace_id, &found).await?,
    ))
}

/// The item at `index` among those still needing the caller's review (the "next item" view
/// when `index` is 0), or among all items with `?status=all`.
#[utoipa::path(get, path = "/annotation-queues/{id}/run/{index}", tag = "annotation queues",
    params(("id" = Uuid, Path), ("index" = u64, Path)),
    responses((status = 200, body = QueueRun)))]
async fn item_at(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesRead>,
    Path((id, index)): Path<(Uuid, i64)>,
    query: QueryPairs,
) -> Result<Json<QueueRun>, ApiError> {
    if index < 0 {
        return Err(ApiError::NotFound("No item at that index".into()));
    }
    let queue = get_queue(&state, caller.workspace_id, id).await?;
    let status = match query.get("status") {
        Some("all") => ItemStatus::All,
        Some(_) => status_of(&query, &caller)?,
        None => ItemStatus::NeedsMyReview(reviewer(&caller)),
    };
    let found = annotation_queues::items(&state.stores.postgres, &queue, status, index, 1).await?;
    render_items(&state, caller.workspace_id, &found)
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("No item at that index".into()))
}

#[utoipa::path(delete, path = "/annotation-queues/{id}/runs/{item}", tag = "annotation queues",
    params(("id" = Uuid, Path), ("item" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
async fn remove_item(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesUpdate>,
    Path((id, item)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    get_queue(&state, caller.workspace_id, id).await?;
    if annotation_queues::remove(&state.stores.postgres, caller.workspace_id, id, item).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("The run is not in this queue".into()))
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ReviewBody {
    #[serde(default)]
    #[schema(pattern = "^(completed|needs_review)$")]
    status: Option<String>,
}

/// Marks an item reviewed by the caller; `{"status": "completed"}` marks it done for them.
#[utoipa::path(patch, path = "/annotation-queues/{id}/runs/{item}", tag = "annotation queues",
    params(("id" = Uuid, Path), ("item" = Uuid, Path)),
    request_body = ReviewBody, responses((status = 200, body = resources::AnnotationQueueItem)))]
async fn review_item(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesUpdate>,
    Path((id, item)): Path<(Uuid, Uuid)>,
    ironsmith_http::Json(body): ironsmith_http::Json<ReviewBody>,
) -> Result<Json<resources::AnnotationQueueItem>, ApiError> {
    get_queue(&state, caller.workspace_id, id).await?;
    let completed = match body.status.as_deref() {
        None => false,
        Some("completed") => true,
        Some("needs_review") => false,
        Some(other) => {
            return Err(invalid(
                "status",
                format!("`{other}` is not one of completed, needs_review"),
            ));
        }
    };
    let mut conn = state.stores.postgres.acquire().await?;
    let updated = annotation_queues::mark_reviewed(
        &mut conn,
        caller.workspace_id,
        id,
        item,
        reviewer(&caller),
        completed,
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("The run is not in this queue".into()))?;
    Ok(Json(render_item(&updated)))
}

#[utoipa::path(get, path = "/annotation-queues/{id}/size", tag = "annotation queues",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = resources::QueueSize)))]
async fn size(
    State(state): State<AppState>,
    caller: RequirePermission<AnnotationQueuesRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<resources::QueueSize>, ApiError> {
    get_queue(&state, caller.workspace_id, id).await?;
    let n = annotation_queues::size(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(Json(resources::QueueSize { size: n }))
}
