//! OpenID Connect single sign-on (`auth.mode = "oidc"`): the authorization-code flow with PKCE
//! (RFC 7636, S256) against the configured issuer. A client secret is sent when one is
//! configured; without one the flow relies on PKCE alone.
//!
//! `GET /oauth/custom-oidc/login` stores a one-use state (PKCE verifier, nonce, where to return)
//! in Redis and redirects to the issuer; `GET /oauth/custom-oidc/callback` consumes it,
//! exchanges the code, verifies the ID token against the issuer's JWKS (signature, issuer,
//! audience, expiry, nonce), requires a verified email, then matches the user by subject or
//! email — or provisions one — and starts a session as a password login would.
//!
//! The state is bound to the browser that started the login: the login sets an HttpOnly cookie
//! holding it, and the callback proceeds only when the cookie matches the `state` parameter, so
//! an attacker cannot complete a login they started in a victim's browser (login CSRF).
//! Accounts are never taken over silently: an existing account that signs in with a password is
//! linked to an identity by email only when the operator allows it
//! (`auth.oidc.link_password_accounts`), and provisioning is off unless configured, then limited
//! to `auth.oidc.provision_email_domains`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironsmith_auth::Role;
use ironsmith_auth::secrets::generate_token;
use ironsmith_config::LoginMode;
use ironsmith_db::{members, organizations, users, workspaces};
use ironsmith_http::{ApiError, Query};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Error, Result, bad_request, forbidden, not_found};
use crate::login::start_session;

/// How long a started login may take at the issuer.
const STATE_TTL_SECS: u64 = 600;

/// The cookie binding a started login to the browser that started it.
const STATE_COOKIE: &str = "ironsmith_oidc_state";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(callback))
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PendingLogin {
    verifier: String,
    nonce: String,
    next: String,
}

fn upstream_error(what: &str, error: impl std::fmt::Display) -> Error {
    tracing::warn!(%error, "single sign-on: {what}");
    Error::Api(ApiError::ServiceUnavailable(format!(
        "The identity provider could not be reached ({what})"
    )))
}

fn enabled(state: &AppState) -> Result<()> {
    if state.config.auth.mode == LoginMode::Oidc {
        Ok(())
    } else {
        Err(not_found("Single sign-on"))
    }
}

fn redirect_uri(state: &AppState) -> String {
    let configured = &state.config.auth.oidc.redirect_url;
    if configured.is_empty() {
        format!(
            "{}/oauth/custom-oidc/callback",
            state.config.public.api_url.as_str().trim_end_matches('/')
        )
    } else {
        configured.clone()
    }
}

async fn discover(state: &AppState) -> Result<Discovery> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        state.config.auth.oidc.issuer_url.trim_end_matches('/')
    );
    let discovery: Discovery = state
        .http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| upstream_error("discovery", e))?
        .json()
        .await
        .map_err(|e| upstream_error("discovery document", e))?;
    if discovery.issuer.trim_end_matches('/')
        != state.config.auth.oidc.issuer_url.trim_end_matches('/')
    {
        return Err(upstream_error(
            "discovery",
            "the discovery document names another issuer",
        ));
    }
    Ok(discovery)
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

#[utoipa::path(get, path = "/oauth/custom-oidc/login", operation_id = "oidc_login", tag = "authentication",
    security(()),
    responses((status = 303, description = "To the identity provider")))]
