//! The caller's organisation: `GET /orgs/current`, `PATCH /orgs/current/info`, its roles, its
//! audit log, and its rate and usage limits.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use ironsmith_api_types::timestamp;
use ironsmith_auth::AccessScope;
use ironsmith_auth::perm::{OrganizationManage, OrganizationRead};
use ironsmith_auth::{OrgAuth, OrgLimits, RequireOrgPermission, Role, Scope};
use ironsmith_db::{audit_log, organizations};
use ironsmith_http::{Json, PathUuid, Query};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Result, invalid, not_found};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mine))
        .routes(routes!(current))
        .routes(routes!(update_info, current_at_info))
        .routes(routes!(roles))
        .routes(routes!(audit_logs))
        .routes(routes!(limits, set_limits))
}

/// An organisation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub display_name: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    /// Members may not create personal access tokens.
    pub pat_creation_disabled: bool,
    /// Public links (shared runs and datasets) are closed.
    pub disable_public_sharing: bool,
    /// Always false.
    pub is_personal: bool,
}

impl From<&organizations::Organization> for OrganizationView {
    fn from(org: &organizations::Organization) -> Self {
        OrganizationView {
            id: org.id,
            display_name: org.display_name.clone(),
            created_at: org.created_at,
            pat_creation_disabled: org.pat_creation_disabled,
            disable_public_sharing: org.disable_public_sharing,
            is_personal: false,
        }
    }
}

/// The caller's organisation, with the caller's role and permissions in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrentOrganization {
    #[serde(flatten)]
    pub organization: OrganizationView,
    /// Null for a workspace-scoped credential.
    pub role_name: Option<&'static str>,
    pub permissions: Vec<&'static str>,
}

/// A role a member can hold.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub id: Uuid,
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    /// `organization` or `workspace`.
    #[schema(value_type = String)]
    pub access_scope: AccessScope,
    pub permissions: Vec<&'static str>,
}

/// Who did something the audit log records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditActor {
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub api_key_id: Option<Uuid>,
}

/// One entry of the organisation's audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    pub action: String,
    pub actor: AuditActor,
    pub target_type: String,
    pub target_id: String,
    pub workspace_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub details: Value,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
}

/// Events and bytes ingested this hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageThisHour {
    pub events: u64,
    pub bytes: u64,
}

/// An organisation's limits: the plan, its own lower overrides, and what is enforced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LimitsView {
    pub effective: OrgLimits,
    pub plan: OrgLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<OrgLimits>,
    /// Whether limits are enforced at all on this installation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_this_hour: Option<UsageThisHour>,
}

/// The caller's organisation: the same answer as `GET /orgs/current`.
#[utoipa::path(get, path = "/orgs/current/info", tag = "organizations",
    responses((status = 200, body = CurrentOrganization)))]
async fn current_at_info(
    state: State<AppState>,
    caller: RequireOrgPermission<OrganizationRead>,
) -> Result<axum::Json<CurrentOrganization>> {
    current(state, caller).await
}

/// An organisation the caller belongs to, and a workspace of it to open.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyOrganization {
    pub id: Uuid,
    pub display_name: String,
    /// The caller's organisation role; null for a service key.
    pub role_name: Option<&'static str>,
    /// A workspace of it the caller may open (none when they are in none of its workspaces).
    pub workspace_id: Option<Uuid>,
    /// The organisation this request acted in.
    pub is_current: bool,
}

/// The organisations the caller belongs to (a service key: its own), for switching between
/// them: naming one of `workspace_id` in `X-Tenant-Id` acts in that organisation.
#[utoipa::path(get, path = "/orgs", operation_id = "list_my_organizations", tag = "organizations",
    responses((status = 200, body = Vec<MyOrganization>)))]
async fn mine(
    State(state): State<AppState>,
    OrgAuth(caller): OrgAuth,
) -> Result<axum::Json<Vec<MyOrganization>>> {
    let grants: Vec<(Uuid, Option<Role>, Option<Uuid>)> = match &caller.principal.scope {
        Scope::Member { orgs, .. } => orgs
            .iter()
            .map(|g| {
                let workspace = g.first_workspace().map(|(id, _)| id);
                (g.organization_id, Some(g.org_role), workspace)
            })
            .collect(),
        Scope::Service {
            organization_id,
            workspace_id,
            all_workspaces,
            ..
        } => vec![(
            *organization_id,
            None,
            workspace_id.or_else(|| all_workspaces.first().copied()),
        )],
    };
    let mut out = Vec::with_capacity(grants.len());
    for (id, role, workspace_id) in grants {
        let Some(org) = organizations::get(&state.stores.postgres, id).await? else {
            continue;
        };
        out.push(MyOrganization {
            id,
            display_name: org.display_name,
            role_name: role.map(Role::as_str),
            workspace_id,
            is_current: id == caller.organization_id,
        });
    }
    Ok(axum::Json(out))
}

