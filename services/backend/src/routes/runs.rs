//! Reading runs: `GET /runs/{id}`, `POST /runs/query`, `/runs/stats`,
//! `/runs/group`, and public share links.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_analytics::run_query::{self, Counting, FeedbackScope};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{RunsRead, RunsShare};
use ironsmith_db::run_shares;
use ironsmith_http::{ApiError, PathUuid};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use ironsmith_api_types::runs::{Run, RunGroup, RunGroups, RunShare, RunStats, RunsPage};

use crate::AppState;
use crate::runs::body::{QueryBody, invalid, lenient_time};
use crate::runs::render;
use crate::runs::{self as reads, query_page, render_one};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query))
        .routes(routes!(stats))
        .routes(routes!(group))
        .routes(routes!(read))
        .routes(routes!(read_share, share, unshare))
}

fn not_found() -> ApiError {
    ApiError::NotFound("Run not found".into())
}

#[utoipa::path(get, path = "/runs/{id}", operation_id = "read_run", tag = "runs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Run)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<Run>, ApiError> {
    render_one(&state, caller.workspace_id, id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

#[utoipa::path(post, path = "/runs/query", tag = "runs",
    request_body = Option<QueryBody>,
    responses((status = 200, body = RunsPage)))]
async fn query(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<Option<QueryBody>>,
) -> Result<Json<RunsPage>, ApiError> {
    let body = body.unwrap_or_default();
    Ok(Json(query_page(&state, caller.workspace_id, &body).await?))
}

#[utoipa::path(post, path = "/runs/stats", tag = "runs",
    request_body = Option<QueryBody>,
    responses((status = 200, body = RunStats)))]
async fn stats(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<Option<QueryBody>>,
) -> Result<Json<RunStats>, ApiError> {
    let body = body.unwrap_or_default();
    let tenant_id = caller.workspace_id;
    let mut query = reads::query_from(tenant_id, &body, Default::default())?;
    if !reads::scope(&state, tenant_id, &body, &mut query).await? {
        return Ok(Json(reads::render_stats(None, None)));
    }
    let clickhouse = &state.stores.clickhouse;
    let (stats, feedback) = tokio::try_join!(
        run_query::stats(clickhouse, &query, Counting::Runs, false),
        run_query::feedback_stats(clickhouse, tenant_id, FeedbackScope::Matching(&query)),
    )?;
    let feedback = feedback.into_values().next().unwrap_or_default();
    Ok(Json(reads::render_stats(stats.first(), Some(&feedback))))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct GroupBody {
    session_id: Uuid,
    #[serde(default)]
    #[schema(pattern = "^conversation$")]
    group_by: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    end_time: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0)]
    offset: Option<i64>,
}

#[utoipa::path(post, path = "/runs/group", tag = "runs",
    request_body = GroupBody, responses((status = 200, body = RunGroups)))]
async fn group(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<GroupBody>,
) -> Result<Json<RunGroups>, ApiError> {
    match body.group_by.as_deref() {
        None | Some("conversation") => {}
        Some(other) => {
            return Err(invalid(
                "group_by",
                format!("runs group by `conversation`, not `{other}`"),
            ));
        }
    }
    let limit = body.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 100".into()));
    }
    let offset = body.offset.unwrap_or(0);
    if offset < 0 {
        return Err(invalid("offset", "must not be negative".into()));
    }
    let tenant_id = caller.workspace_id;
    let query_body = QueryBody {
        session: Some(vec![body.session_id]),
        filter: body.filter,
        start_time: body.start_time,
        end_time: body.end_time,
        ..QueryBody::default()
    };
    let mut query = reads::query_from(tenant_id, &query_body, Default::default())?;
    if !reads::scope(&state, tenant_id, &query_body, &mut query).await? {
        return Err(ApiError::NotFound("Project not found".into()));
    }
    let (groups, total) = run_query::thread_groups(
        &state.stores.clickhouse,
        &query,
        offset as u64,
        limit as u64,
    )
    .await?;
    let json_text = |text: &str| {
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| {
            if text.is_empty() {
                Value::Null
            } else {
                Value::String(text.to_owned())
            }
        })
    };
    let groups = groups
        .iter()
        .map(|g| {
            let quantile = |i: usize| g.latency.get(i).copied().filter(|v| v.is_finite());
            RunGroup {
                group_key: g.thread_id.clone(),
                thread_id: g.thread_id.clone(),
                filter: format!("eq(thread_id, {})", json!(g.thread_id)),
                count: g.count,
                run_count: g.run_count,
                min_start_time: render::time(g.min_start_us),
                max_start_time: render::time(g.max_start_us),
                total_tokens: g.total_tokens,
                prompt_tokens: g.prompt_tokens,
                completion_tokens: g.completion_tokens,
                total_cost: (g.costed > 0).then_some(g.total_cost),
                latency_p50: quantile(0),
                latency_p99: quantile(1),
                error_rate: (g.count > 0).then(|| g.error_count as f64 / g.count as f64),
                feedback_stats: None,
                first_inputs: json_text(&g.first_inputs),
                last_outputs: json_text(&g.last_outputs),
            }
        })
        .collect();
    Ok(Json(RunGroups { groups, total }))
}

#[utoipa::path(get, path = "/runs/{id}/share", tag = "runs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Option<RunShare>)))]
async fn read_share(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<Option<RunShare>>, ApiError> {
    let share = run_shares::of_run(&state.stores.postgres, caller.workspace_id, id).await?;
    Ok(Json(share.map(|share| RunShare {
        run_id: share.run_id,
        share_token: share.share_token,
    })))
}

/// `{"run_id", "share_token"}` as the SDKs send it; read only to refuse a malformed body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ShareBody {
    #[serde(default, rename = "share_token")]
    #[schema(rename = "share_token")]
    _proposed_token: Option<Uuid>,
}

#[utoipa::path(put, path = "/runs/{id}/share", operation_id = "share_run", tag = "runs",
    request_body = Option<ShareBody>,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RunShare)))]
async fn share(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(_body): ironsmith_http::Json<Option<ShareBody>>,
) -> Result<Json<RunShare>, ApiError> {
    crate::sharing::share_run(&state, caller.workspace_id, caller.user_id(), id)
        .await
        .map(Json)
}

#[utoipa::path(delete, path = "/runs/{id}/share", operation_id = "unshare_run", tag = "runs",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Done")))]
async fn unshare(
    State(state): State<AppState>,
    caller: RequirePermission<RunsShare>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    crate::sharing::unshare_run(&state, caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
