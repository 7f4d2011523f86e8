//! The deployment control plane's rules: what a deployment may be created with, which fields a
//! PATCH may change and when it creates a revision, the revision status machine, and how
//! deployments, revisions and listeners are shown. The routes under `routes::control_plane`
//! call these.

pub mod change;
pub mod ops;
pub mod resources;
pub mod secrets;
pub mod status;
pub mod uploads;

use chrono::{DateTime, Utc};
use ironsmith_api_types::deployments::{
    ComputeConfig, Deployment, DeploymentSource, DeploymentStatus, Listener, ListenerConnection,
    Revision, RevisionStatus, SecretEntry, SecretReference, SourceConfig, SourceRevisionConfig,
};
use ironsmith_db::deployment_listeners;
use ironsmith_db::deployments as rows;
use ironsmith_http::ApiError;
use uuid::Uuid;

/// How often a listener is asked to poll and to send heartbeats, seconds.
pub const POLL_INTERVAL_SECS: u64 = 5;
pub const HEARTBEAT_INTERVAL_SECS: u64 = 30;
/// A listener not heard from for this many heartbeat intervals is `STALE`.
pub const STALE_AFTER_INTERVALS: i64 = 3;
/// The namespace the in-cluster default listener deploys into.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The `compute_id` of the in-cluster default listener.
pub const DEFAULT_COMPUTE_ID: &str = "default";

/// A deployment name: lowercase letters, digits and dashes, starting with a letter (it names
/// Kubernetes objects and the tracing project).
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid deployment name {name:?}: use at most 63 lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
        )))
    }
}

/// Whether a revision config carries something the data plane can run.
pub fn is_deployable(source: DeploymentSource, config: &SourceRevisionConfig) -> bool {
    match source {
        DeploymentSource::ExternalDocker | DeploymentSource::InternalDocker => {
            config.image_uri.as_deref().is_some_and(|s| !s.is_empty())
        }
        DeploymentSource::InternalSource => config
            .source_tarball_path
            .as_deref()
            .is_some_and(|s| !s.is_empty()),
        DeploymentSource::Github | DeploymentSource::InternalTemplate => false,
    }
}

/// Where a project tarball of the deployment is kept in object storage. Only paths of this
/// shape are accepted as `source_tarball_path`, so a deployment can never name another's.
pub fn tarball_prefix(tenant_id: Uuid, deployment_id: Uuid) -> String {
    format!("deployments/{tenant_id}/{deployment_id}/sources/")
}

pub fn check_tarball_path(
    tenant_id: Uuid,
    deployment_id: Uuid,
    config: &SourceRevisionConfig,
) -> Result<(), ApiError> {
    let Some(path) = config.source_tarball_path.as_deref() else {
        return Ok(());
    };
    let prefix = tarball_prefix(tenant_id, deployment_id);
    let ok = path.strip_prefix(&prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "source_revision_config.source_tarball_path must be an object_path returned by POST /v2/deployments/{deployment_id}/upload-url for this deployment".into(),
        ))
    }
}

