//! `POST /v2/datasets/{dataset_id}/experiment-runs`: a page of a dataset's examples, each with
//! the runs the given experiments made on it, runs in the v2 shape (only the selected
//! fields). The same examples and runs as `POST /datasets/{id}/runs`, narrowed to the examples
//! whose runs meet per-experiment filters, and ordered by a feedback score when asked.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironsmith_analytics::run_query::{self, RunQuery};
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
use crate::runs::body::{QueryBody, invalid};
use crate::runs::{query_from, scope};
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
    /// Per experiment (its id as the key), filter expressions its root runs must all meet:
    /// only examples with a run meeting them in every experiment named are shown.
    #[serde(default)]
    filters: Option<BTreeMap<Uuid, Vec<String>>>,
    #[serde(default)]
    selects: Option<Vec<String>>,
    /// By a feedback key's score (one experiment only), else in creation order.
    #[serde(default)]
    sort: Option<ExperimentSort>,
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

/// The order of the examples: `by` a feedback key (`feedback.correctness`, or `correctness`),
/// `order` `ASC` or `DESC` (the default); examples without a score come last. `created_at`
/// (the default) is creation order.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ExperimentSort {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    order: Option<String>,
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

/// The root runs of one experiment meeting `filter` (when given).
async fn experiment_query(
    state: &AppState,
    tenant_id: Uuid,
    experiment: Uuid,
    filter: Option<String>,
) -> Result<RunQuery, ApiError> {
    let body = QueryBody {
        session: Some(vec![experiment]),
        is_root: Some(true),
        filter,
        ..QueryBody::default()
    };
    let mut query = query_from(tenant_id, &body, Default::default())?;
    if !scope(state, tenant_id, &body, &mut query).await? {
        return Err(ApiError::NotFound(format!(
            "Experiment {experiment} not found"
        )));
    }
    Ok(query)
}

/// The examples whose runs meet every experiment's filters, or `None` without filters.
async fn filtered_examples(
    state: &AppState,
    tenant_id: Uuid,
    body: &V2ExperimentRunsQuery,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    let mut only: Option<BTreeSet<Uuid>> = None;
    for (experiment, filters) in body.filters.iter().flatten() {
        let filters: Vec<&String> = filters.iter().filter(|f| !f.trim().is_empty()).collect();
        if filters.is_empty() {
            continue;
        }
        if !body.experiment_ids.contains(experiment) {
            return Err(invalid(
                "filters",
                format!("{experiment} is not one of experiment_ids"),
            ));
        }
        let filter = match filters.as_slice() {
            [one] => (*one).clone(),
            many => format!(
                "and({})",
                many.iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let query = experiment_query(state, tenant_id, *experiment, Some(filter)).await?;
        let matched: BTreeSet<Uuid> =
            run_query::referenced_examples(&state.stores.clickhouse, &query)
                .await?
                .into_iter()
                .collect();
        only = Some(match only {
            None => matched,
            Some(so_far) => so_far.intersection(&matched).copied().collect(),
        });
    }
    Ok(only.map(|set| set.into_iter().collect()))
}

/// The examples with a score of the sort's feedback key, best first (by `order`), or `None`
/// for creation order.
async fn ranked_examples(
    state: &AppState,
    tenant_id: Uuid,
    body: &V2ExperimentRunsQuery,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    let Some(sort) = &body.sort else {
        return Ok(None);
    };
    let by = sort.by.as_deref().map(str::trim).unwrap_or_default();
    if by.is_empty() || by == "created_at" {
        return Ok(None);
    }
    let key = by.strip_prefix("feedback.").unwrap_or(by);
    let descending = match sort
        .order
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("DESC") => true,
        Some("ASC") => false,
        Some(other) => {
            return Err(invalid(
                "sort",
                format!("order `{other}` is not ASC or DESC"),
            ));
        }
    };
    let [experiment] = body.experiment_ids.as_slice() else {
        return Err(invalid(
            "sort",
            "sorting by feedback needs exactly one experiment in experiment_ids".into(),
        ));
    };
    let query = experiment_query(state, tenant_id, *experiment, None).await?;
    let mut scores = run_query::example_scores(&state.stores.clickhouse, &query, key).await?;
    scores.sort_by(|a, b| {
        let by_score = a.score.total_cmp(&b.score);
        (if descending {
            by_score.reverse()
        } else {
            by_score
        })
        .then(a.example.cmp(&b.example))
    });
    Ok(Some(scores.into_iter().map(|s| s.example).collect()))
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
    let tenant_id = caller.workspace_id;
    let only_examples = filtered_examples(&state, tenant_id, &body).await?;
    let ranked = ranked_examples(&state, tenant_id, &body).await?;
    let limit = body.page_size.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid("page_size", "must be between 1 and 100".into()));
    }
    let offset = decode_offset(body.cursor.as_deref())?;
    let examples = examples_with_runs(
        &state,
        tenant_id,
        dataset_id,
        &ExperimentRuns {
            session_ids: body.experiment_ids,
            offset,
            limit,
            preview: false,
            example_ids: body.example_ids.unwrap_or_default(),
            as_of: None,
            only_examples,
            ranked,
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
            .map(|run| serde_json::to_value(run).map(|v1| v2::run(&v1, &selects, ui)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let mut item = serde_json::to_value(&example.example)?;
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
