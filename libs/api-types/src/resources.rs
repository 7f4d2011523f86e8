//! The resources the API answers with, one type each, serialised the same wherever they
//! appear. Field names and shapes are the LangSmith wire format the SDKs read; timestamps are
//! naive UTC with microseconds ([`crate::timestamp`]), `2025-03-01T10:15:00.123456`: not RFC 3339
//! (no zone), so the document states their pattern rather than `format: date-time`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::timestamp;

/// A dataset, with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dataset {
    pub id: Uuid,
    /// The workspace.
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// `kv`, `llm` or `chat`.
    pub data_type: String,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub modified_at: DateTime<Utc>,
    pub example_count: i64,
    /// Experiments run on it.
    pub session_count: i64,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub last_session_start_time: Option<DateTime<Utc>>,
    /// A JSON Schema every example's inputs must satisfy.
    pub inputs_schema_definition: Option<Value>,
    /// A JSON Schema (an object or a boolean).
    pub outputs_schema_definition: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub transformations: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub externally_managed: bool,
    pub baseline_experiment_id: Option<Uuid>,
}

/// A signed link to one of an example's attachments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentUrl {
    pub presigned_url: String,
    pub mime_type: Option<String>,
}

/// An example of a dataset, as of the version read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Example {
    pub id: Uuid,
    pub dataset_id: Uuid,
    #[schema(value_type = Object)]
    pub inputs: Value,
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub modified_at: DateTime<Utc>,
    pub source_run_id: Option<Uuid>,
    /// `attachment.{name}` to a signed link; null when it has none.
    pub attachment_urls: Option<BTreeMap<String, AttachmentUrl>>,
}

/// An example with the runs of the compared experiments on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExampleWithRuns {
    #[serde(flatten)]
    pub example: Example,
    /// The experiments' runs on this example (with `preview`, only the preview fields).
    #[schema(value_type = Vec<crate::runs::Run>)]
    pub runs: Vec<crate::runs::SelectedRun>,
}

/// A piece of feedback on a run, a trace or a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Feedback {
    pub id: Uuid,
    pub key: String,
    pub score: Option<f64>,
    /// Any JSON value (a category, a label, a text).
    pub value: Value,
    pub comment: Option<String>,
    pub correction: Value,
    pub run_id: Option<Uuid>,
    pub trace_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// Always null: upstream's run start time, not recorded with feedback here.
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub start_time: Option<String>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub modified_at: Option<DateTime<Utc>>,
    /// Who or what gave it: `{"type": "api" | "app" | "model", "metadata": {…}, …}`.
    #[schema(value_type = Object)]
    pub feedback_source: Value,
    pub feedback_group_id: Option<Uuid>,
    pub comparative_experiment_id: Option<Uuid>,
    pub extra: Value,
    /// Whether it is on a root run.
    pub is_root: bool,
    /// Always null (upstream's feedback threads).
    pub feedback_thread_id: Option<Uuid>,
}

/// The price of a model's tokens, matched by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelPrice {
    pub id: Uuid,
    /// The workspace; null for the stack's defaults.
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub provider: Option<String>,
    /// A regular expression matched against the run's model name.
    pub match_pattern: String,
    pub prompt_cost_per_million: f64,
    pub completion_cost_per_million: f64,
    /// Higher wins when several patterns match.
    pub priority: i32,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
}

/// An annotation queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnnotationQueue {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
    pub tenant_id: Uuid,
    /// `single` (one reviewer's queue) or `pairwise`.
    pub queue_type: String,
    pub rubric_instructions: Option<String>,
    /// `[{"feedback_key": …, "description": …}, …]`.
    #[schema(value_type = Vec<Object>)]
    pub rubric_items: Value,
    pub default_dataset: Option<Uuid>,
    pub num_reviewers_per_item: i32,
}

/// A run in an annotation queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnnotationQueueItem {
    pub id: Uuid,
    pub run_id: Uuid,
    pub queue_id: Uuid,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub added_at: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub last_reviewed_time: Option<DateTime<Utc>>,
}

/// What a delete answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    pub id: Uuid,
    pub deleted: bool,
}

/// A dataset's public link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetShare {
    pub dataset_id: Uuid,
    pub share_token: Uuid,
}

/// A version of a dataset: the time of a change, with the tags naming it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetVersion {
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub as_of: DateTime<Utc>,
    /// Null when the version has no tag.
    pub tags: Option<Vec<String>>,
}

/// What changed between two versions of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetDiff {
    pub examples_added: Vec<Uuid>,
    pub examples_modified: Vec<Uuid>,
    pub examples_removed: Vec<Uuid>,
}

/// Examples a bulk write or delete touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExampleIds {
    pub count: usize,
    pub example_ids: Vec<Uuid>,
}

/// A pairwise comparison of experiments on a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComparativeExperiment {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// The workspace.
    pub tenant_id: Uuid,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub modified_at: DateTime<Utc>,
    pub reference_dataset_id: Uuid,
    pub experiment_ids: Vec<Uuid>,
    #[schema(value_type = Object)]
    pub extra: Value,
}

/// How many items an annotation queue holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueSize {
    pub size: i64,
}

/// A presigned link that records feedback on a run without an API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackToken {
    pub id: Uuid,
    /// `GET` (with the feedback in the query) or `POST` (with a JSON body) records feedback.
    pub url: String,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub expires_at: DateTime<Utc>,
    pub feedback_key: String,
    pub run_id: Uuid,
}

/// How feedback of one key is given and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackKeyConfig {
    /// This configuration (a key can have more than one).
    pub id: Uuid,
    pub feedback_key: String,
    #[schema(value_type = crate::bodies::FeedbackConfig)]
    pub feedback_config: Value,
    /// The workspace.
    pub tenant_id: Uuid,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub modified_at: DateTime<Utc>,
    pub is_lower_score_better: Option<bool>,
    /// The key's enforced configuration, which takes precedence for the whole workspace.
    pub is_enforced: bool,
    /// The key's first configuration: feedback that names no configuration is checked
    /// against it (unless the key has an enforced one).
    pub is_first: bool,
    /// Deleted (listed only with `include_all_configs`).
    pub is_deleted: bool,
}

/// A confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub message: String,
}

/// The current workspace's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkspaceSettings {
    pub id: Uuid,
    pub display_name: String,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    /// The handle public prompts are listed under.
    pub tenant_handle: Option<String>,
}

/// One feedback token, or a list of them: the answer has the shape of the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FeedbackTokens {
    One(FeedbackToken),
    Many(Vec<FeedbackToken>),
}

/// Examples a multipart write created or updated, and the dataset version it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExamplesWritten {
    pub count: usize,
    pub example_ids: Vec<Uuid>,
    /// The new version; null when nothing was written.
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub as_of: Option<DateTime<Utc>>,
}
