//! The prompt hub: `hub_repos`, `hub_commits`, `hub_tags` and `hub_likes`.
//!
//! A repository belongs to one workspace (`tenant_id`); its public name is the workspace's
//! `tenant_handle` and its `repo_handle`. Every read takes the workspace it is scoped to, so a
//! private repository of another workspace reads exactly like an unknown one.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

/// A repository with what its listing shows: owner handle, likes and latest commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Repo {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub repo_handle: String,
    pub repo_type: String,
    pub description: String,
    pub readme: String,
    pub tags: Vec<String>,
    pub is_public: bool,
    pub is_archived: bool,
    pub num_views: i64,
    pub num_downloads: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The owning workspace's handle, when it has claimed one.
    pub owner: Option<String>,
    pub num_likes: i64,
    pub liked_by_caller: bool,
    pub last_commit_hash: Option<String>,
    pub num_commits: i64,
}

/// Which repositories a listing returns, and in what order.
#[derive(Debug, Clone, Default)]
pub struct RepoFilter {
    pub is_public: Option<bool>,
    /// `None` lists archived and live repositories alike.
    pub is_archived: Option<bool>,
    pub repo_types: Vec<String>,
    pub query: Option<String>,
    pub match_prefix: bool,
    /// Repositories carrying every one of these tags.
    pub tags: Vec<String>,
    /// `updated_at`, `num_likes`, `num_downloads` or `num_views`.
    pub sort_field: String,
    pub ascending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// The workspace that claimed `handle`.
pub async fn workspace_of_handle(
    db: impl PgExecutor<'_>,
    handle: &str,
) -> Result<Option<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM workspaces WHERE lower(tenant_handle) = lower($1)",
        handle
    )
    .fetch_optional(db)
    .await?)
}

/// Claims `handle` for the workspace; `false` when the workspace already has a different one.
/// A handle another workspace holds is a unique violation.
pub async fn claim_handle(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    handle: &str,
) -> Result<bool, DbError> {
    let updated = sqlx::query!(
        "UPDATE workspaces SET tenant_handle = $2
         WHERE id = $1 AND (tenant_handle IS NULL OR tenant_handle = $2)",
        tenant_id,
        handle
    )
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub async fn get_repo(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    repo_handle: &str,
    liker: Option<Uuid>,
) -> Result<Option<Repo>, DbError> {
    Ok(sqlx::query_as!(
        Repo,
        r#"SELECT r.id, r.tenant_id, r.repo_handle, r.repo_type, r.description, r.readme, r.tags,
                  r.is_public, r.is_archived, r.num_views, r.num_downloads, r.created_at,
                  r.updated_at, w.tenant_handle AS owner,
                  (SELECT count(*) FROM hub_likes l WHERE l.repo_id = r.id) AS "num_likes!",
                  EXISTS (SELECT 1 FROM hub_likes l WHERE l.repo_id = r.id AND l.liker_id = $3)
                    AS "liked_by_caller!",
                  (SELECT c.commit_hash FROM hub_commits c WHERE c.repo_id = r.id
                   ORDER BY c.created_at DESC, c.id DESC LIMIT 1) AS last_commit_hash,
                  (SELECT count(*) FROM hub_commits c WHERE c.repo_id = r.id) AS "num_commits!"
           FROM hub_repos r JOIN workspaces w ON w.id = r.tenant_id
           WHERE r.tenant_id = $1 AND r.repo_handle = $2"#,
        tenant_id,
        repo_handle,
        liker
    )
    .fetch_optional(db)
    .await?)
}

/// A page of the workspace's repositories (only its public ones when `public_only`), and how
/// many match in all.
pub async fn list_repos(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    public_only: bool,
    filter: &RepoFilter,
    liker: Option<Uuid>,
) -> Result<(Vec<Repo>, i64), DbError> {
    let rows = sqlx::query!(
        r#"WITH matching AS (
             SELECT r.* FROM hub_repos r
             WHERE r.tenant_id = $1
               AND (NOT $2 OR r.is_public)
               AND ($3::boolean IS NULL OR r.is_public = $3)
               AND ($4::boolean IS NULL OR r.is_archived = $4)
               AND (cardinality($5::text[]) = 0 OR r.repo_type = ANY($5))
               AND ($6::text IS NULL OR
                    CASE WHEN $7 THEN starts_with(lower(r.repo_handle), lower($6))
                         ELSE strpos(lower(r.repo_handle), lower($6)) > 0
                           OR strpos(lower(r.description), lower($6)) > 0 END)
               AND r.tags @> $8::text[]
           ), counted AS (
             SELECT m.*,
                    (SELECT count(*) FROM hub_likes l WHERE l.repo_id = m.id) AS likes,
                    count(*) OVER () AS total
             FROM matching m
           ), sorted AS (
             SELECT c.*,
                    CASE $9::text
                      WHEN 'num_likes' THEN c.likes::float8
                      WHEN 'num_downloads' THEN c.num_downloads::float8
                      WHEN 'num_views' THEN c.num_views::float8
                      ELSE extract(epoch FROM c.updated_at)::float8
                    END AS sort_key
             FROM counted c
           )
           SELECT s.id AS "id!", s.tenant_id AS "tenant_id!", s.repo_handle AS "repo_handle!",
                  s.repo_type AS "repo_type!", s.description AS "description!",
                  s.readme AS "readme!", s.tags AS "tags!", s.is_public AS "is_public!",
                  s.is_archived AS "is_archived!", s.num_views AS "num_views!",
                  s.num_downloads AS "num_downloads!", s.created_at AS "created_at!",
                  s.updated_at AS "updated_at!", w.tenant_handle AS owner,
                  s.likes AS "num_likes!", s.total AS "total!",
                  EXISTS (SELECT 1 FROM hub_likes l WHERE l.repo_id = s.id AND l.liker_id = $10)
                    AS "liked_by_caller!",
                  (SELECT c.commit_hash FROM hub_commits c WHERE c.repo_id = s.id
                   ORDER BY c.created_at DESC, c.id DESC LIMIT 1) AS last_commit_hash,
                  (SELECT count(*) FROM hub_commits c WHERE c.repo_id = s.id) AS "num_commits!"
           FROM sorted s JOIN workspaces w ON w.id = s.tenant_id
           ORDER BY CASE WHEN $11 THEN s.sort_key END ASC,
                    CASE WHEN NOT $11 THEN s.sort_key END DESC,
                    s.id
           OFFSET $12 LIMIT $13"#,
        tenant_id,
        public_only,
        filter.is_public,
        filter.is_archived,
        &filter.repo_types,
        filter.query.as_deref(),
        filter.match_prefix,
        &filter.tags,
        filter.sort_field,
        liker,
        filter.ascending,
        filter.offset,
        filter.limit,
    )
    .fetch_all(db)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let repos = rows
        .into_iter()
        .map(|r| Repo {
            id: r.id,
            tenant_id: r.tenant_id,
            repo_handle: r.repo_handle,
            repo_type: r.repo_type,
            description: r.description,
            readme: r.readme,
            tags: r.tags,
            is_public: r.is_public,
            is_archived: r.is_archived,
            num_views: r.num_views,
            num_downloads: r.num_downloads,
            created_at: r.created_at,
            updated_at: r.updated_at,
            owner: r.owner,
            num_likes: r.num_likes,
            liked_by_caller: r.liked_by_caller,
            last_commit_hash: r.last_commit_hash,
            num_commits: r.num_commits,
        })
        .collect();
    Ok((repos, total))
}

