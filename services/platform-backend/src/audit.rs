//! Recording who did what: key creation and revocation, membership and role changes, logins.

use ironsmith_auth::{Credential, Identity};
use ironsmith_db::audit_log::{self, NewAuditEntry};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::Result;

/// Who acted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
}

impl Actor {
    pub fn of(identity: &Identity, credential: Credential) -> Self {
        Actor {
            user_id: identity.user_id(),
            api_key_id: credential.api_key_id(),
        }
    }

    pub fn user(user_id: Uuid) -> Self {
        Actor {
            user_id: Some(user_id),
            api_key_id: None,
        }
    }

    /// The installation's operator (no user, no key).
    pub const OPERATOR: Actor = Actor {
        user_id: None,
        api_key_id: None,
    };
}

/// What happened, to what.
#[derive(Debug)]
pub struct Event<'a> {
    pub organization_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub details: serde_json::Value,
}

pub async fn record(db: impl PgExecutor<'_>, actor: Actor, event: Event<'_>) -> Result<()> {
    audit_log::record(
        db,
        &NewAuditEntry {
            organization_id: event.organization_id,
            workspace_id: event.workspace_id,
            actor_user_id: actor.user_id,
            actor_api_key_id: actor.api_key_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            details: event.details,
        },
    )
    .await?;
    Ok(())
}
