//! The v2 thread reads: `POST /v2/threads/query` (a project's conversations, most recently
//! active first), `GET /v2/threads/{thread_id}/traces` (a conversation's turns, oldest first)
//! and `GET /v2/threads/{thread_id}/stats`. A thread is the traces sharing a `thread_id`
//! (from the run's metadata, as the SDKs set it); the aggregation is the one `/runs/group`
//! uses.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironsmith_analytics::run_query::{self, Counting};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{RunsRead, RunsShare};
use ironsmith_http::{ApiError, Path, QueryPairs};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::{QueryBody, invalid, lenient_time};
use crate::runs::{query_from, query_page, scope};
use crate::v2;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query))
        .routes(routes!(traces))
        .routes(routes!(stats))
        .routes(routes!(share, share_token, unshare))
}

fn time(us: i64) -> Value {
    json!(v2::time(us))
}

/// The filter selecting one thread's runs, and-ed with the caller's.
fn thread_filter(thread_id: &str, filter: Option<&str>) -> String {
    let own = format!("eq(thread_id, {})", json!(thread_id));
    match filter.filter(|f| !f.trim().is_empty()) {
        Some(filter) => format!("and({own}, {filter})"),
        None => own,
    }
}

/// `POST /v2/threads/query`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct V2ThreadQuery {
    project_id: Uuid,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    min_start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    max_start_time: Option<i64>,
    /// Conditions on the threads' runs.
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    page_size: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A page of conversations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2ThreadsPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    next_cursor: Option<String>,
}

fn decode_offset(cursor: Option<&str>) -> Result<u64, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("threads|")?.parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid cursor `{cursor}`: send back a `next_cursor` unchanged"
            ))
        })
}

#[utoipa::path(post, path = "/v2/threads/query", operation_id = "query_threads_v2", tag = "runs",
    request_body = V2ThreadQuery, responses((status = 200, body = V2ThreadsPage)))]
async fn query(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<V2ThreadQuery>,
) -> Result<Json<V2ThreadsPage>, ApiError> {
    let page_size = body.page_size.unwrap_or(100);
    if !(1..=100).contains(&page_size) {
        return Err(invalid("page_size", "must be between 1 and 100".into()));
    }
    let offset = decode_offset(body.cursor.as_deref())?;
    let tenant_id = caller.workspace_id;
    let query_body = QueryBody {
        session: Some(vec![body.project_id]),
        filter: body.filter.clone(),
        start_time: Some(body.min_start_time.unwrap_or_else(v2::a_day_ago)),
        end_time: body.max_start_time,
        ..QueryBody::default()
    };
    let mut query = query_from(tenant_id, &query_body, Default::default())?;
    if !scope(&state, tenant_id, &query_body, &mut query).await? {
        return Err(ApiError::NotFound("Project not found".into()));
    }
    let (groups, total) =
        run_query::thread_groups(&state.stores.clickhouse, &query, offset, page_size as u64)
            .await?;
    let items = groups
        .iter()
        .map(|g| {
            json!({
                "thread_id": g.thread_id,
                "count": g.count,
                "total_tokens": g.total_tokens,
                "total_cost": (g.costed > 0).then_some(g.total_cost),
                "min_start_time": time(g.min_start_us),
                "max_start_time": time(g.max_start_us),
                "start_time": time(g.min_start_us),
                "first_inputs": g.first_inputs,
                "last_outputs": g.last_outputs,
                "num_errored_turns": g.error_count,
            })
        })
        .collect();
    let next = offset + groups.len() as u64;
    Ok(Json(V2ThreadsPage {
        items,
        next_cursor: (next < total && !groups.is_empty())
            .then(|| URL_SAFE_NO_PAD.encode(format!("threads|{next}"))),
    }))
}

/// A page of a conversation's turns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct V2ThreadTraces {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    next_cursor: Option<String>,
}

/// Fields of a turn, as v1 names.
const TURN_FIELDS: [&str; 13] = [
    "id",
    "name",
    "trace_id",
    "thread_id",
    "start_time",
    "end_time",
    "first_token_time",
    "inputs",
    "outputs",
    "error",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
];

#[utoipa::path(get, path = "/v2/threads/{thread_id}/traces", operation_id = "list_thread_traces_v2", tag = "runs",
    params(("thread_id" = String, Path), ("project_id" = Uuid, Query),
        ("filter" = Option<String>, Query), ("cursor" = Option<String>, Query),
        ("page_size" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = V2ThreadTraces)))]
