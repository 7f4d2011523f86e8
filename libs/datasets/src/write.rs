//! Creating, updating and deleting examples. One call is one dataset version: attachments are
//! uploaded first, then a single transaction locks the dataset, merges each change into the
//! example's current state, validates it against the dataset's schemas and writes the new
//! revisions. A refused write changes nothing (uploaded attachments of a refused write stay
//! unreferenced in object storage).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use ironsmith_db::examples::{self, Example, ExampleWrite};
use ironsmith_db::{DbError, Pool, datasets};
use ironsmith_http::{ApiError, ValidationIssue};
use ironsmith_storage::{ObjectStorage, StorageError};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::schema;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("Dataset not found")]
    DatasetNotFound,
    #[error("Example not found")]
    ExampleNotFound,
    /// The client's data is wrong; `field` names where.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("object storage")]
    Storage(#[from] StorageError),
}

impl From<WriteError> for ApiError {
    /// 404 for a missing dataset or example, 422 naming the failing path, 409 for a conflict.
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::DatasetNotFound => ApiError::NotFound("Dataset not found".into()),
            WriteError::ExampleNotFound => ApiError::NotFound("Example not found".into()),
            WriteError::Invalid { field, message } => {
                ApiError::Unprocessable(vec![ValidationIssue {
                    loc: std::iter::once("body".to_owned())
                        .chain(
                            field
                                .split('/')
                                .filter(|p| !p.is_empty())
                                .map(str::to_owned),
                        )
                        .collect(),
                    msg: format!("{field}: {message}"),
                    kind: "value_error".into(),
                }])
            }
            WriteError::Conflict(message) => ApiError::Conflict(message),
            WriteError::Db(error) => error.into(),
            WriteError::Storage(error) => error.into(),
        }
    }
}

impl WriteError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        WriteError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A file to attach, under `name`.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub name: String,
    pub mime_type: String,
    pub bytes: Bytes,
}

/// `attachments_operations` of an update.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AttachmentOps {
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    #[serde(default)]
    pub retain: Vec<String>,
}

/// A change to one top-level metadata key.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataOp {
    /// Replaces the value at the key.
    Set { key: String, value: Value },
    /// Adds the values not yet in the list at the key.
    ArrayAdd { key: String, values: Vec<String> },
    /// Removes the values from the list at the key.
    ArrayRemove { key: String, values: Vec<String> },
}

impl MetadataOp {
    /// Applies the change to `metadata`. A list operation on a value that is not a list
    /// starts from an empty list, except on `dataset_split`, which starts from `["base"]` (an
    /// example without splits is in the base split).
    pub fn apply(&self, metadata: &mut Map<String, Value>) {
        let list = |metadata: &Map<String, Value>, key: &str| -> Vec<Value> {
            match metadata.get(key) {
                Some(Value::Array(items)) => items.clone(),
                _ if key == "dataset_split" => vec![json!("base")],
                _ => Vec::new(),
            }
        };
        match self {
            MetadataOp::Set { key, value } => {
                metadata.insert(key.clone(), value.clone());
            }
            MetadataOp::ArrayAdd { key, values } => {
                let mut items = list(metadata, key);
                for value in values {
                    let value = json!(value);
                    if !items.contains(&value) {
                        items.push(value);
                    }
                }
                metadata.insert(key.clone(), Value::Array(items));
            }
            MetadataOp::ArrayRemove { key, values } => {
                let mut items = list(metadata, key);
                items.retain(|item| !values.iter().any(|v| item.as_str() == Some(v)));
                metadata.insert(key.clone(), Value::Array(items));
            }
        }
    }
}

/// What a client sends for one example. On update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ExampleChange {
    pub id: Uuid,
    pub inputs: Option<Value>,
    pub outputs: Option<Value>,
    /// Replaces the metadata when given.
    pub metadata: Option<Value>,
    /// Stored as `metadata.dataset_split`.
    pub split: Option<Vec<String>>,
    pub source_run_id: Option<Uuid>,
    pub created_at: Option<DateTime<Utc>>,
    pub attachments: Vec<NewAttachment>,
    pub attachment_ops: Option<AttachmentOps>,
    /// Changes to single metadata keys, applied in order after `metadata` and `split`, to the
    /// example's state as the write's transaction reads it (so concurrent changes to other
    /// keys, or other values of a list, are kept).
    pub metadata_ops: Vec<MetadataOp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// New examples (an id already in the dataset is replaced, so a retried upload is harmless).
    Create,
    /// Changes to existing examples of the dataset.
    Update,
}

/// The version a write made and the examples it wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub as_of: DateTime<Utc>,
    pub ids: Vec<Uuid>,
}

