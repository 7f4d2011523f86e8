//! `/datasets`: datasets, their versions, tags, splits, diffs and public links,
//! CSV/JSONL upload, comparative experiments, and examples joined to experiment runs.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use ironsmith_analytics::run_query::{self, Order, RunQuery};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{
    DatasetsCreate, DatasetsDelete, DatasetsRead, DatasetsShare, DatasetsUpdate, ProjectsRead,
};
use ironsmith_datasets::{ExampleChange, Mode, schema};
use ironsmith_db::datasets::{self, Comparative, DatasetFilter, DatasetPatch, NewDataset};
use ironsmith_db::examples::{self, ExampleFilter};
use ironsmith_db::projects::{self, ProjectFilter};
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use ironsmith_queue::tasks::Task;
use ironsmith_queue::{DEFAULT_QUEUE, Queue};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::datasets::{render_dataset, render_example, resolve_version, time};
use crate::runs::body::{invalid, lenient_time};
use crate::runs::render::Selection;
use crate::runs::{payloads_for, render_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/datasets", get(list).post(create))
        .route("/datasets/upload", post(upload))
        .route("/datasets/comparative", post(create_comparative))
        .route("/datasets/comparative/{id}", delete(delete_comparative))
        .route("/datasets/{id}", get(read).patch(update).delete(remove))
        .route("/datasets/{id}/versions", get(versions))
        .route("/datasets/{id}/version", get(version))
        .route("/datasets/{id}/versions/diff", get(diff))
        .route("/datasets/{id}/tags", put(tag))
        .route("/datasets/{id}/splits", get(splits).put(edit_split))
        .route(
            "/datasets/{id}/share",
            get(share_state).put(share).delete(unshare),
        )
        .route("/datasets/{id}/runs", post(examples_with_runs))
        .route("/datasets/{id}/comparative", get(list_comparative))
}

const DATA_TYPES: [&str; 3] = ["kv", "llm", "chat"];

fn checked_data_type(data_type: Option<&str>) -> Result<&str, ApiError> {
    let data_type = data_type.unwrap_or("kv");
    if DATA_TYPES.contains(&data_type) {
        Ok(data_type)
    } else {
        Err(invalid(
            "data_type",
            format!("`{data_type}` is not one of kv, llm, chat"),
        ))
    }
}

fn checked_name(name: Option<&str>) -> Result<&str, ApiError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("name", "must not be empty".into()));
    }
    Ok(name)
}

fn checked_schema<'a>(
    field: &str,
    value: Option<&'a Value>,
) -> Result<Option<&'a Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(schema_value) => {
            schema::check(schema_value)
                .map_err(|e| invalid(field, format!("is not a valid JSON Schema: {e}")))?;
            Ok(Some(schema_value))
        }
    }
}

async fn get_dataset(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<datasets::DatasetWithCounts, ApiError> {
    datasets::get(&state.stores.postgres, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Dataset not found".into()))
}

fn duplicate(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "A dataset named `{name}` already exists in this workspace"
    ))
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    data_type: Option<String>,
    #[serde(default)]
    inputs_schema_definition: Option<Value>,
    #[serde(default)]
    outputs_schema_definition: Option<Value>,
    #[serde(default)]
    transformations: Option<Value>,
    #[serde(default)]
    extra: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    externally_managed: Option<bool>,
}

async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<CreateBody>,
) -> Result<Json<Value>, ApiError> {
    let name = checked_name(body.name.as_deref())?;
    let data_type = checked_data_type(body.data_type.as_deref())?;
    let inputs_schema = checked_schema(
        "inputs_schema_definition",
        body.inputs_schema_definition.as_ref(),
    )?;
    let outputs_schema = checked_schema(
        "outputs_schema_definition",
        body.outputs_schema_definition.as_ref(),
    )?;
    let metadata = body
        .extra
        .as_ref()
        .and_then(|e| e.get("metadata"))
        .or(body.metadata.as_ref())
        .filter(|m| !m.is_null());
    if metadata.is_some_and(|m| !m.is_object()) {
        return Err(invalid(
            "extra",
            "`extra.metadata` must be an object".into(),
        ));
    }
    let created = datasets::create(
        &state.stores.postgres,
        &NewDataset {
            id: body.id.unwrap_or_else(Uuid::now_v7),
            tenant_id: caller.workspace_id,
            name,
            description: body.description.as_deref(),
            data_type,
            inputs_schema,
            outputs_schema,
            transformations: body.transformations.as_ref().filter(|t| !t.is_null()),
            metadata,
            externally_managed: body.externally_managed.unwrap_or(false),
        },
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            duplicate(name)
        } else {
            ApiError::internal(e)
        }
    })?;
    let found = get_dataset(&state, caller.workspace_id, created.id).await?;
    Ok(Json(render_dataset(&found)))
}

