//! What listeners call. A listener pulls: it sends heartbeats, reads the desired state with the
//! ordinary deployment and revision reads, fetches a deployment's secret values and source,
//! reports each revision's progress, appends logs, and confirms teardowns. The control plane
//! never calls into a cluster.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use ironsmith_api_types::deployments::{
    DeploymentSource, DeploymentStatus, Heartbeat, HeartbeatAck, LogAppend, Revision,
    RevisionStatus, SecretEntry, SourceRevisionConfig, SourceUrl, StatusReport,
};
use ironsmith_auth::perm::DeploymentsUpdate;
use ironsmith_auth::{AuthContext, RequirePermission};
use ironsmith_db::audit_log::{self, NewAuditEntry};
use ironsmith_db::deployment_listeners;
use ironsmith_db::deployments::{self as rows, NewLogLine, RevisionStatus as StatusChange};
use ironsmith_http::{ApiError, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::deployments::ops::{self, listener_by_path, now_secs};
use crate::deployments::uploads::{Op, TarballSigner};
use crate::deployments::{
    HEARTBEAT_INTERVAL_SECS, POLL_INTERVAL_SECS, deployment_not_found, is_deployable,
    overlap_error, render_revision, revision_not_found, secrets, status,
};

/// Log lines one report may carry, and how many of a kind a revision keeps.
const MAX_LINES_PER_REPORT: usize = 500;
const MAX_LINES_PER_REVISION: i64 = 5000;
const MAX_LINE_BYTES: usize = 16 * 1024;
/// A rollout lease lasts this long unless the report names another duration.
const DEFAULT_LEASE_SECS: i64 = 60;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(heartbeat))
        .routes(routes!(deployment_secrets))
        .routes(routes!(source_url))
        .routes(routes!(report_status))
        .routes(routes!(append_logs))
        .routes(routes!(teardown_complete))
}

#[utoipa::path(post, path = "/v2/listeners/{listener_id}/heartbeat", operation_id = "listener_heartbeat", tag = "listeners",
    params(("listener_id" = String, Path, description = "a listener id, or `default`")), request_body = Heartbeat,
    responses((status = 200, body = HeartbeatAck), (status = 404), (status = 409)))]
async fn heartbeat(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path(id): Path<String>,
    ironsmith_http::Json(body): ironsmith_http::Json<Heartbeat>,
) -> Result<Json<HeartbeatAck>, ApiError> {
    let listener = listener_by_path(&state, caller.workspace_id, &id).await?;
    if let Some(cluster) = body.cluster_uid.as_deref() {
        let clashes = deployment_listeners::overlapping(
            &state.stores.postgres,
            cluster,
            &listener.k8s_namespaces,
            listener.id,
        )
        .await?;
        if !clashes.is_empty() {
            return Err(overlap_error(&listener.compute_id, &clashes));
        }
    }
    deployment_listeners::heartbeat(
        &state.stores.postgres,
        listener.id,
        body.version.as_deref(),
        body.cluster_uid.as_deref(),
        &body.watch_namespaces,
    )
    .await?;
    Ok(Json(HeartbeatAck {
        poll_interval_seconds: POLL_INTERVAL_SECS,
        heartbeat_interval_seconds: HEARTBEAT_INTERVAL_SECS,
        server_time: Utc::now(),
    }))
}

/// The deployment bound to the listener the path names (404 for any other).
async fn bound_deployment(
    state: &AppState,
    caller: &AuthContext,
    listener_id: &str,
    deployment_id: Uuid,
) -> Result<rows::Deployment, ApiError> {
    let listener = listener_by_path(state, caller.workspace_id, listener_id).await?;
    let row = ops::load(state, caller.workspace_id, deployment_id).await?;
    if row.listener_id != Some(listener.id) {
        return Err(deployment_not_found(deployment_id));
    }
    Ok(row)
}

#[utoipa::path(get, path = "/v2/listeners/{listener_id}/deployments/{deployment_id}/secrets", operation_id = "listener_deployment_secrets", tag = "listeners",
    params(("listener_id" = String, Path), ("deployment_id" = uuid::Uuid, Path)),
    responses((status = 200, body = [SecretEntry]), (status = 404)))]
