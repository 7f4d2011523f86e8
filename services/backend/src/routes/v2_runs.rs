//! The v2 run reads the SDKs' generated clients call: `POST /v2/runs/query` (cursor pages of
//! runs with only the selected fields) and `GET /v2/runs/{run_id}`. They answer through the
//! same read path as `/runs/query` and `/runs/{id}`, reshaped by `crate::v2`.

use axum::Json;
use axum::extract::State;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{RunsRead, RunsShare};
use ironsmith_db::projects::{self, ProjectFilter};
use ironsmith_http::{ApiError, Path, QueryPairs};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::{QueryBody, invalid, lenient_time};
use crate::runs::{query_page, render_one};
use crate::v2;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query))
        .routes(routes!(read))
        .routes(routes!(share, unshare))
        .routes(routes!(url))
}

/// `POST /v2/runs/query`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct V2Query {
    /// The projects to read; exactly one of this and `reference_dataset_id`.
    #[serde(default)]
    project_ids: Option<Vec<Uuid>>,
    /// Reads the dataset's experiments.
    #[serde(default)]
    reference_dataset_id: Option<Uuid>,
    /// RFC 3339; a day ago when absent (unless reading a dataset's experiments).
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    min_start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    max_start_time: Option<i64>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    trace_filter: Option<String>,
    #[serde(default)]
    tree_filter: Option<String>,
    #[serde(default)]
    is_root: Option<bool>,
    #[serde(default)]
    has_error: Option<bool>,
    #[serde(default)]
    ids: Option<Vec<Uuid>>,
    #[serde(default)]
    trace_id: Option<Uuid>,
    /// `LLM`, `CHAIN`, `TOOL`, `RETRIEVER`, `EMBEDDING`, `PROMPT` or `PARSER`.
    #[serde(default)]
    run_type: Option<String>,
    #[serde(default)]
    reference_examples: Option<Vec<Uuid>>,
    /// Fields to return, in UPPERCASE (`NAME`, `INPUTS`, …); `ID` alone when absent.
    #[serde(default)]
    selects: Option<Vec<String>>,
    /// 1–1000, 100 when absent; a page holds at most 100 runs.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    page_size: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// A page of v2 runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2RunsPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/v2/runs/query", operation_id = "query_runs_v2", tag = "runs",
    request_body = V2Query, responses((status = 200, body = V2RunsPage)))]
async fn query(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<V2Query>,
) -> Result<Json<V2RunsPage>, ApiError> {
    let tenant_id = caller.workspace_id;
    let selects = v2::selects(body.selects.as_deref().unwrap_or_default())?;
    let page_size = body.page_size.unwrap_or(100);
    if !(1..=1000).contains(&page_size) {
        return Err(invalid("page_size", "must be between 1 and 1000".into()));
    }
    let sessions = match (&body.project_ids, body.reference_dataset_id) {
        (Some(ids), None) if !ids.is_empty() => ids.clone(),
        (None, Some(dataset)) => {
            let experiments = projects::list(
                &state.stores.postgres,
                tenant_id,
                &ProjectFilter {
                    reference_dataset: Some(dataset),
                    limit: 10_000,
                    ..ProjectFilter::default()
                },
            )
            .await?;
            if experiments.is_empty() {
                return Ok(Json(V2RunsPage {
                    items: Vec::new(),
                    next_cursor: None,
                }));
            }
            experiments.into_iter().map(|p| p.id).collect()
        }
        _ => {
            return Err(invalid(
                "project_ids",
                "give exactly one of project_ids and reference_dataset_id".into(),
            ));
        }
    };
    let min_start = match (body.min_start_time, body.reference_dataset_id) {
        (Some(min), _) => Some(min),
        (None, Some(_)) => None,
        (None, None) => Some(v2::a_day_ago()),
    };
    let v1 = QueryBody {
        session: Some(sessions),
        id: body.ids.clone(),
        trace: body.trace_id,
        run_type: body.run_type.as_deref().map(str::to_ascii_lowercase),
        reference_example: body.reference_examples.clone(),
        is_root: body.is_root,
        error: body.has_error,
        start_time: min_start,
        end_time: body.max_start_time,
        filter: body.filter.clone(),
        trace_filter: body.trace_filter.clone(),
        tree_filter: body.tree_filter.clone(),
        select: Some(v2::v1_fields(&selects)),
        limit: Some(page_size.min(100)),
        cursor: body.cursor.clone(),
        ..QueryBody::default()
    };
    let page = query_page(&state, tenant_id, &v1).await?;
    let ui = state.config.public.ui_url.as_str();
    let items = page
        .runs
        .iter()
        .map(|run| serde_json::to_value(run).map(|v1| v2::run(&v1, &selects, ui)))
        .collect::<Result<_, serde_json::Error>>()?;
    Ok(Json(V2RunsPage {
        items,
        next_cursor: page.cursors.next,
    }))
}