async fn traces(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    Path(thread_id): Path<String>,
    query: QueryPairs,
) -> Result<Json<V2ThreadTraces>, ApiError> {
    let project = query
        .uuid("project_id")?
        .ok_or_else(|| invalid("project_id", "is required".into()))?;
    let page_size = query.int("page_size")?.unwrap_or(100);
    if !(1..=100).contains(&page_size) {
        return Err(invalid("page_size", "must be between 1 and 100".into()));
    }
    let body = QueryBody {
        session: Some(vec![project]),
        is_root: Some(true),
        filter: Some(thread_filter(&thread_id, query.get("filter"))),
        select: Some(TURN_FIELDS.map(str::to_owned).to_vec()),
        order: Some("asc".into()),
        limit: Some(page_size),
        cursor: query.get("cursor").map(str::to_owned),
        ..QueryBody::default()
    };
    let page = query_page(&state, caller.workspace_id, &body).await?;
    let mut items = Vec::with_capacity(page.runs.len());
    for run in &page.runs {
        let v1 = serde_json::to_value(run)?;
        let mut turn = Map::new();
        for field in TURN_FIELDS {
            let value = v1.get(field).cloned().unwrap_or(Value::Null);
            let value = if field.ends_with("_time") {
                v2::rfc3339(&value)
            } else {
                value
            };
            turn.insert(field.to_owned(), value);
        }
        turn.remove("id");
        let latency = v2::run(&v1, &["LATENCY_SECONDS".to_owned()], "");
        turn.insert(
            "latency".into(),
            latency
                .get("latency_seconds")
                .cloned()
                .unwrap_or(Value::Null),
        );
        items.push(Value::Object(turn));
    }
    Ok(Json(V2ThreadTraces {
        items,
        next_cursor: page.cursors.next,
    }))
}

#[utoipa::path(get, path = "/v2/threads/{thread_id}/stats", operation_id = "thread_stats_v2", tag = "runs",
    params(("thread_id" = String, Path), ("session_id" = Uuid, Query),
        ("filter" = Option<String>, Query)),
    responses((status = 200, body = Object)))]
async fn stats(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    Path(thread_id): Path<String>,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = query
        .uuid("session_id")?
        .or(query.uuid("project_id")?)
        .ok_or_else(|| invalid("session_id", "is required".into()))?;
    let tenant_id = caller.workspace_id;
    let body = QueryBody {
        session: Some(vec![project]),
        filter: Some(thread_filter(&thread_id, query.get("filter"))),
        ..QueryBody::default()
    };
    let mut run_query = query_from(tenant_id, &body, Default::default())?;
    if !scope(&state, tenant_id, &body, &mut run_query).await? {
        return Err(ApiError::NotFound("Project not found".into()));
    }
    let found = run_query::stats(
        &state.stores.clickhouse,
        &run_query,
        Counting::Traces,
        false,
    )
    .await?;
    let stats = found.into_iter().next().unwrap_or_default();
    let has = stats.run_count > 0;
    Ok(Json(json!({
        "turns": stats.run_count,
        "total_tokens": stats.total_tokens,
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_cost": (stats.costed > 0).then_some(stats.total_cost),
        "prompt_cost": (stats.costed > 0).then_some(stats.prompt_cost),
        "completion_cost": (stats.costed > 0).then_some(stats.completion_cost),
        "first_start_time": has.then(|| time(stats.first_start_us)),
        "last_start_time": has.then(|| time(stats.last_start_us)),
    })))
}

/// `POST /v2/threads/{thread_id}/share`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ThreadShareBody {
    project_id: Uuid,
}

/// A thread's public link token; absent when the thread is not shared.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThreadShareToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    share_token: Option<Uuid>,
}

fn project_param(query: &QueryPairs) -> Result<Uuid, ApiError> {
    query
        .uuid("project_id")?
        .ok_or_else(|| invalid("project_id", "is required".into()))
}

#[utoipa::path(post, path = "/v2/threads/{thread_id}/share", operation_id = "share_thread_v2", tag = "runs",
    params(("thread_id" = String, Path)), request_body = ThreadShareBody,
    responses((status = 200, body = ThreadShareToken),
        (status = 403, description = "Public sharing is disabled for the organisation"),
        (status = 404, description = "No such thread in the project")))]
async fn share(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    Path(thread_id): Path<String>,
    ironsmith_http::Json(body): ironsmith_http::Json<ThreadShareBody>,
) -> Result<Json<ThreadShareToken>, ApiError> {
    let token = crate::sharing::share_thread(
        &state,
        caller.workspace_id,
        caller.user_id(),
        body.project_id,
        &thread_id,
    )
    .await?;
    Ok(Json(ThreadShareToken {
        share_token: Some(token),
    }))
}

#[utoipa::path(get, path = "/v2/threads/{thread_id}/share", operation_id = "read_thread_share_v2", tag = "runs",
    params(("thread_id" = String, Path), ("project_id" = Uuid, Query)),
    responses((status = 200, body = ThreadShareToken)))]
async fn share_token(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    Path(thread_id): Path<String>,
    query: QueryPairs,
) -> Result<Json<ThreadShareToken>, ApiError> {
    let project = project_param(&query)?;
    let found = ironsmith_db::thread_shares::of_thread(
        &state.stores.postgres,
        caller.workspace_id,
        project,
        &thread_id,
    )
    .await?;
    Ok(Json(ThreadShareToken {
        share_token: found.map(|s| s.share_token),
    }))
}

#[utoipa::path(delete, path = "/v2/threads/{thread_id}/share", operation_id = "unshare_thread_v2", tag = "runs",
    params(("thread_id" = String, Path), ("project_id" = Uuid, Query)),
    responses((status = 204, description = "Not shared (any more)")))]
async fn unshare(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    Path(thread_id): Path<String>,
    query: QueryPairs,
) -> Result<axum::http::StatusCode, ApiError> {
    let project = project_param(&query)?;
    ironsmith_db::thread_shares::unshare(
        &state.stores.postgres,
        caller.workspace_id,
        project,
        &thread_id,
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
