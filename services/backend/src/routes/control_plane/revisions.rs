//! `/v2/deployments/{id}/revisions`: a deployment's append-only history of rollouts, a new
//! revision on demand, and redeploying an older one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::deployments::{
    Deployment, DeploymentSource, Revision, RevisionCreate, RevisionPage, RevisionStatus,
    SourceRevisionConfig,
};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{DeploymentsRead, DeploymentsUpdate};
use ironsmith_db::deployments as rows;
use ironsmith_http::{ApiError, Path, QueryPairs};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::deployments::change::{Change, apply, ensure_changeable};
use crate::deployments::ops::{self, add_revision};
use crate::deployments::{
    deployment_not_found, is_deployable, render_revision, revision_not_found,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read))
        .routes(routes!(redeploy))
}

#[utoipa::path(get, path = "/v2/deployments/{deployment_id}/revisions", operation_id = "list_revisions", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0),
        ("status" = Option<String>, Query, description = "CSV of revision statuses"), ("remote_reconciled" = Option<bool>, Query)),
    responses((status = 200, body = RevisionPage), (status = 404)))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path(deployment_id): Path<Uuid>,
    query: QueryPairs,
) -> Result<Json<RevisionPage>, ApiError> {
    let (offset, limit) = query.page(20)?;
    let row = ops::load(&state, caller.workspace_id, deployment_id).await?;
    let mut statuses = Vec::new();
    for s in query
        .all("status")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if RevisionStatus::parse(s).is_none() {
            return Err(ApiError::Unprocessable(vec![
                ironsmith_http::ValidationIssue {
                    loc: vec!["query".into(), "status".into()],
                    msg: format!("`{s}` is not a revision status"),
                    kind: "enum".into(),
                },
            ]));
        }
        statuses.push(s.to_owned());
    }
    // Every deployment here is reconciled by a listener.
    let resources = if query.bool("remote_reconciled")? == Some(false) {
        Vec::new()
    } else {
        rows::list_revisions(&state.stores.postgres, row.id, &statuses, limit, offset)
            .await?
            .into_iter()
            .map(render_revision)
            .collect::<Vec<_>>()
    };
    let offset = offset + resources.len() as i64;
    Ok(Json(RevisionPage { resources, offset }))
}

#[utoipa::path(get, path = "/v2/deployments/{deployment_id}/revisions/{revision_id}", operation_id = "read_revision", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Revision), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Revision>, ApiError> {
    let row = ops::load(&state, caller.workspace_id, deployment_id).await?;
    let revision = rows::get_revision(&state.stores.postgres, row.id, revision_id)
        .await?
        .ok_or_else(|| revision_not_found(revision_id))?;
    Ok(Json(render_revision(revision)))
}

#[utoipa::path(post, path = "/v2/deployments/{deployment_id}/revisions", operation_id = "create_revision", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path)), request_body = RevisionCreate,
    responses((status = 201, body = Revision), (status = 400), (status = 404), (status = 409)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path(deployment_id): Path<Uuid>,
    ironsmith_http::Json(body): ironsmith_http::Json<RevisionCreate>,
) -> Result<(StatusCode, Json<Revision>), ApiError> {
    let mut tx = state.stores.postgres.begin().await?;
    let row = rows::lock(&mut *tx, caller.workspace_id, deployment_id)
        .await?
        .ok_or_else(|| deployment_not_found(deployment_id))?;
    let change = Change {
        revision_source: body.revision_source,
        source_config: body.source_config,
        source_revision_config: body.source_revision_config,
        secrets: body.secrets,
        secret_references: body.secret_references,
    };
    let revision = apply(&state, &mut tx, &row, change, true)
        .await?
        .ok_or_else(|| ApiError::internal("a forced revision was not created"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(render_revision(revision))))
}

#[utoipa::path(post, path = "/v2/deployments/{deployment_id}/revisions/{revision_id}/redeploy", operation_id = "redeploy_revision", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Deployment), (status = 400), (status = 404), (status = 409)))]
async fn redeploy(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Deployment>, ApiError> {
    let mut tx = state.stores.postgres.begin().await?;
    let row = rows::lock(&mut *tx, caller.workspace_id, deployment_id)
        .await?
        .ok_or_else(|| deployment_not_found(deployment_id))?;
    let target = rows::get_revision(&mut *tx, row.id, revision_id)
        .await?
        .ok_or_else(|| revision_not_found(revision_id))?;
    let source =
        DeploymentSource::parse(&target.source).unwrap_or(DeploymentSource::ExternalDocker);
    let config: SourceRevisionConfig =
        serde_json::from_value(target.source_revision_config).unwrap_or_default();
    if !is_deployable(source, &config) {
        return Err(ApiError::BadRequest(format!(
            "Revision {revision_id} never had anything to deploy (no image or source tarball): it cannot be redeployed"
        )));
    }
    // The history stays append-only: redeploying copies the target into a new revision, which
    // runs with the deployment's current secrets.
    ensure_changeable(&row)?;
    let created = add_revision(&mut tx, row.id, source, &config).await?;
    rows::set_latest_revision(&mut *tx, row.id, created.id).await?;
    let row = rows::get(&mut *tx, caller.workspace_id, deployment_id)
        .await?
        .ok_or_else(|| deployment_not_found(deployment_id))?;
    tx.commit().await?;
    tracing::info!(%deployment_id, from = %revision_id, revision_id = %created.id, "revision redeployed");
    Ok(Json(ops::show(&state, &caller, row).await?))
}