async fn deployment_secrets(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path((listener_id, deployment_id)): Path<(String, Uuid)>,
) -> Result<Json<Vec<SecretEntry>>, ApiError> {
    let row = bound_deployment(&state, &caller, &listener_id, deployment_id).await?;
    let values = secrets::open(&ops::envelope(&state), &row)?;
    audit_log::record(
        &state.stores.postgres,
        &NewAuditEntry {
            organization_id: caller.organization_id,
            workspace_id: Some(caller.workspace_id),
            actor_user_id: caller.user_id(),
            actor_api_key_id: caller.credential.api_key_id(),
            action: "deployment.secrets.read",
            target_type: "deployment",
            target_id: deployment_id.to_string(),
            details: serde_json::json!({"listener": listener_id, "names": values.iter().map(|s| &s.name).collect::<Vec<_>>()}),
        },
    )
    .await?;
    Ok(Json(values))
}

#[utoipa::path(post, path = "/v2/listeners/{listener_id}/deployments/{deployment_id}/revisions/{revision_id}/source-url", operation_id = "listener_revision_source_url", tag = "listeners",
    params(("listener_id" = String, Path), ("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)),
    responses((status = 200, body = SourceUrl), (status = 404), (status = 409)))]
async fn source_url(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path((listener_id, deployment_id, revision_id)): Path<(String, Uuid, Uuid)>,
) -> Result<Json<SourceUrl>, ApiError> {
    let row = bound_deployment(&state, &caller, &listener_id, deployment_id).await?;
    let revision = rows::get_revision(&state.stores.postgres, row.id, revision_id)
        .await?
        .ok_or_else(|| revision_not_found(revision_id))?;
    let config: SourceRevisionConfig =
        serde_json::from_value(revision.source_revision_config).unwrap_or_default();
    let path = config.source_tarball_path.ok_or_else(|| {
        ApiError::Conflict(format!("Revision {revision_id} deploys no source tarball"))
    })?;
    let signer = TarballSigner::new(
        state.config.auth.jwt_secret.expose(),
        &state.config.public.control_plane_url,
    );
    Ok(Json(SourceUrl {
        url: signer.url(Op::Download, &path, now_secs()),
    }))
}

fn conflict(message: String) -> ApiError {
    ApiError::Conflict(message)
}

#[utoipa::path(patch, path = "/v2/deployments/{deployment_id}/revisions/{revision_id}/status", operation_id = "report_revision_status", tag = "listeners",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)), request_body = StatusReport,
    responses((status = 200, body = Revision), (status = 404), (status = 409)))]
async fn report_status(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
    ironsmith_http::Json(report): ironsmith_http::Json<StatusReport>,
) -> Result<Json<Revision>, ApiError> {
    let mut tx = state.stores.postgres.begin().await?;
    let row = rows::lock(&mut *tx, caller.workspace_id, deployment_id)
        .await?
        .ok_or_else(|| deployment_not_found(deployment_id))?;
    let revision = rows::get_revision(&mut *tx, row.id, revision_id)
        .await?
        .ok_or_else(|| revision_not_found(revision_id))?;
    let from = RevisionStatus::parse(&revision.status).unwrap_or(RevisionStatus::Unknown);
    let to = report.status;
    if !status::listener_may_move(from, to) {
        return Err(conflict(format!(
            "Revision {revision_id} is {}: it cannot become {}",
            from.as_str(),
            to.as_str()
        )));
    }
    let deleting = matches!(
        DeploymentStatus::parse(&row.status),
        Some(DeploymentStatus::AwaitingDelete | DeploymentStatus::AwaitingFinalDelete)
    );
    if deleting && from != to && to != RevisionStatus::DeployFailed {
        return Err(conflict(format!(
            "Deployment ID {deployment_id} is being deleted"
        )));
    }
    let now = Utc::now();
    if !status::may_hold(
        report.holder.as_deref(),
        revision.lease_holder.as_deref(),
        revision.lease_expires_at,
        now,
    ) {
        return Err(conflict(format!(
            "Revision {revision_id} is being rolled out by another listener replica ({})",
            revision.lease_holder.as_deref().unwrap_or_default()
        )));
    }
    if from == RevisionStatus::Queued {
        if row.latest_revision_id != Some(revision_id) {
            return Err(conflict(format!(
                "Revision {revision_id} has been superseded by a newer revision"
            )));
        }
        let source =
            DeploymentSource::parse(&revision.source).unwrap_or(DeploymentSource::ExternalDocker);
        let config: SourceRevisionConfig =
            serde_json::from_value(revision.source_revision_config.clone()).unwrap_or_default();
        if !is_deployable(source, &config) {
            return Err(conflict(format!(
                "Revision {revision_id} has nothing to deploy yet (no image or source tarball)"
            )));
        }
    }
    let holder = report.holder.as_deref().filter(|_| !to.is_final());
    let updated = rows::set_revision_status(
        &mut *tx,
        revision_id,
        &StatusChange {
            status: to.as_str(),
            message: report.message.as_deref(),
            endpoint: report.endpoint.as_deref(),
            lease_holder: holder,
            lease_secs: Some(
                report
                    .lease_seconds
                    .unwrap_or(DEFAULT_LEASE_SECS)
                    .clamp(5, 3600),
            ),
        },
    )
    .await?;
    if from != to && matches!(to, RevisionStatus::Deploying | RevisionStatus::Deployed) {
        rows::settle_pending_revisions(
            &mut *tx,
            row.id,
            Some(revision_id),
            &status::pending_names(),
            RevisionStatus::Skipped.as_str(),
            &format!("Superseded by revision {revision_id}"),
        )
        .await?;
    }
    if from != to && to == RevisionStatus::Deployed {
        rows::mark_deployed(&mut *tx, row.id, revision_id, report.endpoint.as_deref()).await?;
    }
    tx.commit().await?;
    if from != to {
        tracing::info!(%deployment_id, %revision_id, from = from.as_str(), to = to.as_str(), message = ?report.message, "revision status");
    }
    Ok(Json(render_revision(updated)))
}

