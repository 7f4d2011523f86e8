//! Tags on commits: `POST|GET /repos/{owner}/{repo}/tags`,
//! `GET|PATCH|DELETE /repos/{owner}/{repo}/tags/{tag}`. A tag names one commit and can be
//! moved; pulls accept a tag wherever they accept a commit hash.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::hub::{CommitTag, CommitTagCreate, CommitTagMove};
use ironsmith_auth::perm::PromptsUpdate;
use ironsmith_auth::{MaybeAuth, Permission, RequirePermission};
use ironsmith_db::hub::{self as store, Tag};
use ironsmith_http::{ApiError, Path};
use ironsmith_hub::{self as hub, Viewer, invalid};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, move_tag, delete))
}

fn render(tag: Tag) -> CommitTag {
    CommitTag {
        id: tag.id,
        repo_id: tag.repo_id,
        commit_id: tag.commit_id,
        commit_hash: tag.commit_hash,
        tag_name: tag.tag_name,
        created_at: tag.created_at,
        updated_at: tag.updated_at,
    }
}

fn tag_not_found(tag: &str) -> ApiError {
    ApiError::NotFound(format!("Tag {tag} not found"))
}

fn check_tag_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 128 || name == "latest" || name.contains('/') {
        return Err(invalid(
            "tag_name",
            format!("`{name}` cannot name a tag: use 1-128 characters, no `/`, not `latest`"),
        ));
    }
    Ok(())
}

async fn point(
    state: &AppState,
    caller: &ironsmith_auth::AuthContext,
    owner: &str,
    repo: &str,
    tag_name: &str,
    commit_id: uuid::Uuid,
) -> Result<CommitTag, ApiError> {
    let pg = &state.stores.postgres;
    let repo = hub::own_repo(pg, &Viewer::caller(caller), owner, repo).await?;
    let Some(commit) = store::commit_by_id(pg, repo.id, commit_id).await? else {
        return Err(ApiError::NotFound(format!(
            "Commit {commit_id} not found in {}",
            repo.repo_handle
        )));
    };
    let existed = store::get_tag(pg, repo.id, tag_name).await?;
    let tag = store::set_tag(pg, repo.id, tag_name, commit_id).await?;
    if existed.as_ref().is_none_or(|t| t.commit_id != commit_id) {
        let manifest = hub::load_manifest(&state.stores.storage, &commit).await?;
        let event = hub::webhooks::Event {
            event: if existed.is_some() {
                "tag:update"
            } else {
                "tag:create"
            },
            repo: &repo,
            commit_hash: &commit.commit_hash,
            manifest: &manifest,
            tag_name: Some(tag_name),
            created_by: caller.user_id().or(caller.credential.api_key_id()),
        };
        hub::webhooks::fire(pg, &state.stores.redis, &event).await?;
    }
    Ok(render(tag))
}

#[utoipa::path(post, path = "/repos/{owner}/{repo}/tags", operation_id = "create_commit_tag", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = CommitTagCreate,
    responses((status = 200, body = CommitTag)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    Path((owner, repo)): Path<(String, String)>,
    ironsmith_http::Json(body): ironsmith_http::Json<CommitTagCreate>,
) -> Result<Json<CommitTag>, ApiError> {
    check_tag_name(&body.tag_name)?;
    point(
        &state,
        &caller,
        &owner,
        &repo,
        &body.tag_name,
        body.commit_id,
    )
    .await
    .map(Json)
}

#[utoipa::path(get, path = "/repos/{owner}/{repo}/tags", operation_id = "list_commit_tags", tag = "prompt hub", security((), ("api_key" = [])),
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = [CommitTag])))]
async fn list(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Json<Vec<CommitTag>>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let pg = &state.stores.postgres;
    let found = hub::find_repo(pg, &viewer, &owner, &repo).await?;
    let tags = store::list_tags(pg, found.repo.id).await?;
    Ok(Json(tags.into_iter().map(render).collect()))
}

#[utoipa::path(get, path = "/repos/{owner}/{repo}/tags/{tag}", operation_id = "read_commit_tag", tag = "prompt hub", security((), ("api_key" = [])),
    params(("owner" = String, Path), ("repo" = String, Path), ("tag" = String, Path)),
    responses((status = 200, body = CommitTag)))]
async fn read(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo, tag)): Path<(String, String, String)>,
) -> Result<Json<CommitTag>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let pg = &state.stores.postgres;
    let found = hub::find_repo(pg, &viewer, &owner, &repo).await?;
    store::get_tag(pg, found.repo.id, &tag)
        .await?
        .map(|t| Json(render(t)))
        .ok_or_else(|| tag_not_found(&tag))
}

#[utoipa::path(patch, path = "/repos/{owner}/{repo}/tags/{tag}", operation_id = "move_commit_tag", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path), ("tag" = String, Path)),
    request_body = CommitTagMove,
    responses((status = 200, body = CommitTag)))]
async fn move_tag(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    Path((owner, repo, tag)): Path<(String, String, String)>,
    ironsmith_http::Json(body): ironsmith_http::Json<CommitTagMove>,
) -> Result<Json<CommitTag>, ApiError> {
    let pg = &state.stores.postgres;
    let current = hub::own_repo(pg, &Viewer::caller(&caller), &owner, &repo).await?;
    if store::get_tag(pg, current.id, &tag).await?.is_none() {
        return Err(tag_not_found(&tag));
    }
    point(&state, &caller, &owner, &repo, &tag, body.commit_id)
        .await
        .map(Json)
}

#[utoipa::path(delete, path = "/repos/{owner}/{repo}/tags/{tag}", operation_id = "delete_commit_tag", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path), ("tag" = String, Path)),
    responses((status = 204, description = "Deleted; the commit stays")))]
async fn delete(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    Path((owner, repo, tag)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let pg = &state.stores.postgres;
    let current = hub::own_repo(pg, &Viewer::caller(&caller), &owner, &repo).await?;
    if store::delete_tag(pg, current.id, &tag).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(tag_not_found(&tag))
    }
}
