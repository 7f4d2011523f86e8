//! `PATCH /v1/platform/datasets/{id}/examples/metadata`: the same metadata changes, in order,
//! to many examples of a dataset at once (what the JS SDK's `updateDatasetSplits` sends). The
//! examples in the dataset change together, as one dataset version; the others are reported
//! `NOT_FOUND`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::DatasetsUpdate;
use ironsmith_datasets::{ExampleChange, MetadataOp, Mode};
use ironsmith_http::{ApiError, PathUuid, ValidationIssue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_metadata))
}

const MAX_EXAMPLES: usize = 10_000;
const MAX_OPERATIONS: usize = 50;
const MAX_ARRAY_OPERATIONS: usize = 10;
const MAX_KEY_BYTES: usize = 255;
const MAX_VALUE_BYTES: usize = 64 * 1024;
const MAX_VALUES: usize = 1000;

/// One change: `SET` replaces the value at `key`; `ARRAY_ADD` / `ARRAY_REMOVE` add `values` to
/// or remove them from the list at `key` (a missing or non-list value starts empty, except
/// `dataset_split`, which starts as the base split). Operation names in either case.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Operation {
    key: String,
    #[schema(example = "ARRAY_ADD")]
    operation: String,
    /// The new value of a `SET`; any JSON value.
    #[serde(default)]
    value: Option<Value>,
    /// The values of an array operation.
    #[serde(default)]
    values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MetadataUpdate {
    /// At most 10 000.
    example_ids: Vec<Uuid>,
    /// At most 50, of which at most 10 array operations.
    operations: Vec<Operation>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetadataStatusKind {
    Updated,
    NotFound,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetadataStatus {
    id: Uuid,
    status: MetadataStatusKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// One status per submitted id, in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetadataStatuses {
    statuses: Vec<MetadataStatus>,
}

fn invalid(loc: &[&str], msg: String) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: loc.iter().map(|l| (*l).to_owned()).collect(),
        msg,
        kind: "value_error".into(),
    }])
}

/// The operations, checked against the limits.
fn operations(given: Vec<Operation>) -> Result<Vec<MetadataOp>, ApiError> {
    if given.is_empty() || given.len() > MAX_OPERATIONS {
        return Err(invalid(
            &["body", "operations"],
            format!("send 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    let mut array_operations = 0;
    let mut out = Vec::with_capacity(given.len());
    for op in given {
        if op.key.is_empty() || op.key.len() > MAX_KEY_BYTES {
            return Err(invalid(
                &["body", "operations", "key"],
                format!("a key is 1 to {MAX_KEY_BYTES} bytes"),
            ));
        }
        let values = |values: Option<Vec<String>>| -> Result<Vec<String>, ApiError> {
            let values = values.unwrap_or_default();
            if values.is_empty()
                || values.len() > MAX_VALUES
                || values.iter().any(|v| v.len() > MAX_KEY_BYTES)
            {
                return Err(invalid(
                    &["body", "operations", "values"],
                    format!(
                        "an array operation needs 1 to {MAX_VALUES} values of at most \
                         {MAX_KEY_BYTES} bytes"
                    ),
                ));
            }
            Ok(values)
        };
        out.push(match op.operation.to_ascii_uppercase().as_str() {
            "SET" => {
                let value = op.value.unwrap_or(Value::Null);
                if value.to_string().len() > MAX_VALUE_BYTES {
                    return Err(invalid(
                        &["body", "operations", "value"],
                        format!("a value is at most {MAX_VALUE_BYTES} bytes of JSON"),
                    ));
                }
                MetadataOp::Set { key: op.key, value }
            }
            "ARRAY_ADD" => {
                array_operations += 1;
                MetadataOp::ArrayAdd {
                    key: op.key,
                    values: values(op.values)?,
                }
            }
            "ARRAY_REMOVE" => {
                array_operations += 1;
                MetadataOp::ArrayRemove {
                    key: op.key,
                    values: values(op.values)?,
                }
            }
            other => {
                return Err(invalid(
                    &["body", "operations", "operation"],
                    format!("`{other}` is not SET, ARRAY_ADD or ARRAY_REMOVE"),
                ));
            }
        });
    }
    if array_operations > MAX_ARRAY_OPERATIONS {
        return Err(invalid(
            &["body", "operations"],
            format!("at most {MAX_ARRAY_OPERATIONS} array operations"),
        ));
    }
    Ok(out)
}

#[utoipa::path(patch, path = "/platform/datasets/{id}/examples/metadata", operation_id = "update_examples_metadata", tag = "examples",
    params(("id" = Uuid, Path)), request_body = MetadataUpdate,
    responses((status = 207, body = MetadataStatuses, description = "UPDATED or NOT_FOUND per submitted id"),
        (status = 404, description = "No such dataset"),
        (status = 422, description = "Too many ids or operations, or a bad operation")))]
async fn update_metadata(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsUpdate>,
    PathUuid(dataset_id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<MetadataUpdate>,
) -> Result<(StatusCode, Json<MetadataStatuses>), ApiError> {
    if body.example_ids.is_empty() || body.example_ids.len() > MAX_EXAMPLES {
        return Err(invalid(
            &["body", "example_ids"],
            format!("send 1 to {MAX_EXAMPLES} example ids"),
        ));
    }
    let ops = operations(body.operations)?;
    let tenant_id = caller.workspace_id;
    let pg = &state.stores.postgres;
    if ironsmith_db::datasets::get(pg, tenant_id, dataset_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("Dataset not found".into()));
    }
    let mut present: Vec<Uuid> = ironsmith_db::examples::current(pg, tenant_id, &body.example_ids)
        .await?
        .into_iter()
        .filter(|e| e.dataset_id == dataset_id)
        .map(|e| e.id)
        .collect();
    present.sort();
    present.dedup();
    if !present.is_empty() {
        let changes = present
            .iter()
            .map(|id| ExampleChange {
                id: *id,
                metadata_ops: ops.clone(),
                ..ExampleChange::default()
            })
            .collect();
        ironsmith_datasets::write(
            pg,
            &state.stores.storage,
            tenant_id,
            dataset_id,
            Mode::Update,
            changes,
        )
        .await
        .map_err(ApiError::from)?;
    }
    let statuses = body
        .example_ids
        .into_iter()
        .map(|id| {
            let found = present.binary_search(&id).is_ok();
            MetadataStatus {
                id,
                status: if found {
                    MetadataStatusKind::Updated
                } else {
                    MetadataStatusKind::NotFound
                },
                description: (!found)
                    .then(|| "not an example of this dataset, or deleted".to_owned()),
            }
        })
        .collect();
    Ok((
        StatusCode::MULTI_STATUS,
        Json(MetadataStatuses { statuses }),
    ))
}
