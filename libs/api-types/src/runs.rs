//! Runs and projects as the API answers with them: the SDKs' `Run` (`RunSchema`), pages of runs,
//! run and feedback statistics, and projects (`TracerSession`; `session` on the wire). One type
//! each, serialised the same in `/runs/query`, `GET /runs/{id}`, annotation queue items, dataset
//! comparisons and shared links.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::resources::AttachmentUrl;
use crate::timestamp;

/// A run: one step of a trace (an LLM call, a chain, a tool, a retriever, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub name: String,
    /// `llm`, `chain`, `tool`, `retriever`, `embedding`, `prompt` or `parser`.
    pub run_type: String,
    /// `success`, `error` or `pending`.
    pub status: String,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub end_time: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub inputs: Value,
    pub inputs_preview: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<Value>,
    pub outputs_preview: Option<String>,
    #[schema(value_type = Object)]
    pub extra: Value,
    pub error: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub events: Value,
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub serialized: Option<Value>,
    pub parent_run_id: Option<Uuid>,
    /// Ancestors, root first.
    pub parent_run_ids: Vec<Uuid>,
    /// Descendants in execution order; null where they were not asked for.
    pub child_run_ids: Option<Vec<Uuid>>,
    pub direct_child_run_ids: Option<Vec<Uuid>>,
    pub trace_id: Uuid,
    pub dotted_order: String,
    /// Always null.
    pub trace_min_start_time: Option<String>,
    /// Always null.
    pub trace_max_start_time: Option<String>,
    /// The project.
    pub session_id: Uuid,
    /// Where the web UI shows the run.
    pub app_path: String,
    /// Always 1 (dotted orders give the order).
    pub execution_order: i64,
    pub reference_example_id: Option<Uuid>,
    pub reference_dataset_id: Option<Uuid>,
    /// Feedback on the run by key; null where it was not asked for.
    pub feedback_stats: Option<FeedbackStats>,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[schema(value_type = Option<Object>)]
    pub prompt_token_details: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub completion_token_details: Option<Value>,
    pub total_cost: Option<f64>,
    pub prompt_cost: Option<f64>,
    pub completion_cost: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub prompt_cost_details: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub completion_cost_details: Option<Value>,
    /// The model price the cost was computed from.
    pub price_model_id: Option<Uuid>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub first_token_time: Option<DateTime<Utc>>,
    /// Always null.
    #[schema(value_type = Option<Vec<Object>>)]
    pub messages: Option<Value>,
    /// Always null.
    pub manifest_id: Option<Uuid>,
    /// Always null.
    pub manifest_s3_id: Option<String>,
    /// Always null: payloads are returned inline.
    #[schema(value_type = Option<Object>)]
    pub inputs_s3_urls: Option<Value>,
    /// Always null: payloads are returned inline.
    #[schema(value_type = Option<Object>)]
    pub outputs_s3_urls: Option<Value>,
    /// `attachment.{name}` to a signed download link.
    pub s3_urls: BTreeMap<String, AttachmentUrl>,
    /// Always null.
    pub last_queued_at: Option<String>,
    /// Always null.
    pub in_dataset: Option<bool>,
    /// The token of the run's public link, when it is shared.
    pub share_token: Option<Uuid>,
    /// `shortlived` or `longlived`.
    pub trace_tier: Option<String>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub trace_first_received_at: Option<DateTime<Utc>>,
    /// Always null.
    pub ttl_seconds: Option<i64>,
    /// Whether the trace was moved to the long retention tier (feedback, an annotation queue).
    pub trace_upgrade: bool,
    pub thread_id: Option<String>,
}

/// Statistics of one feedback key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackKeyStats {
    pub n: u64,
    /// Mean score; null when no feedback of the key has one.
    pub avg: Option<f64>,
    pub stdev: Option<f64>,
    pub errors: u64,
    /// Counts of non-score values (categories), by value.
    pub values: BTreeMap<String, u64>,
}