async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(render_dataset(
        &get_dataset(&state, caller.workspace_id, id).await?,
    )))
}

async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let data_type = query.get("data_type");
    if let Some(data_type) = data_type {
        checked_data_type(Some(data_type))?;
    }
    let filter = DatasetFilter {
        ids: query.uuids("id")?,
        data_type: data_type.map(str::to_owned),
        name: query.get("name").map(str::to_owned),
        name_contains: query.get("name_contains").map(str::to_owned),
        metadata: query.json("metadata")?,
        offset,
        limit,
    };
    let found = datasets::list(&state.stores.postgres, caller.workspace_id, &filter).await?;
    Ok(Json(Value::Array(
        found.iter().map(render_dataset).collect(),
    )))
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    inputs_schema_definition: Option<Value>,
    #[serde(default)]
    outputs_schema_definition: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    baseline_experiment_id: Option<Uuid>,
}

async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<UpdateBody>,
) -> Result<Json<Value>, ApiError> {
    let name = body
        .name
        .as_deref()
        .map(|n| checked_name(Some(n)))
        .transpose()?;
    let patch = DatasetPatch {
        name,
        description: body.description.as_deref(),
        inputs_schema: checked_schema(
            "inputs_schema_definition",
            body.inputs_schema_definition.as_ref(),
        )?,
        outputs_schema: checked_schema(
            "outputs_schema_definition",
            body.outputs_schema_definition.as_ref(),
        )?,
        metadata: body.metadata.as_ref().filter(|m| m.is_object()),
        baseline_experiment_id: body.baseline_experiment_id,
    };
    match datasets::update(&state.stores.postgres, caller.workspace_id, id, &patch).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::NotFound("Dataset not found".into())),
        Err(e) if e.is_unique_violation() => return Err(duplicate(name.unwrap_or_default())),
        Err(e) => return Err(ApiError::internal(e)),
    }
    Ok(Json(render_dataset(
        &get_dataset(&state, caller.workspace_id, id).await?,
    )))
}

/// Deletes the dataset and its examples, and deletes its experiments as `DELETE /sessions`
/// would.
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsDelete>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    let tenant_id = caller.workspace_id;
    let db = &state.stores.postgres;
    let experiments = projects::list(
        db,
        tenant_id,
        &ProjectFilter {
            reference_dataset: Some(id),
            offset: 0,
            limit: i64::MAX,
            ..ProjectFilter::default()
        },
    )
    .await?;
    if !datasets::delete(db, tenant_id, id).await? {
        return Err(ApiError::NotFound("Dataset not found".into()));
    }
    let queue = Queue::new(state.stores.redis.clone(), DEFAULT_QUEUE);
    for experiment in experiments {
        if projects::mark_deleted(db, tenant_id, experiment.id).await? {
            queue
                .enqueue(&Task::DeleteProjectRuns {
                    tenant_id,
                    session_id: experiment.id,
                })
                .await?;
        }
    }
    // The dataset's example attachments are now unreferenced: the worker removes them.
    queue
        .enqueue(&Task::SweepExampleObjects { tenant_id })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn render_version(version: &datasets::Version) -> Value {
    json!({"as_of": time(&version.as_of), "tags": version.tags})
}

async fn versions(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let (offset, limit) = query.page(100)?;
    let found = datasets::versions(
        &state.stores.postgres,
        caller.workspace_id,
        id,
        query.get("search"),
        offset,
        limit,
    )
    .await?;
    Ok(Json(Value::Array(
        found.iter().map(render_version).collect(),
    )))
}

async fn version(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let reference = query.get("tag").or(query.get("as_of"));
    let at = resolve_version(&state, caller.workspace_id, Some(id), reference, "as_of")
        .await?
        .unwrap_or_else(Utc::now);
    let found = datasets::version_at(&state.stores.postgres, caller.workspace_id, id, at)
        .await?
        .ok_or_else(|| ApiError::NotFound("The dataset has no version at that time".into()))?;
    Ok(Json(render_version(&found)))
}

#[derive(Deserialize)]
struct TagBody {
    #[serde(default)]
    as_of: Option<Value>,
    #[serde(default)]
    tag: Option<String>,
}

