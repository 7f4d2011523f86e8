//! The shared authentication layer every service uses: an `x-api-key`, a Bearer token or the
//! session cookie in; an authorised context out (organisation, workspace, identity, role,
//! permissions), as axum extractors. Key lookups are cached in Redis and compared in constant
//! time; requests are counted against per-organisation rate limits.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

mod authenticator;
mod error;
mod extract;
pub mod limits;
pub mod password;
pub mod permissions;
mod principal;
pub mod secrets;
pub mod session_token;

pub use authenticator::{
    AuthSetupError, Authenticator, Presented, SECURE_SESSION_COOKIE, SESSION_COOKIE,
    session_cookie_name,
};
pub use error::{AuthError, HashError};
pub use extract::{
    Auth, AuthContext, MaybeAuth, OrgAuth, OrgContext, PublicAccess, RequireOrgPermission,
    RequirePermission,
};
pub use limits::{EndpointClass, Limiter, OrgLimits};
pub use permissions::{AccessScope, Permission, PermissionMarker, PermissionSet, Role, perm};
pub use principal::{Credential, Identity, OrgAccess, OrgGrant, Principal, Scope, WorkspaceAccess};
pub use secrets::{KeyKind, SecretHasher};
