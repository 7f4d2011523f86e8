//! Signing in and out: `POST /auth/login` (JSON for API use, a form post for the UI),
//! `POST /auth/logout`, `POST /auth/password`, the caller's sessions, and `GET /me`.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ironsmith_api_types::timestamp;
use ironsmith_auth::password::{MIN_PASSWORD_LEN, dummy_hash};
use ironsmith_auth::{Credential, Identity, OrgAuth, Presented, Role};
use ironsmith_config::LoginMode;
use ironsmith_db::{login_sessions, users};
use ironsmith_http::{ApiError, Json, PathUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Result, forbidden, invalid, not_found};
use crate::login::{LoginResponse, session_cookie, start_session};
use crate::membership::WorkspaceView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth_config))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(change_password))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(me))
}

/// How users sign in to this installation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuthConfig {
    /// `basic` (email and password) or `oidc` (single sign-on).
    #[schema(value_type = String)]
    mode: LoginMode,
    password_login: bool,
    /// Where single sign-on starts; null without it.
    sso_login_url: Option<&'static str>,
}

/// What the login page needs to know.
#[utoipa::path(get, path = "/auth/config", tag = "authentication", security(()),
    responses((status = 200, body = AuthConfig)))]
async fn auth_config(State(state): State<AppState>) -> axum::Json<AuthConfig> {
    let oidc = state.config.auth.mode == LoginMode::Oidc;
    axum::Json(AuthConfig {
        mode: state.config.auth.mode,
        password_login: !oidc,
        sso_login_url: oidc.then_some("/api/v1/oauth/custom-oidc/login"),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LoginForm {
    email: String,
    password: String,
    /// For form posts: where to go afterwards (a path on this site).
    #[serde(default)]
    next: Option<String>,
}

#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "authentication", security(()),
    request_body(content((LoginForm = "application/json"), (LoginForm = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = LoginResponse, description = "Signed in (a JSON request): the session, and its cookie set"), (status = 303, description = "A form post: to `next` when signed in, back to the login page when refused")))]
async fn login(State(state): State<AppState>, request: Request) -> Result<Response> {
    let headers = request.headers().clone();
    let (parts, body) = request.into_parts();
    state
        .auth
        .hit_address_limit(&state.auth.client_address(&parts))
        .await?;
    let request = Request::from_parts(parts, body);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: LoginForm = if is_form {
        axum::Form::<LoginForm>::from_request(request, &state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?
            .0
    } else {
        Json::<LoginForm>::from_request(request, &state).await?.0
    };
    if state.config.auth.mode == LoginMode::Oidc {
        return Err(forbidden(
            "Password login is disabled on this installation; sign in with single sign-on",
        ));
    }
    let user = users::by_email(&state.stores.postgres, form.email.trim()).await?;
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let password = form.password.clone();
    let matches = state.auth.verify_password(password, stored).await?;
    let user = match user {
        Some(user) if matches && user.password_hash.is_some() => user,
        _ => {
            if is_form {
                return Ok(Redirect::to("/login?error=invalid").into_response());
            }
            return Err(ApiError::Unauthorized("Invalid email or password".into()).into());
        }
    };
    let (body, cookie) = start_session(&state, &user, "password", &headers).await?;
    let mut response = if is_form {
        Redirect::to(&crate::login::same_origin_path(form.next.as_deref())).into_response()
    } else {
        axum::Json(body).into_response()
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Ends the session the request carries (cookie or Bearer) and clears the cookie. Always 204:
/// signing out twice is not an error.
#[utoipa::path(post, path = "/auth/logout", tag = "authentication",
    security(()),
    responses((status = 204, description = "Signed out (also when there was no session)")))]
async fn logout(State(state): State<AppState>, request: Request) -> Result<Response> {
    let (parts, _) = request.into_parts();
    if let Some(presented @ Presented::SessionToken(_)) = state.auth.presented(&parts)
        && let Ok(principal) = state.auth.principal(&presented).await
        && let (Credential::Session { id }, Some(user_id)) =
            (principal.credential, principal.identity.user_id())
    {
        login_sessions::revoke(&state.stores.postgres, user_id, id).await?;
        state.auth.forget_session(id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, String::new(), 0));
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PasswordChange {
    current_password: String,
    #[schema(min_length = 8)]
    new_password: String,
}

/// Changes the caller's password and signs out every other session of theirs.
#[utoipa::path(post, path = "/auth/password", tag = "authentication",
    request_body = PasswordChange, responses((status = 204, description = "Changed; the caller's other sessions are signed out")))]
async fn change_password(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode> {
    let user_id = caller
        .user_id()
        .ok_or_else(|| forbidden("Service keys have no password"))?;
    if change.new_password.chars().count() < MIN_PASSWORD_LEN {
        return Err(invalid(
            "new_password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let user = users::get(&state.stores.postgres, user_id)
        .await?
        .ok_or_else(|| not_found("User"))?;
    let stored = user
        .password_hash
        .clone()
        .unwrap_or_else(|| dummy_hash().to_owned());
    let current = change.current_password;
    let new = change.new_password;
    let matches = state.auth.verify_password(current, stored).await?;
    if !matches || user.password_hash.is_none() {
        return Err(forbidden("The current password is wrong"));
    }
    let new_hash = state.auth.hash_password(new).await?;
    let keep = match caller.credential {
        Credential::Session { id } => Some(id),
        Credential::ApiKey { .. } => None,
    };
    let mut tx = state.stores.postgres.begin().await?;
    users::set_password_hash(&mut *tx, user_id, &new_hash).await?;
    let revoked = login_sessions::revoke_all_but(&mut *tx, user_id, keep).await?;
    audit::record(
        &mut *tx,
        Actor::user(user_id),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "user.password_changed",
            target_type: "user",
            target_id: user_id.to_string(),
            details: json!({ "sessions_revoked": revoked.len() }),
        },
    )
    .await?;
    tx.commit().await?;
    for id in revoked {
        state.auth.forget_session(id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SessionView {
    id: uuid::Uuid,
    method: String,
    user_agent: String,
    created_at: String,
    expires_at: String,
    current: bool,
}

#[utoipa::path(get, path = "/auth/sessions", tag = "authentication",
    responses((status = 200, body = Vec<SessionView>)))]
async fn list_sessions(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
) -> Result<axum::Json<Vec<SessionView>>> {
    let user_id = caller
        .user_id()
        .ok_or_else(|| forbidden("Service keys have no sessions"))?;
    let current = match caller.credential {
        Credential::Session { id } => Some(id),
        Credential::ApiKey { .. } => None,
    };
    let sessions = login_sessions::list_live(&state.stores.postgres, user_id).await?;
    Ok(axum::Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: Some(s.id) == current,
                id: s.id,
                method: s.method,
                user_agent: s.user_agent,
                created_at: timestamp::format(&s.created_at),
                expires_at: timestamp::format(&s.expires_at),
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "authentication",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Signed out")))]
async fn revoke_session(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
    PathUuid(id): PathUuid,
) -> Result<StatusCode> {
    let user_id = caller
        .user_id()
        .ok_or_else(|| forbidden("Service keys have no sessions"))?;
    if !login_sessions::revoke(&state.stores.postgres, user_id, id).await? {
        return Err(not_found("Session"));
    }
    state.auth.forget_session(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is calling.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum IdentityView {
    User {
        user_id: Uuid,
        email: String,
        full_name: String,
    },
    ServiceAccount {
        api_key_id: Uuid,
    },
}

/// The caller's access to the workspace the request names (`X-Tenant-Id`) or its default one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CurrentWorkspace {
    id: Uuid,
    role: &'static str,
    permissions: Vec<&'static str>,
}

/// Who the caller is, and where they may act.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Me {
    identity: IdentityView,
    /// `session` or `api_key`.
    credential: &'static str,
    organization_id: Uuid,
    /// Null for a workspace-scoped credential.
    organization_role: Option<&'static str>,
    organization_permissions: Vec<&'static str>,
    workspaces: Vec<WorkspaceView>,
    current_workspace: Option<CurrentWorkspace>,
}

/// Who the caller is, and where they may act.
#[utoipa::path(get, path = "/me", tag = "authentication",
    responses((status = 200, body = Me)))]
async fn me(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
    headers: HeaderMap,
) -> Result<axum::Json<Me>> {
    let workspaces = crate::membership::accessible(&state, &caller).await?;
    let tenant = headers
        .get("x-tenant-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::try_parse(v).ok());
    let current = caller.principal.workspace(tenant).ok();
    let identity = match &caller.identity {
        Identity::User {
            user_id,
            email,
            full_name,
        } => IdentityView::User {
            user_id: *user_id,
            email: email.clone(),
            full_name: full_name.clone(),
        },
        Identity::ServiceAccount { api_key_id } => IdentityView::ServiceAccount {
            api_key_id: *api_key_id,
        },
    };
    Ok(axum::Json(Me {
        identity,
        credential: match caller.credential {
            Credential::Session { .. } => "session",
            Credential::ApiKey { .. } => "api_key",
        },
        organization_id: caller.organization_id,
        organization_role: caller.org_role.map(Role::as_str),
        organization_permissions: caller.permissions.names(),
        workspaces,
        current_workspace: current.map(|access| CurrentWorkspace {
            id: access.workspace_id,
            role: access.workspace_role.as_str(),
            permissions: access.permissions.names(),
        }),
    }))
}
