//! The multipart example endpoints: create (`POST`) and update (`PATCH`)
//! `/v1/platform/datasets/{id}/examples`, the deprecated upsert `/v1/platform/examples/multipart`,
//! and the hard delete `/v1/platform/datasets/examples/delete`. Every request is one dataset
//! version; the body may be zstd or gzip and as large as `ingest.max_body_bytes`.

use ironsmith_api_types::resources::{ExampleIds, ExamplesWritten};
use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{DatasetsDelete, DatasetsUpdate};
use ironsmith_datasets::{AttachmentOps, ExampleChange, Mode, NewAttachment};
use ironsmith_http::{ApiError, PathUuid, ValidationIssue};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, update))
        .routes(routes!(upsert))
        .routes(routes!(hard_delete))
}

fn bad(message: String) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into()],
        msg: message,
        kind: "value_error".into(),
    }])
}

/// The `<eid>` part.
#[derive(Deserialize, Default)]
struct ExamplePart {
    #[serde(default)]
    dataset_id: Option<Uuid>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    split: Option<Value>,
    #[serde(default)]
    source_run_id: Option<Uuid>,
    #[serde(default, deserialize_with = "ironsmith_runs::wire::lenient_time")]
    created_at: Option<i64>,
}

/// Examples of one request, in order of first appearance, with the dataset each names (upsert).
struct Parsed {
    changes: Vec<(ExampleChange, Option<Uuid>)>,
}

fn json_part(name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("part `{name}` is not valid JSON: {e}")))
}

async fn parse(headers: &HeaderMap, bytes: Bytes) -> Result<Parsed, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("the Content-Type must be multipart/form-data with a boundary".into()))?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut order: Vec<Uuid> = Vec::new();
    let mut changes: BTreeMap<Uuid, (ExampleChange, Option<Uuid>)> = BTreeMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("error reading multipart data: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let mime_type = field
            .content_type()
            .map(|m| m.essence_str().to_owned())
            .unwrap_or_else(|| "application/octet-stream".into());
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("error reading multipart data: {e}")))?;
        let (id_text, rest) = match name.split_once('.') {
            Some((id, rest)) => (id, Some(rest)),
            None => (name.as_str(), None),
        };
        let id = Uuid::parse_str(id_text)
            .map_err(|_| bad(format!("part `{name}` does not start with an example id")))?;
        let (change, dataset) = changes.entry(id).or_insert_with(|| {
            order.push(id);
            (
                ExampleChange {
                    id,
                    ..ExampleChange::default()
                },
                None,
            )
        });
        match rest {
            None => {
                let part: ExamplePart = serde_json::from_slice(&data)
                    .map_err(|e| bad(format!("part `{name}` is not a valid example: {e}")))?;
                *dataset = part.dataset_id;
                change.metadata = part.metadata;
                change.split = match part.split {
                    None | Some(Value::Null) => None,
                    Some(Value::String(one)) => Some(vec![one]),
                    Some(Value::Array(many)) => Some(
                        many.into_iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                    ),
                    Some(_) => {
                        return Err(bad(format!(
                            "part `{name}`: `split` must be a string or a list"
                        )));
                    }
                };
                change.source_run_id = part.source_run_id;
                change.created_at = part
                    .created_at
                    .and_then(chrono::DateTime::from_timestamp_micros);
            }
            Some("inputs") => change.inputs = Some(json_part(&name, &data)?),
            Some("outputs") => change.outputs = Some(json_part(&name, &data)?),
            Some("attachments_operations") => {
                let ops: AttachmentOps = serde_json::from_slice(&data).map_err(|e| {
                    bad(format!(
                        "part `{name}` is not valid attachment operations: {e}"
                    ))
                })?;
                change.attachment_ops = Some(ops);
            }
            Some(other) => {
                let attachment = other
                    .strip_prefix("attachment.")
                    .or_else(|| other.strip_prefix("attachments."))
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| bad(format!("unknown part `{name}`")))?;
                change.attachments.push(NewAttachment {
                    name: attachment.to_owned(),
                    mime_type,
                    bytes: data,
                });
            }
        }
    }
    Ok(Parsed {
        changes: order
            .into_iter()
            .filter_map(|id| changes.remove(&id))
            .collect(),
    })
}

async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    state
        .ingest
        .read_body(headers, body)
        .await
        .map_err(|e| match e {
            crate::ingest::error::IngestError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            other => ApiError::BadRequest(other.to_string()),
        })
}

