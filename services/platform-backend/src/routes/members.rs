//! Organisation members and invitations: `GET /orgs/current/members` (also `/active`,
//! `/pending`), `POST /orgs/current/members` (an invitation), role changes, removal, and
//! accepting an invitation (`POST /auth/invites/accept`, no key: the token is the proof).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use ironsmith_api_types::timestamp;
use ironsmith_auth::password::MIN_PASSWORD_LEN;
use ironsmith_auth::perm::{OrganizationManage, OrganizationRead};
use ironsmith_auth::secrets::generate_token;
use ironsmith_auth::{RequireOrgPermission, Role};
use ironsmith_db::{invitations, members, users, workspaces};
use ironsmith_http::{ApiError, Json, PathUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, Actor, Event};
use crate::error::{Result, conflict, invalid, not_found};
use crate::membership::{MemberView, parse_role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, invite))
        .routes(routes!(list_members_at_active))
        .routes(routes!(list_pending))
        .routes(routes!(invite_batch))
        .routes(routes!(revoke_invitation))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(accept))
}

/// The organisation's active members: the same list as `GET /orgs/current/members`.
#[utoipa::path(get, path = "/orgs/current/members/active", tag = "members",
    responses((status = 200, body = Vec<MemberView>)))]
async fn list_members_at_active(
    state: State<AppState>,
    caller: RequireOrgPermission<OrganizationRead>,
) -> Result<axum::Json<Vec<MemberView>>> {
    list_members(state, caller).await
}

#[utoipa::path(get, path = "/orgs/current/members", operation_id = "list_org_members", tag = "members",
    responses((status = 200, body = Vec<MemberView>)))]