#[utoipa::path(post, path = "/v2/deployments/{deployment_id}/revisions/{revision_id}/logs", operation_id = "append_revision_logs", tag = "listeners",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)), request_body = LogAppend,
    responses((status = 204), (status = 404), (status = 422)))]
async fn append_logs(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
    ironsmith_http::Json(body): ironsmith_http::Json<LogAppend>,
) -> Result<StatusCode, ApiError> {
    if body.kind != "build" && body.kind != "deploy" {
        return Err(ApiError::Rejected("kind must be build or deploy".into()));
    }
    if body.lines.len() > MAX_LINES_PER_REPORT {
        return Err(ApiError::Rejected(format!(
            "at most {MAX_LINES_PER_REPORT} lines per report"
        )));
    }
    let row = ops::load(&state, caller.workspace_id, deployment_id).await?;
    rows::get_revision(&state.stores.postgres, row.id, revision_id)
        .await?
        .ok_or_else(|| revision_not_found(revision_id))?;
    let lines: Vec<NewLogLine<'_>> = body
        .lines
        .iter()
        .map(|l| NewLogLine {
            logged_at: l.timestamp,
            level: truncate(&l.level, 16),
            message: truncate(&l.message, MAX_LINE_BYTES),
        })
        .collect();
    rows::append_logs(
        &state.stores.postgres,
        row.id,
        revision_id,
        &body.kind,
        &lines,
        MAX_LINES_PER_REVISION,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[utoipa::path(post, path = "/v2/deployments/{deployment_id}/teardown-complete", operation_id = "confirm_teardown", tag = "listeners",
    params(("deployment_id" = uuid::Uuid, Path)), responses((status = 204), (status = 404), (status = 409)))]
async fn teardown_complete(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path(deployment_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.stores.postgres.begin().await?;
    let row = rows::lock(&mut *tx, caller.workspace_id, deployment_id)
        .await?
        .ok_or_else(|| deployment_not_found(deployment_id))?;
    if !matches!(
        DeploymentStatus::parse(&row.status),
        Some(DeploymentStatus::AwaitingDelete | DeploymentStatus::AwaitingFinalDelete)
    ) {
        return Err(conflict(format!(
            "Deployment ID {deployment_id} is not being deleted"
        )));
    }
    rows::remove(&mut *tx, deployment_id).await?;
    tx.commit().await?;
    ops::delete_sources(&state, caller.workspace_id, deployment_id).await;
    tracing::info!(%deployment_id, "deployment torn down and removed");
    Ok(StatusCode::NO_CONTENT)
}
