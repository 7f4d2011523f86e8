//! `/examples`: JSON example writes (each call one dataset version), reads as of
//! any version, listing with filters, counts, and deletes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::resources;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{DatasetsRead, DatasetsUpdate};
use ironsmith_datasets::{ExampleChange, Mode};
use ironsmith_db::examples::{self, ExampleFilter};
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::datasets::{render_example, resolve_version};
use crate::runs::body::{invalid, lenient_time};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create_one, delete_many))
        .routes(routes!(count))
        .routes(routes!(create_bulk, update_bulk))
        .routes(routes!(read, update_one, delete_one))
}

/// `split` as a string or a list.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Split {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ExampleBody {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    dataset_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    inputs: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    outputs: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    #[serde(default)]
    split: Option<Split>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    created_at: Option<i64>,
    #[serde(default)]
    source_run_id: Option<Uuid>,
}

impl ExampleBody {
    fn change(self, id: Uuid) -> ExampleChange {
        ExampleChange {
            id,
            inputs: self.inputs.filter(|v| !v.is_null()),
            outputs: self.outputs,
            metadata: self.metadata,
            split: self.split.map(|s| match s {
                Split::One(name) => vec![name],
                Split::Many(names) => names,
            }),
            source_run_id: self.source_run_id,
            created_at: self
                .created_at
                .and_then(chrono::DateTime::from_timestamp_micros),
            ..ExampleChange::default()
        }
    }
}

/// Writes changes grouped by dataset (a create may span datasets), one version per dataset.
async fn write_all(
    state: &AppState,
    tenant_id: Uuid,
    mode: Mode,
    bodies: Vec<ExampleBody>,
) -> Result<Vec<Uuid>, ApiError> {
    // Grouped in order of first appearance, through an index: linear in the number of bodies.
    let mut by_dataset: Vec<(Uuid, Vec<ExampleChange>)> = Vec::new();
    let mut index: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
    let mut ids = Vec::with_capacity(bodies.len());
    for body in bodies {
        let dataset_id = body
            .dataset_id
            .ok_or_else(|| invalid("dataset_id", "is required".into()))?;
        let id = body.id.unwrap_or_else(Uuid::now_v7);
        ids.push(id);
        let change = body.change(id);
        let slot = *index.entry(dataset_id).or_insert_with(|| {
            by_dataset.push((dataset_id, Vec::new()));
            by_dataset.len() - 1
        });
        if let Some((_, changes)) = by_dataset.get_mut(slot) {
            changes.push(change);
        }
    }

    for (dataset_id, changes) in by_dataset {
        ironsmith_datasets::write(
            &state.stores.postgres,
            &state.stores.storage,
            tenant_id,
            dataset_id,
            mode,
            changes,
        )
        .await
        .map_err(ApiError::from)?;
    }
    Ok(ids)
}

async fn read_current(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<resources::Example, ApiError> {
    let example = examples::get(&state.stores.postgres, tenant_id, id, None)
        .await?
        .ok_or_else(|| ApiError::NotFound("Example not found".into()))?;
    Ok(render_example(state, &example))
}

#[utoipa::path(post, path = "/examples", tag = "examples",
    request_body = ExampleBody, responses((status = 200, body = resources::Example)))]
async fn create_one(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ExampleBody>,
) -> Result<Json<resources::Example>, ApiError> {
    let ids = write_all(&state, caller.workspace_id, Mode::Create, vec![body]).await?;
    let id = ids
        .first()
        .copied()
        .ok_or_else(|| ApiError::internal("a write of one example returned no id"))?;
    Ok(Json(read_current(&state, caller.workspace_id, id).await?))
}

#[utoipa::path(post, path = "/examples/bulk", tag = "examples",
    request_body = Vec<ExampleBody>,
    responses((status = 200, body = [resources::Example])))]