async fn tag(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<TagBody>,
) -> Result<Json<Value>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let tag = body
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("tag", "is required".into()))?;
    let reference = match &body.as_of {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    let at = resolve_version(
        &state,
        caller.workspace_id,
        Some(id),
        reference.as_deref(),
        "as_of",
    )
    .await?
    .unwrap_or_else(Utc::now);
    let mut conn = state.stores.postgres.acquire().await?;
    let version = datasets::set_tag(&mut conn, caller.workspace_id, id, at, tag)
        .await?
        .ok_or_else(|| ApiError::NotFound("The dataset has no version at that time".into()))?;
    Ok(Json(render_version(&version)))
}

async fn diff(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let now = Utc::now();
    let from = resolve_version(
        &state,
        caller.workspace_id,
        Some(id),
        query.get("from_version"),
        "from_version",
    )
    .await?
    .unwrap_or(now);
    let to = resolve_version(
        &state,
        caller.workspace_id,
        Some(id),
        query.get("to_version"),
        "to_version",
    )
    .await?
    .unwrap_or(now);
    let found = examples::diff(&state.stores.postgres, caller.workspace_id, id, from, to).await?;
    Ok(Json(json!({
        "examples_added": found.added,
        "examples_modified": found.modified,
        "examples_removed": found.removed,
    })))
}

async fn splits(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let as_of = resolve_version(
        &state,
        caller.workspace_id,
        Some(id),
        query.get("as_of"),
        "as_of",
    )
    .await?;
    let found = examples::splits(&state.stores.postgres, caller.workspace_id, id, as_of).await?;
    Ok(Json(json!(found)))
}

#[derive(Deserialize)]
struct SplitBody {
    #[serde(default)]
    split_name: Option<String>,
    #[serde(default)]
    examples: Vec<Uuid>,
    #[serde(default)]
    remove: bool,
}

/// Adds examples to a split, or removes them from it: one new version.
async fn edit_split(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<SplitBody>,
) -> Result<Json<Value>, ApiError> {
    let split = body
        .split_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("split_name", "is required".into()))?;
    let tenant_id = caller.workspace_id;
    let current = examples::current(&state.stores.postgres, tenant_id, &body.examples).await?;
    let mut changes = Vec::new();
    for example in current.into_iter().filter(|e| e.dataset_id == id) {
        let mut names: Vec<String> = example
            .metadata
            .as_ref()
            .and_then(|m| m.get("dataset_split"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.retain(|n| n != split);
        if !body.remove {
            names.push(split.to_owned());
        }
        changes.push(ExampleChange {
            id: example.id,
            split: Some(names),
            ..ExampleChange::default()
        });
    }
    let ids: Vec<Uuid> = changes.iter().map(|c| c.id).collect();
    if !changes.is_empty() {
        ironsmith_datasets::write(
            &state.stores.postgres,
            &state.stores.storage,
            tenant_id,
            id,
            Mode::Update,
            changes,
        )
        .await
        .map_err(ApiError::from)?;
    }
    Ok(Json(json!(ids)))
}

async fn share_state(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<Value>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let token = datasets::share_token(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(Json(match token {
        Some(token) => json!({"dataset_id": id, "share_token": token}),
        None => Value::Null,
    }))
}

async fn share(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsShare>,
    PathUuid(id): PathUuid,
) -> Result<Json<Value>, ApiError> {
    crate::sharing::ensure_allowed(&state, caller.workspace_id).await?;
    get_dataset(&state, caller.workspace_id, id).await?;
    let token = datasets::share(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(Json(json!({"dataset_id": id, "share_token": token})))
}

async fn unshare(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsShare>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    datasets::unshare(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ComparativeBody {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    experiment_ids: Vec<Uuid>,
    #[serde(default)]
    reference_dataset_id: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient_time")]
    created_at: Option<i64>,
    #[serde(default)]
    extra: Option<Value>,
}

fn render_comparative(c: &Comparative) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "tenant_id": c.tenant_id,
        "created_at": time(&c.created_at),
        "modified_at": time(&c.modified_at),
        "reference_dataset_id": c.reference_dataset_id,
        "experiment_ids": c.experiment_ids,
        "extra": c.extra,
    })
}

async fn create_comparative(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ComparativeBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant_id = caller.workspace_id;
    let dataset_id = body
        .reference_dataset_id
        .ok_or_else(|| invalid("reference_dataset_id", "is required".into()))?;
    get_dataset(&state, tenant_id, dataset_id).await?;
    if body.experiment_ids.len() < 2 {
        return Err(invalid(
            "experiment_ids",
            "a comparison needs at least two experiments".into(),
        ));
    }
    let db = &state.stores.postgres;
    let live = projects::live_ids(db, tenant_id, &body.experiment_ids).await?;
    if live.len() != body.experiment_ids.len() {
        return Err(ApiError::NotFound("Experiment not found".into()));
    }
    let id = body.id.unwrap_or_else(Uuid::now_v7);
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("comparison-{id}"));
    let created = datasets::create_comparative(
        db,
        &Comparative {
            id,
            tenant_id,
            name,
            description: body.description,
            reference_dataset_id: dataset_id,
            experiment_ids: body.experiment_ids,
            extra: body
                .extra
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({})),
            created_at: body
                .created_at
                .and_then(chrono::DateTime::from_timestamp_micros)
                .unwrap_or_else(Utc::now),
            modified_at: Utc::now(),
        },
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            ApiError::Conflict("A comparative experiment with this id already exists".into())
        } else {
            ApiError::internal(e)
        }
    })?;
    Ok(Json(render_comparative(&created)))
}

