//! Loading a principal from Postgres on a cache miss, and recording when keys are used.

use ironsmith_redis::keys;
use uuid::Uuid;

use crate::error::AuthError;
use crate::limits::unavailable;
use crate::permissions::Role;
use crate::principal::{Credential, Identity, OrgGrant, Principal, Scope};
use crate::secrets::KeyKind;

use super::Authenticator;

/// How often a key's last use is written.
const KEY_USE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

impl Authenticator {
    /// Records the key's last use, at most once a minute per key; best effort. This process
    /// remembers when it last did so, so only the first request of a minute per key reaches
    /// Redis (whose `SET NX` then elects one process across replicas to write Postgres).
    pub(super) async fn note_key_used(&self, key_id: Uuid) {
        let now = std::time::Instant::now();
        {
            let Ok(mut noted) = self.inner.key_use_noted.lock() else {
                return;
            };
            if noted
                .get(&key_id)
                .is_some_and(|at| now.duration_since(*at) < KEY_USE_INTERVAL)
            {
                return;
            }
            noted.retain(|_, at| now.duration_since(*at) < KEY_USE_INTERVAL);
            noted.insert(key_id, now);
        }
        let marker = self.inner.redis.key(&keys::key_used(key_id));
        let first_this_minute = async {
            let mut conn = self.inner.redis.connection().await.ok()?;
            let set: Option<String> = redis::cmd("SET")
                .arg(&marker)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(60)
                .query_async(&mut conn)
                .await
                .ok()?;
            set
        }
        .await
        .is_some();
        if first_this_minute {
            let pool = self.inner.pool.clone();
            tokio::spawn(async move {
                if let Err(error) = ironsmith_db::api_keys::touch(&pool, key_id).await {
                    tracing::warn!(%error, %key_id, "could not record the key's last use (best effort)");
                }
            });
        }
    }

    pub(super) async fn load_key(&self, key: &str) -> Result<Principal, AuthError> {
        let pool = &self.inner.pool;
        let hash = self.inner.hasher.hash(key);
        let record = ironsmith_db::api_keys::by_hash(pool, &hash)
            .await
            .map_err(unavailable)?
            .filter(|r| self.inner.hasher.verify(key, &r.key_hash))
            .ok_or_else(|| AuthError::Unauthenticated("Invalid API key".into()))?;
        let kind = KeyKind::parse(&record.kind).ok_or_else(|| unavailable("unknown key kind"))?;
        let credential = Credential::ApiKey {
            id: record.id,
            kind,
        };
        let expires_at = record.expires_at.map(|t| t.timestamp());
        match kind {
            KeyKind::Pat => {
                let user_id = record
                    .user_id
                    .ok_or_else(|| unavailable("PAT without owner"))?;
                let (identity, mut orgs) = self.load_user(user_id).await?;
                orgs.retain(|g| g.organization_id == record.organization_id);
                if orgs.is_empty() {
                    return Err(AuthError::Unauthenticated(
                        "This key's owner has left its organisation".into(),
                    ));
                }
                Ok(Principal {
                    identity,
                    credential,
                    scope: Scope::Member {
                        orgs,
                        default_workspace: record.workspace_id,
                    },
                    expires_at,
                })
            }
            KeyKind::Service => {
                let role = record
                    .service_role
                    .as_deref()
                    .and_then(Role::parse)
                    .ok_or_else(|| unavailable("service key without a role"))?;
                let org = ironsmith_db::organizations::get(pool, record.organization_id)
                    .await
                    .map_err(unavailable)?
                    .ok_or_else(|| AuthError::Unauthenticated("Invalid API key".into()))?;
                let all_workspaces = ironsmith_db::workspaces::ids(pool, record.organization_id)
                    .await
                    .map_err(unavailable)?;
                Ok(Principal {
                    identity: Identity::ServiceAccount {
                        api_key_id: record.id,
                    },
                    credential,
                    scope: Scope::Service {
                        organization_id: record.organization_id,
                        workspace_id: record.workspace_id,
                        role,
                        all_workspaces,
                        limits: self.limits_in_force(&org),
                    },
                    expires_at,
                })
            }
        }
    }

    pub(super) async fn load_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
    ) -> Result<Principal, AuthError> {
        let session = ironsmith_db::login_sessions::live(&self.inner.pool, session_id)
            .await
            .map_err(unavailable)?
            .filter(|s| s.user_id == user_id)
            .ok_or_else(|| AuthError::Unauthenticated("Session expired or signed out".into()))?;
        let (identity, orgs) = self.load_user(user_id).await?;
        let default_workspace = ironsmith_db::users::get(&self.inner.pool, user_id)
            .await
            .map_err(unavailable)?
            .and_then(|u| u.default_workspace_id);
        Ok(Principal {
            identity,
            credential: Credential::Session { id: session.id },
            scope: Scope::Member {
                orgs,
                default_workspace,
            },
            expires_at: Some(session.expires_at.timestamp()),
        })
    }

    /// A user and their standing in each organisation.
    pub(super) async fn load_user(
        &self,
        user_id: Uuid,
    ) -> Result<(Identity, Vec<OrgGrant>), AuthError> {
        let pool = &self.inner.pool;
        let user = ironsmith_db::users::get(pool, user_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| AuthError::Unauthenticated("Unknown user".into()))?;
        let org_rows = ironsmith_db::members::org_grants(pool, user_id)
            .await
            .map_err(unavailable)?;
        let workspace_rows = ironsmith_db::members::workspace_grants(pool, user_id)
            .await
            .map_err(unavailable)?;
        let mut orgs = Vec::with_capacity(org_rows.len());
        for row in org_rows {
            let Some(org_role) = Role::parse(&row.org_role) else {
                continue;
            };
            let org = ironsmith_db::organizations::get(pool, row.organization_id)
                .await
                .map_err(unavailable)?;
            let Some(org) = org else { continue };
            let all_workspaces = ironsmith_db::workspaces::ids(pool, row.organization_id)
                .await
                .map_err(unavailable)?;
            let workspaces = workspace_rows
                .iter()
                .filter(|w| w.organization_id == row.organization_id)
                .filter_map(|w| Role::parse(&w.role).map(|role| (w.workspace_id, role)))
                .collect();
            orgs.push(OrgGrant {
                organization_id: row.organization_id,
                org_role,
                workspaces,
                all_workspaces,
                limits: self.limits_in_force(&org),
            });
        }
        Ok((
            Identity::User {
                user_id: user.id,
                email: user.email,
                full_name: user.full_name,
            },
            orgs,
        ))
    }
}
