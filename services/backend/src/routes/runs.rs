//! Reading runs: `GET /runs/{id}`, `POST /runs/query`, `/runs/stats`, `/runs/timeseries`,
//! `/runs/group`, and public share links.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_analytics::run_query::{self, Counting, FeedbackScope};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{RunsRead, RunsShare};
use ironsmith_db::run_shares;
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use ironsmith_api_types::runs::{
    FeedbackSeries, FeedbackSeriesPoint, Run, RunGroup, RunGroups, RunSeries, RunSeriesPoint,
    RunShare, RunStats, RunTimeseries, RunsPage,
};

use crate::AppState;
use crate::runs::body::{QueryBody, invalid, lenient_bool, lenient_time};
use crate::runs::render;
use crate::runs::render::Selection;
use crate::runs::{self as reads, payloads_for, query_page, render_one, render_page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query))
        .routes(routes!(stats))
        .routes(routes!(timeseries))
        .routes(routes!(group))
        .routes(routes!(read))
        .routes(routes!(trace))
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

/// The most runs one trace read returns (LangSmith's largest trace).
const MOST_TRACE_RUNS: usize = 25_000;

#[utoipa::path(get, path = "/runs/{id}/trace", operation_id = "read_trace_runs", tag = "runs",
    params(("id" = Uuid, Path, description = "The trace (its root run's id)"),
        ("session" = Option<Uuid>, Query, description = "The trace's project, when known"),
        ("select" = Option<Vec<String>>, Query, description = "The fields to return, as `/runs/query` takes them")),
    responses((status = 200, body = RunsPage,
        description = "Every run of the trace in execution order, in one answer of at most 25,000 (then `cursors.next` continues with `/runs/query`)")))]
async fn trace(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    PathUuid(id): PathUuid,
    params: QueryPairs,
) -> Result<Json<RunsPage>, ApiError> {
    let tenant_id = caller.workspace_id;
    let body = QueryBody {
        trace: Some(id),
        session: params.uuid("session")?.map(|s| vec![s]),
        select: Some(params.all("select").map(str::to_owned).collect::<Vec<_>>())
            .filter(|s| !s.is_empty()),
        order: Some("asc".into()),
        ..QueryBody::default()
    };
    let selection = Selection::from(body.select.as_deref());
    let mut query = reads::query_from(tenant_id, &body, payloads_for(&selection))?;
    if !reads::scope(&state, tenant_id, &body, &mut query).await? {
        return Err(not_found());
    }
    // One read for the whole trace, instead of pages of 100.
    query.limit = MOST_TRACE_RUNS;
    let page = run_query::list(&state.stores.clickhouse, &query).await?;
    Ok(Json(
        render_page(&state, tenant_id, page, &selection).await?,
    ))
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
struct TimeseriesBody {
    /// The projects whose runs are counted.
    #[schema(min_items = 1)]
    session: Vec<Uuid>,
    #[serde(default)]
    filter: Option<String>,
    /// Only root runs (traces).
    #[serde(default, deserialize_with = "lenient_bool")]
    is_root: Option<bool>,
    /// Default: a week before `end_time`.
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    start_time: Option<i64>,
    /// Default: now.
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    end_time: Option<i64>,
    /// The bucket width; default: the first of 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, 1 day,
    /// 1 week that makes at most 120 buckets. At most 1,000 buckets.
    #[serde(default)]
    #[schema(minimum = 60)]
    stride_seconds: Option<i64>,
    #[serde(default)]
    #[schema(pattern = "^(name|run_type|tag|metadata)$")]
    group_by: Option<String>,
    /// The metadata key whose values split the series (with `group_by: metadata`).
    #[serde(default)]
    metadata_key: Option<String>,
}

const MICROS: i64 = 1_000_000;
const NICE_STRIDES: [i64; 8] = [60, 300, 900, 3_600, 10_800, 21_600, 86_400, 604_800];
const MOST_SERIES: usize = 10;

fn series_group(body: &TimeseriesBody) -> Result<run_query::SeriesGroup, ApiError> {
    use run_query::SeriesGroup;
    Ok(match body.group_by.as_deref() {
        None | Some("") => SeriesGroup::None,
        Some("name") => SeriesGroup::Name,
        Some("run_type") => SeriesGroup::RunType,
        Some("tag") => SeriesGroup::Tag,
        Some("metadata") => match body.metadata_key.as_deref().map(str::trim) {
            Some(key) if !key.is_empty() => SeriesGroup::Metadata(key.to_owned()),
            _ => {
                return Err(invalid(
                    "metadata_key",
                    "name the metadata key to group by".into(),
                ));
            }
        },
        Some(other) => {
            return Err(invalid(
                "group_by",
                format!("group by `name`, `run_type`, `tag` or `metadata`, not `{other}`"),
            ));
        }
    })
}

#[utoipa::path(post, path = "/runs/timeseries", tag = "runs",
    request_body = TimeseriesBody,
    responses((status = 200, body = RunTimeseries)))]