async fn list_comparative(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let found = datasets::comparatives(
        &state.stores.postgres,
        caller.workspace_id,
        id,
        offset,
        limit,
    )
    .await?;
    Ok(Json(Value::Array(
        found.iter().map(render_comparative).collect(),
    )))
}

async fn delete_comparative(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsDelete>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    if datasets::delete_comparative(&state.stores.postgres, caller.workspace_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "Comparative experiment not found".into(),
        ))
    }
}

#[derive(Deserialize)]
struct ExamplesWithRunsBody {
    #[serde(default)]
    session_ids: Vec<Uuid>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    preview: Option<bool>,
    #[serde(default)]
    example_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    as_of: Option<String>,
}

/// Examples of the dataset, each with the root runs the given experiments made on it
/// (their feedback statistics included): what comparison views and the SDKs' result readers use.
/// Most experiments one `POST /datasets/{id}/runs` compares.
const MAX_COMPARED_SESSIONS: usize = 100;

/// Most runs one `POST /datasets/{id}/runs` answer carries: the work of one request is bounded
/// whatever the experiments hold.
const MAX_RUNS_PER_PAGE: usize = 10_000;

// Long: paging examples, finding each experiment's runs and capping the work are one
// sequence; it is split when this resource moves to its own module.
#[allow(clippy::too_many_lines)]
async fn examples_with_runs(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    _runs: RequirePermission<ProjectsRead>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<ExamplesWithRunsBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant_id = caller.workspace_id;
    get_dataset(&state, tenant_id, id).await?;
    let limit = body.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 100".into()));
    }
    if body.session_ids.len() > MAX_COMPARED_SESSIONS {
        return Err(invalid(
            "session_ids",
            format!("compare at most {MAX_COMPARED_SESSIONS} experiments at once"),
        ));
    }
    let db = &state.stores.postgres;
    let as_of = resolve_version(
        &state,
        caller.workspace_id,
        Some(id),
        body.as_of.as_deref(),
        "as_of",
    )
    .await?;
    let page = examples::list(
        db,
        tenant_id,
        &ExampleFilter {
            dataset: Some(id),
            ids: body.example_ids.unwrap_or_default(),
            as_of,
            offset: body.offset.unwrap_or(0).max(0),
            limit,
            ..ExampleFilter::default()
        },
    )
    .await?;
    let sessions = projects::live_ids(db, tenant_id, &body.session_ids).await?;
    let mut by_example: BTreeMap<Uuid, Vec<Value>> = BTreeMap::new();
    if !page.is_empty() && !sessions.is_empty() {
        let selection = if body.preview.unwrap_or(false) {
            Selection::Only(
                [
                    "inputs_preview",
                    "outputs_preview",
                    "feedback_stats",
                    "reference_example_id",
                ]
                .map(str::to_owned)
                .to_vec(),
            )
        } else {
            Selection::All
        };
        let mut query = RunQuery {
            tenant_id,
            sessions,
            ids: None,
            trace_id: None,
            parent_run_id: None,
            run_type: None,
            reference_examples: Some(page.iter().map(|e| e.id).collect()),
            is_root: Some(true),
            error: None,
            start_min_us: None,
            start_max_us: None,
            filter: None,
            trace_filter: None,
            tree_filter: None,
            order: Order::Asc,
            limit: 100,
            after: None,
            payloads: payloads_for(&selection),
        };
        let mut collected = 0usize;
        loop {
            let found = run_query::list(&state.stores.clickhouse, &query).await?;
            let next = found.next;
            let rendered = render_page(&state, tenant_id, found, &selection).await?;
            if let Some(runs) = rendered.get("runs").and_then(Value::as_array) {
                collected += runs.len();
                if collected > MAX_RUNS_PER_PAGE {
                    return Err(invalid(
                        "limit",
                        format!(
                            "these examples have more than {MAX_RUNS_PER_PAGE} runs in the \
                             experiments; ask for fewer examples or experiments at once"
                        ),
                    ));
                }
                for run in runs {
                    if let Some(example) = run["reference_example_id"]
                        .as_str()
                        .and_then(|s| Uuid::parse_str(s).ok())
                    {
                        by_example.entry(example).or_default().push(run.clone());
                    }
                }
            }
            match next {
                Some(position) => query.after = Some(position),
                None => break,
            }
        }
    }
    let out: Vec<Value> = page
        .iter()
        .map(|example| {
            let mut rendered = render_example(&state, example);
            if let Some(map) = rendered.as_object_mut() {
                map.insert(
                    "runs".into(),
                    Value::Array(by_example.remove(&example.id).unwrap_or_default()),
                );
            }
            rendered
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `POST /datasets/upload`: a new dataset from a CSV file (or JSON Lines), columns split into
/// inputs and outputs by `input_keys` / `output_keys`.
async fn upload(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsCreate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let form = crate::upload::read_form(&headers, body, state.config.http.max_body_bytes).await?;
    let file = form
        .file
        .ok_or_else(|| invalid("file", "is required".into()))?;
    let name = form
        .fields
        .get("name")
        .and_then(|v| v.last())
        .cloned()
        .or_else(|| file.filename.clone())
        .unwrap_or_default();
    let name = checked_name(Some(&name))?.to_owned();
    let field = |key: &str| form.fields.get(key).and_then(|v| v.last()).cloned();
    let data_type = field("data_type");
    let data_type = checked_data_type(data_type.as_deref())?.to_owned();
    let input_keys = form.fields.get("input_keys").cloned().unwrap_or_default();
    let output_keys = form.fields.get("output_keys").cloned().unwrap_or_default();
    let is_jsonl = file
        .filename
        .as_deref()
        .is_some_and(|f| f.ends_with(".jsonl") || f.ends_with(".ndjson"))
        || file
            .content_type
            .as_deref()
            .is_some_and(|c| c.contains("jsonl") || c.contains("ndjson"));
    let rows = if is_jsonl {
        crate::upload::jsonl_rows(&file.bytes, &input_keys, &output_keys)?
    } else {
        crate::upload::csv_rows(&file.bytes, &input_keys, &output_keys)?
    };
    let tenant_id = caller.workspace_id;
    let id = match field("id") {
        Some(id) => Uuid::parse_str(&id).map_err(|_| invalid("id", "is not a UUID".into()))?,
        None => Uuid::now_v7(),
    };
    let description = field("description");
    datasets::create(
        &state.stores.postgres,
        &NewDataset {
            id,
            tenant_id,
            name: &name,
            description: description.as_deref(),
            data_type: &data_type,
            inputs_schema: None,
            outputs_schema: None,
            transformations: None,
            metadata: None,
            externally_managed: false,
        },
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            duplicate(&name)
        } else {
            ApiError::internal(e)
        }
    })?;
    let changes: Vec<ExampleChange> = rows
        .into_iter()
        .map(|(inputs, outputs, metadata)| ExampleChange {
            id: Uuid::now_v7(),
            inputs: Some(inputs),
            outputs,
            metadata,
            ..ExampleChange::default()
        })
        .collect();
    if !changes.is_empty() {
        let written = ironsmith_datasets::write(
            &state.stores.postgres,
            &state.stores.storage,
            tenant_id,
            id,
            Mode::Create,
            changes,
        )
        .await;
        if let Err(error) = written {
            // The dataset was created for this upload only: do not leave it half filled.
            datasets::delete(&state.stores.postgres, tenant_id, id).await?;
            return Err(ApiError::from(error));
        }
    }
    let found = get_dataset(&state, tenant_id, id).await?;
    Ok(Json(render_dataset(&found)))
}
