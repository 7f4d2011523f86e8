//! A dataset's versions: listing, the version at a time or tag, tagging, and diffs.

use super::*;

fn render_version(version: datasets::Version) -> resources::DatasetVersion {
    resources::DatasetVersion {
        as_of: version.as_of,
        tags: version.tags,
    }
}

#[utoipa::path(get, path = "/datasets/{id}/versions", tag = "datasets",
    params(("id" = Uuid, Path),
        ("search" = Option<String>, Query, description = "Versions with a tag containing this text"),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [resources::DatasetVersion])))]
pub(super) async fn versions(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Vec<resources::DatasetVersion>>, ApiError> {
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
    Ok(Json(found.into_iter().map(render_version).collect()))
}

#[utoipa::path(get, path = "/datasets/{id}/version", tag = "datasets",
    params(("id" = Uuid, Path),
        ("as_of" = Option<String>, Query, description = "A time or a tag; the latest version when absent"),
        ("tag" = Option<String>, Query, description = "A tag (instead of `as_of`)")),
    responses((status = 200, body = resources::DatasetVersion)))]
pub(super) async fn version(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<resources::DatasetVersion>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let reference = query.get("tag").or(query.get("as_of"));
    let at = resolve_version(&state, caller.workspace_id, Some(id), reference, "as_of")
        .await?
        .unwrap_or_else(Utc::now);
    let found = datasets::version_at(&state.stores.postgres, caller.workspace_id, id, at)
        .await?
        .ok_or_else(|| ApiError::NotFound("The dataset has no version at that time".into()))?;
    Ok(Json(render_version(found)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct TagBody {
    #[serde(default)]
    as_of: Option<Value>,
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    tag: Option<String>,
}

#[utoipa::path(put, path = "/datasets/{id}/tags", tag = "datasets",
    params(("id" = Uuid, Path)),
    request_body = TagBody, responses((status = 200, body = resources::DatasetVersion)))]
pub(super) async fn tag(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<TagBody>,
) -> Result<Json<resources::DatasetVersion>, ApiError> {
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
    Ok(Json(render_version(version)))
}

#[utoipa::path(get, path = "/datasets/{id}/versions/diff", tag = "datasets",
    params(("id" = Uuid, Path),
        ("from_version" = Option<String>, Query, description = "A time or a tag; now when absent"),
        ("to_version" = Option<String>, Query, description = "A time or a tag; now when absent")),
    responses((status = 200, body = resources::DatasetDiff)))]
pub(super) async fn diff(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<resources::DatasetDiff>, ApiError> {
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
    Ok(Json(resources::DatasetDiff {
        examples_added: found.added,
        examples_modified: found.modified,
        examples_removed: found.removed,
    }))
}