async fn timeseries(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<TimeseriesBody>,
) -> Result<Json<RunTimeseries>, ApiError> {
    if body.session.is_empty() {
        return Err(invalid("session", "name at least one project".into()));
    }
    let end_us = body
        .end_time
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let start_us = body.start_time.unwrap_or(end_us - 7 * 86_400 * MICROS);
    if start_us >= end_us {
        return Err(invalid("start_time", "must be before end_time".into()));
    }
    let span = (end_us - start_us) / MICROS;
    let stride = match body.stride_seconds {
        Some(stride) if stride < 60 => {
            return Err(invalid("stride_seconds", "must be at least 60".into()));
        }
        Some(stride) if span / stride > 1_000 => {
            return Err(invalid(
                "stride_seconds",
                format!("{stride} s makes more than 1,000 buckets over {span} s"),
            ));
        }
        Some(stride) => stride,
        None => NICE_STRIDES
            .into_iter()
            .find(|s| span / s <= 120)
            .unwrap_or(604_800),
    };
    let group = series_group(&body)?;
    let tenant_id = caller.workspace_id;
    let query_body = QueryBody {
        session: Some(body.session.clone()),
        filter: body.filter.clone(),
        is_root: body.is_root,
        start_time: Some(start_us),
        end_time: Some(end_us),
        ..QueryBody::default()
    };
    let mut query = reads::query_from(tenant_id, &query_body, Default::default())?;
    let (points, feedback) = if reads::scope(&state, tenant_id, &query_body, &mut query).await? {
        let clickhouse = &state.stores.clickhouse;
        tokio::try_join!(
            run_query::timeseries(clickhouse, &query, stride * MICROS, &group),
            run_query::feedback_timeseries(clickhouse, &query, stride * MICROS),
        )?
    } else {
        (Vec::new(), Vec::new())
    };
    let split = !matches!(group, run_query::SeriesGroup::None);
    let (series, groups_left_out) = fold_series(points, split);
    let time = |us: i64| render::time(us).unwrap_or_default();
    Ok(Json(RunTimeseries {
        stride_seconds: stride,
        start_time: time(start_us),
        end_time: time(end_us),
        group_by: body.group_by.filter(|g| !g.is_empty()),
        series,
        groups_left_out,
        feedback: fold_feedback(feedback),
    }))
}

/// Buckets into one series per group, the busiest first, at most `MOST_SERIES` of them (and
/// how many were left out).
fn fold_series(points: Vec<run_query::SeriesPoint>, split: bool) -> (Vec<RunSeries>, usize) {
    let mut series = std::collections::BTreeMap::<String, RunSeries>::new();
    for point in points {
        let entry = series.entry(point.series.clone()).or_default();
        entry.run_count += point.run_count;
        let quantile = |i: usize| point.latency.get(i).copied().filter(|v| v.is_finite());
        entry.points.push(RunSeriesPoint {
            start_time: render::time(point.bucket_us).unwrap_or_default(),
            run_count: point.run_count,
            error_count: point.error_count,
            error_rate: point.error_count as f64 / point.run_count.max(1) as f64,
            latency_p50: quantile(0),
            latency_p99: quantile(1),
            total_tokens: point.total_tokens,
            total_cost: (point.costed > 0).then_some(point.total_cost),
        });
    }
    let mut series: Vec<RunSeries> = series
        .into_iter()
        .map(|(name, mut s)| {
            s.group = split.then_some(name);
            s
        })
        .collect();
    series.sort_by_key(|s| std::cmp::Reverse(s.run_count));
    let left_out = series.len().saturating_sub(MOST_SERIES);
    series.truncate(MOST_SERIES);
    (series, left_out)
}

/// Feedback buckets into one series per key (keys without scores left out).
fn fold_feedback(points: Vec<run_query::FeedbackPoint>) -> Vec<FeedbackSeries> {
    let mut keys = std::collections::BTreeMap::<String, Vec<FeedbackSeriesPoint>>::new();
    for point in points.into_iter().filter(|p| p.scored > 0) {
        keys.entry(point.key)
            .or_default()
            .push(FeedbackSeriesPoint {
                start_time: render::time(point.bucket_us).unwrap_or_default(),
                n: point.scored,
                avg: point.score_sum / point.scored as f64,
            });
    }
    keys.into_iter()
        .map(|(key, points)| FeedbackSeries { key, points })
        .collect()
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
