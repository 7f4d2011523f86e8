//! Splits: the split names in use, and adding examples to a split or removing them.

use super::*;

#[utoipa::path(get, path = "/datasets/{id}/splits", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [String])))]
pub(super) async fn splits(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Vec<String>>, ApiError> {
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
    Ok(Json(found))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct SplitBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    split_name: Option<String>,
    #[serde(default)]
    examples: Vec<Uuid>,
    #[serde(default)]
    remove: bool,
}

/// Adds examples to a split, or removes them from it: one new version.
#[utoipa::path(put, path = "/datasets/{id}/splits", tag = "datasets",
    params(("id" = Uuid, Path)),
    request_body = SplitBody, responses((status = 200, body = [Uuid])))]
pub(super) async fn edit_split(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<SplitBody>,
) -> Result<Json<Vec<Uuid>>, ApiError> {
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
    Ok(Json(ids))
}
