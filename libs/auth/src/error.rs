//! Why a request is refused before its handler runs: 401 without a valid credential, 403 for
//! a workspace or permission the credential does not reach (an unknown workspace answers like
//! a foreign one), 429 with `Retry-After` over a rate or usage limit.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// 401: a missing, malformed, unknown, revoked, expired or legacy credential.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403 with exactly `{"error":"org_scoped_key_requires_workspace"}`: both SDKs match it.
    #[error("org_scoped_key_requires_workspace")]
    OrgScopedKeyRequiresWorkspace,
    /// 403: a workspace the credential may not use, or a missing permission.
    #[error("{0}")]
    Forbidden(String),
    /// 429 with `Retry-After`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: a store authentication needs is down; the cause is logged where it happened.
    #[error("Authentication is temporarily unavailable")]
    Unavailable,
}

impl AuthError {
    pub fn missing_permission(permission: crate::Permission) -> Self {
        AuthError::Forbidden(format!(
            "This action needs the `{permission}` permission, which your role lacks"
        ))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AuthError::OrgScopedKeyRequiresWorkspace | AuthError::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            AuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            AuthError::OrgScopedKeyRequiresWorkspace => {
                json!({ "error": "org_scoped_key_requires_workspace" })
            }
            other => json!({ "detail": other.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match self {
            AuthError::RateLimited {
                retry_after_secs, ..
            } => Some(retry_after_secs.max(1)),
            AuthError::Unavailable => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ironsmith\""),
            );
        }
        response
    }
}

/// Why a new password could not be hashed: no hashing thread (503), or the hasher failed
/// (500).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Unavailable(#[from] AuthError),
    #[error(transparent)]
    Failed(#[from] crate::password::PasswordError),
}

impl From<HashError> for ironsmith_http::ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Unavailable(error) => error.into(),
            HashError::Failed(error) => ironsmith_http::ApiError::internal(error),
        }
    }
}

impl From<AuthError> for ironsmith_http::ApiError {
    fn from(error: AuthError) -> Self {
        use ironsmith_http::ApiError;
        match error {
            AuthError::Unauthenticated(m) => ApiError::Unauthorized(m),
            AuthError::OrgScopedKeyRequiresWorkspace => {
                ApiError::Forbidden("org_scoped_key_requires_workspace".into())
            }
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::RateLimited {
                message,
                retry_after_secs,
            } => ApiError::TooManyRequests {
                message,
                retry_after_secs,
            },
            AuthError::Unavailable => {
                ApiError::ServiceUnavailable("Authentication is temporarily unavailable".into())
            }
        }
    }
}
