//! Repositories: `POST /repos`, `GET /repos`, `GET|PATCH|DELETE /repos/{owner}/{repo}`,
//! `POST /likes/{owner}/{repo}` and `POST /settings/handle`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::hub::{
    Like, Likes, RepoCreate, RepoEnvelope, RepoType, RepoUpdate, ReposPage, TenantHandle,
};
use ironsmith_api_types::resources::WorkspaceSettings;
use ironsmith_auth::perm::{PromptsCreate, PromptsDelete, PromptsUpdate, WorkspacesManage};
use ironsmith_auth::{MaybeAuth, Permission, RequirePermission};
use ironsmith_db::DbError;
use ironsmith_db::hub::{self as store, NewRepo, RepoChanges, RepoFilter};
use ironsmith_http::{ApiError, Path, QueryPairs};
use ironsmith_hub::{self as hub, Viewer, check_handle, invalid, render_repo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update, delete))
        .routes(routes!(like))
        .routes(routes!(claim_handle))
}

const REPO_TYPES: [&str; 4] = ["prompt", "file", "agent", "skill"];

#[utoipa::path(post, path = "/repos", operation_id = "create_repo", tag = "prompt hub",
    request_body = RepoCreate,
    responses((status = 200, body = RepoEnvelope), (status = 409, description = "The workspace has a repository of that handle")))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<RepoCreate>,
) -> Result<Json<RepoEnvelope>, ApiError> {
    check_handle("repo_handle", &body.repo_handle, 128)?;
    let repo_type = body.repo_type.as_deref().unwrap_or("prompt");
    if !REPO_TYPES.contains(&repo_type) {
        return Err(invalid(
            "repo_type",
            format!("`{repo_type}` is not a repository type: use prompt, file, agent or skill"),
        ));
    }
    let pg = &state.stores.postgres;
    if body.is_public {
        let workspace =
            ironsmith_db::workspaces::get(pg, caller.organization_id, caller.workspace_id).await?;
        if workspace.and_then(|w| w.tenant_handle).is_none() {
            return Err(ApiError::BadRequest(
                "A public prompt needs a workspace handle: claim one with POST /settings/handle"
                    .into(),
            ));
        }
    }
    let tags = body.tags.clone().unwrap_or_default();
    let created = store::create_repo(
        pg,
        &NewRepo {
            id: Uuid::now_v7(),
            tenant_id: caller.workspace_id,
            repo_handle: &body.repo_handle,
            repo_type,
            description: body.description.as_deref().unwrap_or(""),
            readme: body.readme.as_deref().unwrap_or(""),
            tags: &tags,
            is_public: body.is_public,
        },
    )
    .await;
    match created {
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::Conflict(format!(
                "A repository named {} already exists in this workspace",
                body.repo_handle
            )));
        }
        other => other?,
    }
    let found = hub::find_repo(pg, &Viewer::caller(&caller), "-", &body.repo_handle).await?;
    Ok(Json(RepoEnvelope {
        repo: render_repo(&found.repo),
    }))
}

#[utoipa::path(get, path = "/repos", operation_id = "list_repos", tag = "prompt hub", security((), ("api_key" = [])),
    params(
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100),
        ("is_public" = Option<bool>, Query, description = "Only public (true) or private (false) repositories"),
        ("is_archived" = Option<String>, Query, pattern = "^(true|false|allow)$", description = "Archived (`true`), live (`false`, the default) or both (`allow`)"),
        ("sort_field" = Option<String>, Query, pattern = "^(updated_at|num_likes|num_downloads|num_views|relevance)$", description = "`updated_at` (the default), `num_likes`, `num_downloads` or `num_views`"),
        ("sort_direction" = Option<String>, Query, pattern = "^(asc|desc)$", description = "`desc` (the default) or `asc`"),
        ("query" = Option<String>, Query, description = "Text the handle (or the description) contains"),
        ("match_prefix" = Option<bool>, Query, description = "The handle starts with `query`"),
        ("repo_type" = Option<RepoType>, Query, description = "Only repositories of this type"),
        ("repo_types" = Option<Vec<RepoType>>, Query, description = "Only repositories of these types"),
        ("tags" = Option<Vec<String>>, Query, description = "Only repositories carrying every one of these tags"),
        ("tenant_handle" = Option<String>, Query, description = "The public repositories of the workspace with this handle (all of them for its own members)")),
    responses((status = 200, body = ReposPage)))]
