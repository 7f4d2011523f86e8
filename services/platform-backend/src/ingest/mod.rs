//! Trace ingestion: `GET /info`, `POST /runs`, `PATCH /runs/{id}`,
//! `POST /runs/batch`, `POST /runs/multipart` and OTLP/HTTP at `/otel` and `/otel/v1/traces`.
//!
//! Every endpoint does the same few things before its 202: read the body within its caps
//! (`body`), parse it into run operations (`multipart`, `otel`, or the JSON forms here),
//! validate every operation (one bad run refuses the request, so nothing is half written),
//! resolve projects, charge the organisation's hourly usage, enforce the per-trace cap, write
//! large payloads and attachments to object storage, and append the operations to the sharded
//! ingestion stream in one atomic step. Only then is the request acknowledged. Merging and
//! indexing happen in the queue worker.

pub mod body;
pub mod error;
pub mod fuzzing;
pub mod info;
pub mod multipart;
pub mod otel;
mod projects;
pub mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use ironsmith_auth::AuthContext;
use ironsmith_auth::Authenticator;
use ironsmith_config::Config;
use ironsmith_queue::{INGEST_STREAM, Redis, ShardedStream};
use ironsmith_runs::op::BATCH_VERSION;
use ironsmith_runs::{
    Attachment, FeedbackOp, IngestBatch, OpKind, Payload, RunOp, StoredField, StoredPayload, merge,
};
use ironsmith_storage::ObjectStorage;
use uuid::Uuid;

use self::error::IngestError;
use self::multipart::PendingAttachment;
use self::projects::ProjectCache;

pub use routes::router;

/// What a request carries once parsed.
#[derive(Default)]
pub struct Request {
    /// Operations, each with the project name it named (if any).
    pub ops: Vec<(RunOp, Option<String>)>,
    pub attachments: Vec<PendingAttachment>,
    pub feedback: Vec<FeedbackOp>,
}

impl From<multipart::Parsed> for Request {
    fn from(parsed: multipart::Parsed) -> Self {
        Request {
            ops: parsed.ops,
            attachments: parsed.attachments,
            feedback: parsed.feedback,
        }
    }
}

/// The ingestion pipeline's handles.
#[derive(Clone)]
pub struct Ingestor {
    config: Arc<Config>,
    stream: ShardedStream,
    storage: ObjectStorage,
    redis: Redis,
    postgres: ironsmith_db::Pool,
    projects: ProjectCache,
    auth: Authenticator,
    decode_budget: body::DecodeBudget,
}

