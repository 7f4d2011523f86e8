//! Creating, reading, listing, updating and deleting datasets.

use super::*;

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct DatasetCreate {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(kv|llm|chat)$")]
    data_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    inputs_schema_definition: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    outputs_schema_definition: Option<Value>,
    #[serde(default)]
    transformations: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    #[serde(default)]
    externally_managed: Option<bool>,
}

#[utoipa::path(post, path = "/datasets", operation_id = "create_dataset", tag = "datasets",
    request_body = DatasetCreate, responses((status = 200, body = resources::Dataset)))]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<DatasetCreate>,
) -> Result<Json<resources::Dataset>, ApiError> {
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
            ApiError::from(e)
        }
    })?;
    let found = get_dataset(&state, caller.workspace_id, created.id).await?;
    Ok(Json(render_dataset(&found)))
}

#[utoipa::path(get, path = "/datasets/{id}", operation_id = "read_dataset", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = resources::Dataset)))]
pub(super) async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<resources::Dataset>, ApiError> {
    Ok(Json(render_dataset(
        &get_dataset(&state, caller.workspace_id, id).await?,
    )))
}

#[utoipa::path(get, path = "/datasets", operation_id = "list_datasets", tag = "datasets",
    params(
        ("id" = Option<Vec<Uuid>>, Query, description = "Only these datasets"),
        ("data_type" = Option<String>, Query, description = "`kv`, `llm` or `chat`"),
        ("name" = Option<String>, Query, description = "The dataset of this exact name"),
        ("name_contains" = Option<String>, Query, description = "Names containing this text"),
        ("metadata" = Option<String>, Query, description = "A JSON object every listed dataset's metadata contains"),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::Dataset])))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    query: QueryPairs,
) -> Result<Json<Vec<resources::Dataset>>, ApiError> {
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
    Ok(Json(found.iter().map(render_dataset).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct DatasetUpdate {
    #[serde(default)]
    #[schema(min_length = 1, pattern = "\\S")]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    inputs_schema_definition: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    outputs_schema_definition: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    #[serde(default)]
    baseline_experiment_id: Option<Uuid>,
}

#[utoipa::path(patch, path = "/datasets/{id}", operation_id = "update_dataset", tag = "datasets",
    params(("id" = Uuid, Path)),
    request_body = DatasetUpdate, responses((status = 200, body = resources::Dataset)))]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<DatasetUpdate>,
) -> Result<Json<resources::Dataset>, ApiError> {
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
        Err(e) => return Err(e.into()),
    }
    Ok(Json(render_dataset(
        &get_dataset(&state, caller.workspace_id, id).await?,
    )))
}

/// Deletes the dataset and its examples, and deletes its experiments as `DELETE /sessions`
/// would.
#[utoipa::path(delete, path = "/datasets/{id}", operation_id = "delete_dataset", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
pub(super) async fn remove(
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