#[utoipa::path(get, path = "/orgs/current", tag = "organizations",
    responses((status = 200, body = CurrentOrganization)))]
async fn current(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationRead>,
) -> Result<axum::Json<CurrentOrganization>> {
    let org = organizations::get(&state.stores.postgres, caller.organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    Ok(axum::Json(CurrentOrganization {
        organization: OrganizationView::from(&org),
        role_name: caller.org_role.map(Role::as_str),
        permissions: caller.permissions.names(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct InfoUpdate {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    display_name: Option<String>,
    #[serde(default)]
    pat_creation_disabled: Option<bool>,
    #[serde(default)]
    disable_public_sharing: Option<bool>,
    /// Withdraws every public link (shared runs and datasets) of the organisation.
    #[serde(default)]
    unshare_all: Option<bool>,
}

#[utoipa::path(patch, path = "/orgs/current/info", tag = "organizations",
    request_body = InfoUpdate, responses((status = 200, body = OrganizationView)))]
async fn update_info(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    Json(body): Json<InfoUpdate>,
) -> Result<axum::Json<OrganizationView>> {
    let name = body.display_name.as_deref().map(str::trim);
    if name.is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
        return Err(invalid("display_name", "must be 1 to 200 characters"));
    }
    let mut tx = state.stores.postgres.begin().await?;
    organizations::update_info(
        &mut *tx,
        caller.organization_id,
        &organizations::InfoUpdate {
            display_name: name,
            pat_creation_disabled: body.pat_creation_disabled,
            disable_public_sharing: body.disable_public_sharing,
        },
    )
    .await?;
    let unshared = if body.unshare_all == Some(true) {
        Some(organizations::unshare_all(&mut tx, caller.organization_id).await?)
    } else {
        None
    };
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "organization.updated",
            target_type: "organization",
            target_id: caller.organization_id.to_string(),
            details: json!({
                "display_name": name,
                "pat_creation_disabled": body.pat_creation_disabled,
                "disable_public_sharing": body.disable_public_sharing,
                "links_withdrawn": unshared,
            }),
        },
    )
    .await?;
    let org = organizations::get(&mut *tx, caller.organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    tx.commit().await?;
    Ok(axum::Json(OrganizationView::from(&org)))
}

#[utoipa::path(get, path = "/orgs/current/roles", tag = "organizations",
    responses((status = 200, body = Vec<RoleView>)))]