/// Where an example attachment is stored. Each upload gets a new object, so earlier versions
/// keep theirs; the key stays short (some S3-compatible servers map keys to file names).
fn object_key(tenant_id: Uuid, example_id: Uuid) -> String {
    format!("examples/{tenant_id}/{example_id}/{}", Uuid::now_v7())
}

/// Writes `changes` to the dataset as one new version.
pub async fn write(
    pool: &Pool,
    storage: &ObjectStorage,
    tenant_id: Uuid,
    dataset_id: Uuid,
    mode: Mode,
    changes: Vec<ExampleChange>,
) -> Result<Written, WriteError> {
    for change in &changes {
        check_shapes(change)?;
    }
    // Nothing is uploaded for a dataset the caller cannot write to.
    if datasets::get(pool, tenant_id, dataset_id).await?.is_none() {
        return Err(WriteError::DatasetNotFound);
    }
    // Upload before the transaction, so the dataset lock is not held across object storage; a
    // write that then fails removes what it uploaded.
    let mut uploaded: HashMap<Uuid, Map<String, Value>> = HashMap::new();
    let mut keys = Vec::new();
    let uploads = upload(storage, tenant_id, &changes, &mut uploaded, &mut keys).await;
    let result = match uploads {
        Ok(()) => record(pool, tenant_id, dataset_id, mode, changes, uploaded).await,
        Err(error) => Err(error),
    };
    if result.is_err() {
        remove(storage, &keys).await;
    }
    result
}

/// Uploads every attachment of `changes` (a few at a time), noting each object in `uploaded`
/// (by example) and its key in `keys`, even when a later upload fails.
async fn upload(
    storage: &ObjectStorage,
    tenant_id: Uuid,
    changes: &[ExampleChange],
    uploaded: &mut HashMap<Uuid, Map<String, Value>>,
    keys: &mut Vec<String>,
) -> Result<(), WriteError> {
    // Owned jobs: (example, name, mime type, bytes, key).
    let jobs: Vec<(Uuid, String, String, Bytes, String)> = changes
        .iter()
        .flat_map(|change| {
            change.attachments.iter().map(|attachment| {
                (
                    change.id,
                    attachment.name.clone(),
                    attachment.mime_type.clone(),
                    attachment.bytes.clone(),
                    object_key(tenant_id, change.id),
                )
            })
        })
        .collect();
    let mut results = futures::stream::iter(jobs.into_iter().map(
        |(example, name, mime_type, bytes, key)| async move {
            let result = storage.put(&key, bytes).await;
            (example, name, mime_type, key, result)
        },
    ))
    .buffer_unordered(UPLOAD_CONCURRENCY);
    let mut failure = None;
    while let Some((example, name, mime_type, key, result)) = results.next().await {
        keys.push(key.clone());
        match result {
            Ok(()) => {
                uploaded
                    .entry(example)
                    .or_default()
                    .insert(name, json!({"key": key, "mime_type": mime_type}));
            }
            Err(error) => {
                failure.get_or_insert(error);
            }
        }
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// Best effort: deletes objects a failed write uploaded; what cannot be deleted is logged.
async fn remove(storage: &ObjectStorage, keys: &[String]) {
    for key in keys {
        if let Err(error) = storage.delete(key).await {
            tracing::warn!(%error, key, "best effort: could not remove an attachment of a failed example write");
        }
    }
}

/// Attachments one write uploads at once.
const UPLOAD_CONCURRENCY: usize = 8;

/// Records the new version in one transaction, under the dataset's lock.
async fn record(
    pool: &Pool,
    tenant_id: Uuid,
    dataset_id: Uuid,
    mode: Mode,
    changes: Vec<ExampleChange>,
    mut uploaded: HashMap<Uuid, Map<String, Value>>,
) -> Result<Written, WriteError> {
    let mut tx = pool.begin().await.map_err(DbError::from)?;
    let (dataset, as_of) = datasets::begin_write(&mut tx, tenant_id, dataset_id)
        .await?
        .ok_or(WriteError::DatasetNotFound)?;
    let ids: Vec<Uuid> = changes.iter().map(|c| c.id).collect();
    let current: HashMap<Uuid, Example> = examples::current(&mut *tx, tenant_id, &ids)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mut writes = Vec::with_capacity(changes.len());
    for change in changes {
        let existing = current.get(&change.id);
        if existing.is_some_and(|e| e.dataset_id != dataset_id) {
            return Err(WriteError::Conflict(format!(
                "Example {} belongs to another dataset",
                change.id
            )));
        }
        if mode == Mode::Update && existing.is_none() {
            return Err(WriteError::ExampleNotFound);
        }
        let new_files = uploaded.remove(&change.id).unwrap_or_default();
        let write = merge(change, existing, new_files)?;
        if let Some(schema) = &dataset.inputs_schema {
            schema::validate(schema, &write.inputs, "inputs").map_err(violation)?;
        }
        if let (Some(schema), Some(outputs)) = (&dataset.outputs_schema, &write.outputs) {
            schema::validate(schema, outputs, "outputs").map_err(violation)?;
        }
        writes.push(write);
    }
    examples::put(&mut tx, tenant_id, dataset_id, as_of, &writes)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                WriteError::Conflict("An example with this id already exists".into())
            } else {
                e.into()
            }
        })?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(Written { as_of, ids })
}

