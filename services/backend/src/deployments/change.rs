//! Changing a deployment: what a PATCH (or `POST …/revisions`) may change, and when the change
//! makes a revision. A new image, tarball, config path or git ref, new secrets (a non-empty
//! list), a new resource spec or new secret references make exactly one revision, which
//! inherits the fields it does not set from the latest revision. Build settings and the URL
//! are stored without one. Name, source, listener and namespace never change.

use ironsmith_api_types::deployments::{
    DeploymentSource, DeploymentStatus, SecretEntry, SecretReference, SourceConfig,
    SourceRevisionConfig,
};
use ironsmith_db::deployments::{self as rows, Update};
use ironsmith_http::ApiError;

use super::ops::{self, add_revision, merge_revision_config, sets_revision_fields};
use super::{check_tarball_path, resources, secret_references_of, secrets, source_config_of};
use crate::AppState;

/// The revision-making part of a PATCH, or the body of `POST …/revisions`.
#[derive(Debug, Default)]
pub struct Change {
    pub revision_source: Option<DeploymentSource>,
    pub source_config: Option<SourceConfig>,
    pub source_revision_config: Option<SourceRevisionConfig>,
    pub secrets: Option<Vec<SecretEntry>>,
    pub secret_references: Option<Vec<SecretReference>>,
}

fn unchangeable<T: PartialEq + std::fmt::Debug>(
    field: &str,
    stored: &Option<T>,
    sent: &Option<T>,
) -> Result<(), ApiError> {
    match sent {
        Some(v) if stored.as_ref() != Some(v) => Err(ApiError::BadRequest(format!(
            "source_config.{field} cannot be changed after creation (it is {stored:?})"
        ))),
        _ => Ok(()),
    }
}

/// The stored source config with the settable fields of `sent`; whether it needs a revision.
fn merged_source_config(
    state: &AppState,
    stored: &SourceConfig,
    sent: Option<SourceConfig>,
) -> Result<(SourceConfig, bool), ApiError> {
    let mut config = stored.clone();
    let Some(sent) = sent else {
        return Ok((config, false));
    };
    unchangeable(
        "integration_id",
        &stored.integration_id,
        &sent.integration_id,
    )?;
    unchangeable("repo_url", &stored.repo_url, &sent.repo_url)?;
    unchangeable("listener_id", &stored.listener_id, &sent.listener_id)?;
    let namespace = |c: &Option<ironsmith_api_types::deployments::ListenerConfig>| {
        c.as_ref().and_then(|c| c.k8s_namespace.clone())
    };
    unchangeable(
        "listener_config.k8s_namespace",
        &namespace(&stored.listener_config),
        &namespace(&sent.listener_config),
    )?;
    config.build_on_push = sent.build_on_push.or(config.build_on_push);
    config.custom_url = sent.custom_url.or(config.custom_url);
    config.install_command = sent.install_command.or(config.install_command);
    config.build_command = sent.build_command.or(config.build_command);
    config.deployment_type = sent.deployment_type.or(config.deployment_type);
    let mut revision = false;
    if let Some(spec) = sent.resource_spec {
        let capped = !state.config.deployment.uncapped_resources;
        config.resource_spec = Some(resources::validate(spec, capped)?);
        revision = true;
    }
    Ok((config, revision))
}

/// The source of the revision a change makes, checked against what it deploys.
fn revision_source(
    stored: DeploymentSource,
    sent: Option<DeploymentSource>,
    config: &SourceRevisionConfig,
) -> Result<DeploymentSource, ApiError> {
    let source = sent.unwrap_or(stored);
    match source {
        DeploymentSource::ExternalDocker if config.source_tarball_path.is_some() => {
            Err(ApiError::BadRequest(
                "an external_docker revision takes an image_uri, not a source_tarball_path".into(),
            ))
        }
        DeploymentSource::InternalSource if config.image_uri.is_some() => {
            Err(ApiError::BadRequest(
                "an internal_source revision takes a source_tarball_path, not an image_uri".into(),
            ))
        }
        DeploymentSource::ExternalDocker | DeploymentSource::InternalSource => Ok(source),
        other => Err(ApiError::BadRequest(format!(
            "revision_source {} is not supported by this control plane",
            other.as_str()
        ))),
    }
}

