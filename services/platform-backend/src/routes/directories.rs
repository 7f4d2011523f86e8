//! Directory repositories of the prompt hub (agents and skills): a commit is a set of paths,
//! each a file or a link to another agent or skill repository.
//! `GET /v1/platform/hub/repos/{owner}/{repo}/directories` reads one commit (the latest, or
//! `commit=` a hash, prefix or tag), `POST …/directories/commits` changes some paths (the rest
//! carry over from the parent; `null` deletes one), `DELETE …/directories` deletes the
//! repository. The repositories themselves are created through `POST /repos` with a
//! `repo_type`; owners, parents and references follow the prompt hub's rules.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::hub::{
    CommitCreate, Directory, DirectoryCommit, DirectoryCommitCreate, DirectoryCommitCreated,
    DirectoryEntry,
};
use ironsmith_auth::{MaybeAuth, Permission, RequirePermission, perm};
use ironsmith_http::{ApiError, Path, QueryPairs};
use ironsmith_hub::{self as hub, Viewer, invalid};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read, delete))
        .routes(routes!(commit))
}

/// What a directory commit stores as its manifest.
#[derive(Serialize, Deserialize)]
struct Stored {
    files: BTreeMap<String, DirectoryEntry>,
}

fn check_type(repo: &ironsmith_db::hub::Repo, wanted: Option<&str>) -> Result<(), ApiError> {
    if repo.repo_type != "agent" && repo.repo_type != "skill" {
        return Err(ApiError::BadRequest(format!(
            "{} is a {} repository, not a directory (agent or skill)",
            repo.repo_handle, repo.repo_type
        )));
    }
    match wanted {
        Some(wanted) if wanted != repo.repo_type => Err(ApiError::NotFound(format!(
            "{} is a {}, not a {wanted}",
            repo.repo_handle, repo.repo_type
        ))),
        _ => Ok(()),
    }
}

fn check_path(path: &str) -> Result<(), ApiError> {
    let bad = path.is_empty()
        || path.len() > 1024
        || path.starts_with('/')
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(invalid(
            "files",
            format!("`{path}` is not a relative path (no empty, `.` or `..` parts)"),
        ));
    }
    Ok(())
}

async fn files_at(
    state: &AppState,
    commit: &ironsmith_db::hub::Commit,
) -> Result<BTreeMap<String, DirectoryEntry>, ApiError> {
    let manifest = hub::load_manifest(&state.stores.storage, commit).await?;
    let stored: Stored = serde_json::from_str(manifest.get())?;
    Ok(stored.files)
}

#[utoipa::path(get, path = "/platform/hub/repos/{owner}/{repo}/directories", operation_id = "read_directory", tag = "prompt hub",
    security((), ("api_key" = [])),
    params(("owner" = String, Path), ("repo" = String, Path),
        ("repo_type" = Option<String>, Query, pattern = "^(agent|skill)$"),
        ("commit" = Option<String>, Query, description = "A commit hash, 8 or more characters of one, or a tag; the latest commit when absent")),
    responses((status = 200, body = Directory)))]
async fn read(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo)): Path<(String, String)>,
    query: QueryPairs,
) -> Result<Json<Directory>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let pg = &state.stores.postgres;
    let found = hub::find_repo(pg, &viewer, &owner, &repo).await?;
    check_type(
        &found.repo,
        query.get("repo_type").filter(|t| !t.is_empty()),
    )?;
    let reference = query
        .get("commit")
        .filter(|c| !c.is_empty())
        .unwrap_or("latest");
    let commit = hub::resolve_ref(pg, &found.repo, reference).await?;
    let files = files_at(&state, &commit).await?;
    ironsmith_db::hub::count_use(pg, found.repo.id, Some(commit.id), true).await?;
    Ok(Json(Directory {
        commit_id: commit.id,
        commit_hash: commit.commit_hash,
        files,
    }))
}

#[utoipa::path(post, path = "/platform/hub/repos/{owner}/{repo}/directories/commits", operation_id = "commit_directory", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = DirectoryCommitCreate,
    responses((status = 200, body = DirectoryCommitCreated),
        (status = 409, description = "The parent is not the latest commit, or nothing changed")))]
async fn commit(
    State(state): State<AppState>,
    caller: RequirePermission<perm::PromptsUpdate>,
    Path((owner, repo)): Path<(String, String)>,
    ironsmith_http::Json(body): ironsmith_http::Json<DirectoryCommitCreate>,
) -> Result<Json<DirectoryCommitCreated>, ApiError> {
    let viewer = Viewer::caller(&caller);
    let pg = &state.stores.postgres;
    let repo = hub::own_repo(pg, &viewer, &owner, &repo).await?;
    check_type(&repo, None)?;
    let mut files = match ironsmith_db::hub::latest_commit(pg, repo.id).await? {
        Some(latest) => files_at(&state, &latest).await?,
        None => BTreeMap::new(),
    };
    for (path, entry) in body.files {
        check_path(&path)?;
        match entry {
            Some(entry) => {
                files.insert(path, entry);
            }
            None => {
                files.remove(&path);
            }
        }
    }
    let manifest = serde_json::to_string(&Stored { files })?;
    let manifest = RawValue::from_string(manifest)?;
    let pushed = hub::push(
        pg,
        &state.stores.storage,
        &repo,
        &CommitCreate {
            parent_commit: body.parent_commit,
            manifest,
            description: None,
        },
    )
    .await?;
    Ok(Json(DirectoryCommitCreated {
        commit: DirectoryCommit {
            id: pushed.id,
            commit_hash: pushed.commit_hash,
            created_at: pushed.created_at,
        },
    }))
}

#[utoipa::path(delete, path = "/platform/hub/repos/{owner}/{repo}/directories", operation_id = "delete_directory", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 204, description = "Deleted, with every commit")))]
async fn delete(
    State(state): State<AppState>,
    caller: RequirePermission<perm::PromptsDelete>,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let viewer = Viewer::caller(&caller);
    let pg = &state.stores.postgres;
    let repo = hub::own_repo(pg, &viewer, &owner, &repo).await?;
    check_type(&repo, None)?;
    hub::delete_repo(pg, &state.stores.storage, &repo).await?;
    Ok(StatusCode::NO_CONTENT)
}
