//! What the API appends to the ingestion stream and the worker folds into ClickHouse: one
//! `IngestBatch` per shard of an accepted request, every run operation already validated, its
//! project resolved, and its large payloads and attachments already in object storage.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

/// The stream entry. `v` versions the shape; the worker dead-letters versions it does not know.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestBatch {
    pub v: u8,
    pub tenant_id: Uuid,
    pub organization_id: Uuid,
    /// When the API accepted the request (µs since the epoch).
    pub received_us: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunOp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<FeedbackOp>,
}

/// The first entry shape, still appended for every entry that needs nothing newer.
pub const BATCH_VERSION: u8 = 1;

/// The shape of entries holding a field kept in object storage (the `*_stored` fields of
/// [`RunOp`]). A worker that only knows version 1 would drop those fields, so it dead-letters
/// such entries instead; they can be redriven once it is upgraded.
pub const STORED_FIELDS_VERSION: u8 = 2;

/// Every entry shape this build's worker reads.
pub const KNOWN_BATCH_VERSIONS: [u8; 2] = [BATCH_VERSION, STORED_FIELDS_VERSION];

impl IngestBatch {
    /// The oldest shape that carries these operations.
    pub fn version_for(runs: &[RunOp]) -> u8 {
        if runs.iter().any(RunOp::has_stored_fields) {
            STORED_FIELDS_VERSION
        } else {
            BATCH_VERSION
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A create: fills what is unset and never overwrites what an update set.
    Post,
    /// An update: newer non-null values win.
    Patch,
}

/// One create or update of one run. `None` means "not sent" (or sent as `null`): unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOp {
    pub kind: OpKind,
    pub id: Uuid,
    /// Whether the run part itself (`post.<id>` / `patch.<id>`) was present; field parts can
    /// arrive alone.
    #[serde(default)]
    pub has_run_part: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_us: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_us: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dotted_order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_example_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialized: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The whole `extra`, when it was too large to travel inline; `extra` is then unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_stored: Option<StoredField>,
    /// The `events`, when too large to travel inline; `events` is then unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_stored: Option<StoredField>,
    /// The `serialized`, when too large to travel inline; `serialized` is then unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialized_stored: Option<StoredField>,
    /// The whole `error`, when too large to travel inline; `error` then holds its beginning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_stored: Option<StoredField>,
    /// With `events_stored`: when the first `new_token` event happened (µs), read from the
    /// events before they left the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_time_us: Option<i64>,
}

impl RunOp {
    /// Whether a free-form field of this operation is kept in object storage.
    pub fn has_stored_fields(&self) -> bool {
        self.extra_stored.is_some()
            || self.events_stored.is_some()
            || self.serialized_stored.is_some()
            || self.error_stored.is_some()
    }

    pub fn new(kind: OpKind, id: Uuid) -> Self {
        RunOp {
            kind,
            id,
            has_run_part: false,
            session_id: None,
            name: None,
            run_type: None,
            start_time_us: None,
            end_time_us: None,
            trace_id: None,
            parent_run_id: None,
            dotted_order: None,
            reference_example_id: None,
            tags: None,
            error: None,
            inputs: None,
            outputs: None,
            extra: None,
            events: None,
            serialized: None,
            attachments: Vec::new(),
            extra_stored: None,
            events_stored: None,
            serialized_stored: None,
            error_stored: None,
            first_token_time_us: None,
        }
    }
}

/// An `inputs` or `outputs` object: inline JSON, or a key in object storage for large ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    Inline(Box<RawValue>),
    Stored(StoredPayload),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPayload {
    pub key: String,
    pub size: u64,
    /// The listing preview, taken before the payload left the request.
    pub preview: String,
    /// Its top-level fields for `input_key`/`input_value` filters ([`crate::merge::top_level_fields`]).
    #[serde(default)]
    pub fields: Vec<(String, String)>,
}

/// A free-form field (`extra`, `events`, `serialized`, `error`) written to object storage
/// before the request was acknowledged, because it was too large to travel inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredField {
    pub key: String,
    pub size: u64,
}

/// An attachment already written to object storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub key: String,
    pub mime_type: String,
    pub size: u64,
}

/// A feedback record from a multipart `feedback.<id>` part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedbackOp {
    pub id: Uuid,
    pub trace_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_source: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_config: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparative_experiment_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_group_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Box<RawValue>>,
    pub created_at_us: i64,
    pub modified_at_us: i64,
}

impl FeedbackOp {
    /// The stored row of this feedback in `tenant_id`: one version, as of its modification.
    pub fn to_row(&self, tenant_id: Uuid) -> ironsmith_analytics::runs::FeedbackRow {
        let raw =
            |v: &Option<Box<RawValue>>| v.as_ref().map(|v| v.get().to_owned()).unwrap_or_default();
        ironsmith_analytics::runs::FeedbackRow {
            tenant_id,
            trace_id: self.trace_id,
            id: self.id,
            run_id: self.run_id,
            session_id: self.session_id,
            key: self.key.clone(),
            score: self.score,
            value: raw(&self.value),
            comment: self.comment.clone().unwrap_or_default(),
            correction: raw(&self.correction),
            feedback_source: raw(&self.feedback_source),
            feedback_config: raw(&self.feedback_config),
            comparative_experiment_id: self.comparative_experiment_id,
            feedback_group_id: self.feedback_group_id,
            extra: raw(&self.extra),
            created_at_us: self.created_at_us,
            modified_at_us: self.modified_at_us,
            version: self.modified_at_us.max(0) as u64,
            is_deleted: 0,
        }
    }

    /// The operation that stores `row` again (the inverse of `to_row`).
    pub fn from_row(row: &ironsmith_analytics::runs::FeedbackRow) -> Self {
        let raw = |text: &str| -> Option<Box<RawValue>> {
            (!text.is_empty())
                .then(|| RawValue::from_string(text.to_owned()).ok())
                .flatten()
        };
        FeedbackOp {
            id: row.id,
            trace_id: row.trace_id,
            run_id: row.run_id,
            session_id: row.session_id,
            key: row.key.clone(),
            score: row.score,
            value: raw(&row.value),
            comment: (!row.comment.is_empty()).then(|| row.comment.clone()),
            correction: raw(&row.correction),
            feedback_source: raw(&row.feedback_source),
            feedback_config: raw(&row.feedback_config),
            comparative_experiment_id: row.comparative_experiment_id,
            feedback_group_id: row.feedback_group_id,
            extra: raw(&row.extra),
            created_at_us: row.created_at_us,
            modified_at_us: row.modified_at_us,
        }
    }
}
