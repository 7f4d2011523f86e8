//! `/v2/listeners`: the data planes a workspace deploys into. A listener is one install of the
//! data plane in one cluster; its id goes into that install. Workspace admins manage them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use ironsmith_api_types::deployments::{Listener, ListenerCreate, ListenerPage, ListenerPatch};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{DeploymentsRead, WorkspacesManage};
use ironsmith_db::deployment_listeners::{self, NewListener};
use ironsmith_db::deployments as deployment_rows;
use ironsmith_http::{ApiError, Path, QueryPairs};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::deployments::ops::listener_by_path;
use crate::deployments::{overlap_error, render_listener, validate_namespaces};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, patch, remove))
}

#[utoipa::path(get, path = "/v2/listeners", operation_id = "list_listeners", tag = "listeners",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = ListenerPage)))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    query: QueryPairs,
) -> Result<Json<ListenerPage>, ApiError> {
    let (offset, limit) = query.page(20)?;
    let now = Utc::now();
    let resources: Vec<Listener> =
        deployment_listeners::list(&state.stores.postgres, caller.workspace_id, limit, offset)
            .await?
            .into_iter()
            .map(|l| render_listener(l, now))
            .collect();
    let offset = offset + resources.len() as i64;
    Ok(Json(ListenerPage { resources, offset }))
}

fn check_compute_id(compute_id: &str) -> Result<(), ApiError> {
    let ok = !compute_id.is_empty()
        && compute_id.len() <= 253
        && compute_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "compute_id {compute_id:?} must be 1-253 letters, digits, dashes, dots or underscores"
        )))
    }
}

#[utoipa::path(post, path = "/v2/listeners", operation_id = "create_listener", tag = "listeners",
    request_body = ListenerCreate,
    responses((status = 201, body = Listener), (status = 400), (status = 403), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    ironsmith_http::Json(body): ironsmith_http::Json<ListenerCreate>,
) -> Result<(StatusCode, Json<Listener>), ApiError> {
    if body.compute_type != "k8s" {
        return Err(ApiError::BadRequest(format!(
            "compute_type must be \"k8s\", not {:?}",
            body.compute_type
        )));
    }
    check_compute_id(&body.compute_id)?;
    let mut namespaces = body.compute_config.k8s_namespaces.clone();
    namespaces.dedup();
    validate_namespaces(&namespaces)?;
    let created = deployment_listeners::create(
        &state.stores.postgres,
        &NewListener {
            id: Uuid::new_v4(),
            tenant_id: caller.workspace_id,
            compute_id: &body.compute_id,
            k8s_namespaces: &namespaces,
            version: body.version.as_deref(),
            is_default: false,
        },
    )
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(_) => ApiError::Conflict(format!(
            "Workspace {} already has a listener with compute_id {:?}",
            caller.workspace_id, body.compute_id
        )),
        other => other,
    })?;
    Ok((
        StatusCode::CREATED,
        Json(render_listener(created, Utc::now())),
    ))
}

#[utoipa::path(get, path = "/v2/listeners/{listener_id}", operation_id = "read_listener", tag = "listeners",
    params(("listener_id" = String, Path, description = "a listener id, or `default`")),
    responses((status = 200, body = Listener), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path(id): Path<String>,
) -> Result<Json<Listener>, ApiError> {
    let listener = listener_by_path(&state, caller.workspace_id, &id).await?;
    Ok(Json(render_listener(listener, Utc::now())))
}

#[utoipa::path(patch, path = "/v2/listeners/{listener_id}", operation_id = "update_listener", tag = "listeners",
    params(("listener_id" = String, Path)), request_body = ListenerPatch,
    responses((status = 200, body = Listener), (status = 400), (status = 404), (status = 409)))]
async fn patch(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    Path(id): Path<String>,
    ironsmith_http::Json(body): ironsmith_http::Json<ListenerPatch>,
) -> Result<Json<Listener>, ApiError> {
    let listener = listener_by_path(&state, caller.workspace_id, &id).await?;
    if body
        .compute_id
        .as_ref()
        .is_some_and(|c| *c != listener.compute_id)
        || body
            .compute_type
            .as_ref()
            .is_some_and(|c| *c != listener.compute_type)
    {
        return Err(ApiError::BadRequest(
            "compute_id and compute_type cannot change: only version and compute_config may".into(),
        ));
    }
    let namespaces = match body.compute_config {
        Some(config) => {
            let mut namespaces = config.k8s_namespaces;
            namespaces.dedup();
            validate_namespaces(&namespaces)?;
            let in_use =
                deployment_rows::namespaces_in_use(&state.stores.postgres, listener.id).await?;
            if let Some(ns) = in_use.iter().find(|ns| !namespaces.contains(ns)) {
                return Err(ApiError::Conflict(format!(
                    "Namespace {ns:?} still holds deployments of listener {}: delete them before removing it",
                    listener.compute_id
                )));
            }
            if let Some(cluster) = listener.cluster_uid.as_deref() {
                let clashes = deployment_listeners::overlapping(
                    &state.stores.postgres,
                    cluster,
                    &namespaces,
                    listener.id,
                )
                .await?;
                if !clashes.is_empty() {
                    return Err(overlap_error(&listener.compute_id, &clashes));
                }
            }
            Some(namespaces)
        }
        None => None,
    };
    let updated = deployment_listeners::update(
        &state.stores.postgres,
        caller.workspace_id,
        listener.id,
        body.version.as_deref(),
        namespaces.as_deref(),
    )
    .await?
    .ok_or_else(|| crate::deployments::listener_not_found(&id))?;
    Ok(Json(render_listener(updated, Utc::now())))
}

#[utoipa::path(delete, path = "/v2/listeners/{listener_id}", operation_id = "delete_listener", tag = "listeners",
    params(("listener_id" = String, Path)), responses((status = 204), (status = 404), (status = 409)))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let listener = listener_by_path(&state, caller.workspace_id, &id).await?;
    let bound =
        deployment_rows::count_bound_to_listener(&state.stores.postgres, listener.id).await?;
    if bound > 0 {
        return Err(ApiError::Conflict(format!(
            "Listener {} still has {bound} deployment(s): delete them first",
            listener.compute_id
        )));
    }
    deployment_listeners::delete(&state.stores.postgres, caller.workspace_id, listener.id)
        .await
        .map_err(|e| match ApiError::from(e) {
            // A deployment bound to it in the meantime.
            ApiError::NotFound(_) | ApiError::Conflict(_) | ApiError::Rejected(_) => {
                ApiError::Conflict(format!(
                    "Listener {} still has deployments: delete them first",
                    listener.compute_id
                ))
            }
            other => other,
        })?;
    Ok(StatusCode::NO_CONTENT)
}
