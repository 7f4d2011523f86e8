//! First start: the initial organisation, workspace, admin user and (optionally) API key from
//! `[bootstrap]`. Runs under an advisory lock and only while no organisation exists, so any
//! number of replicas may try at once and re-running it is harmless.

use std::time::Duration;

use anyhow::Context;
use ironsmith_auth::password::hash_password;
use ironsmith_auth::secrets::{KeyShape, key_shape, short_key};
use ironsmith_auth::{KeyKind, Role, SecretHasher};
use ironsmith_config::Config;
use ironsmith_db::{Pool, api_keys, members, organizations, users, workspaces};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::audit::{self, Actor, Event};

/// Any constant: the advisory lock serialising bootstrap attempts.
const BOOTSTRAP_LOCK: i64 = 0x1a0_5117;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Created {
        organization_id: Uuid,
        workspace_id: Uuid,
        admin_user_id: Uuid,
    },
    AlreadyBootstrapped,
}

/// Creates the initial tenancy unless an organisation exists.
pub async fn bootstrap(pool: &Pool, config: &Config) -> anyhow::Result<Outcome> {
    let settings = &config.bootstrap;
    let email = settings.admin_email.trim().to_lowercase();
    anyhow::ensure!(
        email.contains('@'),
        "bootstrap.admin_email must be an email address"
    );
    let api_key = settings.api_key.expose().trim().to_owned();
    if !api_key.is_empty() {
        anyhow::ensure!(
            key_shape(&api_key) == KeyShape::Valid(KeyKind::Pat),
            "bootstrap.api_key must be a personal access token of the form lsv2_pt_<32+ letters and digits>_<suffix>"
        );
    }
    let password = settings.admin_password.expose().to_owned();
    let password_hash = if password.is_empty() {
        None
    } else {
        Some(
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await?
                .context("hashing the admin password")?,
        )
    };

    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *tx)
        .await
        .context("taking the bootstrap lock")?;
    if organizations::first(&mut *tx).await?.is_some() {
        return Ok(Outcome::AlreadyBootstrapped);
    }
    let hasher = SecretHasher::new(config.auth.api_key_salt.expose().as_bytes());
    let created = create_organization(
        &mut tx,
        &OrganizationSpec {
            organization_name: &settings.organization_name,
            workspace_name: &settings.workspace_name,
            admin_email: &email,
            admin_password_hash: password_hash.as_deref(),
            admin_api_key: (!api_key.is_empty()).then_some(api_key.as_str()),
        },
        &hasher,
    )
    .await?;
    tx.commit().await?;
    if password_hash.is_none() {
        tracing::warn!(
            %email,
            "bootstrap.admin_password is empty: the admin cannot sign in with a password until one is set"
        );
    }
    Ok(created)
}

/// An organisation with its first workspace and admin.
#[derive(Debug)]
pub struct OrganizationSpec<'a> {
    pub organization_name: &'a str,
    pub workspace_name: &'a str,
    /// Lower-cased.
    pub admin_email: &'a str,
    pub admin_password_hash: Option<&'a str>,
    /// A personal access token to register for the admin in the workspace.
    pub admin_api_key: Option<&'a str>,
}

/// Creates an organisation, its first workspace and its admin (with an optional key), in the
/// caller's transaction. Bootstrap uses it; so do tests that need a second organisation.
pub async fn create_organization(
    tx: &mut sqlx::PgConnection,
    spec: &OrganizationSpec<'_>,
    hasher: &SecretHasher,
) -> anyhow::Result<Outcome> {
    let organization_id = Uuid::now_v7();
    let workspace_id = Uuid::now_v7();
    let admin_user_id = Uuid::now_v7();
    organizations::create(&mut *tx, organization_id, spec.organization_name).await?;
    workspaces::create(&mut *tx, workspace_id, organization_id, spec.workspace_name).await?;
    users::create(
        &mut *tx,
        &users::NewUser {
            id: admin_user_id,
            email: spec.admin_email,
            full_name: "Administrator",
            password_hash: spec.admin_password_hash,
            default_workspace_id: Some(workspace_id),
        },
    )
    .await?;
    members::add_to_org(
        &mut *tx,
        organization_id,
        admin_user_id,
        Role::OrganizationAdmin.as_str(),
    )
    .await?;
    members::put_workspace_member(
        &mut *tx,
        workspace_id,
        admin_user_id,
        Role::WorkspaceAdmin.as_str(),
    )
    .await?;
    if let Some(key) = spec.admin_api_key {
        api_keys::insert(
            &mut *tx,
            &api_keys::NewApiKey {
                id: Uuid::now_v7(),
                organization_id,
                kind: KeyKind::Pat.as_str(),
                workspace_id: Some(workspace_id),
                user_id: Some(admin_user_id),
                service_role: None,
                created_by: Some(admin_user_id),
                created_by_key: None,
                description: "bootstrap key",
                short_key: &short_key(key),
                key_hash: &hasher.hash(key),
                expires_at: None,
            },
        )
        .await?;
    }
    audit::record(
        &mut *tx,
        Actor::user(admin_user_id),
        Event {
            organization_id,
            workspace_id: Some(workspace_id),
            action: "organization.bootstrapped",
            target_type: "organization",
            target_id: organization_id.to_string(),
            details: json!({ "admin_email": spec.admin_email, "api_key": spec.admin_api_key.is_some() }),
        },
    )
    .await?;
    Ok(Outcome::Created {
        organization_id,
        workspace_id,
        admin_user_id,
    })
}

/// Tries [`bootstrap`] until it succeeds (the database may not be up or migrated yet) or
/// `shutdown` is cancelled.
pub async fn bootstrap_in_background(
    pool: Pool,
    config: std::sync::Arc<Config>,
    shutdown: CancellationToken,
) {
    loop {
        match bootstrap(&pool, &config).await {
            Ok(Outcome::Created {
                organization_id, ..
            }) => {
                tracing::info!(%organization_id, admin = %config.bootstrap.admin_email, "bootstrapped the initial organisation");
                return;
            }
            Ok(Outcome::AlreadyBootstrapped) => return,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "bootstrap failed; retrying in 5 s"
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