async fn list_members(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationRead>,
) -> Result<axum::Json<Vec<MemberView>>> {
    let members = members::list_org(&state.stores.postgres, caller.organization_id).await?;
    Ok(axum::Json(
        members.into_iter().map(MemberView::from).collect(),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct InvitationView {
    id: Uuid,
    email: String,
    role_id: Option<Uuid>,
    role_name: String,
    workspace_ids: Vec<Uuid>,
    workspace_role_id: Option<Uuid>,
    created_at: String,
    expires_at: String,
    /// Only in the answer to the invitation's creation: hand it to the invitee.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn invitation_view(i: invitations::Invitation, token: Option<String>) -> InvitationView {
    InvitationView {
        id: i.id,
        email: i.email,
        role_id: Role::parse(&i.org_role).map(Role::id),
        role_name: i.org_role,
        workspace_ids: i.workspace_ids,
        workspace_role_id: Role::parse(&i.workspace_role).map(Role::id),
        created_at: timestamp::format(&i.created_at),
        expires_at: timestamp::format(&i.expires_at),
        token,
    }
}

#[utoipa::path(get, path = "/orgs/current/members/pending", tag = "members",
    responses((status = 200, body = Vec<InvitationView>)))]
async fn list_pending(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
) -> Result<axum::Json<Vec<InvitationView>>> {
    let open = invitations::list_open(&state.stores.postgres, caller.organization_id).await?;
    Ok(axum::Json(
        open.into_iter().map(|i| invitation_view(i, None)).collect(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct InviteBody {
    #[schema(format = Email)]
    email: String,
    #[serde(default)]
    role_id: Option<Uuid>,
    #[serde(default)]
    workspace_ids: Vec<Uuid>,
    #[serde(default)]
    workspace_role_id: Option<Uuid>,
}

#[utoipa::path(post, path = "/orgs/current/members", tag = "members",
    request_body = InviteBody, responses((status = 200, body = InvitationView)))]
async fn invite(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    Json(body): Json<InviteBody>,
) -> Result<axum::Json<InvitationView>> {
    Ok(axum::Json(create_invitation(&state, &caller, body).await?))
}

#[utoipa::path(post, path = "/orgs/current/members/batch", tag = "members",
    request_body = Vec<InviteBody>,
    responses((status = 200, body = Vec<InvitationView>)))]
async fn invite_batch(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    Json(bodies): Json<Vec<InviteBody>>,
) -> Result<axum::Json<Vec<InvitationView>>> {
    let mut created = Vec::with_capacity(bodies.len());
    for body in bodies {
        created.push(create_invitation(&state, &caller, body).await?);
    }
    Ok(axum::Json(created))
}

async fn create_invitation(
    state: &AppState,
    caller: &ironsmith_auth::OrgContext,
    body: InviteBody,
) -> Result<InvitationView> {
    let email = body.email.trim().to_lowercase();
    if !email.contains('@') || email.starts_with('@') || email.len() > 320 {
        return Err(invalid("email", "not an email address"));
    }
    let org_role = match body.role_id {
        Some(id) => parse_role(id, "role_id", false)?,
        None => Role::OrganizationUser,
    };
    let workspace_role = match body.workspace_role_id {
        Some(id) => parse_role(id, "workspace_role_id", true)?,
        None => Role::WorkspaceViewer,
    };
    let pool = &state.stores.postgres;
    let org_workspaces = workspaces::ids(pool, caller.organization_id).await?;
    if let Some(unknown) = body
        .workspace_ids
        .iter()
        .find(|id| !org_workspaces.contains(id))
    {
        return Err(invalid(
            "workspace_ids",
            format!("workspace {unknown} not found"),
        ));
    }
    if let Some(existing) = users::by_email(pool, &email).await?
        && members::org_role_of(pool, caller.organization_id, existing.id)
            .await?
            .is_some()
    {
        return Err(conflict(format!("{email} is already a member")));
    }
    let token = generate_token();
    let id = Uuid::now_v7();
    let expires_at = Utc::now()
        + Duration::seconds(
            i64::try_from(state.config.auth.invitation_max_secs).unwrap_or(604_800),
        );
    let mut tx = pool.begin().await?;
    invitations::revoke_open_for(&mut *tx, caller.organization_id, &email).await?;
    invitations::create(
        &mut *tx,
        &invitations::NewInvitation {
            id,
            organization_id: caller.organization_id,
            email: &email,
            org_role: org_role.as_str(),
            workspace_ids: &body.workspace_ids,
            workspace_role: workspace_role.as_str(),
            token_hash: &state.auth.hasher().hash(&token),
            invited_by: caller.user_id(),
            expires_at,
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "invitation.created",
            target_type: "invitation",
            target_id: id.to_string(),
            details: json!({
                "email": email,
                "role": org_role.as_str(),
                "workspace_ids": body.workspace_ids,
                "workspace_role": workspace_role.as_str(),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(InvitationView {
        id,
        email,
        role_id: Some(org_role.id()),
        role_name: org_role.as_str().into(),
        workspace_ids: body.workspace_ids,
        workspace_role_id: Some(workspace_role.id()),
        created_at: timestamp::format(&Utc::now()),
        expires_at: timestamp::format(&expires_at),
        token: Some(token),
    })
}

#[utoipa::path(delete, path = "/orgs/current/members/pending/{invite_id}", tag = "members",
    params(("invite_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked")))]
async fn revoke_invitation(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode> {
    let mut tx = state.stores.postgres.begin().await?;
    if !invitations::revoke(&mut *tx, caller.organization_id, id).await? {
        return Err(not_found("Invitation"));
    }
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "invitation.revoked",
            target_type: "invitation",
            target_id: id.to_string(),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct OrgRoleChange {
    role_id: Uuid,
}

#[utoipa::path(patch, path = "/orgs/current/members/{identity_id}", tag = "members",
    params(("identity_id" = Uuid, Path)),
    request_body = OrgRoleChange, responses((status = 204, description = "Changed")))]
async fn change_role(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    PathUuid(identity_id): PathUuid,
    Json(body): Json<OrgRoleChange>,
) -> Result<StatusCode> {
    let role = parse_role(body.role_id, "role_id", false)?;
    let mut tx = state.stores.postgres.begin().await?;
    let member = members::get_org_member(&mut *tx, caller.organization_id, identity_id)
        .await?
        .ok_or_else(|| not_found("Member"))?;
    if member.role == Role::OrganizationAdmin.as_str()
        && role != Role::OrganizationAdmin
        && members::count_org_admins(&mut *tx, caller.organization_id).await? <= 1
    {
        return Err(conflict("The last Organization Admin cannot be demoted"));
    }
    members::set_org_role(&mut *tx, caller.organization_id, identity_id, role.as_str()).await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "member.role_changed",
            target_type: "user",
            target_id: member.user_id.to_string(),
            details: json!({ "from": member.role, "to": role.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    state.auth.forget_user(member.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/orgs/current/members/{identity_id}", operation_id = "remove_org_member", tag = "members",
    params(("identity_id" = Uuid, Path)),
    responses((status = 204, description = "Removed; their personal tokens are revoked")))]
async fn remove_member(
    State(state): State<AppState>,
    caller: RequireOrgPermission<OrganizationManage>,
    PathUuid(identity_id): PathUuid,
) -> Result<StatusCode> {
    let mut tx = state.stores.postgres.begin().await?;
    let member = members::get_org_member(&mut *tx, caller.organization_id, identity_id)
        .await?
        .ok_or_else(|| not_found("Member"))?;
    if member.role == Role::OrganizationAdmin.as_str()
        && members::count_org_admins(&mut *tx, caller.organization_id).await? <= 1
    {
        return Err(conflict("The last Organization Admin cannot be removed"));
    }
    members::remove_from_org(&mut tx, caller.organization_id, identity_id).await?;
    audit::record(
        &mut *tx,
        Actor::of(&caller.identity, caller.credential),
        Event {
            organization_id: caller.organization_id,
            workspace_id: None,
            action: "member.removed",
            target_type: "user",
            target_id: member.user_id.to_string(),
            details: json!({ "email": member.email }),
        },
    )
    .await?;
    tx.commit().await?;
    // Their personal tokens were revoked with the membership; drop every cached credential.
    state.auth.forget_user(member.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AcceptBody {
    token: String,
    /// Needed when the invitee has no account yet.
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    full_name: Option<String>,
}

/// The membership an accepted invitation made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct InvitationAccepted {
    organization_id: Uuid,
    /// The membership ("identity") id.
    identity_id: Uuid,
    user_id: Uuid,
    email: String,
}

/// Joins the organisation an invitation names, creating the account if needed.
#[utoipa::path(post, path = "/auth/invites/accept", tag = "members", security(()),
    request_body = AcceptBody,
    responses((status = 200, body = InvitationAccepted)))]
async fn accept(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<axum::Json<InvitationAccepted>> {
    let (parts, body) = request.into_parts();
    state
        .auth
        .hit_address_limit(&state.auth.client_address(&parts))
        .await?;
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::PayloadTooLarge("Request body too large".into()))?;
    let body: AcceptBody = ironsmith_http::extract::parse_json(&bytes)?;
    let pool = &state.stores.postgres;
    let mut tx = pool.begin().await?;
    let invitation = invitations::accept(&mut *tx, &state.auth.hasher().hash(&body.token))
        .await?
        .ok_or_else(|| not_found("Invitation"))?;
    let user = match users::by_email(&mut *tx, &invitation.email).await? {
        Some(user) => user,
        None => {
            let password = body.password.unwrap_or_default();
            if password.chars().count() < MIN_PASSWORD_LEN {
                return Err(invalid(
                    "password",
                    format!(
                        "a new account needs a password of at least {MIN_PASSWORD_LEN} characters"
                    ),
                ));
            }
            let hash = state.auth.hash_password(password).await?;
            let id = Uuid::now_v7();
            users::create(
                &mut *tx,
                &users::NewUser {
                    id,
                    email: &invitation.email,
                    full_name: body.full_name.as_deref().unwrap_or("").trim(),
                    password_hash: Some(&hash),
                    default_workspace_id: None,
                },
            )
            .await?;
            users::get(&mut *tx, id)
                .await?
                .ok_or_else(|| not_found("User"))?
        }
    };
    let identity_id = members::add_to_org(
        &mut *tx,
        invitation.organization_id,
        user.id,
        &invitation.org_role,
    )
    .await?;
    for workspace_id in &invitation.workspace_ids {
        members::put_workspace_member(&mut *tx, *workspace_id, user.id, &invitation.workspace_role)
            .await?;
    }
    if user.default_workspace_id.is_none()
        && let Some(first) = invitation.workspace_ids.first()
    {
        users::set_default_workspace(&mut *tx, user.id, Some(*first)).await?;
    }
    audit::record(
        &mut *tx,
        Actor::user(user.id),
        Event {
            organization_id: invitation.organization_id,
            workspace_id: None,
            action: "invitation.accepted",
            target_type: "user",
            target_id: user.id.to_string(),
            details: json!({ "invitation_id": invitation.id, "role": invitation.org_role }),
        },
    )
    .await?;
    tx.commit().await?;
    state.auth.forget_user(user.id).await?;
    Ok(axum::Json(InvitationAccepted {
        organization_id: invitation.organization_id,
        identity_id,
        user_id: user.id,
        email: user.email,
    }))
}
