//! The v2 trace reads: `POST /v2/traces/query` (a project's traces: each root run with the
//! selected fields, and trace-wide `total_tokens`, `total_cost` and `first_token_time` when
//! selected) and `GET /v2/traces/{trace_id}/runs` (a trace's runs in start-time order). Both
//! answer through the v1 read path, reshaped by `crate::v2`.

use axum::Json;
use axum::extract::State;
use ironsmith_analytics::run_query;
use ironsmith_api_types::timestamp;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::RunsRead;
use ironsmith_http::{ApiError, Path, QueryPairs};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::{QueryBody, invalid, lenient_time};
use crate::runs::query_page;
use crate::v2;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query))
        .routes(routes!(list_runs))
}

/// Selects that are trace-wide aggregates rather than root-run fields.
const AGGREGATES: [&str; 3] = ["TOTAL_TOKENS", "TOTAL_COST", "FIRST_TOKEN_TIME"];

/// `POST /v2/traces/query`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct V2TraceQuery {
    project_id: Uuid,
    #[serde(default)]
    trace_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    min_start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    max_start_time: Option<i64>,
    /// Conditions on the root run.
    #[serde(default)]
    trace_filter: Option<String>,
    /// Conditions some run of the trace meets.
    #[serde(default)]
    tree_filter: Option<String>,
    #[serde(default)]
    selects: Option<Vec<String>>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    page_size: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A page of traces.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2TracesPage {
    /// `{root_run, trace_aggregates?}` per trace.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/v2/traces/query", operation_id = "query_traces_v2", tag = "runs",
    request_body = V2TraceQuery, responses((status = 200, body = V2TracesPage)))]
async fn query(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<V2TraceQuery>,
) -> Result<Json<V2TracesPage>, ApiError> {
    let all = v2::selects(body.selects.as_deref().unwrap_or_default())?;
    let page_size = body.page_size.unwrap_or(100);
    if !(1..=1000).contains(&page_size) {
        return Err(invalid("page_size", "must be between 1 and 1000".into()));
    }
    let (aggregates, root): (Vec<String>, Vec<String>) = all
        .into_iter()
        .partition(|s| AGGREGATES.contains(&s.as_str()));
    let mut fields = v2::v1_fields(&root);
    fields.extend(["total_tokens", "total_cost", "first_token_time"].map(str::to_owned));
    let v1 = QueryBody {
        session: Some(vec![body.project_id]),
        id: body.trace_ids.clone(),
        is_root: Some(true),
        start_time: Some(body.min_start_time.unwrap_or_else(v2::a_day_ago)),
        end_time: body.max_start_time,
        filter: body.trace_filter.clone(),
        tree_filter: body.tree_filter.clone(),
        select: Some(fields),
        limit: Some(page_size.min(100)),
        cursor: body.cursor.clone(),
        ..QueryBody::default()
    };
    let page = query_page(&state, caller.workspace_id, &v1).await?;
    let ui = state.config.public.ui_url.as_str();
    // Every trace's totals in one scan, only when an aggregate is selected.
    let totals: std::collections::HashMap<Uuid, run_query::TraceTotals> = if aggregates.is_empty() {
        Default::default()
    } else {
        let traces: Vec<Uuid> = page.runs.iter().map(|r| r.run.trace_id).collect();
        let scope = run_query::RunQuery {
            tenant_id: caller.workspace_id,
            sessions: vec![body.project_id],
            limit: 1,
            ..run_query::RunQuery::default()
        };
        run_query::trace_totals(&state.stores.clickhouse, &scope, &traces)
            .await?
            .into_iter()
            .map(|t| (t.trace_id, t))
            .collect()
    };
    let mut items = Vec::with_capacity(page.runs.len());
    for run in &page.runs {
        let v1 = serde_json::to_value(run)?;
        let mut item = Map::new();
        item.insert("root_run".into(), v2::run(&v1, &root, ui));
        if !aggregates.is_empty() {
            let totals = totals.get(&run.run.trace_id).cloned().unwrap_or_default();
            let mut out = Map::new();
            for select in &aggregates {
                let key = select.to_ascii_lowercase();
                let value = match key.as_str() {
                    "total_tokens" => Value::from(totals.total_tokens),
                    "total_cost" if totals.costed > 0 => Value::from(totals.total_cost),
                    // The root's first token is the trace's first output.
                    "first_token_time" => {
                        v2::rfc3339(&v1.get(&key).cloned().unwrap_or(Value::Null))
                    }
                    _ => Value::Null,
                };
                out.insert(key, value);
            }
            item.insert("trace_aggregates".into(), Value::Object(out));
        }
        items.push(Value::Object(item));
    }
    Ok(Json(V2TracesPage {
        items,
        next_cursor: page.cursors.next,
    }))
}

/// A trace's runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2TraceRuns {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
}

/// Pages read for one trace: a trace larger than this many pages of 100 is cut short.
const MAX_TRACE_PAGES: usize = 50;

#[utoipa::path(get, path = "/v2/traces/{trace_id}/runs", operation_id = "list_trace_runs_v2", tag = "runs",
    params(("trace_id" = Uuid, Path), ("project_id" = Uuid, Query),
        ("filter" = Option<String>, Query), ("min_start_time" = Option<String>, Query),
        ("max_start_time" = Option<String>, Query),
        ("selects" = Option<Vec<String>>, Query, description = "Fields to return, in UPPERCASE; `ID` alone when absent")),
    responses((status = 200, body = V2TraceRuns)))]
async fn list_runs(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    Path(trace_id): Path<Uuid>,
    query: QueryPairs,
) -> Result<Json<V2TraceRuns>, ApiError> {
    let project = query
        .uuid("project_id")?
        .ok_or_else(|| invalid("project_id", "is required".into()))?;
    let given: Vec<String> = query.all("selects").map(str::to_owned).collect();
    let selects = v2::selects(&given)?;
    let time = |key: &str| -> Result<Option<i64>, ApiError> {
        query
            .get(key)
            .map(|text| {
                timestamp::parse(text)
                    .map(|t| t.timestamp_micros())
                    .ok_or_else(|| invalid(key, format!("`{text}` is not a timestamp")))
            })
            .transpose()
    };
    let mut v1 = QueryBody {
        session: Some(vec![project]),
        trace: Some(trace_id),
        start_time: time("min_start_time")?,
        end_time: time("max_start_time")?,
        filter: query.get("filter").map(str::to_owned),
        select: Some(v2::v1_fields(&selects)),
        order: Some("asc".into()),
        limit: Some(100),
        ..QueryBody::default()
    };
    let ui = state.config.public.ui_url.as_str();
    let mut items = Vec::new();
    for _ in 0..MAX_TRACE_PAGES {
        let page = query_page(&state, caller.workspace_id, &v1).await?;
        for run in &page.runs {
            let value = serde_json::to_value(run)?;
            items.push(v2::run(&value, &selects, ui));
        }
        match page.cursors.next {
            Some(next) => v1.cursor = Some(next),
            None => break,
        }
    }
    Ok(Json(V2TraceRuns { items }))
}
