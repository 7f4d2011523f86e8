//! The prompt hub's rules, shared by the repository routes (backend: `/repos`, `/likes`) and
//! the commit routes (platform-backend: `/commits`).
//!
//! - **Owners.** A repository is named `owner/repo`. The owner `-` is the caller's own
//!   workspace; any other owner is a workspace's `tenant_handle`. A caller sees every
//!   repository of its own workspace and the public ones of others; a private repository of
//!   another workspace reads exactly like one that does not exist. Only the owning workspace
//!   changes a repository. Public repositories can be read without a key.
//! - **Pushes.** A commit names its parent: the repository's latest commit. A push whose parent
//!   is no longer the latest (someone pushed in between) is refused with 409, as is a push of
//!   a manifest identical to the latest one (nothing to commit). Pushes to one repository are
//!   serialised by a row lock, so two racing pushes cannot both follow the same parent.
//! - **References.** A commit is pulled by `latest`, a tag, its full hash or a unique prefix of
//!   at least 8 characters of it.
//! - **Manifests** are stored exactly as pushed (JSON text, never re-serialised) and returned
//!   verbatim; one larger than [`INLINE_MANIFEST_BYTES`] lives in object storage.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

mod manifest;
pub mod webhooks;

use ironsmith_api_types::hub as wire;
use ironsmith_db::hub::{self as store, Commit, Repo};
use ironsmith_db::{DbError, Pool};
use ironsmith_http::{ApiError, ValidationIssue};
use ironsmith_storage::ObjectStorage;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use manifest::{INLINE_MANIFEST_BYTES, model_of, without_model};

/// Who is asking: the workspace the caller acts in (none without a key) and who a like is
/// counted for (a user, or a service key).
#[derive(Debug, Clone, Copy, Default)]
pub struct Viewer {
    pub workspace_id: Option<Uuid>,
    pub liker_id: Option<Uuid>,
}

impl Viewer {
    /// An authenticated caller, after checking it holds `permission`; without a caller, the
    /// anonymous reader of public repositories.
    pub fn of(
        caller: Option<&ironsmith_auth::AuthContext>,
        permission: ironsmith_auth::Permission,
    ) -> Result<Viewer, ApiError> {
        let Some(caller) = caller else {
            return Ok(Viewer::default());
        };
        caller
            .require(permission)
            .map_err(|e| ApiError::Forbidden(e.to_string()))?;
        Ok(Viewer::caller(caller))
    }

    /// An authenticated caller whose permission its extractor already checked.
    pub fn caller(caller: &ironsmith_auth::AuthContext) -> Viewer {
        Viewer {
            workspace_id: Some(caller.workspace_id),
            liker_id: caller.user_id().or(caller.credential.api_key_id()),
        }
    }
}

/// The shortest commit-hash prefix a reference may use.
pub const MIN_HASH_PREFIX: usize = 8;

/// A repository the viewer may read, and whether it is the viewer's own.
#[derive(Debug, Clone)]
pub struct Found {
    pub repo: Repo,
    pub own: bool,
}

fn repo_not_found(owner: &str, repo: &str) -> ApiError {
    ApiError::NotFound(format!("Repository {owner}/{repo} not found"))
}

/// The workspace an owner segment names, and whether it is the viewer's.
pub async fn owner_workspace(
    pg: &Pool,
    viewer: &Viewer,
    owner: &str,
) -> Result<Option<(Uuid, bool)>, ApiError> {
    if owner == "-" {
        return match viewer.workspace_id {
            Some(own) => Ok(Some((own, true))),
            None => Err(ApiError::Unauthorized(
                "The owner `-` names the caller's workspace: send an API key".into(),
            )),
        };
    }
    Ok(store::workspace_of_handle(pg, owner)
        .await?
        .map(|tenant| (tenant, viewer.workspace_id == Some(tenant))))
}

/// A repository the viewer may read: its own, or another workspace's public one.
pub async fn find_repo(
    pg: &Pool,
    viewer: &Viewer,
    owner: &str,
    repo_handle: &str,
) -> Result<Found, ApiError> {
    let Some((tenant, own)) = owner_workspace(pg, viewer, owner).await? else {
        return Err(repo_not_found(owner, repo_handle));
    };
    match store::get_repo(pg, tenant, repo_handle, viewer.liker_id).await? {
        Some(repo) if own || repo.is_public => Ok(Found { repo, own }),
        _ => Err(repo_not_found(owner, repo_handle)),
    }
}

