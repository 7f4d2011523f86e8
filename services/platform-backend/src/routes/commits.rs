//! Prompt commits: `GET|POST /commits/{owner}/{repo}` (list, push) and
//! `GET /commits/{owner}/{repo}/{ref}` (pull by `latest`, tag, hash or hash prefix). The rules
//! (owners, parent checks, references, verbatim manifests) are the `ironsmith-hub` crate's;
//! repositories themselves are backend's (`/repos`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::hub::{CommitCreate, CommitCreated, CommitsPage, PulledCommit};
use ironsmith_auth::{MaybeAuth, Permission, RequirePermission, perm};
use ironsmith_db::hub as store;
use ironsmith_http::{ApiError, Path, QueryPairs, replica_first};
use ironsmith_hub::{self as hub, Viewer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, push))
        .routes(routes!(pull))
}

#[utoipa::path(get, path = "/commits/{owner}/{repo}", operation_id = "list_commits", tag = "prompt hub", security((), ("api_key" = [])),
    params(("owner" = String, Path, description = "`-` for the caller's workspace, else a workspace handle"),
        ("repo" = String, Path),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100),
        ("include_model" = Option<bool>, Query, description = "Keep the model in prompt-and-model manifests")),
    responses((status = 200, body = CommitsPage)))]
async fn list(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo)): Path<(String, String)>,
    query: QueryPairs,
) -> Result<Json<CommitsPage>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let (offset, limit) = query.page(100)?;
    let include_model = query.bool("include_model")?.unwrap_or(false);
    let (viewer, owner, repo) = (&viewer, &owner, &repo);
    let (found, commits) = replica_first(
        &state.stores.postgres,
        state.stores.postgres_replica.as_ref(),
        move |pg| async move {
            let found = hub::find_repo(&pg, viewer, owner, repo).await?;
            let commits = store::list_commits(&pg, found.repo.id, offset, limit).await?;
            Ok((found, commits))
        },
    )
    .await?;
    let mut out = Vec::with_capacity(commits.len());
    for commit in &commits {
        let manifest = hub::load_manifest(&state.stores.storage, commit).await?;
        let manifest = if include_model {
            manifest
        } else {
            hub::without_model(&manifest)
        };
        out.push(hub::render_commit(commit, manifest));
    }
    Ok(Json(CommitsPage {
        commits: out,
        total: found.repo.num_commits,
    }))
}

#[utoipa::path(post, path = "/commits/{owner}/{repo}", operation_id = "push_commit", tag = "prompt hub",
    params(("owner" = String, Path), ("repo" = String, Path)),
    request_body = CommitCreate,
    responses((status = 201, body = CommitCreated),
        (status = 409, description = "The parent is not the latest commit (pull and push again), or nothing changed")))]
async fn push(
    State(state): State<AppState>,
    caller: RequirePermission<perm::PromptsUpdate>,
    Path((owner, repo)): Path<(String, String)>,
    ironsmith_http::Json(body): ironsmith_http::Json<CommitCreate>,
) -> Result<(StatusCode, Json<CommitCreated>), ApiError> {
    let viewer = Viewer::caller(&caller);
    let pg = &state.stores.postgres;
    let repo = hub::own_repo(pg, &viewer, &owner, &repo).await?;
    let commit = hub::push(pg, &state.stores.storage, &repo, &body).await?;
    let event = hub::webhooks::Event {
        event: "commit",
        repo: &repo,
        commit_hash: &commit.commit_hash,
        manifest: &commit.manifest,
        tag_name: None,
        created_by: caller.user_id().or(caller.credential.api_key_id()),
    };
    hub::webhooks::fire(pg, &state.stores.redis, &event).await?;
    Ok((StatusCode::CREATED, Json(CommitCreated { commit })))
}

#[utoipa::path(get, path = "/commits/{owner}/{repo}/{ref}", operation_id = "pull_commit", tag = "prompt hub", security((), ("api_key" = [])),
    params(("owner" = String, Path), ("repo" = String, Path),
        ("ref" = String, Path, description = "`latest`, a tag, a commit hash or at least 8 characters of one"),
        ("include_model" = Option<bool>, Query, description = "Keep the model in prompt-and-model manifests")),
    responses((status = 200, body = PulledCommit)))]
async fn pull(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    query: QueryPairs,
) -> Result<Json<PulledCommit>, ApiError> {
    let viewer = Viewer::of(caller.as_ref(), Permission::PromptsRead)?;
    let include_model = query.bool("include_model")?.unwrap_or(false);
    // Pulls are the hub's hot path (applications pull prompts at run time): they read from the
    // replica when there is one. A commit pushed a moment ago is found on the primary; `latest`
    // may name the one before it until the replica has replayed the push.
    let (viewer, owner, repo, reference) = (&viewer, &owner, &repo, &reference);
    let (found, commit) = replica_first(
        &state.stores.postgres,
        state.stores.postgres_replica.as_ref(),
        move |pg| async move {
            let found = hub::find_repo(&pg, viewer, owner, repo).await?;
            let commit = hub::resolve_ref(&pg, &found.repo, reference).await?;
            Ok((found, commit))
        },
    )
    .await?;
    let manifest = hub::load_manifest(&state.stores.storage, &commit).await?;
    store::count_use(&state.stores.postgres, found.repo.id, Some(commit.id), true).await?;
    // With the model: its provider and settings apart too (what the playground selects a
    // model configuration by).
    let model = include_model.then(|| hub::model_of(&manifest)).flatten();
    Ok(Json(PulledCommit {
        commit_hash: commit.commit_hash,
        manifest: if include_model {
            manifest
        } else {
            hub::without_model(&manifest)
        },
        examples: Vec::new(),
        description: commit.description,
        model_provider: model.as_ref().map(|(provider, _)| provider.clone()),
        model_config: model.map(|(_, settings)| settings),
    }))
}
