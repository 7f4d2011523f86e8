//! Comparative experiments: pairwise comparisons of experiments over the dataset.

use super::*;

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ComparativeBody {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    experiment_ids: Vec<Uuid>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    reference_dataset_id: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    created_at: Option<i64>,
    #[serde(default)]
    extra: Option<Value>,
}

fn render_comparative(c: Comparative) -> resources::ComparativeExperiment {
    resources::ComparativeExperiment {
        id: c.id,
        name: c.name,
        description: c.description,
        tenant_id: c.tenant_id,
        created_at: c.created_at,
        modified_at: c.modified_at,
        reference_dataset_id: c.reference_dataset_id,
        experiment_ids: c.experiment_ids,
        extra: c.extra,
    }
}

#[utoipa::path(post, path = "/datasets/comparative", tag = "datasets",
    request_body = ComparativeBody, responses((status = 200, body = resources::ComparativeExperiment)))]
pub(super) async fn create_comparative(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ComparativeBody>,
) -> Result<Json<resources::ComparativeExperiment>, ApiError> {
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
            ApiError::from(e)
        }
    })?;
    Ok(Json(render_comparative(created)))
}

#[utoipa::path(get, path = "/datasets/{id}/comparative", tag = "datasets",
    params(("id" = Uuid, Path),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::ComparativeExperiment])))]
pub(super) async fn list_comparative(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Vec<resources::ComparativeExperiment>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let found = datasets::comparatives(
        &state.stores.postgres,
        caller.workspace_id,
        id,
        offset,
        limit,
    )
    .await?;
    Ok(Json(found.into_iter().map(render_comparative).collect()))
}

#[utoipa::path(delete, path = "/datasets/comparative/{id}", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
pub(super) async fn delete_comparative(
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