/// A revision as clients see it.
pub fn render_revision(row: rows::Revision) -> Revision {
    Revision {
        id: row.id,
        deployment_id: row.deployment_id,
        source: DeploymentSource::parse(&row.source).unwrap_or(DeploymentSource::ExternalDocker),
        source_revision_config: serde_json::from_value(row.source_revision_config)
            .unwrap_or_default(),
        status: RevisionStatus::parse(&row.status).unwrap_or(RevisionStatus::Unknown),
        status_message: row.status_message,
        endpoint: row.endpoint,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The stored source config of a deployment.
pub fn source_config_of(row: &rows::Deployment) -> SourceConfig {
    serde_json::from_value(row.source_config.clone()).unwrap_or_default()
}

pub fn secret_references_of(row: &rows::Deployment) -> Option<Vec<SecretReference>> {
    row.secret_references
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// A deployment as clients see it: `source_revision_config` is its latest revision's, and the
/// secret values are shown only when `show_secret_values`.
pub fn render(
    row: rows::Deployment,
    latest: Option<&rows::Revision>,
    secrets: Vec<SecretEntry>,
    show_secret_values: bool,
) -> Deployment {
    let mut source_config = source_config_of(&row);
    // Reads show every default filled in: what the data plane will run.
    source_config.resource_spec = Some(resources::materialise(
        source_config.resource_spec.take(),
        source_config.deployment_type.as_deref(),
    ));
    let secret_references = secret_references_of(&row);
    let source_revision_config = latest
        .and_then(|r| serde_json::from_value(r.source_revision_config.clone()).ok())
        .unwrap_or_default();
    let secrets = secrets
        .into_iter()
        .map(|s| SecretEntry {
            value: if show_secret_values {
                s.value
            } else {
                secrets::MASK.to_owned()
            },
            name: s.name,
        })
        .collect();
    Deployment {
        id: row.id,
        tenant_id: row.tenant_id,
        display_name: row.display_name.or_else(|| Some(row.name.clone())),
        name: row.name,
        source: DeploymentSource::parse(&row.source).unwrap_or(DeploymentSource::ExternalDocker),
        source_config,
        source_revision_config,
        secrets,
        secret_references,
        status: DeploymentStatus::parse(&row.status).unwrap_or(DeploymentStatus::Unknown),
        latest_revision_id: row.latest_revision_id,
        active_revision_id: row.active_revision_id,
        image_version: row.image_version,
        tracer_session_id: row.project_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// How recently the listener was heard from, at `now`.
pub fn connection(
    last_heartbeat_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ListenerConnection {
    match last_heartbeat_at {
        None => ListenerConnection::NeverConnected,
        Some(at)
            if (now - at).num_seconds()
                > STALE_AFTER_INTERVALS * HEARTBEAT_INTERVAL_SECS as i64 =>
        {
            ListenerConnection::Stale
        }
        Some(_) => ListenerConnection::Connected,
    }
}

pub fn render_listener(row: deployment_listeners::Listener, now: DateTime<Utc>) -> Listener {
    Listener {
        id: row.id,
        compute_type: row.compute_type,
        compute_id: row.compute_id,
        compute_config: ComputeConfig {
            k8s_namespaces: row.k8s_namespaces,
        },
        version: row.version,
        is_default: row.is_default,
        connection: connection(row.last_heartbeat_at, now),
        last_heartbeat_at: row.last_heartbeat_at,
        cluster_uid: row.cluster_uid,
        watch_namespaces: row.watch_namespaces,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Namespace names as Kubernetes takes them (RFC 1123 labels).
pub fn validate_namespaces(namespaces: &[String]) -> Result<(), ApiError> {
    if namespaces.is_empty() {
        return Err(ApiError::BadRequest(
            "compute_config.k8s_namespaces must name at least one namespace".into(),
        ));
    }
    for ns in namespaces {
        let ok = !ns.is_empty()
            && ns.len() <= 63
            && ns
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !ns.starts_with('-')
            && !ns.ends_with('-');
        if !ok {
            return Err(ApiError::BadRequest(format!(
                "{ns:?} is not a valid Kubernetes namespace name"
            )));
        }
    }
    Ok(())
}

/// `Deployment ID <id> not found.`: how the control plane answers an unknown (or another
/// workspace's) deployment.
pub fn deployment_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("Deployment ID {id} not found."))
}

pub fn revision_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("Revision ID {id} not found."))
}

/// Two listeners of one cluster whose namespaces intersect: they would fight over the same
/// objects.
pub fn overlap_error(compute_id: &str, clashes: &[(Uuid, String)]) -> ApiError {
    let others: Vec<String> = clashes
        .iter()
        .map(|(id, compute)| format!("{compute} ({id})"))
        .collect();
    ApiError::Conflict(format!(
        "Listener {compute_id} shares namespaces with listener(s) {} in the same cluster: listeners of one cluster must watch disjoint namespaces",
        others.join(", ")
    ))
}

pub fn listener_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Listener ID {id} not found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_starting_with_a_letter() {
        for good in ["a", "my-agent", "agent2"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1agent",
            "My-Agent",
            "agent_x",
            "agent-",
            &"a".repeat(64),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tarball_paths_must_be_this_deployments_uploads() {
        let (t, d) = (Uuid::new_v4(), Uuid::new_v4());
        let ok = SourceRevisionConfig {
            source_tarball_path: Some(format!("{}abc-1.tar.gz", tarball_prefix(t, d))),
            ..Default::default()
        };
        assert!(check_tarball_path(t, d, &ok).is_ok());
        let other = SourceRevisionConfig {
            source_tarball_path: Some(format!("{}abc.tar.gz", tarball_prefix(t, Uuid::new_v4()))),
            ..Default::default()
        };
        assert!(check_tarball_path(t, d, &other).is_err());
        let escape = SourceRevisionConfig {
            source_tarball_path: Some(format!("{}../x", tarball_prefix(t, d))),
            ..Default::default()
        };
        assert!(check_tarball_path(t, d, &escape).is_err());
    }

    #[test]
    fn listeners_go_stale_after_three_missed_heartbeats() {
        let now = Utc::now();
        assert_eq!(connection(None, now), ListenerConnection::NeverConnected);
        assert_eq!(
            connection(Some(now - chrono::Duration::seconds(60)), now),
            ListenerConnection::Connected
        );
        assert_eq!(
            connection(Some(now - chrono::Duration::seconds(91)), now),
            ListenerConnection::Stale
        );
    }
}