async fn login(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Result<Response> {
    enabled(&state)?;
    let discovery = discover(&state).await?;
    let oidc = &state.config.auth.oidc;
    let pending = PendingLogin {
        verifier: format!("{}{}", generate_token(), generate_token()),
        nonce: generate_token(),
        next: crate::login::same_origin_path(query.next.as_deref()),
    };
    let login_state = generate_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
    let value = serde_json::to_string(&pending)?;
    let mut conn = state.stores.redis.connection().await?;
    redis::cmd("SET")
        .arg(
            state
                .stores
                .redis
                .key(&ironsmith_redis::keys::oidc_state(&login_state)),
        )
        .arg(value)
        .arg("EX")
        .arg(STATE_TTL_SECS)
        .query_async::<()>(&mut conn)
        .await?;
    let mut url = url::Url::parse(&discovery.authorization_endpoint)
        .map_err(|e| upstream_error("authorization endpoint", e))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.client_id)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("scope", &oidc.scopes.join(" "))
        .append_pair("state", &login_state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        state_cookie(&state, &login_state, STATE_TTL_SECS),
    );
    Ok(response)
}

/// The login-state cookie. SameSite=Lax: the issuer's redirect back is a top-level GET, which
/// carries it.
fn state_cookie(state: &AppState, value: &str, max_age_secs: u64) -> header::HeaderValue {
    let secure = if state.config.public.ui_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{STATE_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    header::HeaderValue::from_str(&cookie).unwrap_or_else(|_| header::HeaderValue::from_static(""))
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: String,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(get, path = "/oauth/custom-oidc/callback", tag = "authentication",
    security(()),
    responses((status = 303, description = "Signed in: to the page the login started from")))]
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response> {
    enabled(&state)?;
    if let Some(error) = query.error {
        return Err(forbidden(format!(
            "The identity provider refused the login: {error}{}",
            query
                .error_description
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )));
    }
    let (Some(code), Some(login_state)) = (query.code, query.state) else {
        return Err(bad_request("The callback needs `code` and `state`"));
    };
    let bound = axum_extra::extract::cookie::CookieJar::from_headers(&headers)
        .get(STATE_COOKIE)
        .is_some_and(|c| {
            use subtle::ConstantTimeEq;
            bool::from(c.value().as_bytes().ct_eq(login_state.as_bytes()))
        });
    if !bound {
        return Err(bad_request(
            "This login was not started in this browser; start again",
        ));
    }
    // One use only: GETDEL makes a replayed callback fail.
    let mut conn = state.stores.redis.connection().await?;
    let stored: Option<String> = redis::cmd("GETDEL")
        .arg(
            state
                .stores
                .redis
                .key(&ironsmith_redis::keys::oidc_state(&login_state)),
        )
        .query_async(&mut conn)
        .await?;
    let pending: PendingLogin = stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| bad_request("Unknown or expired login; start again"))?;

    let discovery = discover(&state).await?;
    let oidc = &state.config.auth.oidc;
    let redirect = redirect_uri(&state);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("client_id", oidc.client_id.as_str()),
        ("code_verifier", pending.verifier.as_str()),
    ];
    if !oidc.client_secret.is_empty() {
        form.push(("client_secret", oidc.client_secret.expose()));
    }
    let token_response = state
        .http
        .post(&discovery.token_endpoint)
        .form(&form)
        .send()
        .await
        .map_err(|e| upstream_error("token endpoint", e))?;
    if !token_response.status().is_success() {
        let status = token_response.status();
        let body = token_response.text().await.unwrap_or_default();
        tracing::warn!(%status, body = %body.chars().take(500).collect::<String>(), "single sign-on: the code exchange was refused");
        return Err(forbidden("The identity provider refused the code exchange"));
    }
    let tokens: TokenResponse = token_response
        .json()
        .await
        .map_err(|e| upstream_error("token response", e))?;
    let claims = verify_id_token(&state, &discovery, &tokens.id_token, &pending.nonce).await?;

    let email = claims
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.contains('@'))
        .ok_or_else(|| forbidden("The identity provider sent no email address"))?;
    if claims.email_verified != Some(true) {
        return Err(forbidden(
            "The identity provider has not verified this email address",
        ));
    }
    let user = find_or_provision(&state, &discovery.issuer, &claims, &email).await?;
    let (_, cookie) = start_session(&state, &user, "oidc", &headers).await?;
    let mut response = Redirect::to(&pending.next).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .append(header::SET_COOKIE, state_cookie(&state, "", 0));
    Ok(response)
}