impl Ingestor {
    pub fn new(
        config: Arc<Config>,
        stores: &ironsmith_runtime::Stores,
        auth: Authenticator,
    ) -> Self {
        Ingestor {
            stream: ShardedStream::new(stores.redis.clone(), INGEST_STREAM, config.ingest.shards),
            storage: stores.storage.clone(),
            redis: stores.redis.clone(),
            postgres: stores.postgres.clone(),
            projects: ProjectCache::new(stores.postgres.clone()),
            decode_budget: body::DecodeBudget::new(&config.ingest),
            config,
            auth,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Reads a request body within the ingestion caps and the process's decoding budget.
    pub async fn read_body(
        &self,
        headers: &axum::http::HeaderMap,
        body: axum::body::Body,
    ) -> Result<Bytes, IngestError> {
        body::read(headers, body, &self.config.ingest, &self.decode_budget).await
    }

    /// Validates, stores and enqueues `request`, or refuses all of it. `require_trace`: creates
    /// must carry `trace_id` and `dotted_order` (batch, multipart).
    pub async fn accept(
        &self,
        auth: &AuthContext,
        mut request: Request,
        require_trace: bool,
    ) -> Result<(), IngestError> {
        let limits = &self.config.ingest;
        // Every operation, feedback and attachment is work (and attachments an object write):
        // all count toward the per-request cap.
        let count = request.ops.len() + request.feedback.len() + request.attachments.len();
        if count == 0 {
            return Ok(());
        }
        if count > limits.max_runs_per_request {
            return Err(IngestError::TooLarge(format!(
                "{count} operations, feedback and attachments in one request; at most {} are \
                 accepted",
                limits.max_runs_per_request
            )));
        }
        for (op, _) in &mut request.ops {
            ironsmith_runs::wire::validate(op, require_trace)?;
            check_field_sizes(op, limits)?;
        }
        for attachment in &request.attachments {
            if attachment.bytes.len() > limits.max_payload_bytes {
                return Err(IngestError::TooLarge(format!(
                    "attachment '{}' has {} bytes; an attachment may have at most {} \
                     (ingest.max_payload_bytes)",
                    attachment.name,
                    attachment.bytes.len(),
                    limits.max_payload_bytes
                )));
            }
        }
        if !request.feedback.is_empty() {
            // Feedback answers to its key's configuration as `POST /feedback` does: one that
            // breaks it refuses the request, like any other invalid part.
            ironsmith_runs::feedback::enforce_configs(
                &self.postgres,
                auth.workspace_id,
                &request.feedback,
            )
            .await?;
        }
        self.resolve_projects(auth.workspace_id, &mut request.ops)
            .await?;

        let bytes = request
            .ops
            .iter()
            .map(|(op, _)| op_bytes(op))
            .chain(request.attachments.iter().map(|a| a.bytes.len() as u64))
            .sum::<u64>();
        let traces = self.charge_traces(auth.workspace_id, &request.ops).await?;
        let events = request.ops.len() as u64;
        let limiter = self.auth.limiter();
        let charge = match limiter
            .charge_usage(auth.organization_id, &auth.limits, events, bytes)
            .await
        {
            Ok(charge) => charge,
            Err(error) => {
                self.uncharge_traces(&traces).await;
                return Err(error.into());
            }
        };
        // From here on, a failure takes back what was charged and removes what was written:
        // only a durable append is billed, and a refused request leaves nothing behind.
        let mut written = Vec::new();
        let stored = async {
            self.offload(auth.workspace_id, &mut request, &mut written)
                .await?;
            self.enqueue(auth, request).await
        }
        .await;
        if stored.is_err() {
            self.uncharge_traces(&traces).await;
            limiter.refund_usage(&charge).await;
            self.remove_objects(written);
        }
        stored
    }

    /// Deletes the objects a refused request wrote, in the background so the refusal is not
    /// held up (object storage may be what failed). What cannot be deleted is logged with its
    /// key and stays behind.
    fn remove_objects(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let storage = self.storage.clone();
        let concurrency = self.config.ingest.object_write_concurrency.max(1);
        tokio::spawn(async move {
            futures::stream::iter(keys)
                .for_each_concurrent(concurrency, |key| {
                    let storage = storage.clone();
                    async move {
                        if let Err(error) = storage.delete(&key).await {
                            tracing::warn!(%error, key, "best effort: could not remove an object of a refused request");
                        }
                    }
                })
                .await;
        });
    }

    async fn resolve_projects(
        &self,
        tenant_id: Uuid,
        ops: &mut [(RunOp, Option<String>)],
    ) -> Result<(), IngestError> {
        for (op, name) in ops.iter_mut() {
            if let Some(name) = name.as_deref() {
                ironsmith_db::projects::check_name(name).map_err(|rule| {
                    IngestError::Unprocessable(format!(
                        "run {}: field 'session_name': {rule}",
                        op.id
                    ))
                })?;
                op.session_id = Some(self.projects.by_name(tenant_id, name).await?);
            } else if let Some(id) = op.session_id {
                // The id is not echoed: it may name another workspace's project.
                if !self.projects.exists(tenant_id, id).await? {
                    return Err(IngestError::Unprocessable(format!(
                        "run {}: field 'session_id': no such project in this workspace",
                        op.id
                    )));
                }
            } else if op.kind == OpKind::Post && op.has_run_part {
                op.session_id = Some(self.projects.by_name(tenant_id, "default").await?);
            }
        }
        Ok(())
    }

    /// Counts creates per trace and refuses a request that would take
    /// a trace past `max_runs_per_trace`, leaving the counts as they were. Returns what it
    /// counted, for `uncharge_traces` should the request fail later.
    async fn charge_traces(
        &self,
        tenant_id: Uuid,
        ops: &[(RunOp, Option<String>)],
    ) -> Result<Vec<(String, u64)>, IngestError> {
        let mut per_trace: HashMap<Uuid, u64> = HashMap::new();
        for (op, _) in ops {
            if op.kind == OpKind::Post && op.has_run_part {
                *per_trace.entry(op.trace_id.unwrap_or(op.id)).or_default() += 1;
            }
        }
        if per_trace.is_empty() {
            return Ok(Vec::new());
        }
        let cap = self.config.ingest.max_runs_per_trace;
        let keys: Vec<(String, u64, Uuid)> = per_trace
            .into_iter()
            .map(|(trace, n)| {
                (
                    self.redis
                        .key(&ironsmith_redis::keys::ingest_trace_runs(tenant_id, trace)),
                    n,
                    trace,
                )
            })
            .collect();
        let mut conn = self.redis.connection().await?;
        let mut pipe = redis::pipe();
        for (key, n, _) in &keys {
            pipe.incr(key, *n).expire(key, 2 * 24 * 3600).ignore();
        }
        let totals: Vec<u64> = pipe
            .query_async(&mut conn)
            .await
            .map_err(ironsmith_queue::QueueError::from)?;
        if let Some(((_, _, trace), total)) =
            keys.iter().zip(&totals).find(|(_, total)| **total > cap)
        {
            let mut undo = redis::pipe();
            for (key, n, _) in &keys {
                undo.decr(key, *n).ignore();
            }
            undo.query_async::<()>(&mut conn)
                .await
                .map_err(ironsmith_queue::QueueError::from)?;
            return Err(IngestError::Unprocessable(format!(
                "trace {trace} would hold {total} runs; a trace holds at most {cap}"
            )));
        }
        Ok(keys.into_iter().map(|(key, n, _)| (key, n)).collect())
    }

    /// Takes back what `charge_traces` counted for a request that was not accepted.
    async fn uncharge_traces(&self, counted: &[(String, u64)]) {
        if counted.is_empty() {
            return;
        }
        let result = async {
            let mut conn = self.redis.connection().await?;
            let mut undo = redis::pipe();
            for (key, n) in counted {
                undo.decr(key, *n).ignore();
            }
            undo.query_async::<()>(&mut conn).await?;
            Ok::<(), ironsmith_queue::QueueError>(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "best effort: could not take back the trace counts of a refused request");
        }
    }

    /// Writes large payloads and free-form fields, and every attachment, to object storage,
    /// replacing them in the operations by their keys; `written` collects the keys of the objects written, even when
    /// a later write fails. At most `ingest.object_write_concurrency` writes run at once.
    async fn offload(
        &self,
        tenant_id: Uuid,
        request: &mut Request,
        written: &mut Vec<String>,
    ) -> Result<(), IngestError> {
        let threshold = self.config.ingest.offload_threshold_bytes;
        let mut writes = Vec::new();
        for (op, _) in &mut request.ops {
            writes.extend(offload_fields(tenant_id, op, threshold));
            for (field, slot) in [("inputs", &mut op.inputs), ("outputs", &mut op.outputs)] {
                if let Some(Payload::Inline(json)) = slot
                    && json.get().len() >= threshold
                {
                    let key = format!("runs/{tenant_id}/{}/{field}-{}.json", op.id, Uuid::now_v7());
                    let text = json.get();
                    let stored = StoredPayload {
                        key: key.clone(),
                        size: text.len() as u64,
                        preview: merge::preview_of(text),
                        fields: merge::top_level_fields(text),
                    };
                    writes.push((key, Bytes::copy_from_slice(text.as_bytes())));
                    *slot = Some(Payload::Stored(stored));
                }
            }
        }
        for pending in std::mem::take(&mut request.attachments) {
            let Some((op, _)) = request.ops.get_mut(pending.op) else {
                continue;
            };
            let key = format!("attachments/{tenant_id}/{}/{}", op.id, Uuid::now_v7());
            op.attachments.push(Attachment {
                name: pending.name,
                key: key.clone(),
                mime_type: pending.mime_type,
                size: pending.bytes.len() as u64,
            });
            writes.push((key, pending.bytes));
        }
        let concurrency = self.config.ingest.object_write_concurrency.max(1);
        let mut results =
            futures::stream::iter(writes.into_iter().map(|(key, bytes)| async move {
                let result = self.storage.put(&key, bytes).await;
                (key, result)
            }))
            .buffer_unordered(concurrency);
        let mut failure = None;
        while let Some((key, result)) = results.next().await {
            match result {
                Ok(()) => written.push(key),
                Err(error) => {
                    // A write that failed may still have landed: remove it too.
                    written.push(key);
                    failure.get_or_insert(error);
                }
            }
        }
        match failure {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }

    /// Appends the request's operations to the stream: each run's on the shard of its id, each
    /// feedback's on the shard of its trace, every shard's entry in one atomic step.
    async fn enqueue(&self, auth: &AuthContext, request: Request) -> Result<(), IngestError> {
        let received_us = chrono::Utc::now().timestamp_micros();
        let mut batches: HashMap<u16, IngestBatch> = HashMap::new();
        let empty = || IngestBatch {
            v: BATCH_VERSION,
            tenant_id: auth.workspace_id,
            organization_id: auth.organization_id,
            received_us,
            runs: Vec::new(),
            feedback: Vec::new(),
        };
        for (op, _) in request.ops {
            let shard = self.stream.shard_of(op.id.as_bytes());
            batches.entry(shard).or_insert_with(empty).runs.push(op);
        }
        for feedback in request.feedback {
            let shard = self.stream.shard_of(feedback.trace_id.as_bytes());
            batches
                .entry(shard)
                .or_insert_with(empty)
                .feedback
                .push(feedback);
        }
        let mut entries = Vec::with_capacity(batches.len());
        for (shard, mut batch) in batches {
            batch.v = IngestBatch::version_for(&batch.runs);
            let body = serde_json::to_vec(&batch).map_err(IngestError::internal)?;
            entries.push((shard, body));
        }
        self.stream.append(&entries).await?;
        Ok(())
    }
}

/// Moves `op`'s free-form fields (`extra`, `events`, `serialized`, `error`) of at least
/// `threshold` bytes out of the operation, returning the objects to write. What the worker
/// derives from them travels along: the first token's time from `events`, the beginning of
/// `error`; the worker reads a stored `extra` back itself when it merges it.
fn offload_fields(tenant_id: Uuid, op: &mut RunOp, threshold: usize) -> Vec<(String, Bytes)> {
    let mut writes = Vec::new();
    let id = op.id;
    let mut store = |field: &str, text: &str| {
        let key = format!("runs/{tenant_id}/{id}/{field}-{}.json", Uuid::now_v7());
        writes.push((key.clone(), Bytes::copy_from_slice(text.as_bytes())));
        StoredField {
            key,
            size: text.len() as u64,
        }
    };
    if let Some(extra) = op.extra.take_if(|e| e.get().len() >= threshold) {
        op.extra_stored = Some(store("extra", extra.get()));
    }
    if let Some(events) = op.events.take_if(|e| e.get().len() >= threshold) {
        op.first_token_time_us = merge::first_token_time(events.get());
        op.events_stored = Some(store("events", events.get()));
    }
    if let Some(serialized) = op.serialized.take_if(|s| s.get().len() >= threshold) {
        op.serialized_stored = Some(store("serialized", serialized.get()));
    }
    if let Some(error) = op.error.take_if(|e| e.len() >= threshold) {
        op.error_stored = Some(store("error", &error));
        op.error = Some(merge::error_beginning(&error));
    }
    writes
}

/// Whether `op` passes the wire checks of a request that does not require trace fields.
fn wire_validate(op: &mut RunOp) -> bool {
    ironsmith_runs::wire::validate(op, false).is_ok()
}

/// Refuses a run whose inputs or outputs exceed `ingest.max_payload_bytes`, or whose `extra`,
/// `events`, `serialized` or `error` exceeds `ingest.max_field_bytes` (413, naming the field).
fn check_field_sizes(
    op: &RunOp,
    limits: &ironsmith_config::IngestConfig,
) -> Result<(), IngestError> {
    let payload = |p: &Option<Payload>| match p {
        Some(Payload::Inline(json)) => json.get().len(),
        Some(Payload::Stored(stored)) => usize::try_from(stored.size).unwrap_or(usize::MAX),
        None => 0,
    };
    let raw =
        |r: &Option<Box<serde_json::value::RawValue>>| r.as_ref().map_or(0, |r| r.get().len());
    let payloads = [
        ("inputs", payload(&op.inputs)),
        ("outputs", payload(&op.outputs)),
    ];
    let fields = [
        ("extra", raw(&op.extra)),
        ("events", raw(&op.events)),
        ("serialized", raw(&op.serialized)),
        ("error", op.error.as_ref().map_or(0, String::len)),
    ];
    for (group, cap, setting) in [
        (
            &payloads[..],
            limits.max_payload_bytes,
            "ingest.max_payload_bytes",
        ),
        (
            &fields[..],
            limits.max_field_bytes,
            "ingest.max_field_bytes",
        ),
    ] {
        if let Some((field, size)) = group.iter().find(|(_, size)| *size > cap) {
            return Err(IngestError::TooLarge(format!(
                "run {}: field '{field}' has {size} bytes; at most {cap} are accepted ({setting})",
                op.id
            )));
        }
    }
    Ok(())
}

/// What a run operation counts toward the hourly byte limit: inputs, outputs and metadata.
fn op_bytes(op: &RunOp) -> u64 {
    let payload = |p: &Option<Payload>| match p {
        Some(Payload::Inline(json)) => json.get().len() as u64,
        Some(Payload::Stored(stored)) => stored.size,
        None => 0,
    };
    payload(&op.inputs)
        + payload(&op.outputs)
        + op.extra.as_ref().map_or(0, |e| e.get().len() as u64)
        + op.events.as_ref().map_or(0, |e| e.get().len() as u64)
}