async fn create_bulk(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    ironsmith_http::Json(bodies): ironsmith_http::Json<Vec<ExampleBody>>,
) -> Result<Json<Vec<resources::Example>>, ApiError> {
    let ids = write_all(&state, caller.workspace_id, Mode::Create, bodies).await?;
    let found = examples::current(&state.stores.postgres, caller.workspace_id, &ids).await?;
    // In the order sent: clients read `[i].id`.
    Ok(Json(
        ids.iter()
            .filter_map(|id| found.iter().find(|e| e.id == *id))
            .map(|e| render_example(&state, e))
            .collect(),
    ))
}

/// The dataset an update names, or the one the example is in now.
async fn dataset_of(state: &AppState, tenant_id: Uuid, id: Uuid) -> Result<Uuid, ApiError> {
    examples::current(&state.stores.postgres, tenant_id, &[id])
        .await?
        .first()
        .map(|e| e.dataset_id)
        .ok_or_else(|| ApiError::NotFound("Example not found".into()))
}

#[utoipa::path(patch, path = "/examples/{id}", tag = "examples",
    params(("id" = Uuid, Path)),
    request_body = ExampleBody, responses((status = 200, body = resources::Example)))]
async fn update_one(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(mut body): ironsmith_http::Json<ExampleBody>,
) -> Result<Json<resources::Example>, ApiError> {
    let tenant_id = caller.workspace_id;
    let current = dataset_of(&state, tenant_id, id).await?;
    if body.dataset_id.is_some_and(|d| d != current) {
        return Err(ApiError::Conflict(
            "An example cannot move to another dataset".into(),
        ));
    }
    body.dataset_id = Some(current);
    body.id = Some(id);
    write_all(&state, tenant_id, Mode::Update, vec![body]).await?;
    Ok(Json(read_current(&state, tenant_id, id).await?))
}

#[utoipa::path(patch, path = "/examples/bulk", tag = "examples",
    request_body = Vec<ExampleBody>,
    responses((status = 200, body = resources::ExampleIds)))]
async fn update_bulk(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    ironsmith_http::Json(mut bodies): ironsmith_http::Json<Vec<ExampleBody>>,
) -> Result<Json<resources::ExampleIds>, ApiError> {
    let tenant_id = caller.workspace_id;
    let ids: Vec<Uuid> = bodies
        .iter()
        .map(|b| b.id.ok_or_else(|| invalid("id", "is required".into())))
        .collect::<Result<_, _>>()?;
    let current = examples::current(&state.stores.postgres, tenant_id, &ids).await?;
    let mut datasets: Vec<Uuid> = current.iter().map(|e| e.dataset_id).collect();
    datasets.extend(bodies.iter().filter_map(|b| b.dataset_id));
    datasets.sort_unstable();
    datasets.dedup();
    if datasets.len() > 1 {
        return Err(ApiError::Conflict(
            "A bulk update must touch examples of one dataset".into(),
        ));
    }
    let Some(dataset_id) = datasets.first().copied() else {
        return Err(ApiError::NotFound("Example not found".into()));
    };
    for body in &mut bodies {
        body.dataset_id = Some(dataset_id);
    }
    let ids = write_all(&state, tenant_id, Mode::Update, bodies).await?;
    Ok(Json(resources::ExampleIds {
        count: ids.len(),
        example_ids: ids,
    }))
}

#[utoipa::path(get, path = "/examples/{id}", operation_id = "read_example", tag = "examples",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = resources::Example)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<resources::Example>, ApiError> {
    let tenant_id = caller.workspace_id;
    let reference = query.get("as_of");
    // A tag belongs to a dataset: find the example's (through any revision) first.
    let dataset = match reference {
        Some(r) if ironsmith_api_types::timestamp::parse(r).is_none() && r != "latest" => {
            Some(dataset_of(&state, tenant_id, id).await?)
        }
        _ => None,
    };
    let as_of = resolve_version(&state, caller.workspace_id, dataset, reference, "as_of").await?;
    let example = examples::get(&state.stores.postgres, tenant_id, id, as_of)
        .await?
        .ok_or_else(|| ApiError::NotFound("Example not found".into()))?;
    Ok(Json(render_example(&state, &example)))
}