/// Feedback statistics by feedback key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct FeedbackStats(pub BTreeMap<String, FeedbackKeyStats>);

/// Fields returned whatever a query's `select` says.
pub const ALWAYS_SELECTED: [&str; 8] = [
    "id",
    "name",
    "run_type",
    "start_time",
    "trace_id",
    "dotted_order",
    "session_id",
    "status",
];

/// Which fields of a run a query returns: all of them, or its `select` plus
/// [`ALWAYS_SELECTED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Only(Arc<[String]>),
}

impl Selection {
    pub fn from(select: Option<&[String]>) -> Self {
        match select {
            None | Some([]) => Selection::All,
            Some(fields) => Selection::Only(fields.into()),
        }
    }

    pub fn wants(&self, field: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(fields) => {
                ALWAYS_SELECTED.contains(&field) || fields.iter().any(|f| f == field)
            }
        }
    }

    /// Whether `field` was named explicitly (fields that cost extra reads are computed only
    /// then).
    pub fn names(&self, field: &str) -> bool {
        matches!(self, Selection::Only(fields) if fields.iter().any(|f| f == field))
    }
}

/// A run serialised with only the fields its query selected.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedRun {
    pub run: Run,
    pub selection: Selection,
}

impl Serialize for SelectedRun {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.selection == Selection::All {
            return self.run.serialize(serializer);
        }
        crate::select::serialize_fields(&self.run, serializer, |field| self.selection.wants(field))
    }
}

/// Reads a run answered with every field (no `select`): clients of the typed answers.
impl<'de> Deserialize<'de> for SelectedRun {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(SelectedRun {
            run: Run::deserialize(deserializer)?,
            selection: Selection::All,
        })
    }
}

/// Where the next page of a listing starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cursors {
    /// Pass as `cursor` to read the next page; null on the last page.
    pub next: Option<String>,
    /// Always null.
    pub prev: Option<String>,
}

/// A page of runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunsPage {
    #[schema(value_type = Vec<Run>)]
    pub runs: Vec<SelectedRun>,
    pub cursors: Cursors,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub parsed_query: Option<Value>,
}

/// Run statistics over a set of runs (`/runs/stats`) or of a project's traces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunStats {
    pub run_count: u64,
    /// Seconds.
    pub latency_p50: Option<f64>,
    pub latency_p99: Option<f64>,
    /// Seconds to the first streamed token.
    pub first_token_p50: Option<f64>,
    pub first_token_p99: Option<f64>,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub median_tokens: Option<f64>,
    /// Null when no run has a known price.
    pub total_cost: Option<f64>,
    pub prompt_cost: Option<f64>,
    pub completion_cost: Option<f64>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub first_run_start_time: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub last_run_start_time: Option<DateTime<Utc>>,
    /// The share of runs that errored.
    pub error_rate: Option<f64>,
    /// The share of LLM runs that streamed.
    pub streaming_rate: Option<f64>,
    pub feedback_stats: FeedbackStats,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub run_facets: Vec<Value>,
}

/// A project (a tracing project or an experiment; `TracerSession` on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Project {
    pub id: Uuid,
    /// The workspace.
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub start_time: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub end_time: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub extra: Value,
    /// The dataset an experiment ran on.
    pub reference_dataset_id: Option<Uuid>,
    pub default_dataset_id: Option<Uuid>,
    /// `shortlived` or `longlived`.
    pub trace_tier: String,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub last_run_start_time_live: Option<DateTime<Utc>>,
    /// Present with `include_stats=true`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = optional_project_stats)]
    pub stats: Option<ProjectStats>,
}

