//! A dataset's versions: listing, the version at a time or tag, tagging, and diffs.

use super::*;

fn render_version(version: &datasets::Version) -> Value {
    json!({"as_of": time(&version.as_of), "tags": version.tags})
}

#[utoipa::path(get, path = "/datasets/{id}/versions", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [Object])))]
pub(super) async fn versions(
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

#[utoipa::path(get, path = "/datasets/{id}/version", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Object)))]
pub(super) async fn version(
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
    request_body = TagBody, responses((status = 200, body = Object)))]
pub(super) async fn tag(
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

#[utoipa::path(get, path = "/datasets/{id}/versions/diff", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Object)))]
pub(super) async fn diff(
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
