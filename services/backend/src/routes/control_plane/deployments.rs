//! `/v2/deployments`: create, list, read, change and delete Agent Server deployments.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ironsmith_api_types::deployments::{
    BulkDeleteResult, BulkDeleteResults, Deployment, DeploymentCreate, DeploymentPage,
    DeploymentPatch, DeploymentSource, DeploymentStatus, RevisionStatus,
};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{
    DeploymentsCreate, DeploymentsDelete, DeploymentsRead, DeploymentsUpdate,
};
use ironsmith_db::deployments::{self as rows, Filter, NewDeployment};
use ironsmith_db::projects::{self, NewProject};
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use ironsmith_queue::tasks::Task;
use ironsmith_queue::{DEFAULT_QUEUE, Queue};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::deployments::ops::{self, add_revision};
use crate::deployments::{
    check_tarball_path, deployment_not_found, resources, secrets, status, validate_name,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create, bulk_delete))
        .routes(routes!(read, patch, remove))
}

/// Splits CSV values and repeated parameters alike.
fn csv<'a>(query: &'a QueryPairs, key: &str) -> Vec<&'a str> {
    query
        .all(key)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn ids(query: &QueryPairs, key: &str) -> Result<Vec<Uuid>, ApiError> {
    csv(query, key)
        .into_iter()
        .map(|v| {
            Uuid::try_parse(v).map_err(|_| {
                ApiError::Unprocessable(vec![ironsmith_http::ValidationIssue {
                    loc: vec!["query".into(), key.into()],
                    msg: format!("`{v}` is not a valid UUID"),
                    kind: "uuid_parsing".into(),
                }])
            })
        })
        .collect()
}

#[utoipa::path(get, path = "/v2/deployments", operation_id = "list_deployments", tag = "deployments",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0), ("name" = Option<String>, Query),
        ("name_contains" = Option<String>, Query), ("status" = Option<String>, Query, description = "CSV of deployment statuses"),
        ("deployment_ids" = Option<String>, Query, description = "CSV, or the parameter repeated"),
        ("listener_id" = Option<uuid::Uuid>, Query), ("image_version" = Option<String>, Query),
        ("deployment_type" = Option<String>, Query), ("remote_reconciled" = Option<bool>, Query),
        ("tag_value_ids" = Option<String>, Query, description = "accepted; tags are not kept")),
    responses((status = 200, body = DeploymentPage)))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    query: QueryPairs,
) -> Result<Json<DeploymentPage>, ApiError> {
    let (offset, limit) = query.page(20)?;
    let statuses = csv(&query, "status");
    if let Some(bad) = statuses
        .iter()
        .find(|s| DeploymentStatus::parse(s).is_none())
    {
        return Err(ApiError::Unprocessable(vec![
            ironsmith_http::ValidationIssue {
                loc: vec!["query".into(), "status".into()],
                msg: format!("`{bad}` is not a deployment status"),
                kind: "enum".into(),
            },
        ]));
    }
    let filter = Filter {
        name: query.get("name").map(str::to_owned),
        name_contains: query.get("name_contains").map(str::to_owned),
        statuses: statuses.into_iter().map(str::to_owned).collect(),
        ids: ids(&query, "deployment_ids")?,
        listener_id: query.uuid("listener_id")?,
        image_version: query.get("image_version").map(str::to_owned),
        deployment_type: query.get("deployment_type").map(str::to_owned),
        remote_reconciled: query.bool("remote_reconciled")?,
        limit,
        offset,
    };
    let found = rows::list(&state.stores.postgres, caller.workspace_id, &filter).await?;
    let mut resources = Vec::with_capacity(found.len());
    for row in found {
        resources.push(ops::show(&state, &caller, row).await?);
    }
    let offset = offset + resources.len() as i64;
    Ok(Json(DeploymentPage { resources, offset }))
}