async fn verify_id_token(
    state: &AppState,
    discovery: &Discovery,
    id_token: &str,
    nonce: &str,
) -> Result<IdClaims> {
    let header = jsonwebtoken::decode_header(id_token)
        .map_err(|_| forbidden("The identity provider sent a malformed ID token"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::PS256
    ) {
        return Err(forbidden(
            "The ID token is not signed with an accepted algorithm",
        ));
    }
    let jwks: JwkSet = state
        .http
        .get(&discovery.jwks_uri)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| upstream_error("JWKS", e))?
        .json()
        .await
        .map_err(|e| upstream_error("JWKS document", e))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None => jwks.keys.first(),
    }
    .ok_or_else(|| forbidden("The ID token's signing key is unknown"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| forbidden("Unusable signing key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[discovery.issuer.as_str()]);
    validation.set_audience(&[state.config.auth.oidc.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
        .map_err(|e| {
            tracing::warn!(error = %e, "single sign-on: ID token rejected");
            forbidden("The ID token is invalid")
        })?
        .claims;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(forbidden("The ID token does not belong to this login"));
    }
    Ok(claims)
}

/// The user this identity belongs to: by issuer and subject, else by verified email (then
/// linked; a password account only when the operator allows it), else a new account when
/// provisioning is on and the email's domain is one provisioning accepts.
async fn find_or_provision(
    state: &AppState,
    issuer: &str,
    claims: &IdClaims,
    email: &str,
) -> Result<users::User> {
    let pool = &state.stores.postgres;
    if let Some(user) = users::by_oidc_subject(pool, issuer, &claims.sub).await? {
        return Ok(user);
    }
    let oidc = &state.config.auth.oidc;
    if let Some(user) = users::by_email(pool, email).await? {
        if user.password_hash.is_some() && !oidc.link_password_accounts {
            return Err(forbidden(
                "An account with this email signs in with a password; an administrator must \
                 allow linking it to single sign-on",
            ));
        }
        users::link_oidc(pool, user.id, issuer, &claims.sub).await?;
        return Ok(user);
    }
    let domain = email.rsplit('@').next().unwrap_or_default();
    let domain_accepted = oidc.provision_email_domains.iter().any(|d| {
        d.trim()
            .trim_start_matches('@')
            .eq_ignore_ascii_case(domain)
    });
    if !oidc.provision_users || !domain_accepted {
        return Err(forbidden(format!(
            "There is no account for {email}; ask an administrator for an invitation"
        )));
    }
    let mut tx = pool.begin().await?;
    let org = organizations::first(&mut *tx)
        .await?
        .ok_or_else(|| forbidden("This installation has no organisation yet"))?;
    let workspace = workspaces::ids(&mut *tx, org.id).await?.first().copied();
    let id = Uuid::now_v7();
    users::create(
        &mut *tx,
        &users::NewUser {
            id,
            email,
            full_name: claims.name.as_deref().unwrap_or(""),
            password_hash: None,
            default_workspace_id: workspace,
        },
    )
    .await?;
    users::link_oidc(&mut *tx, id, issuer, &claims.sub).await?;
    members::add_to_org(&mut *tx, org.id, id, Role::OrganizationUser.as_str()).await?;
    let role = Role::parse(&oidc.provision_workspace_role).unwrap_or(Role::WorkspaceViewer);
    if let Some(workspace) = workspace {
        members::put_workspace_member(&mut *tx, workspace, id, role.as_str()).await?;
    }
    audit::record(
        &mut *tx,
        Actor::user(id),
        Event {
            organization_id: org.id,
            workspace_id: workspace,
            action: "user.provisioned",
            target_type: "user",
            target_id: id.to_string(),
            details: serde_json::json!({ "email": email, "issuer": issuer, "workspace_role": role.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    users::get(pool, id).await?.ok_or_else(|| not_found("User"))
}