/// A repository the viewer may change: its own workspace's.
pub async fn own_repo(
    pg: &Pool,
    viewer: &Viewer,
    owner: &str,
    repo_handle: &str,
) -> Result<Repo, ApiError> {
    let found = find_repo(pg, viewer, owner, repo_handle).await?;
    if !found.own {
        return Err(ApiError::Forbidden(format!(
            "{owner}/{repo_handle} belongs to another workspace; only its owner may change it"
        )));
    }
    Ok(found.repo)
}

/// Checks a repository or tenant handle: lower-case letters, digits, `-` and `_`, starting
/// with a letter or a digit, at most `max` characters.
pub fn check_handle(field: &str, handle: &str, max: usize) -> Result<(), ApiError> {
    let mut chars = handle.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if first_ok && rest_ok && handle.len() <= max {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "`{handle}` is not a valid handle: use at most {max} lower-case letters, digits, \
                 `-` and `_`, starting with a letter or a digit"
            ),
        ))
    }
}

/// A 422 on one body field.
pub fn invalid(field: &str, msg: String) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), field.into()],
        msg,
        kind: "value_error".into(),
    }])
}

/// The wire form of a repository.
pub fn render_repo(repo: &Repo) -> wire::Repo {
    let owner_segment = repo.owner.clone().unwrap_or_else(|| "-".into());
    wire::Repo {
        repo_handle: repo.repo_handle.clone(),
        description: repo.description.clone(),
        readme: repo.readme.clone(),
        id: repo.id,
        tenant_id: repo.tenant_id,
        created_at: repo.created_at,
        updated_at: repo.updated_at,
        is_public: repo.is_public,
        is_archived: repo.is_archived,
        tags: repo.tags.clone(),
        original_repo_id: None,
        upstream_repo_id: None,
        owner: repo.owner.clone(),
        full_name: format!("{owner_segment}/{}", repo.repo_handle),
        num_likes: repo.num_likes,
        num_downloads: repo.num_downloads,
        num_views: repo.num_views,
        liked_by_auth_user: Some(repo.liked_by_caller),
        last_commit_hash: repo.last_commit_hash.clone(),
        num_commits: repo.num_commits,
        original_repo_full_name: None,
        upstream_repo_full_name: None,
        repo_type: repo.repo_type.clone(),
    }
}

/// The wire form of a commit, with its manifest.
pub fn render_commit(commit: &Commit, manifest: Box<RawValue>) -> wire::Commit {
    wire::Commit {
        id: commit.id,
        commit_hash: commit.commit_hash.clone(),
        manifest,
        parent_id: commit.parent_id,
        parent_commit_hash: commit.parent_commit_hash.clone(),
        repo_id: commit.repo_id,
        created_at: commit.created_at,
        updated_at: commit.created_at,
        example_run_ids: Vec::new(),
        num_downloads: commit.num_downloads,
        num_views: commit.num_views,
        description: commit.description.clone(),
    }
}

/// The manifest of a commit, as it was pushed.
pub async fn load_manifest(
    storage: &ObjectStorage,
    commit: &Commit,
) -> Result<Box<RawValue>, ApiError> {
    manifest::load(storage, commit).await
}

/// The commit `reference` names: `latest`, a tag, a full hash or a unique prefix of one.
pub async fn resolve_ref(pg: &Pool, repo: &Repo, reference: &str) -> Result<Commit, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "No commit `{reference}` in {}: name one by `latest`, a tag, its hash or at least \
             {MIN_HASH_PREFIX} characters of it",
            repo.repo_handle
        ))
    };
    if reference == "latest" {
        return store::latest_commit(pg, repo.id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("{} has no commits yet", repo.repo_handle)));
    }
    if let Some(tag) = store::get_tag(pg, repo.id, reference).await? {
        return store::commit_by_id(pg, repo.id, tag.commit_id)
            .await?
            .ok_or_else(not_found);
    }
    let hex = reference.to_ascii_lowercase();
    if hex.len() < MIN_HASH_PREFIX || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let mut found = store::commits_by_hash_prefix(pg, repo.id, &hex).await?;
    match found.len() {
        0 => Err(not_found()),
        1 => Ok(found.remove(0)),
        _ if found.first().is_some_and(|c| c.commit_hash == hex) => Ok(found.remove(0)),
        _ => Err(ApiError::BadRequest(format!(
            "`{reference}` is the start of more than one commit hash; give more characters"
        ))),
    }
}