async fn roles(_caller: RequireOrgPermission<OrganizationRead>) -> axum::Json<Vec<RoleView>> {
    axum::Json(
        Role::ALL
            .into_iter()
            .map(|role| RoleView {
                id: role.id(),
                name: role.as_str(),
                display_name: role.display_name(),
                description: role.description(),
                access_scope: role.access_scope(),
                permissions: role.permissions().names(),
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/orgs/current/audit-logs", tag = "organizations",
    params(("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = Vec<AuditEntryView>)))]
async fn audit_logs(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    Query(page): Query<Page>,
) -> Result<axum::Json<Vec<AuditEntryView>>> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 100"));
    }
    let offset = page.offset.unwrap_or(0);
    if offset < 0 {
        return Err(invalid("offset", "must not be negative"));
    }
    let entries = audit_log::list(
        &state.stores.postgres,
        caller.organization_id,
        offset,
        limit,
    )
    .await?;
    Ok(axum::Json(
        entries
            .into_iter()
            .map(|e| AuditEntryView {
                id: e.id,
                action: e.action,
                actor: AuditActor {
                    user_id: e.actor_user_id,
                    email: e.actor_email,
                    api_key_id: e.actor_api_key_id,
                },
                target_type: e.target_type,
                target_id: e.target_id,
                workspace_id: e.workspace_id,
                details: e.details,
                created_at: e.created_at,
            })
            .collect(),
    ))
}

/// The organisation's limits: `plan` (set by the installation's operator over the stack's
/// defaults), `overrides` (the organisation's own, which may only lower the plan), and
/// `effective`, what is enforced.
#[utoipa::path(get, path = "/orgs/current/limits", tag = "organizations",
    responses((status = 200, body = LimitsView)))]
async fn limits(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationRead>,
) -> Result<axum::Json<LimitsView>> {
    let org = organizations::get(&state.stores.postgres, caller.organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    let limiter = state.auth.limiter();
    let (events, bytes) = limiter.usage_this_hour(caller.organization_id).await?;
    Ok(axum::Json(LimitsView {
        effective: state.auth.limits_in_force(&org),
        plan: OrgLimits::from_stored(&org.limits).effective(limiter.defaults()),
        overrides: Some(OrgLimits::from_stored(&org.tenant_limits)),
        enabled: Some(limiter.defaults().enabled),
        usage_this_hour: Some(UsageThisHour { events, bytes }),
    }))
}

/// Replaces the organisation's own limits; an empty object restores the plan. An organisation
/// may only lower its limits: anything above its plan is a 422.
#[utoipa::path(put, path = "/orgs/current/limits", tag = "organizations",
    request_body = ironsmith_auth::limits::OrgLimits, responses((status = 200, body = LimitsView)))]
async fn set_limits(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    Json(body): Json<Value>,
) -> Result<axum::Json<LimitsView>> {
    if !body.is_object() {
        return Err(invalid("limits", "must be an object"));
    }
    let overrides: OrgLimits =
        serde_json::from_value(body).map_err(|e| invalid("limits", e.to_string()))?;
    overrides.validate().map_err(|m| invalid("limits", m))?;
    let mut tx = state.stores.postgres.begin().await?;
    let org = organizations::get(&mut *tx, caller.organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    let plan = OrgLimits::from_stored(&org.limits).effective(state.auth.limiter().defaults());
    overrides
        .validate_within(&plan)
        .map_err(|m| invalid("limits", m))?;
    let stored = serde_json::to_value(&overrides)?;
    organizations::set_tenant_limits(&mut *tx, caller.organization_id, &stored).await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "organization.limits_changed",
            target_type: "organization",
            target_id: caller.organization_id.to_string(),
            details: stored.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    state
        .auth
        .forget_organization(caller.organization_id)
        .await?;
    Ok(axum::Json(LimitsView {
        effective: OrgLimits::in_force(
            &OrgLimits::from_stored(&org.limits),
            &overrides,
            state.auth.limiter().defaults(),
        ),
        plan,
        overrides: Some(overrides),
        enabled: None,
        usage_this_hour: None,
    }))
}

/// The operator's routes: an organisation's plan limits. Mounted behind the operator credential.
pub fn operator_router() -> Router<AppState> {
    Router::new().route(
        "/operator/organizations/{organization_id}/limits",
        get(plan_limits).put(set_plan_limits),
    )
}

async fn plan_limits(
    State(state): State<AppState>,
    PathUuid(organization_id): PathUuid,
) -> Result<axum::Json<LimitsView>> {
    let org = organizations::get(&state.stores.postgres, organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    Ok(axum::Json(LimitsView {
        plan: OrgLimits::from_stored(&org.limits),
        effective: state.auth.limits_in_force(&org),
        overrides: None,
        enabled: None,
        usage_this_hour: None,
    }))
}

/// Replaces an organisation's plan (over the stack's defaults); an empty object restores them.
async fn set_plan_limits(
    State(state): State<AppState>,
    PathUuid(organization_id): PathUuid,
    Json(body): Json<Value>,
) -> Result<axum::Json<LimitsView>> {
    let plan: OrgLimits =
        serde_json::from_value(body).map_err(|e| invalid("limits", e.to_string()))?;
    plan.validate().map_err(|m| invalid("limits", m))?;
    let stored = serde_json::to_value(&plan)?;
    let mut tx = state.stores.postgres.begin().await?;
    if !organizations::set_plan_limits(&mut *tx, organization_id, &stored).await? {
        return Err(not_found("Organisation"));
    }
    audit::record(
        &mut *tx,
        Actor::OPERATOR,
        Event {
            organization_id,
            workspace_id: None,
            action: "organization.plan_limits_changed",
            target_type: "organization",
            target_id: organization_id.to_string(),
            details: stored.clone(),
        },
    )
    .await?;
    let org = organizations::get(&mut *tx, organization_id)
        .await?
        .ok_or_else(|| not_found("Organisation"))?;
    tx.commit().await?;
    state.auth.forget_organization(organization_id).await?;
    Ok(axum::Json(LimitsView {
        plan,
        effective: state.auth.limits_in_force(&org),
        overrides: None,
        enabled: None,
        usage_this_hour: None,
    }))
}
