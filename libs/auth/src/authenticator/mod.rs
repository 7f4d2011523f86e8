//! Turning a request's credential into a [`Principal`]: read the credential, look it up (Redis
//! first, Postgres on a miss), check it is alive, and count the request against its limits.
//!
//! Cache coherence: an entry is deleted whenever what it was built from changes (a key revoked,
//! a member's role changed, a workspace created). A loader that read Postgres just before such a
//! change could store a stale entry just after the delete, so deletes leave a short-lived
//! tombstone and loaders store only where none exists (one Lua script). Revocation therefore
//! takes effect at the next request, in every service.

use std::sync::Arc;

use axum_extra::extract::cookie::CookieJar;
use http::request::Parts;
use ironsmith_config::Config;
use ironsmith_db::Pool;
use ironsmith_redis::Redis;
use uuid::Uuid;

use crate::error::{AuthError, HashError};
use crate::limits::{EndpointClass, Limiter, OrgLimits, classify, unavailable};
use crate::principal::{Credential, Principal};
use crate::secrets::{KeyShape, SecretHasher, key_shape};
use crate::session_token::TokenSigner;

mod cache;
mod load;

use cache::{key_cache_key, session_cache_key};

/// The cookie carrying the UI's session token when the UI is served over plain HTTP (local use).
pub const SESSION_COOKIE: &str = "ironsmith_session";

/// The same over HTTPS. Browsers accept a `__Host-` cookie only when it is `Secure`, has
/// `Path=/` and no `Domain`, so a neighbouring subdomain cannot plant or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-ironsmith_session";

/// The session cookie's name for an installation whose UI is at `ui_url`.
pub fn session_cookie_name(ui_url: &url::Url) -> &'static str {
    if ui_url.scheme() == "https" {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("auth.jwt_secret is not set: this service authenticates requests")]
    MissingJwtSecret,
    #[error("auth.api_key_salt is not set: this service authenticates requests")]
    MissingApiKeySalt,
}

/// A credential as presented, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    ApiKey(String),
    SessionToken(String),
}