/// Records a new commit of `repo` after checking its parent, and returns it.
pub async fn push(
    pg: &Pool,
    storage: &ObjectStorage,
    repo: &Repo,
    body: &wire::CommitCreate,
) -> Result<wire::Commit, ApiError> {
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        return Err(invalid(
            "description",
            "a commit description has at most 1000 characters".into(),
        ));
    }
    let text = body.manifest.get();
    if !text.trim_start().starts_with('{') {
        return Err(invalid(
            "manifest",
            "the manifest must be a JSON object (a serialised prompt)".into(),
        ));
    }
    let mut tx = pg.begin().await.map_err(DbError::from)?;
    let latest = store::lock_for_commit(&mut tx, repo.id).await?;
    let parent = body
        .parent_commit
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "latest");
    if let Some(parent) = parent {
        let current = latest.as_ref().map(|c| c.commit_hash.as_str());
        let matches = current.is_some_and(|hash| {
            let parent = parent.to_ascii_lowercase();
            hash == parent || (parent.len() >= MIN_HASH_PREFIX && hash.starts_with(&parent))
        });
        if !matches {
            return Err(ApiError::Conflict(match current {
                Some(hash) => format!(
                    "The parent commit {parent} is not the latest commit of {} ({hash}): \
                     someone pushed in between. Pull the latest commit and push again",
                    repo.repo_handle
                ),
                None => format!(
                    "The parent commit {parent} does not exist: {} has no commits yet",
                    repo.repo_handle
                ),
            }));
        }
    }
    if let Some(latest) = &latest
        && latest.manifest_bytes == text.len() as i64
        && manifest::load(storage, latest).await?.get() == text
    {
        return Err(ApiError::Conflict(format!(
            "Nothing to commit: the manifest is identical to the latest commit of {} ({})",
            repo.repo_handle, latest.commit_hash
        )));
    }
    let id = Uuid::now_v7();
    let commit_hash = commit_hash(repo.id, latest.as_ref(), id, text);
    let stored = manifest::store(storage, repo, id, text).await?;
    let created_at = store::insert_commit(
        &mut *tx,
        &store::NewCommit {
            id,
            repo_id: repo.id,
            commit_hash: &commit_hash,
            parent_id: latest.as_ref().map(|c| c.id),
            manifest: stored.inline.as_deref(),
            manifest_key: stored.key.as_deref(),
            manifest_bytes: text.len() as i64,
            description: body.description.as_deref(),
        },
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    let commit = Commit {
        id,
        repo_id: repo.id,
        commit_hash,
        parent_id: latest.as_ref().map(|c| c.id),
        parent_commit_hash: latest.map(|c| c.commit_hash),
        manifest: None,
        manifest_key: None,
        manifest_bytes: text.len() as i64,
        description: body.description.clone(),
        num_views: 0,
        num_downloads: 0,
        created_at,
    };
    Ok(render_commit(&commit, body.manifest.clone()))
}

/// A commit's hash: SHA-256 over the repository, the parent, the commit's own id and the
/// manifest, in lower-case hex.
fn commit_hash(repo_id: Uuid, parent: Option<&Commit>, id: Uuid, manifest: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(repo_id.as_bytes());
    hasher.update(parent.map_or("", |p| p.commit_hash.as_str()).as_bytes());
    hasher.update(id.as_bytes());
    hasher.update(manifest.as_bytes());
    hex::encode(hasher.finalize())
}

/// Deletes a repository with everything in it, its large manifests included.
pub async fn delete_repo(pg: &Pool, storage: &ObjectStorage, repo: &Repo) -> Result<(), ApiError> {
    let keys = store::delete_repo(pg, repo.id).await?;
    for key in keys {
        if let Err(error) = storage.delete(&key).await {
            tracing::warn!(%error, %key, "could not delete a deleted prompt's manifest object");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_lower_case_words() {
        assert!(check_handle("repo_handle", "my-prompt_2", 128).is_ok());
        assert!(check_handle("repo_handle", "2fast", 128).is_ok());
        for bad in ["", "-x", "My", "a b", "a/b", "é"] {
            assert!(check_handle("repo_handle", bad, 128).is_err(), "{bad}");
        }
        assert!(check_handle("repo_handle", &"a".repeat(129), 128).is_err());
    }

    #[test]
    fn a_hash_depends_on_every_input() {
        let repo = Uuid::now_v7();
        let id = Uuid::now_v7();
        let a = commit_hash(repo, None, id, "{}");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, commit_hash(repo, None, id, "{ }"));
        assert_ne!(a, commit_hash(repo, None, Uuid::now_v7(), "{}"));
        assert_ne!(a, commit_hash(Uuid::now_v7(), None, id, "{}"));
    }
}