async fn write(
    state: &AppState,
    tenant_id: Uuid,
    dataset_id: Uuid,
    mode: Mode,
    changes: Vec<ExampleChange>,
) -> Result<ExamplesWritten, ApiError> {
    let written = ironsmith_datasets::write(
        &state.stores.postgres,
        &state.stores.storage,
        tenant_id,
        dataset_id,
        mode,
        changes,
    )
    .await
    .map_err(ApiError::from)?;
    Ok(ExamplesWritten {
        count: written.ids.len(),
        example_ids: written.ids,
        as_of: Some(written.as_of),
    })
}

#[utoipa::path(post, path = "/platform/datasets/{id}/examples", operation_id = "create_examples_multipart", tag = "examples",
    request_body(content = Object, content_type = "multipart/form-data", description = "One part per example field: `{id}` (its JSON: dataset_id, created_at, split, metadata), `{id}.inputs`, `{id}.outputs`, `{id}.attachments.{name}` (a file); an update may add `{id}.attachments_operations`"),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = ExamplesWritten)))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(dataset_id): PathUuid,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ExamplesWritten>), ApiError> {
    let bytes = read_body(&state, &headers, body).await?;
    let parsed = parse(&headers, bytes).await?;
    let changes = parsed.changes.into_iter().map(|(c, _)| c).collect();
    let out = write(
        &state,
        caller.workspace_id,
        dataset_id,
        Mode::Create,
        changes,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(patch, path = "/platform/datasets/{id}/examples", operation_id = "update_examples_multipart", tag = "examples",
    request_body(content = Object, content_type = "multipart/form-data", description = "One part per example field: `{id}` (its JSON: dataset_id, created_at, split, metadata), `{id}.inputs`, `{id}.outputs`, `{id}.attachments.{name}` (a file); an update may add `{id}.attachments_operations`"),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ExamplesWritten)))]
async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(dataset_id): PathUuid,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ExamplesWritten>, ApiError> {
    let bytes = read_body(&state, &headers, body).await?;
    let parsed = parse(&headers, bytes).await?;
    let changes = parsed.changes.into_iter().map(|(c, _)| c).collect();
    Ok(Json(
        write(
            &state,
            caller.workspace_id,
            dataset_id,
            Mode::Update,
            changes,
        )
        .await?,
    ))
}

/// The deprecated upsert: each example names its dataset.
#[utoipa::path(post, path = "/platform/examples/multipart", tag = "examples",
    request_body(content = Object, content_type = "multipart/form-data", description = "One part per example field: `{id}` (its JSON: dataset_id, created_at, split, metadata), `{id}.inputs`, `{id}.outputs`, `{id}.attachments.{name}` (a file); an update may add `{id}.attachments_operations`"),
    responses((status = 201, body = ExamplesWritten)))]
async fn upsert(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ExamplesWritten>), ApiError> {
    let bytes = read_body(&state, &headers, body).await?;
    let parsed = parse(&headers, bytes).await?;
    let mut by_dataset: BTreeMap<Uuid, Vec<ExampleChange>> = BTreeMap::new();
    for (change, dataset) in parsed.changes {
        let dataset = dataset
            .ok_or_else(|| bad(format!("example {}: `dataset_id` is required", change.id)))?;
        by_dataset.entry(dataset).or_default().push(change);
    }
    let mut all = ExamplesWritten {
        count: 0,
        example_ids: Vec::new(),
        as_of: None,
    };
    for (dataset, changes) in by_dataset {
        let out = write(&state, caller.workspace_id, dataset, Mode::Create, changes).await?;
        all.example_ids.extend(out.example_ids);
        all.as_of = out.as_of;
    }
    all.count = all.example_ids.len();
    Ok((StatusCode::CREATED, Json(all)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct DeleteBody {
    #[serde(default)]
    example_ids: Vec<Uuid>,
    #[serde(default)]
    hard_delete: bool,
}

/// Deletes examples; `hard_delete` also erases their history (every version forgets them).
#[utoipa::path(post, path = "/platform/datasets/examples/delete", tag = "examples",
    request_body = DeleteBody, responses((status = 200, body = ExampleIds)))]
async fn hard_delete(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsDelete>,
    ironsmith_http::Json(body): ironsmith_http::Json<DeleteBody>,
) -> Result<Json<ExampleIds>, ApiError> {
    let deleted = if body.hard_delete {
        ironsmith_db::examples::hard_delete(
            &state.stores.postgres,
            caller.workspace_id,
            &body.example_ids,
        )
        .await?
    } else {
        ironsmith_datasets::delete(
            &state.stores.postgres,
            caller.workspace_id,
            &body.example_ids,
        )
        .await
        .map_err(ApiError::from)?
    };
    Ok(Json(ExampleIds {
        count: deleted.len(),
        example_ids: deleted,
    }))
}