#[utoipa::path(get, path = "/v2/runs/{run_id}", operation_id = "read_run_v2", tag = "runs",
    params(("run_id" = Uuid, Path),
        ("project_id" = Option<Uuid>, Query, description = "The run's project"),
        ("selects" = Option<Vec<String>>, Query, description = "Fields to return, in UPPERCASE; `ID` alone when absent")),
    responses((status = 200, body = Object)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    Path(run_id): Path<Uuid>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let given: Vec<String> = query.all("selects").map(str::to_owned).collect();
    let selects = v2::selects(&given)?;
    let run = render_one(&state, caller.workspace_id, run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Run not found".into()))?;
    if let Some(project) = query.uuid("project_id")?
        && project != run.session_id
    {
        return Err(ApiError::NotFound("Run not found".into()));
    }
    let v1 = serde_json::to_value(&run)?;
    Ok(Json(v2::run(
        &v1,
        &selects,
        state.config.public.ui_url.as_str(),
    )))
}

/// `POST /v2/runs/{run_id}/share`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct V2Share {
    /// The run's project (checked when given).
    #[serde(default)]
    session_id: Option<Uuid>,
    #[serde(default)]
    trace_id: Option<Uuid>,
}

/// The token of a shared trace.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2ShareToken {
    share_token: Uuid,
}

#[utoipa::path(post, path = "/v2/runs/{run_id}/share", operation_id = "share_run_v2", tag = "runs",
    params(("run_id" = Uuid, Path)), request_body = Option<V2Share>,
    responses((status = 200, body = V2ShareToken)))]
async fn share(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    Path(run_id): Path<Uuid>,
    ironsmith_http::Json(body): ironsmith_http::Json<Option<V2Share>>,
) -> Result<Json<V2ShareToken>, ApiError> {
    let body = body.unwrap_or_default();
    let tenant_id = caller.workspace_id;
    if body.session_id.is_some() || body.trace_id.is_some() {
        let run = crate::runs::find_run(&state, tenant_id, run_id)
            .await?
            .ok_or_else(|| ApiError::NotFound("Run not found".into()))?;
        if body.session_id.is_some_and(|s| s != run.session_id)
            || body.trace_id.is_some_and(|t| t != run.trace_id)
        {
            return Err(ApiError::NotFound("Run not found".into()));
        }
    }
    let shared = crate::sharing::share_run(&state, tenant_id, caller.user_id(), run_id).await?;
    Ok(Json(V2ShareToken {
        share_token: shared.share_token,
    }))
}

#[utoipa::path(delete, path = "/v2/runs/{run_id}/share", operation_id = "unshare_run_v2", tag = "runs",
    params(("run_id" = Uuid, Path, description = "The shared trace (its root run)")),
    responses((status = 204, description = "Done")))]
async fn unshare(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    Path(run_id): Path<Uuid>,
) -> Result<axum::http::StatusCode, ApiError> {
    crate::sharing::unshare_run(&state, caller.workspace_id, run_id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Where the UI shows a run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2RunUrl {
    url: String,
}

#[utoipa::path(get, path = "/v2/runs/{run_id}/url", operation_id = "run_url_v2", tag = "runs",
    params(("run_id" = Uuid, Path), ("project_id" = Option<Uuid>, Query),
        ("trace_id" = Option<Uuid>, Query), ("start_time" = Option<String>, Query)),
    responses((status = 200, body = V2RunUrl)))]
async fn url(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    Path(run_id): Path<Uuid>,
    query: QueryPairs,
) -> Result<Json<V2RunUrl>, ApiError> {
    let run = crate::runs::find_run(&state, caller.workspace_id, run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Run not found".into()))?;
    if query
        .uuid("project_id")?
        .is_some_and(|p| p != run.session_id)
    {
        return Err(ApiError::NotFound("Run not found".into()));
    }
    let ui = state.config.public.ui_url.as_str().trim_end_matches('/');
    Ok(Json(V2RunUrl {
        url: format!(
            "{ui}/o/{}/projects/p/{}/r/{}?trace_id={}",
            caller.workspace_id, run.session_id, run.id, run.trace_id
        ),
    }))
}
