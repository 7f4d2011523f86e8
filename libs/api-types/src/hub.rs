//! The prompt hub's wire types: repositories, commits, tags and likes, as the SDKs'
//! `push_prompt` / `pull_prompt` family and LangChain's `hub` module read and send them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::timestamp;

/// What a repository holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    Prompt,
    File,
    Agent,
    Skill,
}

/// A repository of versioned prompts (or a directory repository: an agent or a skill).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Repo {
    pub repo_handle: String,
    pub description: String,
    pub readme: String,
    pub id: Uuid,
    /// The owning workspace.
    pub tenant_id: Uuid,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
    pub is_public: bool,
    pub is_archived: bool,
    pub tags: Vec<String>,
    pub original_repo_id: Option<Uuid>,
    pub upstream_repo_id: Option<Uuid>,
    /// The owning workspace's handle; none until it claims one.
    pub owner: Option<String>,
    /// `owner/repo_handle`, with `-` for a workspace without a handle.
    pub full_name: String,
    pub num_likes: i64,
    pub num_downloads: i64,
    pub num_views: i64,
    pub liked_by_auth_user: Option<bool>,
    pub last_commit_hash: Option<String>,
    pub num_commits: i64,
    pub original_repo_full_name: Option<String>,
    pub upstream_repo_full_name: Option<String>,
    /// `prompt`, `file`, `agent` or `skill`.
    pub repo_type: String,
}

/// One repository.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoEnvelope {
    pub repo: Repo,
}

/// A page of repositories and how many match.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReposPage {
    pub repos: Vec<Repo>,
    pub total: i64,
}

/// `POST /repos/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RepoCreate {
    /// Lower-case letters, digits, `-` and `_`, starting with a letter or digit.
    #[schema(min_length = 1, max_length = 128, pattern = "^[a-z0-9][a-z0-9_-]*$")]
    pub repo_handle: String,
    pub description: Option<String>,
    pub readme: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub is_public: bool,
    /// `prompt` (the default), `file`, `agent` or `skill`.
    #[schema(value_type = Option<RepoType>)]
    pub repo_type: Option<String>,
}

/// `PATCH /repos/{owner}/{repo}`: absent fields keep their values.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RepoUpdate {
    pub description: Option<String>,
    pub readme: Option<String>,
    pub tags: Option<Vec<String>>,
    pub is_public: Option<bool>,
    pub is_archived: Option<bool>,
}

/// A commit as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Commit {
    pub id: Uuid,
    pub commit_hash: String,
    /// The manifest exactly as it was pushed.
    #[schema(value_type = Object)]
    pub manifest: Box<RawValue>,
    pub parent_id: Option<Uuid>,
    pub parent_commit_hash: Option<String>,
    pub repo_id: Uuid,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
    pub example_run_ids: Vec<Uuid>,
    pub num_downloads: i64,
    pub num_views: i64,
    pub description: Option<String>,
}

/// A page of commits, newest first, and how many the repository has.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommitsPage {
    pub commits: Vec<Commit>,
    pub total: i64,
}

/// `POST /commits/{owner}/{repo}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CommitCreate {
    /// The commit this one follows: the repository's latest, or none for its first commit
    /// (then the new commit follows whatever is latest).
    pub parent_commit: Option<String>,
    /// The serialised prompt (LangChain's `dumpd` form), stored verbatim.
    #[schema(value_type = Object)]
    pub manifest: Box<RawValue>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// The commit a push made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommitCreated {
    pub commit: Commit,
}

/// A pulled commit: its manifest (without the model unless `include_model=true`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PulledCommit {
    pub commit_hash: String,
    #[schema(value_type = Object)]
    pub manifest: Box<RawValue>,
    pub examples: Vec<serde_json::Value>,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub model_config: Option<serde_json::Value>,
    pub model_provider: Option<String>,
}