async fn list(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    query: QueryPairs,
) -> Result<Json<ReposPage>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let pg = &state.stores.postgres;
    let (tenant, own) = match query.get("tenant_handle").filter(|h| !h.is_empty()) {
        Some(handle) => match hub::owner_workspace(pg, &viewer, handle).await? {
            Some(found) => found,
            None => {
                return Ok(Json(ReposPage {
                    repos: Vec::new(),
                    total: 0,
                }));
            }
        },
        None => match viewer.workspace_id {
            Some(own) => (own, true),
            None => {
                return Err(ApiError::Unauthorized(
                    "Send an API key, or name a workspace by tenant_handle".into(),
                ));
            }
        },
    };
    let filter = repo_filter(&query)?;
    let (repos, total) = store::list_repos(pg, tenant, !own, &filter, viewer.liker_id).await?;
    Ok(Json(ReposPage {
        repos: repos.iter().map(render_repo).collect(),
        total,
    }))
}

fn invalid_query(key: &str, msg: String) -> ApiError {
    ApiError::Unprocessable(vec![ironsmith_http::ValidationIssue {
        loc: vec!["query".into(), key.into()],
        msg,
        kind: "value_error".into(),
    }])
}

fn repo_filter(query: &QueryPairs) -> Result<RepoFilter, ApiError> {
    let (offset, limit) = query.page(100)?;
    let is_archived = match query.get("is_archived") {
        None | Some("false" | "False" | "") => Some(false),
        Some("true" | "True") => Some(true),
        Some("allow") => None,
        Some(other) => {
            return Err(invalid_query(
                "is_archived",
                format!("`{other}` is not true, false or allow"),
            ));
        }
    };
    let sort_field = match query.get("sort_field") {
        None | Some("updated_at" | "relevance" | "") => "updated_at",
        Some(field @ ("num_likes" | "num_downloads" | "num_views")) => field,
        Some(other) => {
            return Err(invalid_query(
                "sort_field",
                format!(
                    "cannot sort by `{other}`: use updated_at, num_likes, num_downloads or num_views"
                ),
            ));
        }
    };
    let ascending = match query.get("sort_direction") {
        None | Some("desc" | "") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(invalid_query(
                "sort_direction",
                format!("`{other}` is not asc or desc"),
            ));
        }
    };
    let mut repo_types: Vec<String> = query
        .all("repo_types")
        .chain(query.get("repo_type"))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    repo_types.dedup();
    if let Some(bad) = repo_types
        .iter()
        .find(|t| !REPO_TYPES.contains(&t.as_str()))
    {
        return Err(invalid_query(
            "repo_type",
            format!("`{bad}` is not a repository type: use prompt, file, agent or skill"),
        ));
    }
    Ok(RepoFilter {
        is_public: query.bool("is_public")?,
        is_archived,
        repo_types,
        query: query
            .get("query")
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned),
        match_prefix: query.bool("match_prefix")?.unwrap_or(false),
        tags: query
            .all("tags")
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        sort_field: sort_field.to_owned(),
        ascending,
        offset,
        limit,
    })
}

#[utoipa::path(get, path = "/repos/{owner}/{repo}", operation_id = "read_repo", tag = "prompt hub", security((), ("api_key" = [])),
    params(("owner" = String, Path, description = "`-` for the caller's workspace, else a workspace handle"),
        ("repo" = String, Path)),
    responses((status = 200, body = RepoEnvelope), (status = 404, description = "No such repository visible to the caller")))]
