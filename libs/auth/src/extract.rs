//! The extractors handlers use: [`Auth`] (a workspace-scoped caller), [`OrgAuth`] (an
//! organisation-level caller) and [`RequirePermission`]. A handler that takes one of them only
//! ever runs for an authenticated, rate-checked caller, and gets the one workspace id it may
//! scope its queries by.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use uuid::Uuid;

use crate::authenticator::Authenticator;
use crate::error::AuthError;
use crate::limits::OrgLimits;
use crate::permissions::{Permission, PermissionMarker, PermissionSet, Role};
use crate::principal::{Credential, Identity, Principal};

/// An authenticated caller acting in one workspace.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub identity: Identity,
    pub credential: Credential,
    pub org_role: Option<Role>,
    pub workspace_role: Role,
    pub permissions: PermissionSet,
    pub limits: OrgLimits,
}

/// An authenticated caller acting on its organisation.
#[derive(Debug, Clone)]
pub struct OrgContext {
    pub organization_id: Uuid,
    pub identity: Identity,
    pub credential: Credential,
    pub org_role: Option<Role>,
    pub permissions: PermissionSet,
    pub limits: OrgLimits,
    pub principal: Principal,
}

impl AuthContext {
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(AuthError::missing_permission(permission))
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.identity.user_id()
    }
}

impl OrgContext {
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(AuthError::missing_permission(permission))
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.identity.user_id()
    }
}

/// A header holding a UUID; a malformed one names no workspace anyone may use.
fn uuid_header(parts: &Parts, name: &str) -> Result<Option<Uuid>, AuthError> {
    match parts.headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| {
                Uuid::try_parse(v).map_err(|_| {
                    AuthError::Forbidden(format!("The {name} header is not a valid UUID"))
                })
            })
            .transpose(),
    }
}

/// The workspace-scoped caller: credential checked, workspace resolved from `X-Tenant-Id`,
/// request counted against the organisation's rate limit.
#[derive(Debug, Clone)]
pub struct Auth(pub AuthContext);

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.extensions.get::<Auth>() {
            return Ok(auth.clone());
        }
        let authenticator = Authenticator::from_ref(state);
        let principal = authenticator.authenticate(parts).await?;
        let access = principal.workspace(uuid_header(parts, "x-tenant-id")?)?;
        authenticator
            .hit_rate_limit(parts, access.org.organization_id, &access.org.limits)
            .await?;
        let auth = Auth(AuthContext {
            organization_id: access.org.organization_id,
            workspace_id: access.workspace_id,
            identity: principal.identity,
            credential: principal.credential,
            org_role: access.org.org_role,
            workspace_role: access.workspace_role,
            permissions: access.permissions,
            limits: access.org.limits,
        });
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

/// The organisation-level caller: `X-Organization-Id` (or the organisation of `X-Tenant-Id`,
/// or the credential's own) chooses the organisation.
#[derive(Debug, Clone)]
pub struct OrgAuth(pub OrgContext);

impl<S> FromRequestParts<S> for OrgAuth
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.extensions.get::<OrgAuth>() {
            return Ok(auth.clone());
        }
        let authenticator = Authenticator::from_ref(state);
        let principal = authenticator.authenticate(parts).await?;
        let access = principal.organization(
            uuid_header(parts, "x-organization-id")?,
            uuid_header(parts, "x-tenant-id")?,
        )?;
        authenticator
            .hit_rate_limit(parts, access.organization_id, &access.limits)
            .await?;
        let auth = OrgAuth(OrgContext {
            organization_id: access.organization_id,
            identity: principal.identity.clone(),
            credential: principal.credential,
            org_role: access.org_role,
            permissions: access.permissions,
            limits: access.limits,
            principal,
        });
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

/// A workspace-scoped caller holding permission `P`, e.g.
/// `RequirePermission<perm::DatasetsCreate>`.
#[derive(Debug, Clone)]
pub struct RequirePermission<P: PermissionMarker>(pub AuthContext, PhantomData<P>);

impl<P: PermissionMarker> std::ops::Deref for RequirePermission<P> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        &self.0
    }
}

impl<S, P> FromRequestParts<S> for RequirePermission<P>
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
    P: PermissionMarker,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Auth(context) = Auth::from_request_parts(parts, state).await?;
        context.require(P::PERMISSION)?;
        Ok(RequirePermission(context, PhantomData))
    }
}

/// An organisation-level caller holding permission `P`.
#[derive(Debug, Clone)]
pub struct RequireOrgPermission<P: PermissionMarker>(pub OrgContext, PhantomData<P>);

impl<P: PermissionMarker> std::ops::Deref for RequireOrgPermission<P> {
    type Target = OrgContext;
    fn deref(&self) -> &OrgContext {
        &self.0
    }
}

impl<S, P> FromRequestParts<S> for RequireOrgPermission<P>
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
    P: PermissionMarker,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let OrgAuth(context) = OrgAuth::from_request_parts(parts, state).await?;
        context.require(P::PERMISSION)?;
        Ok(RequireOrgPermission(context, PhantomData))
    }
}

/// A caller of a route that needs no key (shared links, feedback tokens, signed downloads),
/// counted against the per-address limit for such requests (`limits.public`), so a token or a
/// link cannot be used to flood the services.
#[derive(Debug, Clone)]
pub struct PublicAccess;

impl<S> FromRequestParts<S> for PublicAccess
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticator::from_ref(state);
        let address = auth.client_address(parts);
        let limiter = auth.limiter();
        limiter
            .hit(
                &format!("public:{address}"),
                limiter.defaults().public,
                "public",
            )
            .await?;
        Ok(PublicAccess)
    }
}

/// A caller of a route that answers with or without a key (public prompts): with a credential
/// it is the authenticated [`Auth`] caller (a bad credential is refused, never downgraded to
/// anonymous); without one it is counted like [`PublicAccess`].
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<AuthContext>);

impl<S> FromRequestParts<S> for MaybeAuth
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if Authenticator::from_ref(state).presented(parts).is_some() {
            let Auth(context) = Auth::from_request_parts(parts, state).await?;
            return Ok(MaybeAuth(Some(context)));
        }
        PublicAccess::from_request_parts(parts, state).await?;
        Ok(MaybeAuth(None))
    }
}