/// A deployment being deleted can no longer change (409).
pub fn ensure_changeable(row: &rows::Deployment) -> Result<(), ApiError> {
    if matches!(
        DeploymentStatus::parse(&row.status),
        Some(DeploymentStatus::AwaitingDelete | DeploymentStatus::AwaitingFinalDelete)
    ) {
        return Err(ApiError::Conflict(format!(
            "Deployment ID {} is being deleted and can no longer change",
            row.id
        )));
    }
    Ok(())
}

/// Applies `change` to the locked deployment `row`; returns the revision it made, if any.
/// `always` makes a revision even when nothing revision-worthy changed.
pub async fn apply(
    state: &AppState,
    tx: &mut ironsmith_db::PgConnection,
    row: &rows::Deployment,
    change: Change,
    always: bool,
) -> Result<Option<rows::Revision>, ApiError> {
    ensure_changeable(row)?;
    let stored_source =
        DeploymentSource::parse(&row.source).unwrap_or(DeploymentSource::ExternalDocker);
    let (source_config, mut revision) =
        merged_source_config(state, &source_config_of(row), change.source_config)?;

    let envelope = ops::envelope(state);
    let mut current_secrets = secrets::open(&envelope, row)?;
    // Omitted or empty: keep the stored secrets (the CLI sends `[]` whenever `.env` is empty).
    if let Some(sent) = change.secrets.filter(|s| !s.is_empty()) {
        current_secrets = secrets::replace(&current_secrets, sent)?;
        revision = true;
    }
    let mut references = secret_references_of(row);
    if let Some(sent) = change.secret_references {
        if stored_source != DeploymentSource::ExternalDocker {
            return Err(ApiError::BadRequest(
                "secret_references are only for external_docker deployments".into(),
            ));
        }
        references = Some(sent);
        revision = true;
    }
    secrets::validate(&current_secrets, references.as_deref())?;

    let sent_revision = change.source_revision_config.unwrap_or_default();
    revision = revision || sets_revision_fields(&sent_revision) || always;
    check_tarball_path(row.tenant_id, row.id, &sent_revision)?;

    let mut latest_revision_id = row.latest_revision_id;
    let mut made = None;
    if revision {
        let latest = match row.latest_revision_id {
            Some(id) => rows::get_revision(&mut *tx, row.id, id).await?,
            None => None,
        };
        let latest_source = latest
            .as_ref()
            .and_then(|r| DeploymentSource::parse(&r.source))
            .unwrap_or(stored_source);
        let mut base: SourceRevisionConfig = latest
            .map(|r| serde_json::from_value(r.source_revision_config).unwrap_or_default())
            .unwrap_or_default();
        let source = change.revision_source.unwrap_or(latest_source);
        // Switching between an image and a tarball drops what the other kind deployed.
        if source != latest_source {
            base.image_uri = None;
            base.source_tarball_path = None;
        }
        let config = merge_revision_config(base, &sent_revision);
        let source = revision_source(stored_source, Some(source), &config)?;
        let created = add_revision(tx, row.id, source, &config).await?;
        latest_revision_id = Some(created.id);
        made = Some(created);
    }
    let sealed = secrets::seal(&envelope, row.tenant_id, row.id, &current_secrets)?;
    let config_value = serde_json::to_value(&source_config)?;
    let references_value = references.as_ref().map(serde_json::to_value).transpose()?;
    rows::update(
        &mut *tx,
        row.id,
        &Update {
            source_config: &config_value,
            secret_references: references_value.as_ref(),
            secrets: &sealed,
            latest_revision_id,
            image_version: row.image_version.as_deref(),
        },
    )
    .await?;
    Ok(made)
}
