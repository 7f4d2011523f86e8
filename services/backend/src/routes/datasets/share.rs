//! Public links to a dataset.

use super::*;

#[utoipa::path(get, path = "/datasets/{id}/share", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Option<resources::DatasetShare>)))]
pub(super) async fn share_state(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<Option<resources::DatasetShare>>, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    let token = datasets::share_token(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(Json(token.map(|share_token| resources::DatasetShare {
        dataset_id: id,
        share_token,
    })))
}

#[utoipa::path(put, path = "/datasets/{id}/share", operation_id = "share_dataset", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = resources::DatasetShare)))]
pub(super) async fn share(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsShare>,
    PathUuid(id): PathUuid,
) -> Result<Json<resources::DatasetShare>, ApiError> {
    crate::sharing::ensure_allowed(&state, caller.workspace_id).await?;
    get_dataset(&state, caller.workspace_id, id).await?;
    let token = datasets::share(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(Json(resources::DatasetShare {
        dataset_id: id,
        share_token: token,
    }))
}

#[utoipa::path(delete, path = "/datasets/{id}/share", operation_id = "unshare_dataset", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
pub(super) async fn unshare(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsShare>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    get_dataset(&state, caller.workspace_id, id).await?;
    datasets::unshare(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