/// A name for a commit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommitTag {
    pub id: Uuid,
    pub repo_id: Uuid,
    pub commit_id: Uuid,
    pub commit_hash: String,
    pub tag_name: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
}

/// `POST /repos/{owner}/{repo}/tags`: points the tag at the commit (moving it if it exists).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CommitTagCreate {
    #[schema(min_length = 1, max_length = 128)]
    pub tag_name: String,
    pub commit_id: Uuid,
}

/// `PATCH /repos/{owner}/{repo}/tags/{tag}`: moves the tag.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CommitTagMove {
    pub commit_id: Uuid,
}

/// `POST /likes/{owner}/{repo}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Like {
    pub like: bool,
}

/// A repository's likes after a like or an unlike.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Likes {
    pub likes: i64,
}

/// `POST /settings/handle`: the handle a workspace publishes its public prompts under.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TenantHandle {
    /// Lower-case letters, digits, `-` and `_`, starting with a letter or digit.
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9][a-z0-9_-]*$")]
    pub tenant_handle: String,
}

/// One path of a directory repository (an agent or a skill): a file, or a link to another
/// agent or skill repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DirectoryEntry {
    File {
        content: String,
    },
    Agent {
        repo_handle: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit_id: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit_hash: Option<String>,
    },
    Skill {
        repo_handle: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit_id: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit_hash: Option<String>,
    },
}

/// A directory repository at one commit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Directory {
    pub commit_id: Uuid,
    pub commit_hash: String,
    pub files: std::collections::BTreeMap<String, DirectoryEntry>,
}

/// `POST /v1/platform/hub/repos/{owner}/{repo}/directories/commits`: the paths that change
/// (`null` deletes one); every other path keeps its entry from the parent commit.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DirectoryCommitCreate {
    /// Path to entry (a `DirectoryEntry`), or to `null` to delete the path.
    #[schema(value_type = Object)]
    pub files: std::collections::BTreeMap<String, Option<DirectoryEntry>>,
    /// The latest commit's hash (or at least 8 characters of it); absent to follow whatever
    /// is latest.
    pub parent_commit: Option<String>,
}

/// The commit a directory push made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirectoryCommit {
    pub id: Uuid,
    pub commit_hash: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
}

/// `{"commit": …}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirectoryCommitCreated {
    pub commit: DirectoryCommit,
}

/// A URL that receives a JSON event when a prompt of the workspace changes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PromptWebhook {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    /// Headers sent with every delivery; values are masked for callers who cannot change
    /// prompts.
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// Prompts whose events fire the webhook; empty for every prompt of the workspace.
    pub include_prompts: Vec<Uuid>,
    pub exclude_prompts: Vec<Uuid>,
    /// `commit`, `tag:create`, `tag:update`.
    pub triggers: Vec<String>,
    /// The HMAC-SHA256 key of the `X-Ironsmith-Signature` header; shown once, on creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
}

/// `POST /prompt-webhooks`, and the webhook of `POST /prompt-webhooks/test`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PromptWebhookCreate {
    pub id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Value>,
    pub include_prompts: Option<Vec<Uuid>>,
    pub exclude_prompts: Option<Vec<Uuid>>,
    /// `commit` when absent.
    pub triggers: Option<Vec<String>>,
}

/// `PATCH /prompt-webhooks/{id}`: absent fields keep their values.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PromptWebhookUpdate {
    pub url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Value>,
    pub include_prompts: Option<Vec<Uuid>>,
    pub exclude_prompts: Option<Vec<Uuid>>,
    pub triggers: Option<Vec<String>>,
}

/// `POST /prompt-webhooks/test`: sends `payload` once to `webhook` (unsigned; nothing saved).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PromptWebhookTest {
    pub webhook: PromptWebhookCreate,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// One event sent (or being sent) to a webhook, with the outcome of its latest attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PromptWebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    /// `pending` (to be tried, or tried again), `delivered` or `failed` (every attempt failed).
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
}