async fn read(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Json<RepoEnvelope>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let found = hub::find_repo(&state.stores.postgres, &viewer, &owner, &repo).await?;
    if !found.own {
        store::count_use(&state.stores.postgres, found.repo.id, None, false).await?;
    }
    Ok(Json(RepoEnvelope {
        repo: render_repo(&found.repo),
    }))
}

#[utoipa::path(patch, path = "/repos/{owner}/{repo}", operation_id = "update_repo", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = RepoUpdate,
    responses((status = 200, body = RepoEnvelope)))]
async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    Path((owner, repo)): Path<(String, String)>,
    ironsmith_http::Json(body): ironsmith_http::Json<RepoUpdate>,
) -> Result<Json<RepoEnvelope>, ApiError> {
    let pg = &state.stores.postgres;
    let viewer = Viewer::caller(&caller);
    let current = hub::own_repo(pg, &viewer, &owner, &repo).await?;
    if body.is_public == Some(true) && !current.is_public && current.owner.is_none() {
        return Err(ApiError::BadRequest(
            "A public prompt needs a workspace handle: claim one with POST /settings/handle".into(),
        ));
    }
    store::update_repo(
        pg,
        current.id,
        &RepoChanges {
            description: body.description,
            readme: body.readme,
            tags: body.tags,
            is_public: body.is_public,
            is_archived: body.is_archived,
        },
    )
    .await?;
    let found = hub::find_repo(pg, &viewer, &owner, &repo).await?;
    Ok(Json(RepoEnvelope {
        repo: render_repo(&found.repo),
    }))
}

#[utoipa::path(delete, path = "/repos/{owner}/{repo}", operation_id = "delete_repo", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 204, description = "Deleted, with its commits, tags and likes")))]
async fn delete(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsDelete>,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let pg = &state.stores.postgres;
    let current = hub::own_repo(pg, &Viewer::caller(&caller), &owner, &repo).await?;
    hub::delete_repo(pg, &state.stores.storage, &current).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/likes/{owner}/{repo}", operation_id = "like_repo", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = Like,
    responses((status = 200, body = Likes)))]
async fn like(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo)): Path<(String, String)>,
    ironsmith_http::Json(body): ironsmith_http::Json<Like>,
) -> Result<Json<Likes>, ApiError> {
    let Some(caller) = caller else {
        return Err(ApiError::Unauthorized(
            "Liking a prompt needs an API key".into(),
        ));
    };
    let viewer = Viewer::of(Some(&caller), Permission::PromptsRead)?;
    let liker = viewer
        .liker_id
        .ok_or_else(|| ApiError::Forbidden("This credential cannot like prompts".into()))?;
    let pg = &state.stores.postgres;
    let found = hub::find_repo(pg, &viewer, &owner, &repo).await?;
    let mut conn = pg.acquire().await.map_err(DbError::from)?;
    let likes = store::set_like(&mut conn, found.repo.id, liker, body.like).await?;
    Ok(Json(Likes { likes }))
}

#[utoipa::path(post, path = "/settings/handle", operation_id = "claim_tenant_handle", tag = "settings",
    request_body = TenantHandle,
    responses((status = 200, body = WorkspaceSettings),
        (status = 409, description = "Another workspace holds the handle, or this one already has another")))]
async fn claim_handle(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    ironsmith_http::Json(body): ironsmith_http::Json<TenantHandle>,
) -> Result<Json<WorkspaceSettings>, ApiError> {
    check_handle("tenant_handle", &body.tenant_handle, 64)?;
    let pg = &state.stores.postgres;
    match store::claim_handle(pg, caller.workspace_id, &body.tenant_handle).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::Conflict(
                "This workspace already has a handle; a handle cannot be changed".into(),
            ));
        }
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::Conflict(format!(
                "The handle {} belongs to another workspace",
                body.tenant_handle
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let workspace = ironsmith_db::workspaces::get(pg, caller.organization_id, caller.workspace_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Workspace not found".into()))?;
    Ok(Json(WorkspaceSettings {
        id: workspace.id,
        display_name: workspace.display_name,
        created_at: workspace.created_at,
        tenant_handle: workspace.tenant_handle,
    }))
}
