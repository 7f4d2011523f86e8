//! API keys. Service keys (`POST /api-key`, listed and revoked by workspace admins; an
//! organisation-wide one needs an Organization Admin) and personal access tokens
//! (`/api-key/current`, the caller's own). The secret is in the creation answer only.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use ironsmith_api_types::timestamp;
use ironsmith_auth::perm::{OrganizationPatsCreate, WorkspacesManage};
use ironsmith_auth::secrets::{generate_key, short_key};
use ironsmith_auth::{AuthError, Identity, KeyKind, OrgAuth, Permission, RequirePermission, Role};
use ironsmith_db::api_keys::{self, ApiKeyListing, NewApiKey, RevokeScope};
use ironsmith_db::organizations;
use ironsmith_http::{Json, PathUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Result, forbidden, invalid, not_found};
use crate::membership::parse_role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_service_keys, create_service_key))
        .routes(routes!(revoke_service_key))
        .routes(routes!(list_personal, create_personal))
        .routes(routes!(revoke_personal))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct KeyView {
    id: Uuid,
    kind: String,
    short_key: String,
    description: String,
    /// `workspace` or `organization`.
    scope: &'static str,
    workspace_id: Option<Uuid>,
    role_id: Option<Uuid>,
    created_by: Option<String>,
    created_at: String,
    last_used_at: Option<String>,
    expires_at: Option<String>,
    /// The secret: present only in the answer that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn view(k: ApiKeyListing) -> KeyView {
    KeyView {
        scope: if k.kind == "service" && k.workspace_id.is_none() {
            "organization"
        } else {
            "workspace"
        },
        id: k.id,
        kind: k.kind,
        short_key: k.short_key,
        description: k.description,
        workspace_id: k.workspace_id,
        role_id: k
            .service_role
            .as_deref()
            .and_then(Role::parse)
            .map(Role::id),
        created_by: k.created_by_email,
        created_at: timestamp::format(&k.created_at),
        last_used_at: k.last_used_at.as_ref().map(timestamp::format),
        expires_at: k.expires_at.as_ref().map(timestamp::format),
        key: None,
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewKeyBody {
    #[serde(default)]
    description: String,
    /// `workspace` (default) or `organization`.
    #[serde(default)]
    scope: Option<String>,
    /// The workspace role a service key acts with (default Admin).
    #[serde(default)]
    role_id: Option<Uuid>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

fn check_body(body: &NewKeyBody) -> Result<()> {
    if body.description.chars().count() > 500 {
        return Err(invalid("description", "at most 500 characters"));
    }
    if body.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(invalid("expires_at", "must be in the future"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api-key", tag = "api keys",
    request_body = NewKeyBody, responses((status = 200, body = KeyView)))]
async fn create_service_key(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
    headers: HeaderMap,
    Json(body): Json<NewKeyBody>,
) -> Result<axum::Json<KeyView>> {
    check_body(&body)?;
    let org_wide = match body.scope.as_deref() {
        None | Some("workspace") => false,
        Some("organization") => true,
        Some(_) => return Err(invalid("scope", "`workspace` or `organization`")),
    };
    let role = match body.role_id {
        Some(id) => parse_role(id, "role_id", true)?,
        None => Role::WorkspaceAdmin,
    };
    let workspace_id = if org_wide {
        caller.require(Permission::OrganizationManage)?;
        None
    } else {
        let tenant = headers
            .get("x-tenant-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::try_parse(v.trim()).ok());
        let access = caller.principal.workspace(tenant)?;
        if !access.permissions.contains(Permission::WorkspacesManage) {
            return Err(AuthError::missing_permission(Permission::WorkspacesManage).into());
        }
        Some(access.workspace_id)
    };
    let view = mint(
        &state,
        &caller.identity,
        caller.credential,
        NewKey {
            organization_id: caller.organization_id,
            kind: KeyKind::Service,
            workspace_id,
            user_id: None,
            service_role: Some(role),
            description: &body.description,
            expires_at: body.expires_at,
        },
    )
    .await?;
    Ok(axum::Json(view))
}

#[utoipa::path(get, path = "/api-key", tag = "api keys",
    responses((status = 200, body = Vec<KeyView>)))]
async fn list_service_keys(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
) -> Result<axum::Json<Vec<KeyView>>> {
    let keys = api_keys::list_service_keys(
        &state.stores.postgres,
        caller.organization_id,
        caller.workspace_id,
    )
    .await?;
    Ok(axum::Json(keys.into_iter().map(view).collect()))
}

#[utoipa::path(delete, path = "/api-key/{id}", tag = "api keys",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked, with every key it minted")))]
async fn revoke_service_key(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode> {
    let scope = if caller.permissions.contains(Permission::OrganizationManage) {
        RevokeScope::AnyServiceKey
    } else {
        RevokeScope::ServiceKeyOfWorkspace {
            workspace_id: caller.workspace_id,
        }
    };
    revoke(&state, &caller, id, scope).await
}

async fn revoke(
    state: &AppState,
    caller: &ironsmith_auth::AuthContext,
    id: Uuid,
    scope: RevokeScope,
) -> Result<StatusCode> {
    let mut tx = state.stores.postgres.begin().await?;
    let hash = api_keys::revoke(&mut *tx, caller.organization_id, id, scope)
        .await?
        .ok_or_else(|| not_found("API key"))?;
    // Keys minted through this one go with it.
    let minted = api_keys::revoke_descendants(&mut *tx, id).await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: Some(caller.workspace_id),
            action: "api_key.revoked",
            target_type: "api_key",
            target_id: id.to_string(),
            details: json!({ "minted_keys_revoked": minted.len() }),
        },
    )
    .await?;
    tx.commit().await?;
    state.auth.forget_key(&hash).await?;
    for hash in &minted {
        state.auth.forget_key(hash).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api-key/current", tag = "api keys",
    request_body = NewKeyBody, responses((status = 200, body = KeyView)))]
async fn create_personal(
    State(state): State<AppState>,
    caller: RequirePermission<OrganizationPatsCreate>,
    Json(body): Json<NewKeyBody>,
) -> Result<axum::Json<KeyView>> {
    check_body(&body)?;
    let user_id = caller
        .user_id()
        .ok_or_else(|| forbidden("Only users have personal access tokens"))?;
    let org = organizations::get(&state.stores.postgres, caller.organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    if org.pat_creation_disabled {
        return Err(forbidden(
            "Personal access tokens are disabled in this organisation",
        ));
    }
    let view = mint(
        &state,
        &caller.identity,
        caller.credential,
        NewKey {
            organization_id: caller.organization_id,
            kind: KeyKind::Pat,
            workspace_id: Some(caller.workspace_id),
            user_id: Some(user_id),
            service_role: None,
            description: &body.description,
            expires_at: body.expires_at,
        },
    )
    .await?;
    Ok(axum::Json(view))
}

/// A key about to be minted.
struct NewKey<'a> {
    organization_id: Uuid,
    kind: KeyKind,
    workspace_id: Option<Uuid>,
    user_id: Option<Uuid>,
    service_role: Option<Role>,
    description: &'a str,
    expires_at: Option<DateTime<Utc>>,
}

/// Generates a key, stores its hash, records the creation, and answers with the secret: the
/// only time it is ever shown.
async fn mint(
    state: &AppState,
    identity: &Identity,
    credential: ironsmith_auth::Credential,
    new: NewKey<'_>,
) -> Result<KeyView> {
    let key = generate_key(new.kind);
    let id = Uuid::now_v7();
    let short = short_key(&key);
    let org_wide = new.kind == KeyKind::Service && new.workspace_id.is_none();
    let mut tx = state.stores.postgres.begin().await?;
    api_keys::insert(
        &mut *tx,
        &NewApiKey {
            id,
            organization_id: new.organization_id,
            kind: new.kind.as_str(),
            workspace_id: new.workspace_id,
            user_id: new.user_id,
            service_role: new.service_role.map(Role::as_str),
            created_by: identity.user_id(),
            created_by_key: credential.api_key_id(),
            description: new.description,
            short_key: &short,
            key_hash: &state.auth.hasher().hash(&key),
            expires_at: new.expires_at,
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        Actor::of(identity, credential),
        Event {
            organization_id: new.organization_id,
            workspace_id: new.workspace_id,
            action: "api_key.created",
            target_type: "api_key",
            target_id: id.to_string(),
            details: json!({
                "kind": new.kind.as_str(),
                "scope": if org_wide { "organization" } else { "workspace" },
                "role": new.service_role.map(Role::as_str),
                "description": new.description,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(KeyView {
        id,
        kind: new.kind.as_str().into(),
        short_key: short,
        description: new.description.to_owned(),
        scope: if org_wide {
            "organization"
        } else {
            "workspace"
        },
        workspace_id: new.workspace_id,
        role_id: new.service_role.map(Role::id),
        created_by: match identity {
            Identity::User { email, .. } => Some(email.clone()),
            Identity::ServiceAccount { .. } => None,
        },
        created_at: timestamp::format(&Utc::now()),
        last_used_at: None,
        expires_at: new.expires_at.as_ref().map(timestamp::format),
        key: Some(key),
    })
}

#[utoipa::path(get, path = "/api-key/current", tag = "api keys",
    responses((status = 200, body = Vec<KeyView>)))]
async fn list_personal(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
) -> Result<axum::Json<Vec<KeyView>>> {
    let user_id = caller
        .user_id()
        .ok_or_else(|| forbidden("Only users have personal access tokens"))?;
    let keys =
        api_keys::list_personal(&state.stores.postgres, caller.organization_id, user_id).await?;
    Ok(axum::Json(keys.into_iter().map(view).collect()))
}

#[utoipa::path(delete, path = "/api-key/current/{id}", tag = "api keys",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked, with every key it minted")))]
async fn revoke_personal(
    State(state): State<AppState>,
    ironsmith_auth::Auth(caller): ironsmith_auth::Auth,
    PathUuid(id): PathUuid,
) -> Result<StatusCode> {
    let user_id = caller
        .user_id()
        .ok_or_else(|| forbidden("Only users have personal access tokens"))?;
    revoke(&state, &caller, id, RevokeScope::PersonalOf { user_id }).await
}