/// What a new repository starts with.
#[derive(Debug, Clone)]
pub struct NewRepo<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub repo_handle: &'a str,
    pub repo_type: &'a str,
    pub description: &'a str,
    pub readme: &'a str,
    pub tags: &'a [String],
    pub is_public: bool,
}

/// Creates a repository; an existing handle in the workspace is a unique violation.
pub async fn create_repo(db: impl PgExecutor<'_>, repo: &NewRepo<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO hub_repos (id, tenant_id, repo_handle, repo_type, description, readme, tags,
                                is_public)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        repo.id,
        repo.tenant_id,
        repo.repo_handle,
        repo.repo_type,
        repo.description,
        repo.readme,
        repo.tags,
        repo.is_public
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The fields an update may change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct RepoChanges {
    pub description: Option<String>,
    pub readme: Option<String>,
    pub tags: Option<Vec<String>>,
    pub is_public: Option<bool>,
    pub is_archived: Option<bool>,
}

/// Applies `changes`; `false` when the repository does not exist.
pub async fn update_repo(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    changes: &RepoChanges,
) -> Result<bool, DbError> {
    let updated = sqlx::query!(
        "UPDATE hub_repos SET
           description = COALESCE($2, description),
           readme = COALESCE($3, readme),
           tags = COALESCE($4, tags),
           is_public = COALESCE($5, is_public),
           is_archived = COALESCE($6, is_archived),
           updated_at = now()
         WHERE id = $1",
        repo_id,
        changes.description,
        changes.readme,
        changes.tags.as_deref(),
        changes.is_public,
        changes.is_archived
    )
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Deletes a repository with its commits, tags and likes; returns the object-storage keys of
/// its large manifests, for the caller to delete.
pub async fn delete_repo(db: impl PgExecutor<'_>, repo_id: Uuid) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar!(
        r#"WITH gone AS (DELETE FROM hub_repos WHERE id = $1 RETURNING id)
           SELECT c.manifest_key AS "manifest_key!" FROM hub_commits c
           WHERE c.repo_id IN (SELECT id FROM gone) AND c.manifest_key IS NOT NULL"#,
        repo_id
    )
    .fetch_all(db)
    .await?)
}

