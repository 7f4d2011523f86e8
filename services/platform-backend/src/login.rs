//! Starting a login session, shared by password and single sign-on logins: a
//! `login_sessions` row, a signed token naming it, and the HttpOnly cookie carrying it.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{Duration, Utc};
use ironsmith_api_types::timestamp;
use ironsmith_auth::session_cookie_name;
use ironsmith_auth::session_token::{ISSUER, SessionClaims};
use ironsmith_db::{login_sessions, users::User};
use serde::Serialize;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Error, Result};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            id: user.id,
            email: user.email.clone(),
            full_name: user.full_name.clone(),
        }
    }
}

/// The answer to a successful login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_at: String,
    pub user: UserView,
}

/// A new session for `user`: its token, and the `Set-Cookie` header value for the UI.
pub async fn start_session(
    state: &AppState,
    user: &User,
    method: &str,
    request_headers: &HeaderMap,
) -> Result<(LoginResponse, HeaderValue)> {
    let now = Utc::now();
    let lifetime =
        Duration::seconds(i64::try_from(state.config.auth.session_max_secs).unwrap_or(86_400));
    let expires_at = now + lifetime;
    let session_id = Uuid::now_v7();
    let user_agent = request_headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    let mut tx = state.stores.postgres.begin().await?;
    login_sessions::create(
        &mut *tx,
        &login_sessions::NewLoginSession {
            id: session_id,
            user_id: user.id,
            method,
            user_agent: &user_agent,
            expires_at,
        },
    )
    .await?;
    for grant in ironsmith_db::members::org_grants(&mut *tx, user.id).await? {
        audit::record(
            &mut *tx,
            Actor::user(user.id),
            Event {
                organization_id: grant.organization_id,
                workspace_id: None,
                action: "user.login",
                target_type: "user",
                target_id: user.id.to_string(),
                details: serde_json::json!({ "method": method }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    let token = state
        .auth
        .signer()
        .sign(&SessionClaims {
            sub: user.id,
            sid: session_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
        })
        .map_err(|e| Error::Api(ironsmith_http::ApiError::internal(e)))?;
    let cookie = session_cookie(state, token.clone(), lifetime.num_seconds());
    Ok((
        LoginResponse {
            access_token: token,
            token_type: "bearer",
            expires_at: timestamp::format(&expires_at),
            user: user.into(),
        },
        cookie,
    ))
}

/// The session cookie: HttpOnly, SameSite=Lax; over HTTPS also Secure and named with the
/// `__Host-` prefix. An empty value with `max_age_secs` 0 clears it.
pub fn session_cookie(state: &AppState, value: String, max_age_secs: i64) -> HeaderValue {
    let ui_url = &state.config.public.ui_url;
    let secure = if ui_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let name = session_cookie_name(ui_url);
    // Tokens are base64url and dots: valid cookie octets, no quoting needed.
    let cookie =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where to send the browser after signing in: `next` when it is a path on this site, else `/`.
/// Only a plain absolute path is accepted: no scheme, no `//` or `/\` (which browsers read as
/// another host), no backslashes, whitespace or control characters anywhere.
pub fn same_origin_path(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(|c| c.is_whitespace() || c.is_control())
            && n.len() <= 2048
            && axum::http::Uri::try_from(*n)
                .is_ok_and(|u| u.scheme().is_none() && u.authority().is_none())
    })
    .map_or_else(|| "/".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::same_origin_path;

    #[test]
    fn next_is_a_path_on_this_site_or_home() {
        for good in ["/", "/settings", "/o/x/projects?tab=1#top"] {
            assert_eq!(same_origin_path(Some(good)), good);
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "evil",
            "/a b",
            "/a\tb",
            "/\r\nSet-Cookie: x=1",
            "/\u{7f}",
            "",
        ] {
            assert_eq!(same_origin_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(same_origin_path(None), "/");
    }
}