fn violation(v: schema::Violation) -> WriteError {
    WriteError::invalid(v.path, v.message)
}

fn check_shapes(change: &ExampleChange) -> Result<(), WriteError> {
    if change.inputs.as_ref().is_some_and(|v| !v.is_object()) {
        return Err(WriteError::invalid("inputs", "must be an object"));
    }
    if change
        .outputs
        .as_ref()
        .is_some_and(|v| !v.is_object() && !v.is_null())
    {
        return Err(WriteError::invalid("outputs", "must be an object"));
    }
    if change
        .metadata
        .as_ref()
        .is_some_and(|v| !v.is_object() && !v.is_null())
    {
        return Err(WriteError::invalid("metadata", "must be an object"));
    }
    Ok(())
}

/// The example's new state: the change applied to its current state (a field sent replaces
/// the current one, a field left out keeps it; attachments become renamed ∪ retained ∪
/// uploaded, and an upload without operations replaces every existing attachment).
fn merge(
    change: ExampleChange,
    existing: Option<&Example>,
    uploaded: Map<String, Value>,
) -> Result<ExampleWrite, WriteError> {
    let inputs = change
        .inputs
        .or_else(|| existing.map(|e| e.inputs.clone()))
        .unwrap_or_else(|| json!({}));
    let outputs = match change.outputs {
        Some(Value::Null) | None => existing.and_then(|e| e.outputs.clone()),
        Some(outputs) => Some(outputs),
    };
    let mut metadata = match change.metadata {
        Some(Value::Null) | None => existing.and_then(|e| e.metadata.clone()),
        Some(metadata) => Some(metadata),
    };
    if let Some(split) = change.split {
        let mut map = match metadata {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        map.insert("dataset_split".into(), json!(split));
        metadata = Some(Value::Object(map));
    }
    if !change.metadata_ops.is_empty() {
        let mut map = match metadata {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for op in &change.metadata_ops {
            op.apply(&mut map);
        }
        metadata = Some(Value::Object(map));
    }
    let old = existing
        .and_then(|e| e.attachments.as_object().cloned())
        .unwrap_or_default();
    let mut attachments = match (change.attachment_ops, uploaded.is_empty()) {
        (Some(ops), _) => {
            check_no_collisions(&ops)?;
            let mut kept = Map::new();
            for (from, to) in &ops.rename {
                let file = old.get(from).ok_or_else(|| {
                    WriteError::invalid(
                        "attachments_operations.rename",
                        format!("the example has no attachment `{from}`"),
                    )
                })?;
                kept.insert(to.clone(), file.clone());
            }
            for name in &ops.retain {
                let file = old.get(name).ok_or_else(|| {
                    WriteError::invalid(
                        "attachments_operations.retain",
                        format!("the example has no attachment `{name}`"),
                    )
                })?;
                kept.insert(name.clone(), file.clone());
            }
            kept
        }
        (None, true) => old,
        (None, false) => Map::new(),
    };
    attachments.extend(uploaded);
    Ok(ExampleWrite {
        id: change.id,
        inputs,
        outputs,
        metadata,
        attachments: Value::Object(attachments),
        source_run_id: change
            .source_run_id
            .or_else(|| existing.and_then(|e| e.source_run_id)),
        created_at: change.created_at,
    })
}

/// Two attachments may not end up under one name: a rename onto a retained attachment, or two
/// renames onto the same name, would silently drop one of them, so the update is refused.
fn check_no_collisions(ops: &AttachmentOps) -> Result<(), WriteError> {
    let mut targets: BTreeMap<&str, &str> = BTreeMap::new();
    for name in &ops.retain {
        targets.insert(name, name);
    }
    for (from, to) in &ops.rename {
        if let Some(other) = targets.insert(to, from) {
            let what = if other == to.as_str() && ops.retain.contains(to) {
                format!("the retained attachment `{to}`")
            } else {
                format!("the attachment `{other}`, also renamed to `{to}`")
            };
            return Err(WriteError::invalid(
                "attachments_operations.rename",
                format!("renaming `{from}` to `{to}` collides with {what}"),
            ));
        }
    }
    Ok(())
}

/// Deletes examples (each dataset involved gets one new version). Returns the ids that were
/// present.
pub async fn delete(pool: &Pool, tenant_id: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, WriteError> {
    let mut deleted = Vec::new();
    for dataset_id in examples::datasets_of(pool, tenant_id, ids).await? {
        let mut tx = pool.begin().await.map_err(DbError::from)?;
        let Some((_, as_of)) = datasets::begin_write(&mut tx, tenant_id, dataset_id).await? else {
            continue;
        };
        deleted.extend(examples::close(&mut tx, tenant_id, dataset_id, ids, as_of).await?);
        tx.commit().await.map_err(DbError::from)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(attachments: Value) -> Example {
        Example {
            id: Uuid::nil(),
            dataset_id: Uuid::nil(),
            inputs: json!({"q": 1}),
            outputs: Some(json!({"a": 2})),
            metadata: Some(json!({"m": 1})),
            attachments,
            source_run_id: None,
            created_at: Utc::now(),
            modified_at: Utc::now(),
        }
    }

    #[test]
    fn metadata_operations_change_one_key_each_in_order() {
        let mut metadata = json!({"keep": 1, "tags": ["a"], "dataset_split": ["train"]})
            .as_object()
            .cloned()
            .expect("an object");
        let ops = [
            MetadataOp::ArrayAdd {
                key: "tags".into(),
                values: vec!["a".into(), "b".into()],
            },
            MetadataOp::ArrayRemove {
                key: "dataset_split".into(),
                values: vec!["train".into()],
            },
            MetadataOp::Set {
                key: "note".into(),
                value: json!({"x": [1]}),
            },
            // Not a list yet: from empty, and for splits from the base split.
            MetadataOp::ArrayAdd {
                key: "keep".into(),
                values: vec!["k".into()],
            },
        ];
        for op in &ops {
            op.apply(&mut metadata);
        }
        assert_eq!(
            Value::Object(metadata),
            json!({"keep": ["k"], "tags": ["a", "b"], "dataset_split": [], "note": {"x": [1]}})
        );
        let mut fresh = Map::new();
        MetadataOp::ArrayAdd {
            key: "dataset_split".into(),
            values: vec!["test".into()],
        }
        .apply(&mut fresh);
        assert_eq!(
            Value::Object(fresh),
            json!({"dataset_split": ["base", "test"]})
        );
    }

    #[test]
    fn null_keeps_and_metadata_replaces() {
        let old = example(json!({}));
        let write = merge(
            ExampleChange {
                outputs: Some(Value::Null),
                metadata: Some(json!({"n": 2})),
                split: Some(vec!["test".into()]),
                ..Default::default()
            },
            Some(&old),
            Map::new(),
        )
        .expect("merge");
        assert_eq!(write.inputs, json!({"q": 1}));
        assert_eq!(write.outputs, Some(json!({"a": 2})));
        assert_eq!(
            write.metadata,
            Some(json!({"n": 2, "dataset_split": ["test"]}))
        );
    }

    #[test]
    fn attachments_are_renamed_retained_and_uploaded() {
        let old = example(json!({"a": {"key": "ka"}, "b": {"key": "kb"}, "c": {"key": "kc"}}));
        let mut uploaded = Map::new();
        uploaded.insert("d".into(), json!({"key": "kd"}));
        let ops = AttachmentOps {
            rename: BTreeMap::from([("a".to_owned(), "z".to_owned())]),
            retain: vec!["b".into()],
        };
        let write = merge(
            ExampleChange {
                attachment_ops: Some(ops),
                ..Default::default()
            },
            Some(&old),
            uploaded.clone(),
        )
        .expect("merge");
        assert_eq!(
            write.attachments,
            json!({"z": {"key": "ka"}, "b": {"key": "kb"}, "d": {"key": "kd"}})
        );
        // An upload without operations drops what was there.
        let write = merge(ExampleChange::default(), Some(&old), uploaded).expect("merge");
        assert_eq!(write.attachments, json!({"d": {"key": "kd"}}));
        // No upload and no operations keeps everything.
        let write = merge(ExampleChange::default(), Some(&old), Map::new()).expect("merge");
        assert_eq!(write.attachments, old.attachments);
    }

    #[test]
    fn a_rename_onto_a_kept_name_is_refused() {
        let old = example(json!({"a": {"key": "ka"}, "b": {"key": "kb"}}));
        for ops in [
            AttachmentOps {
                rename: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
                retain: vec!["b".into()],
            },
            AttachmentOps {
                rename: BTreeMap::from([
                    ("a".to_owned(), "z".to_owned()),
                    ("b".to_owned(), "z".to_owned()),
                ]),
                retain: Vec::new(),
            },
        ] {
            let refused = merge(
                ExampleChange {
                    attachment_ops: Some(ops),
                    ..Default::default()
                },
                Some(&old),
                Map::new(),
            );
            assert!(refused.is_err());
        }
    }
}
