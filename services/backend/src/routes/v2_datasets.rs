//! `POST /v2/datasets/{dataset_id}/experiment-runs`: a page of a dataset's examples, each with
//! the runs the given experiments made on it, runs in the v2 shape (only the selected
//! fields). The same examples and runs as `POST /datasets/{id}/runs`.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{DatasetsRead, ProjectsRead};
use ironsmith_http::{ApiError, Path};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::datasets::{ExperimentRuns, examples_with_runs};
use crate::runs::body::invalid;
use crate::v2;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(experiment_runs))
}

/// `POST /v2/datasets/{dataset_id}/experiment-runs`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct V2ExperimentRunsQuery {
    #[serde(default)]
    experiment_ids: Vec<Uuid>,
    #[serde(default)]
    example_ids: Option<Vec<Uuid>>,
    /// Per-experiment run filters: not supported yet (refused rather than ignored).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    filters: Option<Value>,
    #[serde(default)]
    selects: Option<Vec<String>>,
    /// Examples come in creation order; another order is refused rather than ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    sort: Option<Value>,
    /// Accepted; the comparative experiment's feedback is not added to the runs yet.
    #[serde(default)]
    #[allow(dead_code)]
    comparative_experiment_id: Option<Uuid>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    page_size: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A page of examples with their runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2ExperimentRunsPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    next_cursor: Option<String>,
}

fn decode_offset(cursor: Option<&str>) -> Result<i64, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("examples|")?.parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid cursor `{cursor}`: send back a `next_cursor` unchanged"
            ))
        })
}

fn empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map
            .values()
            .all(|v| v.is_null() || v == &Value::Array(vec![])),
        Some(_) => false,
    }
}

#[utoipa::path(post, path = "/v2/datasets/{dataset_id}/experiment-runs", operation_id = "query_experiment_runs_v2", tag = "datasets",
    params(("dataset_id" = Uuid, Path)), request_body = V2ExperimentRunsQuery,
    responses((status = 200, body = V2ExperimentRunsPage)))]
async fn experiment_runs(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    _runs: RequirePermission<ProjectsRead>,
    Path(dataset_id): Path<Uuid>,
    ironsmith_http::Json(body): ironsmith_http::Json<V2ExperimentRunsQuery>,
) -> Result<Json<V2ExperimentRunsPage>, ApiError> {
    let selects = v2::selects(body.selects.as_deref().unwrap_or_default())?;
    if !empty(body.filters.as_ref()) {
        return Err(invalid(
            "filters",
            "per-experiment filters are not supported yet".into(),
        ));
    }
    let sort_is_default = match body.sort.as_ref() {
        None | Some(Value::Null) => true,
        Some(sort) => sort
            .get("by")
            .and_then(Value::as_str)
            .is_none_or(|by| by == "created_at"),
    };
    if !sort_is_default {
        return Err(invalid(
            "sort",
            "examples come in creation order (`created_at`) only".into(),
        ));
    }
    let limit = body.page_size.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid("page_size", "must be between 1 and 100".into()));
    }
    let offset = decode_offset(body.cursor.as_deref())?;
    let examples = examples_with_runs(
        &state,
        caller.workspace_id,
        dataset_id,
        &ExperimentRuns {
            session_ids: body.experiment_ids,
            offset,
            limit,
            preview: false,
            example_ids: body.example_ids.unwrap_or_default(),
            as_of: None,
        },
    )
    .await?;
    let ui = state.config.public.ui_url.as_str();
    let count = examples.len() as i64;
    let mut items = Vec::with_capacity(examples.len());
    for example in examples {
        let runs = example
            .runs
            .iter()
            .map(|run| {
                serde_json::to_value(run)
                    .map(|v1| v2::run(&v1, &selects, ui))
                    .map_err(ApiError::internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut item = serde_json::to_value(&example.example).map_err(ApiError::internal)?;
        if let Some(object) = item.as_object_mut() {
            for key in ["created_at", "modified_at"] {
                if let Some(value) = object.get(key).cloned() {
                    object.insert(key.into(), v2::rfc3339(&value));
                }
            }
            object.insert("runs".into(), Value::Array(runs));
        }
        items.push(item);
    }
    Ok(Json(V2ExperimentRunsPage {
        items,
        next_cursor: (count == limit)
            .then(|| URL_SAFE_NO_PAD.encode(format!("examples|{}", offset + count))),
    }))
}