async fn filter_from(
    state: &AppState,
    tenant_id: Uuid,
    query: &QueryPairs,
    paged: bool,
) -> Result<ExampleFilter, ApiError> {
    let (offset, limit) = if paged { query.page(100)? } else { (0, 0) };
    let dataset = query.uuid("dataset")?;
    let metadata = query.json("metadata")?;
    if metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err(invalid("metadata", "must be a JSON object".into()));
    }
    let mut filter = ExampleFilter {
        dataset,
        ids: query.uuids("id")?,
        as_of: resolve_version(state, tenant_id, dataset, query.get("as_of"), "as_of").await?,
        splits: query.all("splits").map(str::to_owned).collect(),
        metadata,
        full_text: query.get("full_text_contains").map(str::to_owned),
        condition: None,
        exclude_ids: Vec::new(),
        offset,
        limit,
    };
    if let Some(expression) = query.get("filter") {
        filter.condition = Some(crate::example_filter::parse(expression)?);
    }
    Ok(filter)
}

/// Which examples `GET /examples` and `GET /examples/count` read (documentation of the query;
/// `filter_from` reads it).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "read as query pairs by `filter_from`; this struct documents them"
)]
struct ExampleSelection {
    /// Examples of this dataset
    dataset: Option<Uuid>,
    /// Only these examples
    id: Option<Vec<Uuid>>,
    /// The dataset as of this version: a timestamp or a tag
    as_of: Option<String>,
    /// Examples in any of these splits
    splits: Option<Vec<String>>,
    /// A JSON object every listed example's metadata contains
    metadata: Option<String>,
    /// Examples whose inputs or outputs contain this text
    full_text_contains: Option<String>,
    /// A filter expression on metadata (`exists`, `has`, comparisons, `and`, `or`, `not`)
    filter: Option<String>,
}

#[utoipa::path(get, path = "/examples", operation_id = "list_examples", tag = "examples",
    params(
        ExampleSelection,
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::Example])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    query: QueryPairs,
) -> Result<Json<Vec<resources::Example>>, ApiError> {
    let filter = filter_from(&state, caller.workspace_id, &query, true).await?;
    let found = examples::list(&state.stores.postgres, caller.workspace_id, &filter).await?;
    Ok(Json(
        found.iter().map(|e| render_example(&state, e)).collect(),
    ))
}

#[utoipa::path(get, path = "/examples/count", tag = "examples",
    params(ExampleSelection),
    responses((status = 200, body = i64, content_type = "application/json")))]
async fn count(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    query: QueryPairs,
) -> Result<Json<i64>, ApiError> {
    let filter = filter_from(&state, caller.workspace_id, &query, false).await?;
    let n = examples::count(&state.stores.postgres, caller.workspace_id, &filter).await?;
    Ok(Json(n))
}

#[utoipa::path(delete, path = "/examples/{id}", tag = "examples",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
async fn delete_one(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    let deleted = ironsmith_datasets::delete(&state.stores.postgres, caller.workspace_id, &[id])
        .await
        .map_err(ApiError::from)?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound("Example not found".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/examples", tag = "examples",
    params(("example_ids" = Vec<Uuid>, Query, description = "The examples to delete")),
    responses((status = 200, body = resources::ExampleIds)))]
async fn delete_many(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    query: QueryPairs,
) -> Result<Json<resources::ExampleIds>, ApiError> {
    let ids = query.uuids("example_ids")?;
    let deleted = ironsmith_datasets::delete(&state.stores.postgres, caller.workspace_id, &ids)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(resources::ExampleIds {
        count: deleted.len(),
        example_ids: deleted,
    }))
}