/// The shared authentication service; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    redis: Redis,
    hasher: SecretHasher,
    signer: TokenSigner,
    cache_secs: u64,
    limiter: Limiter,
    trusted_proxies: Vec<ipnet::IpNet>,
    /// The session cookie's name (see [`session_cookie_name`]).
    cookie_name: &'static str,
    /// The UI's origin (`scheme://host[:port]`): cookie-authenticated writes must come from it.
    ui_origin: String,
    /// Password hashes computed at once: each argon2id hash takes about 19 MiB and a core for
    /// a while, so a flood of logins waits here instead of exhausting memory.
    hashing: tokio::sync::Semaphore,
    store_script: redis::Script,
    /// When this process last marked each key used: most requests skip the Redis round trip.
    key_use_noted: std::sync::Mutex<std::collections::HashMap<Uuid, std::time::Instant>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(config: &Config, pool: Pool, redis: Redis) -> Result<Self, AuthSetupError> {
        let auth = &config.auth;
        if auth.jwt_secret.is_empty() {
            return Err(AuthSetupError::MissingJwtSecret);
        }
        if auth.api_key_salt.is_empty() {
            return Err(AuthSetupError::MissingApiKeySalt);
        }
        Ok(Authenticator {
            inner: Arc::new(Inner {
                hasher: SecretHasher::new(auth.api_key_salt.expose().as_bytes()),
                signer: TokenSigner::new(auth.jwt_secret.expose().as_bytes()),
                cache_secs: auth.cache_secs,
                limiter: Limiter::new(redis.clone(), config.limits.clone()),
                trusted_proxies: config.http.trusted_proxies.clone(),
                cookie_name: session_cookie_name(&config.public.ui_url),
                ui_origin: config.public.ui_url.origin().ascii_serialization(),
                hashing: tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
                ),
                store_script: redis::Script::new(cache::STORE_UNLESS_TOMBSTONED),
                key_use_noted: std::sync::Mutex::new(std::collections::HashMap::new()),
                pool,
                redis,
            }),
        })
    }

    pub fn hasher(&self) -> &SecretHasher {
        &self.inner.hasher
    }

    pub fn signer(&self) -> &TokenSigner {
        &self.inner.signer
    }

    pub fn limiter(&self) -> &Limiter {
        &self.inner.limiter
    }

    /// Hashes a new password on a blocking thread, within the hashing bound.
    pub async fn hash_password(&self, password: String) -> Result<String, HashError> {
        let _permit = self.inner.hashing.acquire().await.map_err(unavailable)?;
        let hashed = tokio::task::spawn_blocking(move || crate::password::hash_password(&password))
            .await
            .map_err(unavailable)?;
        Ok(hashed?)
    }

    /// Checks a password against a stored hash on a blocking thread, within the hashing bound.
    pub async fn verify_password(
        &self,
        password: String,
        stored: String,
    ) -> Result<bool, AuthError> {
        let _permit = self.inner.hashing.acquire().await.map_err(unavailable)?;
        tokio::task::spawn_blocking(move || crate::password::verify_password(&password, &stored))
            .await
            .map_err(unavailable)
    }

    /// Reads the request's credential: `x-api-key`, else `Authorization: Bearer` (an API key or
    /// a session token), else the session cookie.
    pub fn presented(&self, parts: &Parts) -> Option<Presented> {
        Self::presented_in_headers(parts)
            .or_else(|| self.session_cookie(parts).map(Presented::SessionToken))
    }

    fn session_cookie(&self, parts: &Parts) -> Option<String> {
        CookieJar::from_headers(&parts.headers)
            .get(self.inner.cookie_name)
            .map(|c| c.value().to_owned())
    }

    /// The credential of `x-api-key` or `Authorization`, which a browser never sends on its own.
    fn presented_in_headers(parts: &Parts) -> Option<Presented> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(key) = header("x-api-key") {
            return Some(Presented::ApiKey(key.to_owned()));
        }
        if let Some(auth) = header("authorization") {
            let token = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .unwrap_or(auth)
                .trim();
            return Some(if token.starts_with("lsv2_") || token.starts_with("ls__") {
                Presented::ApiKey(token.to_owned())
            } else {
                Presented::SessionToken(token.to_owned())
            });
        }
        None
    }

    /// A browser attaches cookies to requests any site makes, so a write authenticated only by
    /// the session cookie must show it came from our own UI: a same-origin `Origin` (or, where a
    /// browser sends no `Origin`, `Sec-Fetch-Site: same-origin`), and a body type no HTML form
    /// can send cross-site without a CORS preflight (JSON; multipart for the UI's uploads, which
    /// the origin check covers).
    fn check_cookie_write(&self, parts: &Parts) -> Result<(), AuthError> {
        if parts.method.is_safe() {
            return Ok(());
        }
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let same_origin = match header("origin") {
            Some(origin) => origin.trim_end_matches('/') == self.inner.ui_origin,
            None => header("sec-fetch-site") == Some("same-origin"),
        };
        if !same_origin {
            return Err(AuthError::Forbidden(
                "Cross-site request refused: a request signed in with the session cookie must come \
                 from this site's UI"
                    .into(),
            ));
        }
        let has_body = header("content-length").is_some_and(|l| l.trim() != "0")
            || parts.headers.contains_key("transfer-encoding");
        let content_type = header("content-type").unwrap_or("").to_ascii_lowercase();
        let acceptable = content_type.starts_with("application/json")
            || content_type.starts_with("multipart/form-data");
        if has_body && !acceptable {
            return Err(AuthError::Forbidden(
                "A request signed in with the session cookie must send JSON".into(),
            ));
        }
        Ok(())
    }

    /// The client address for per-address limits: what a trusted proxy (the edge, or a load
    /// balancer) reports in `X-Forwarded-For`, else the peer. A header from anyone else is
    /// ignored, so a client cannot spread its failed attempts over invented addresses.
    pub fn client_address(&self, parts: &Parts) -> String {
        match ironsmith_http::client_ip::peer_of(&parts.extensions) {
            Some(peer) => {
                ironsmith_http::client_address(&parts.headers, peer, &self.inner.trusted_proxies)
                    .to_string()
            }
            None => "unknown".into(),
        }
    }

    /// The organisation's limits in force: the operator's plan, lowered by its own limits.
    pub fn limits_in_force(&self, org: &ironsmith_db::organizations::Organization) -> OrgLimits {
        OrgLimits::in_force(
            &OrgLimits::from_stored(&org.limits),
            &OrgLimits::from_stored(&org.tenant_limits),
            self.inner.limiter.defaults(),
        )
    }

    /// Counts one request from `address` against the unauthenticated per-address limit.
    pub async fn hit_address_limit(&self, address: &str) -> Result<(), AuthError> {
        let limit = self.inner.limiter.defaults().unauthenticated;
        self.inner
            .limiter
            .hit(&format!("ip:{address}"), limit, "unauthenticated")
            .await
    }

    /// Authenticates the request; a failure also counts against the per-address limit, so
    /// guessing keys is throttled.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
        if Self::presented_in_headers(parts).is_none() && self.session_cookie(parts).is_some() {
            self.check_cookie_write(parts)?;
        }
        let result = match self.presented(parts) {
            None => Err(AuthError::Unauthenticated(
                "Missing credentials: send an API key in the x-api-key header".into(),
            )),
            Some(presented) => self.principal(&presented).await,
        };
        if let Err(AuthError::Unauthenticated(_)) = &result {
            self.hit_address_limit(&self.client_address(parts)).await?;
        }
        result
    }

    /// Counts the request against its organisation's limit for the request's endpoint class.
    pub async fn hit_rate_limit(
        &self,
        parts: &Parts,
        organization_id: Uuid,
        limits: &OrgLimits,
    ) -> Result<(), AuthError> {
        let class = classify(&parts.method, parts.uri.path());
        self.hit_class(class, organization_id, limits).await
    }

    pub async fn hit_class(
        &self,
        class: EndpointClass,
        organization_id: Uuid,
        limits: &OrgLimits,
    ) -> Result<(), AuthError> {
        let limiter = &self.inner.limiter;
        let limit = limits.rate(class, limiter.defaults());
        limiter
            .hit(
                &format!("org:{organization_id}:{}", class.as_str()),
                limit,
                class.as_str(),
            )
            .await
    }

    /// Resolves a presented credential, from the cache when possible.
    pub async fn principal(&self, presented: &Presented) -> Result<Principal, AuthError> {
        let (cache_key, session) = match presented {
            Presented::ApiKey(key) => match key_shape(key) {
                KeyShape::Valid(_) => (key_cache_key(&self.inner.hasher.hash(key)), None),
                KeyShape::Legacy => {
                    return Err(AuthError::Unauthenticated(
                        "Legacy ls__ API keys are no longer accepted; create a new key".into(),
                    ));
                }
                KeyShape::Malformed => {
                    return Err(AuthError::Unauthenticated("Invalid API key".into()));
                }
            },
            Presented::SessionToken(token) => {
                let claims = self.inner.signer.verify(token).ok_or_else(|| {
                    AuthError::Unauthenticated("Invalid or expired session token".into())
                })?;
                (session_cache_key(claims.sid), Some(claims))
            }
        };
        let principal = match self.cached(&cache_key).await? {
            Some(principal) => principal,
            None => {
                let loaded = match (presented, &session) {
                    (Presented::ApiKey(key), _) => self.load_key(key).await?,
                    (_, Some(claims)) => self.load_session(claims.sid, claims.sub).await?,
                    (Presented::SessionToken(_), None) => unreachable!("claims were verified"),
                };
                self.store(&cache_key, &loaded).await?;
                loaded
            }
        };
        if principal
            .expires_at
            .is_some_and(|at| at <= chrono::Utc::now().timestamp())
        {
            return Err(AuthError::Unauthenticated(match principal.credential {
                Credential::ApiKey { .. } => "API key expired".into(),
                Credential::Session { .. } => "Session expired".into(),
            }));
        }
        if let Credential::ApiKey { id, .. } = principal.credential {
            self.note_key_used(id).await;
        }
        Ok(principal)
    }
}
