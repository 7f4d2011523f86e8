//! The control plane's operations on deployments, shared by the routes that answer clients
//! and those that answer listeners: loading and showing a deployment, binding it to a
//! listener, and appending revisions.

use chrono::Utc;
use ironsmith_api_types::deployments::{
    Deployment, DeploymentSource, RevisionStatus, SourceConfig, SourceRevisionConfig,
};
use ironsmith_auth::AuthContext;
use ironsmith_auth::permissions::Permission;
use ironsmith_db::deployment_listeners::{self, Listener};
use ironsmith_db::deployments as rows;
use ironsmith_http::ApiError;
use ironsmith_secrets::Envelope;
use uuid::Uuid;

use super::{
    DEFAULT_COMPUTE_ID, DEFAULT_NAMESPACE, deployment_not_found, listener_not_found, render,
    secrets,
};
use crate::AppState;

pub fn envelope(state: &AppState) -> Envelope {
    Envelope::new(&state.config.secrets)
}

/// The deployment of the caller's workspace, or the control plane's 404.
pub async fn load(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<rows::Deployment, ApiError> {
    rows::get(&state.stores.postgres, tenant_id, id)
        .await?
        .ok_or_else(|| deployment_not_found(id))
}

/// The deployment as the caller sees it: secret values only for callers who may update it.
pub async fn show(
    state: &AppState,
    caller: &AuthContext,
    row: rows::Deployment,
) -> Result<Deployment, ApiError> {
    let latest = match row.latest_revision_id {
        Some(id) => rows::get_revision(&state.stores.postgres, row.id, id).await?,
        None => None,
    };
    let secrets = secrets::open(&envelope(state), &row)?;
    let show_values = caller.permissions.contains(Permission::DeploymentsUpdate);
    Ok(render(row, latest.as_ref(), secrets, show_values))
}

/// The workspace's in-cluster default listener, created on first use.
pub async fn default_listener(
    db: &mut ironsmith_db::PgConnection,
    tenant_id: Uuid,
) -> Result<Listener, ApiError> {
    if let Some(listener) = deployment_listeners::get_default(&mut *db, tenant_id).await? {
        return Ok(listener);
    }
    // A concurrent first use creates it too: ON CONFLICT keeps the transaction usable.
    deployment_listeners::create_default_if_absent(
        &mut *db,
        Uuid::new_v4(),
        tenant_id,
        DEFAULT_COMPUTE_ID,
        &[DEFAULT_NAMESPACE.to_owned()],
    )
    .await?;
    deployment_listeners::get_default(&mut *db, tenant_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "A listener with compute_id {DEFAULT_COMPUTE_ID:?} exists: give this deployment a listener_id"
            ))
        })
}

/// A listener by the id a path names: a UUID, or `default` for the workspace's in-cluster
/// listener (what a data plane installed without a listener id reports as).
pub async fn listener_by_path(
    state: &AppState,
    tenant_id: Uuid,
    id: &str,
) -> Result<Listener, ApiError> {
    if id == DEFAULT_COMPUTE_ID {
        let mut conn = state.stores.postgres.acquire().await?;
        return default_listener(&mut conn, tenant_id).await;
    }
    let uuid = Uuid::try_parse(id).map_err(|_| listener_not_found(id))?;
    deployment_listeners::get(&state.stores.postgres, tenant_id, uuid)
        .await?
        .ok_or_else(|| listener_not_found(id))
}

/// The listener and namespace a new deployment is placed on: the one named (which must be the
/// workspace's, with the namespace among its own), or the default in-cluster listener.
pub async fn place(
    db: &mut ironsmith_db::PgConnection,
    tenant_id: Uuid,
    source: DeploymentSource,
    config: &SourceConfig,
) -> Result<(Listener, String), ApiError> {
    let namespace = config
        .listener_config
        .as_ref()
        .and_then(|c| c.k8s_namespace.clone());
    let listener = match config.listener_id {
        Some(id) => {
            if source != DeploymentSource::ExternalDocker
                && source != DeploymentSource::InternalSource
            {
                return Err(ApiError::BadRequest(format!(
                    "source_config.listener_id is only allowed for external_docker deployments, not {}",
                    source.as_str()
                )));
            }
            let listener = deployment_listeners::get(&mut *db, tenant_id, id)
                .await?
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Listener {id} is not a listener of this workspace"
                    ))
                })?;
            if namespace.is_none() {
                return Err(ApiError::BadRequest(
                    "source_config.listener_config.k8s_namespace is required with a listener_id"
                        .into(),
                ));
            }
            listener
        }
        None => default_listener(db, tenant_id).await?,
    };
    let namespace = namespace
        .or_else(|| listener.k8s_namespaces.first().cloned())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    if !listener.k8s_namespaces.contains(&namespace) {
        return Err(ApiError::BadRequest(format!(
            "Namespace {namespace:?} is not one of listener {}'s namespaces ({})",
            listener.compute_id,
            listener.k8s_namespaces.join(", ")
        )));
    }
    Ok((listener, namespace))
}

/// Appends a revision and makes it the deployment's latest; it waits (`QUEUED`) for a listener.
pub async fn add_revision(
    db: &mut ironsmith_db::PgConnection,
    deployment_id: Uuid,
    source: DeploymentSource,
    config: &SourceRevisionConfig,
) -> Result<rows::Revision, ApiError> {
    let value = serde_json::to_value(config)?;
    Ok(rows::insert_revision(
        &mut *db,
        Uuid::new_v4(),
        deployment_id,
        source.as_str(),
        &value,
        RevisionStatus::Queued.as_str(),
    )
    .await?)
}

/// `config` with every field `sent` sets taken from `sent` (a null field keeps the stored one).
pub fn merge_revision_config(
    base: SourceRevisionConfig,
    sent: &SourceRevisionConfig,
) -> SourceRevisionConfig {
    SourceRevisionConfig {
        repo_ref: sent.repo_ref.clone().or(base.repo_ref),
        langgraph_config_path: sent
            .langgraph_config_path
            .clone()
            .or(base.langgraph_config_path),
        image_uri: sent.image_uri.clone().or(base.image_uri),
        source_tarball_path: sent
            .source_tarball_path
            .clone()
            .or(base.source_tarball_path),
        // Read-only: set by a build, never by a client.
        repo_commit_sha: None,
    }
}

/// Whether a sent revision config sets anything that makes a new revision.
pub fn sets_revision_fields(sent: &SourceRevisionConfig) -> bool {
    sent.repo_ref.is_some()
        || sent.langgraph_config_path.is_some()
        || sent.image_uri.is_some()
        || sent.source_tarball_path.is_some()
}

/// Seconds since the epoch, for signed URLs.
pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Deletes the deployment's uploaded source tarballs (best effort: a failure is logged, and the
/// objects are orphans nothing refers to).
pub async fn delete_sources(state: &AppState, tenant_id: Uuid, deployment_id: Uuid) {
    let owners = std::collections::HashSet::from([deployment_id]);
    let prefix = format!("deployments/{tenant_id}");
    match state.stores.storage.delete_owned(&prefix, &owners).await {
        Ok(0) => {}
        Ok(count) => {
            tracing::info!(%deployment_id, count, "deleted the deployment's source tarballs")
        }
        Err(error) => {
            tracing::warn!(%deployment_id, %error, "could not delete the deployment's source tarballs")
        }
    }
}