/// Fields of `source_config` that belong to GitHub deployments only.
fn check_source_fields(source: DeploymentSource, body: &DeploymentCreate) -> Result<(), ApiError> {
    let config = &body.source_config;
    match source {
        DeploymentSource::Github => {
            return Err(ApiError::BadRequest(
                "source github is not supported by a self-hosted control plane: deploy an image (external_docker) or a project (internal_source)".into(),
            ));
        }
        DeploymentSource::InternalDocker => {
            return Err(ApiError::BadRequest(
                "source internal_docker is not supported: this control plane has no image registry; push the image yourself and deploy it as external_docker".into(),
            ));
        }
        DeploymentSource::InternalTemplate => {
            return Err(ApiError::BadRequest(
                "source internal_template is not supported".into(),
            ));
        }
        DeploymentSource::ExternalDocker | DeploymentSource::InternalSource => {}
    }
    if config.integration_id.is_some() || config.repo_url.is_some() {
        return Err(ApiError::BadRequest(format!(
            "source_config.integration_id and repo_url are only for github deployments, not {}",
            source.as_str()
        )));
    }
    if body.secret_references.is_some() && source != DeploymentSource::ExternalDocker {
        return Err(ApiError::BadRequest(
            "secret_references are only for external_docker deployments".into(),
        ));
    }
    let revision = &body.source_revision_config;
    if source == DeploymentSource::ExternalDocker
        && (revision.source_tarball_path.is_some() || revision.repo_ref.is_some())
    {
        return Err(ApiError::BadRequest(
            "an external_docker deployment takes source_revision_config.image_uri, not a tarball or repo_ref".into(),
        ));
    }
    if source == DeploymentSource::InternalSource && revision.image_uri.is_some() {
        return Err(ApiError::BadRequest(
            "an internal_source deployment takes a source_tarball_path from upload-url, not an image_uri".into(),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v2/deployments", operation_id = "create_deployment", tag = "deployments",
    request_body = DeploymentCreate,
    responses((status = 201, body = Deployment), (status = 400), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<DeploymentCreate>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let tenant_id = caller.workspace_id;
    validate_name(&body.name)?;
    check_source_fields(body.source, &body)?;
    secrets::validate(&body.secrets, body.secret_references.as_deref())?;
    let mut source_config = body.source_config.clone();
    let capped = !state.config.deployment.uncapped_resources;
    source_config.resource_spec = Some(resources::validate(
        source_config.resource_spec.take().unwrap_or_default(),
        capped,
    )?);
    source_config.deployment_type = source_config.deployment_type.or(Some("prod".into()));
    let id = Uuid::new_v4();
    check_tarball_path(tenant_id, id, &body.source_revision_config)?;

    let mut tx = state.stores.postgres.begin().await?;
    let (listener, namespace) = ops::place(&mut tx, tenant_id, body.source, &source_config).await?;
    source_config.listener_id = Some(listener.id);
    source_config.listener_config = Some(ironsmith_api_types::deployments::ListenerConfig {
        k8s_namespace: Some(namespace.clone()),
    });
    if projects::get_by_name(&mut *tx, tenant_id, &body.name)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(format!(
            "A tracing project named {:?} already exists: a deployment creates its own tracing project, so pick another name",
            body.name
        )));
    }
    let project = projects::create(
        &mut *tx,
        &NewProject {
            id: Uuid::new_v4(),
            tenant_id,
            name: &body.name,
            description: Some("Traces of the deployment of the same name"),
            extra: &serde_json::json!({"metadata": {"deployment_id": id.to_string()}}),
            reference_dataset_id: None,
            start_time: None,
            end_time: None,
        },
    )
    .await?;
    let sealed = secrets::seal(&ops::envelope(&state), tenant_id, id, &body.secrets)?;
    let config_value = serde_json::to_value(&source_config)?;
    let references = body
        .secret_references
        .as_ref()
        .map(serde_json::to_value)
        .transpose()?;
    rows::insert(
        &mut *tx,
        &NewDeployment {
            id,
            tenant_id,
            name: &body.name,
            source: body.source.as_str(),
            source_config: &config_value,
            secret_references: references.as_ref(),
            secrets: &sealed,
            listener_id: Some(listener.id),
            k8s_namespace: Some(&namespace),
            project_id: Some(project.id),
            status: DeploymentStatus::AwaitingDatabase.as_str(),
        },
    )
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(_) => {
            ApiError::Conflict(format!("A deployment named {:?} already exists", body.name))
        }
        other => other,
    })?;
    let revision = add_revision(&mut tx, id, body.source, &body.source_revision_config).await?;
    rows::set_latest_revision(&mut *tx, id, revision.id).await?;
    let row = rows::get(&mut *tx, tenant_id, id)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
    tx.commit().await?;
    tracing::info!(deployment_id = %id, name = %body.name, source = body.source.as_str(), "deployment created");
    Ok((
        StatusCode::CREATED,
        Json(ops::show(&state, &caller, row).await?),
    ))
}

#[utoipa::path(get, path = "/v2/deployments/{deployment_id}", operation_id = "read_deployment", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path)), responses((status = 200, body = Deployment), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<Deployment>, ApiError> {
    let row = ops::load(&state, caller.workspace_id, id).await?;
    Ok(Json(ops::show(&state, &caller, row).await?))
}

/// `same` unless `sent` names another value: immutable fields accept only what they hold.
fn immutable<T: PartialEq + std::fmt::Debug>(
    field: &str,
    stored: &T,
    sent: Option<&T>,
) -> Result<(), ApiError> {
    match sent {
        Some(v) if v != stored => Err(ApiError::BadRequest(format!(
            "{field} cannot be changed after creation (it is {stored:?})"
        ))),
        _ => Ok(()),
    }
}

#[utoipa::path(patch, path = "/v2/deployments/{deployment_id}", operation_id = "update_deployment", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path)), request_body = DeploymentPatch,
    responses((status = 200, body = Deployment), (status = 400), (status = 404), (status = 422)))]
