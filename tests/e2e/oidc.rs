//! Single sign-on: the authorization-code flow with PKCE against a stub OpenID Connect issuer
//! on loopback, through the edge, as a browser follows it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironsmith_config::LoginMode;
use ironsmith_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Stack};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "ironsmith-test";

/// What an issued code is bound to.
#[derive(Clone)]
struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

/// The stub issuer: one identity at a time, codes bound to their PKCE challenge and nonce.
#[derive(Clone)]
struct Issuer {
    url: String,
    key: jsonwebtoken::EncodingKey,
    jwk: Value,
    /// The identity the next authorisation logs in: (subject, email, verified).
    identity: Arc<Mutex<(String, String, bool)>>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
}

async fn discovery(State(issuer): State<Issuer>) -> Json<Value> {
    Json(json!({
        "issuer": issuer.url,
        "authorization_endpoint": format!("{}/authorize", issuer.url),
        "token_endpoint": format!("{}/token", issuer.url),
        "jwks_uri": format!("{}/jwks", issuer.url),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn authorize(
    State(issuer): State<Issuer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
        || q.get("response_type").map(String::as_str) != Some("code")
    {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "bad authorization request",
        )
            .into_response();
    }
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    issuer.codes.lock().expect("lock").insert(
        code.clone(),
        Grant {
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            nonce: q.get("nonce").cloned().unwrap_or_default(),
            redirect_uri: redirect.clone(),
        },
    );
    let state = q.get("state").cloned().unwrap_or_default();
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}

async fn token(State(issuer): State<Issuer>, Form(f): Form<HashMap<String, String>>) -> Response {
    let refuse = |why: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "why": why})),
        )
            .into_response()
    };
    let code = f.get("code").cloned().unwrap_or_default();
    let Some(Grant {
        challenge,
        nonce,
        redirect_uri: redirect,
    }) = issuer.codes.lock().expect("lock").remove(&code)
    else {
        return refuse("unknown code");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return refuse("PKCE verification failed");
    }
    if f.get("redirect_uri") != Some(&redirect)
        || f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        return refuse("client or redirect mismatch");
    }
    let (sub, email, verified) = issuer.identity.lock().expect("lock").clone();
    let now = chrono_now();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("stub-key".into());
    let id_token = jsonwebtoken::encode(
        &header,
        &json!({
            "iss": issuer.url, "aud": CLIENT_ID, "sub": sub, "email": email,
            "email_verified": verified, "nonce": nonce, "iat": now, "exp": now + 300,
            "name": "Single Sign-On User",
        }),
        &issuer.key,
    )
    .expect("sign");
    Json(json!({"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn jwks(State(issuer): State<Issuer>) -> Json<Value> {
    Json(json!({ "keys": [issuer.jwk] }))
}

async fn start_issuer() -> anyhow::Result<Issuer> {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
    let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?;
    let jwk = json!({
        "kty": "RSA", "kid": "stub-key", "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = Issuer {
        url: format!("http://{}", listener.local_addr()?),
        key: jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())?,
        jwk,
        identity: Arc::new(Mutex::new(Default::default())),
        codes: Arc::new(Mutex::new(HashMap::new())),
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(issuer.clone());
    tokio::spawn(async move { drop(axum::serve(listener, app).await) });
    Ok(issuer)
}

/// Follows the browser's path: our login → the issuer → our callback. Returns the callback's
/// answer (status, location, session cookie).
async fn browser_login(edge: &str) -> anyhow::Result<(u16, String, Option<String>, Value)> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let start = browser
        .get(format!(
            "{edge}/api/v1/oauth/custom-oidc/login?next=/settings-page"
        ))
        .send()
        .await?;
    anyhow::ensure!(
        start.status().is_redirection(),
        "login start: {}",
        start.status()
    );
    let state_cookie = first_cookie(start.headers(), "ironsmith_oidc_state")
        .ok_or_else(|| anyhow::anyhow!("the login start set no state cookie"))?;
    let to_issuer = start.headers()["location"].to_str()?.to_owned();
    let at_issuer = browser.get(&to_issuer).send().await?;
    anyhow::ensure!(
        at_issuer.status().is_redirection(),
        "issuer: {}",
        at_issuer.status()
    );
    let back = at_issuer.headers()["location"].to_str()?.to_owned();
    // Another browser (the victim of a login-CSRF) cannot complete this login.
    let elsewhere = browser.get(&back).send().await?;
    anyhow::ensure!(
        elsewhere.status() == 400,
        "a callback without the state cookie answered {}",
        elsewhere.status()
    );
    let callback = browser
        .get(&back)
        .header("cookie", &state_cookie)
        .send()
        .await?;
    let status = callback.status().as_u16();
    let location = callback
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let cookie = first_cookie(callback.headers(), "ironsmith_session");
    let body: Value = callback.json().await.unwrap_or(Value::Null);
    // A replay of the same callback must fail: the state is single-use.
    let replay = browser
        .get(&back)
        .header("cookie", &state_cookie)
        .send()
        .await?;
    anyhow::ensure!(
        replay.status() == 400,
        "replayed callback answered {}",
        replay.status()
    );
    Ok((status, location, cookie, body))
}

/// `name=value` of the first non-empty `Set-Cookie` for `name`.
fn first_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

async fn me(edge: &str, cookie: &str) -> anyhow::Result<Value> {
    let answer = reqwest::Client::new()
        .get(format!("{edge}/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await?;
    anyhow::ensure!(answer.status() == 200, "me: {}", answer.status());
    Ok(answer.json().await?)
}

#[tokio::test]
async fn oidc_login_with_pkce_matches_or_provisions_users_by_verified_email() -> anyhow::Result<()>
{
    let issuer = start_issuer().await?;
    let issuer_url = issuer.url.clone();
    let stack = Stack::start_with(|config| {
        config.auth.mode = LoginMode::Oidc;
        config.auth.oidc.issuer_url = issuer_url;
        config.auth.oidc.client_id = CLIENT_ID.into();
        config.auth.oidc.provision_users = true;
        config.auth.oidc.provision_email_domains = vec!["example.com".into()];
        config.auth.oidc.provision_workspace_role = "WORKSPACE_VIEWER".into();
    })
    .await?;
    // Password login is off in this mode.
    let refused = stack
        .anonymous()
        .post(
            "/auth/login",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        )
        .await?;
    assert_eq!(refused.status, 403, "{:?}", refused.body);

    // The bootstrap admin signs in with a password: an identity with the same email does not
    // take the account over unless the operator allows linking.
    *issuer.identity.lock().expect("lock") = ("sub-admin".into(), ADMIN_EMAIL.to_uppercase(), true);
    let (status, _, cookie, body) = browser_login(&stack.edge).await?;
    assert_eq!(status, 403, "{body}");
    assert!(cookie.is_none());
    // Provisioning accepts only the configured domains.
    *issuer.identity.lock().expect("lock") =
        ("sub-other".into(), "someone@elsewhere.org".into(), true);
    let (status, _, cookie, body) = browser_login(&stack.edge).await?;
    assert_eq!(status, 403, "{body}");
    assert!(cookie.is_none());

    // A new person: provisioned as an Organization User, Viewer in the first workspace.
    *issuer.identity.lock().expect("lock") =
        ("sub-new".into(), "new.person@example.com".into(), true);
    let (status, location, cookie, body) = browser_login(&stack.edge).await?;
    assert_eq!(status, 303, "{body}");
    assert_eq!(location, "/settings-page");
    let who = me(&stack.edge, &cookie.expect("cookie")).await?;
    assert_eq!(who["identity"]["email"], "new.person@example.com");
    assert_eq!(who["organization_role"], "ORGANIZATION_USER");
    assert_eq!(who["current_workspace"]["role"], "WORKSPACE_VIEWER");
    // Signing in again finds the same account by subject, even with another email.
    *issuer.identity.lock().expect("lock") = ("sub-new".into(), "renamed@example.com".into(), true);
    let (_, _, cookie, _) = browser_login(&stack.edge).await?;
    let again = me(&stack.edge, &cookie.expect("cookie")).await?;
    assert_eq!(again["identity"]["user_id"], who["identity"]["user_id"]);

    // An unverified email is refused.
    *issuer.identity.lock().expect("lock") =
        ("sub-x".into(), "unverified@example.com".into(), false);
    let (status, _, cookie, body) = browser_login(&stack.edge).await?;
    assert_eq!(status, 403, "{body}");
    assert!(cookie.is_none());
    stack.stop().await;
    Ok(())
}