/// Counts one view or one download of a repository (and of one of its commits).
pub async fn count_use(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    commit_id: Option<Uuid>,
    download: bool,
) -> Result<(), DbError> {
    sqlx::query!(
        "WITH repo AS (
           UPDATE hub_repos SET
             num_downloads = num_downloads + CASE WHEN $3 THEN 1 ELSE 0 END,
             num_views = num_views + CASE WHEN $3 THEN 0 ELSE 1 END
           WHERE id = $1
         )
         UPDATE hub_commits SET
           num_downloads = num_downloads + CASE WHEN $3 THEN 1 ELSE 0 END,
           num_views = num_views + CASE WHEN $3 THEN 0 ELSE 1 END
         WHERE id = $2 AND repo_id = $1",
        repo_id,
        commit_id,
        download
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A commit, with its parent's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub id: Uuid,
    pub repo_id: Uuid,
    pub commit_hash: String,
    pub parent_id: Option<Uuid>,
    pub parent_commit_hash: Option<String>,
    pub manifest: Option<String>,
    pub manifest_key: Option<String>,
    pub manifest_bytes: i64,
    pub description: Option<String>,
    pub num_views: i64,
    pub num_downloads: i64,
    pub created_at: DateTime<Utc>,
}

/// Locks the repository against concurrent commits (held until the transaction ends) and
/// returns its newest commit.
pub async fn lock_for_commit(
    db: &mut sqlx::PgConnection,
    repo_id: Uuid,
) -> Result<Option<Commit>, DbError> {
    sqlx::query!("SELECT id FROM hub_repos WHERE id = $1 FOR UPDATE", repo_id)
        .fetch_optional(&mut *db)
        .await?;
    latest_commit(db, repo_id).await
}

pub async fn latest_commit(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
) -> Result<Option<Commit>, DbError> {
    Ok(sqlx::query_as!(
        Commit,
        r#"SELECT c.id, c.repo_id, c.commit_hash, c.parent_id, p.commit_hash AS "parent_commit_hash?",
                  c.manifest, c.manifest_key, c.manifest_bytes, c.description, c.num_views,
                  c.num_downloads, c.created_at
           FROM hub_commits c LEFT JOIN hub_commits p ON p.id = c.parent_id
           WHERE c.repo_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 1"#,
        repo_id
    )
    .fetch_optional(db)
    .await?)
}

/// What a new commit stores.
#[derive(Debug, Clone)]
pub struct NewCommit<'a> {
    pub id: Uuid,
    pub repo_id: Uuid,
    pub commit_hash: &'a str,
    pub parent_id: Option<Uuid>,
    pub manifest: Option<&'a str>,
    pub manifest_key: Option<&'a str>,
    pub manifest_bytes: i64,
    pub description: Option<&'a str>,
}