async fn patch(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<DeploymentPatch>,
) -> Result<Json<Deployment>, ApiError> {
    let tenant_id = caller.workspace_id;
    let mut tx = state.stores.postgres.begin().await?;
    let row = rows::lock(&mut *tx, tenant_id, id)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
    let change = crate::deployments::change::Change {
        revision_source: body.revision_source,
        source_config: body.source_config.clone(),
        source_revision_config: body.source_revision_config.clone(),
        secrets: body.secrets.clone(),
        secret_references: body.secret_references.clone(),
    };
    immutable("name", &row.name, body.name.as_ref())?;
    let source = DeploymentSource::parse(&row.source).unwrap_or(DeploymentSource::ExternalDocker);
    immutable("source", &source, body.source.as_ref())?;
    if let Some(name) = body.display_name.as_deref()
        && name.trim().is_empty()
    {
        return Err(ApiError::BadRequest(
            "display_name must not be empty".into(),
        ));
    }
    let applied = crate::deployments::change::apply(&state, &mut tx, &row, change, false).await?;
    if let Some(name) = body.display_name.as_deref() {
        rows::set_display_name(&mut *tx, id, name.trim()).await?;
    }
    let row = rows::get(&mut *tx, tenant_id, id)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
    tx.commit().await?;
    if let Some(revision) = applied {
        tracing::info!(deployment_id = %id, revision_id = %revision.id, "revision created");
    }
    Ok(Json(ops::show(&state, &caller, row).await?))
}

/// Starts deleting one deployment: 204 at once; the data plane tears it down and the row goes
/// when it confirms. `force` drops a deployment already awaiting deletion without waiting.
async fn delete_one(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    delete_project: bool,
    force: bool,
) -> Result<(), ApiError> {
    let mut tx = state.stores.postgres.begin().await?;
    let row = rows::lock(&mut *tx, tenant_id, id)
        .await?
        .ok_or_else(|| deployment_not_found(id))?;
    let awaiting = matches!(
        DeploymentStatus::parse(&row.status),
        Some(DeploymentStatus::AwaitingDelete | DeploymentStatus::AwaitingFinalDelete)
    );
    if force {
        if !awaiting {
            return Err(ApiError::BadRequest(format!(
                "Deployment ID {id} is not awaiting deletion: delete it without force first; force only drops a deployment whose teardown never completes"
            )));
        }
        rows::remove(&mut *tx, id).await?;
        tx.commit().await?;
        ops::delete_sources(state, tenant_id, id).await;
        return Ok(());
    } else if !awaiting {
        rows::set_status(&mut *tx, id, DeploymentStatus::AwaitingDelete.as_str()).await?;
        rows::settle_pending_revisions(
            &mut *tx,
            id,
            None,
            &status::pending_names(),
            RevisionStatus::Interrupted.as_str(),
            "The deployment was deleted",
        )
        .await?;
    }
    let project = row.project_id.filter(|_| delete_project);
    if let Some(project_id) = project
        && projects::mark_deleted(&mut *tx, tenant_id, project_id).await?
    {
        tx.commit().await?;
        Queue::new(state.stores.redis.clone(), DEFAULT_QUEUE)
            .enqueue(&Task::DeleteProjectRuns {
                tenant_id,
                session_id: project_id,
            })
            .await?;
        return Ok(());
    }
    tx.commit().await?;
    Ok(())
}

#[utoipa::path(delete, path = "/v2/deployments/{deployment_id}", operation_id = "delete_deployment", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("delete_tracing_project" = Option<bool>, Query), ("force" = Option<bool>, Query)),
    responses((status = 204), (status = 400), (status = 404)))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsDelete>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let delete_project = query.bool("delete_tracing_project")?.unwrap_or(false);
    let force = query.bool("force")?.unwrap_or(false);
    delete_one(&state, caller.workspace_id, id, delete_project, force).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v2/deployments", operation_id = "delete_deployments", tag = "deployments",
    params(("deployment_ids" = String, Query, description = "repeated, or CSV; at most 100"),
        ("delete_tracing_project" = Option<bool>, Query)),
    responses((status = 200, body = BulkDeleteResults), (status = 207, body = BulkDeleteResults), (status = 422)))]
async fn bulk_delete(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsDelete>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let raw = csv(&query, "deployment_ids");
    if raw.is_empty() || raw.len() > 100 {
        return Err(ApiError::Unprocessable(vec![
            ironsmith_http::ValidationIssue {
                loc: vec!["query".into(), "deployment_ids".into()],
                msg: "give between 1 and 100 deployment ids".into(),
                kind: "value_error".into(),
            },
        ]));
    }
    let delete_project = query.bool("delete_tracing_project")?.unwrap_or(false);
    let mut results = Vec::with_capacity(raw.len());
    for value in raw {
        let outcome = match Uuid::try_parse(value) {
            Err(_) => Err(ApiError::NotFound(format!(
                "Deployment ID {value} not found."
            ))),
            Ok(id) => delete_one(&state, caller.workspace_id, id, delete_project, false).await,
        };
        results.push(match outcome {
            Ok(()) => BulkDeleteResult {
                deployment_id: value.to_owned(),
                status: 204,
                detail: None,
            },
            Err(e @ ApiError::Internal(_)) => return Err(e),
            Err(e) => BulkDeleteResult {
                deployment_id: value.to_owned(),
                status: e.status().as_u16(),
                detail: Some(e.to_string()),
            },
        });
    }
    let all = results.iter().all(|r| r.status == 204);
    let status = if all {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(BulkDeleteResults { results })).into_response())
}