/// The fields of [`ProjectStats`], none of them required: a project has them only when read
/// with `include_stats=true`.
fn optional_project_stats() -> utoipa::openapi::schema::Schema {
    use utoipa::PartialSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema};
    let mut object = ObjectBuilder::new();
    for schema in [RunStats::schema(), ProjectStats::schema()] {
        let parts = match schema {
            RefOr::T(Schema::AllOf(all)) => all.items,
            other => vec![other],
        };
        for part in parts {
            if let RefOr::T(Schema::Object(part)) = part {
                for (name, property) in part.properties {
                    object = object.property(name, property);
                }
            }
        }
    }
    Schema::Object(object.build())
}

/// A project's statistics: over its traces, and feedback on it and on its runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProjectStats {
    #[serde(flatten)]
    pub runs: RunStats,
    /// Feedback given on the project itself.
    pub session_feedback_stats: FeedbackStats,
    /// Always null.
    pub test_run_number: Option<i64>,
}

/// Threads of a project (`POST /runs/group`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunGroups {
    pub groups: Vec<RunGroup>,
    /// Threads in the project within the time range.
    pub total: u64,
}

/// One thread: the traces sharing a `thread_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunGroup {
    /// The thread id.
    pub group_key: String,
    pub thread_id: String,
    /// A filter selecting the thread's runs.
    pub filter: String,
    /// Traces in the thread.
    pub count: u64,
    /// Runs in the thread.
    pub run_count: u64,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub min_start_time: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "timestamp::serialize_option",
        deserialize_with = "timestamp::deserialize_option",
        default
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub max_start_time: Option<DateTime<Utc>>,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Null when no run has a known price.
    pub total_cost: Option<f64>,
    /// Seconds.
    pub latency_p50: Option<f64>,
    pub latency_p99: Option<f64>,
    pub error_rate: Option<f64>,
    /// Always null.
    pub feedback_stats: Option<FeedbackStats>,
    /// The first trace's inputs.
    pub first_inputs: Value,
    /// The last trace's outputs.
    pub last_outputs: Value,
}

/// A run's public link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunShare {
    pub run_id: Uuid,
    pub share_token: Uuid,
}

/// A run in an annotation queue: the run, plus the item's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueRun {
    #[serde(flatten)]
    pub run: Run,
    /// The item's id.
    pub queue_run_id: Uuid,
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

/// Run statistics over time (`POST /runs/timeseries`): one series per group, each a list of the
/// buckets that hold runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunTimeseries {
    /// The bucket width.
    pub stride_seconds: i64,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String)]
    pub start_time: DateTime<Utc>,
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String)]
    pub end_time: DateTime<Utc>,
    /// What the series are split by (`name`, `run_type`, `tag`, `metadata`), or null.
    pub group_by: Option<String>,
    /// The busiest groups, most runs first.
    pub series: Vec<RunSeries>,
    /// Groups left out beyond the busiest ones.
    pub groups_left_out: usize,
    /// Average feedback scores over the same runs (not split by group), one series per key.
    pub feedback: Vec<FeedbackSeries>,
}

/// The average scores of one feedback key per bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackSeries {
    pub key: String,
    pub points: Vec<FeedbackSeriesPoint>,
}

/// One bucket of a feedback series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackSeriesPoint {
    /// The bucket's start (runs started in it carry the feedback).
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String)]
    pub start_time: DateTime<Utc>,
    /// Scored feedback records.
    pub n: u64,
    pub avg: f64,
}

/// The buckets of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunSeries {
    /// The group's value (a run name, a run type, a tag, a metadata value; `""` for runs
    /// without one); null when the series are not split.
    pub group: Option<String>,
    pub run_count: u64,
    pub points: Vec<RunSeriesPoint>,
}

/// One bucket of a series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunSeriesPoint {
    /// The bucket's start.
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    #[schema(value_type = String)]
    pub start_time: DateTime<Utc>,
    pub run_count: u64,
    pub error_count: u64,
    pub error_rate: f64,
    /// Seconds, over the runs that ended.
    pub latency_p50: Option<f64>,
    pub latency_p99: Option<f64>,
    pub total_tokens: i64,
    /// Null when no run in the bucket has a known price.
    pub total_cost: Option<f64>,
}