pub async fn insert_commit(
    db: impl PgExecutor<'_>,
    commit: &NewCommit<'_>,
) -> Result<DateTime<Utc>, DbError> {
    Ok(sqlx::query_scalar!(
        "WITH touched AS (UPDATE hub_repos SET updated_at = now() WHERE id = $2)
         INSERT INTO hub_commits (id, repo_id, commit_hash, parent_id, manifest, manifest_key,
                                  manifest_bytes, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at",
        commit.id,
        commit.repo_id,
        commit.commit_hash,
        commit.parent_id,
        commit.manifest,
        commit.manifest_key,
        commit.manifest_bytes,
        commit.description
    )
    .fetch_one(db)
    .await?)
}

/// A page of a repository's commits, newest first (the repository's `num_commits` counts
/// them all).
pub async fn list_commits(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    offset: i64,
    limit: i64,
) -> Result<Vec<Commit>, DbError> {
    Ok(sqlx::query_as!(
        Commit,
        r#"SELECT c.id, c.repo_id, c.commit_hash, c.parent_id, p.commit_hash AS "parent_commit_hash?",
                  c.manifest, c.manifest_key, c.manifest_bytes, c.description, c.num_views,
                  c.num_downloads, c.created_at
           FROM hub_commits c LEFT JOIN hub_commits p ON p.id = c.parent_id
           WHERE c.repo_id = $1 ORDER BY c.created_at DESC, c.id DESC OFFSET $2 LIMIT $3"#,
        repo_id,
        offset,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The commits whose hash starts with `prefix` (a full hash is its own prefix); at most two,
/// enough to tell an ambiguous prefix.
pub async fn commits_by_hash_prefix(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    prefix: &str,
) -> Result<Vec<Commit>, DbError> {
    Ok(sqlx::query_as!(
        Commit,
        r#"SELECT c.id, c.repo_id, c.commit_hash, c.parent_id, p.commit_hash AS "parent_commit_hash?",
                  c.manifest, c.manifest_key, c.manifest_bytes, c.description, c.num_views,
                  c.num_downloads, c.created_at
           FROM hub_commits c LEFT JOIN hub_commits p ON p.id = c.parent_id
           WHERE c.repo_id = $1 AND starts_with(c.commit_hash, $2)
           ORDER BY c.commit_hash = $2 DESC, c.created_at DESC LIMIT 2"#,
        repo_id,
        prefix
    )
    .fetch_all(db)
    .await?)
}

pub async fn commit_by_id(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    commit_id: Uuid,
) -> Result<Option<Commit>, DbError> {
    Ok(sqlx::query_as!(
        Commit,
        r#"SELECT c.id, c.repo_id, c.commit_hash, c.parent_id, p.commit_hash AS "parent_commit_hash?",
                  c.manifest, c.manifest_key, c.manifest_bytes, c.description, c.num_views,
                  c.num_downloads, c.created_at
           FROM hub_commits c LEFT JOIN hub_commits p ON p.id = c.parent_id
           WHERE c.repo_id = $1 AND c.id = $2"#,
        repo_id,
        commit_id
    )
    .fetch_optional(db)
    .await?)
}

/// A tag on a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub id: Uuid,
    pub repo_id: Uuid,
    pub tag_name: String,
    pub commit_id: Uuid,
    pub commit_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Points `tag_name` at `commit_id`, creating the tag or moving it.
pub async fn set_tag(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    tag_name: &str,
    commit_id: Uuid,
) -> Result<Tag, DbError> {
    Ok(sqlx::query_as!(
        Tag,
        r#"WITH tag AS (
             INSERT INTO hub_tags (id, repo_id, tag_name, commit_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repo_id, tag_name) DO UPDATE
               SET commit_id = EXCLUDED.commit_id, updated_at = now()
             RETURNING id, repo_id, tag_name, commit_id, created_at, updated_at
           )
           SELECT t.id AS "id!", t.repo_id AS "repo_id!", t.tag_name AS "tag_name!",
                  t.commit_id AS "commit_id!", c.commit_hash AS "commit_hash!",
                  t.created_at AS "created_at!", t.updated_at AS "updated_at!"
           FROM tag t JOIN hub_commits c ON c.id = t.commit_id"#,
        Uuid::now_v7(),
        repo_id,
        tag_name,
        commit_id
    )
    .fetch_one(db)
    .await?)
}

pub async fn list_tags(db: impl PgExecutor<'_>, repo_id: Uuid) -> Result<Vec<Tag>, DbError> {
    Ok(sqlx::query_as!(
        Tag,
        "SELECT t.id, t.repo_id, t.tag_name, t.commit_id, c.commit_hash, t.created_at, t.updated_at
         FROM hub_tags t JOIN hub_commits c ON c.id = t.commit_id
         WHERE t.repo_id = $1 ORDER BY t.tag_name",
        repo_id
    )
    .fetch_all(db)
    .await?)
}

pub async fn get_tag(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    tag_name: &str,
) -> Result<Option<Tag>, DbError> {
    Ok(sqlx::query_as!(
        Tag,
        "SELECT t.id, t.repo_id, t.tag_name, t.commit_id, c.commit_hash, t.created_at, t.updated_at
         FROM hub_tags t JOIN hub_commits c ON c.id = t.commit_id
         WHERE t.repo_id = $1 AND t.tag_name = $2",
        repo_id,
        tag_name
    )
    .fetch_optional(db)
    .await?)
}

pub async fn delete_tag(
    db: impl PgExecutor<'_>,
    repo_id: Uuid,
    tag_name: &str,
) -> Result<bool, DbError> {
    let deleted = sqlx::query!(
        "DELETE FROM hub_tags WHERE repo_id = $1 AND tag_name = $2",
        repo_id,
        tag_name
    )
    .execute(db)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Likes (or unlikes) a repository for one liker; returns its number of likes afterwards.
pub async fn set_like(
    db: &mut sqlx::PgConnection,
    repo_id: Uuid,
    liker_id: Uuid,
    like: bool,
) -> Result<i64, DbError> {
    if like {
        sqlx::query!(
            "INSERT INTO hub_likes (repo_id, liker_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            repo_id,
            liker_id
        )
        .execute(&mut *db)
        .await?;
    } else {
        sqlx::query!(
            "DELETE FROM hub_likes WHERE repo_id = $1 AND liker_id = $2",
            repo_id,
            liker_id
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM hub_likes WHERE repo_id = $1"#,
        repo_id
    )
    .fetch_one(&mut *db)
    .await?)
}
