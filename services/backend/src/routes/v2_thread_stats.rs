//! `POST /v2/threads/stats`: statistics over a project's conversations (threads), for a window
//! or as a time series. What a thread is and which ones count: `run_query::thread_stats`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use ironsmith_analytics::run_query::{self, Bucketing, FeedbackStat, ThreadBucket};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::RunsRead;
use ironsmith_http::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::{QueryBody, invalid, lenient_time};
use crate::runs::{query_from, scope};
use crate::v2;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(thread_stats))
}

/// Most buckets a time series may have.
const MAX_BUCKETS: i64 = 1000;

/// A statistic to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ThreadStat {
    ThreadCount,
    TraceCount,
    TotalTokens,
    TotalCost,
    ErrorRate,
    StreamingRate,
    LatencyP50,
    LatencyP99,
    MedianTokens,
    FirstTokenP50,
    FirstTokenP99,
    PromptTokens,
    CompletionTokens,
    PromptCost,
    CompletionCost,
    PromptTokenDetails,
    CompletionTokenDetails,
    PromptCostDetails,
    CompletionCostDetails,
    ThreadFeedbackStats,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StrideUnit {
    Second,
    Minute,
    Hour,
    Day,
}

/// Statistics as a time series: buckets `value` `unit`s wide from `min_start_time`.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
pub struct Stride {
    unit: StrideUnit,
    #[schema(minimum = 1)]
    value: i64,
}

impl Stride {
    fn micros(self) -> Option<i64> {
        let unit: i64 = match self.unit {
            StrideUnit::Second => 1_000_000,
            StrideUnit::Minute => 60_000_000,
            StrideUnit::Hour => 3_600_000_000,
            StrideUnit::Day => 86_400_000_000,
        };
        (self.value >= 1)
            .then(|| self.value.checked_mul(unit))
            .flatten()
    }
}

/// `POST /v2/threads/stats`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct V2ThreadStatsQuery {
    project_id: Uuid,
    /// What to compute; at least one.
    select: Vec<ThreadStat>,
    /// Conditions on the traces' root runs (the older name of `trace_filter`).
    #[serde(default)]
    filter: Option<String>,
    /// Threads with a trace whose root run meets this filter.
    #[serde(default)]
    trace_filter: Option<String>,
    /// Threads with a trace holding any run that meets this filter.
    #[serde(default)]
    tree_filter: Option<String>,
    /// Conditions on a thread's summary: not supported here (refused with a 422).
    #[serde(default)]
    thread_filter: Option<String>,
    /// Inclusive; a day before now when absent.
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    min_start_time: Option<i64>,
    /// Exclusive; now when absent.
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    max_start_time: Option<i64>,
    #[serde(default)]
    stride: Option<Stride>,
}

/// The statistics of a window or of one bucket of it; only the selected fields are present.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ThreadStatsValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket_start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    median_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    streaming_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_p50_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_p99_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_token_p50_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_token_p99_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_token_details: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_token_details: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cost_details: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_cost_details: Option<BTreeMap<String, f64>>,
    /// Feedback on the threads' traces, by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    thread_feedback_stats: Option<Map<String, Value>>,
}

/// The window's statistics and, with a stride, the time series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThreadStatsResponse {
    #[serde(flatten)]
    totals: ThreadStatsValues,
    #[serde(skip_serializing_if = "Option::is_none")]
    buckets: Option<Vec<ThreadStatsValues>>,
}

/// A number ClickHouse computed over no values (NaN) is absent.
fn finite(value: Option<&f64>) -> Option<f64> {
    value.copied().filter(|v| v.is_finite())
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Token and cost breakdowns summed by category.
#[derive(Debug, Default)]
struct Details {
    prompt_tokens: BTreeMap<String, i64>,
    completion_tokens: BTreeMap<String, i64>,
    prompt_cost: BTreeMap<String, f64>,
    completion_cost: BTreeMap<String, f64>,
}

fn add_counts(into: &mut BTreeMap<String, i64>, json: &str) {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) {
        for (key, value) in map {
            if let Some(n) = value.as_i64() {
                *into.entry(key).or_default() += n;
            }
        }
    }
}

fn add_amounts(into: &mut BTreeMap<String, f64>, json: &str) {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) {
        for (key, value) in map {
            // Costs are sent as numbers or decimal strings.
            let amount = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()));
            if let Some(amount) = amount {
                *into.entry(key).or_default() += amount;
            }
        }
    }
}

fn feedback_json(stats: &BTreeMap<String, FeedbackStat>) -> Map<String, Value> {
    stats
        .iter()
        .map(|(key, stat)| {
            let values: Map<String, Value> = stat
                .values
                .iter()
                .map(|(value, count)| {
                    // Values are stored as JSON text: a label reads as itself.
                    let label = match serde_json::from_str::<Value>(value) {
                        Ok(Value::String(label)) => label,
                        _ => value.clone(),
                    };
                    (label, Value::from(*count))
                })
                .collect();
            let value = serde_json::json!({
                "n": stat.n,
                "avg": stat.avg(),
                "stdev": (stat.scored > 1).then(|| stat.stdev()).flatten(),
                "values": values,
                "errors": 0,
                "contains_thread_feedback": false,
            });
            (key.clone(), value)
        })
        .collect()
}

/// The selected statistics of one bucket.
fn values(
    selected: &[ThreadStat],
    bucket: &ThreadBucket,
    details: Option<&Details>,
    feedback: Option<&BTreeMap<String, FeedbackStat>>,
) -> ThreadStatsValues {
    let mut out = ThreadStatsValues::default();
    let costed = bucket.costed > 0;
    for stat in selected {
        match stat {
            ThreadStat::ThreadCount => out.thread_count = Some(bucket.thread_count),
            ThreadStat::TraceCount => out.trace_count = Some(bucket.trace_count),
            ThreadStat::TotalTokens => out.total_tokens = Some(bucket.total_tokens),
            ThreadStat::PromptTokens => out.prompt_tokens = Some(bucket.prompt_tokens),
            ThreadStat::CompletionTokens => out.completion_tokens = Some(bucket.completion_tokens),
            ThreadStat::MedianTokens => {
                out.median_tokens = finite(Some(&bucket.median_tokens)).map(|m| m.round() as i64);
            }
            ThreadStat::TotalCost => out.total_cost = costed.then_some(bucket.total_cost),
            ThreadStat::PromptCost => out.prompt_cost = costed.then_some(bucket.prompt_cost),
            ThreadStat::CompletionCost => {
                out.completion_cost = costed.then_some(bucket.completion_cost);
            }
            ThreadStat::ErrorRate => {
                out.error_rate = ratio(bucket.error_traces, bucket.trace_count)
            }
            ThreadStat::StreamingRate => {
                out.streaming_rate = ratio(bucket.streamed_traces, bucket.completed_traces);
            }
            ThreadStat::LatencyP50 => out.latency_p50_seconds = finite(bucket.latency.first()),
            ThreadStat::LatencyP99 => out.latency_p99_seconds = finite(bucket.latency.get(1)),
            ThreadStat::FirstTokenP50 => {
                out.first_token_p50_seconds = finite(bucket.first_token.first());
            }
            ThreadStat::FirstTokenP99 => {
                out.first_token_p99_seconds = finite(bucket.first_token.get(1));
            }
            ThreadStat::PromptTokenDetails => {
                out.prompt_token_details =
                    Some(details.map(|d| d.prompt_tokens.clone()).unwrap_or_default());
            }
            ThreadStat::CompletionTokenDetails => {
                out.completion_token_details = Some(
                    details
                        .map(|d| d.completion_tokens.clone())
                        .unwrap_or_default(),
                );
            }
            ThreadStat::PromptCostDetails => {
                out.prompt_cost_details =
                    Some(details.map(|d| d.prompt_cost.clone()).unwrap_or_default());
            }
            ThreadStat::CompletionCostDetails => {
                out.completion_cost_details = Some(
                    details
                        .map(|d| d.completion_cost.clone())
                        .unwrap_or_default(),
                );
            }
            ThreadStat::ThreadFeedbackStats => {
                out.thread_feedback_stats = Some(feedback.map(feedback_json).unwrap_or_default());
            }
        }
    }
    out
}

/// The statistics asked for, each once; `thread_filter` is refused.
fn selected(body: &V2ThreadStatsQuery) -> Result<Vec<ThreadStat>, ApiError> {
    let mut selected = body.select.clone();
    selected.sort();
    selected.dedup();
    if selected.is_empty() {
        return Err(invalid("select", "must name at least one statistic".into()));
    }
    if body
        .thread_filter
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty())
    {
        return Err(invalid(
            "thread_filter",
            "is not supported by this server: narrow threads with trace_filter or tree_filter"
                .into(),
        ));
    }
    Ok(selected)
}

/// The window (inclusive start, exclusive end, microseconds) and the stride's width.
fn window(body: &V2ThreadStatsQuery) -> Result<(i64, i64, Option<i64>), ApiError> {
    let now = chrono::Utc::now().timestamp_micros();
    let min = body.min_start_time.unwrap_or_else(v2::a_day_ago);
    let max = body.max_start_time.unwrap_or(now);
    if max <= min {
        return Err(invalid(
            "max_start_time",
            "must be after min_start_time".into(),
        ));
    }
    let Some(stride) = body.stride else {
        return Ok((min, max, None));
    };
    let micros = stride
        .micros()
        .ok_or_else(|| invalid("stride", "value must be at least 1".into()))?;
    let buckets = bucket_count(min, max, micros);
    if buckets > MAX_BUCKETS {
        return Err(invalid(
            "stride",
            format!("makes {buckets} buckets of the window; at most {MAX_BUCKETS}"),
        ));
    }
    Ok((min, max, Some(micros)))
}

fn bucket_count(min: i64, max: i64, stride: i64) -> i64 {
    (max - min).div_euclid(stride) + i64::from((max - min) % stride != 0)
}

/// The run query of the window: `filter` is evaluated on trace roots, as `trace_filter` is,
/// so both must hold.
fn query_body(body: &V2ThreadStatsQuery, min: i64, max: i64) -> QueryBody {
    let given = |f: &Option<String>| f.clone().filter(|f| !f.trim().is_empty());
    let trace_filter = match (given(&body.filter), given(&body.trace_filter)) {
        (Some(a), Some(b)) => Some(format!("and({a}, {b})")),
        (a, b) => a.or(b),
    };
    QueryBody {
        session: Some(vec![body.project_id]),
        trace_filter,
        tree_filter: given(&body.tree_filter),
        start_time: Some(min),
        // The upper bound is exclusive.
        end_time: Some(max - 1),
        ..QueryBody::default()
    }
}

#[utoipa::path(post, path = "/v2/threads/stats", operation_id = "thread_aggregate_stats_v2", tag = "runs",
    request_body = V2ThreadStatsQuery,
    responses((status = 200, body = ThreadStatsResponse),
        (status = 404, description = "No such project in the workspace"),
        (status = 422, description = "No statistic selected, an unknown one, a bad window or stride, or a thread_filter")))]
async fn thread_stats(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    ironsmith_http::Json(body): ironsmith_http::Json<V2ThreadStatsQuery>,
) -> Result<Json<ThreadStatsResponse>, ApiError> {
    let selected = selected(&body)?;
    let (min, max, stride_us) = window(&body)?;
    let tenant_id = caller.workspace_id;
    let query_body = query_body(&body, min, max);
    let mut query = query_from(tenant_id, &query_body, Default::default())?;
    if !scope(&state, tenant_id, &query_body, &mut query).await? {
        return Err(ApiError::NotFound("Project not found".into()));
    }
    let clickhouse = &state.stores.clickhouse;
    let whole = Bucketing { stride_us: None };
    let wants_details = selected.iter().any(|s| {
        matches!(
            s,
            ThreadStat::PromptTokenDetails
                | ThreadStat::CompletionTokenDetails
                | ThreadStat::PromptCostDetails
                | ThreadStat::CompletionCostDetails
        )
    });
    let wants_feedback = selected.contains(&ThreadStat::ThreadFeedbackStats);

    // Each statistic per bucket (index 0 for the whole window), then assembled.
    let gather = |bucketing: Bucketing| {
        let query = &query;
        async move {
            let stats = run_query::thread_stats(clickhouse, query, bucketing).await?;
            let mut details: BTreeMap<i64, Details> = BTreeMap::new();
            if wants_details {
                for row in run_query::thread_details(clickhouse, query, bucketing).await? {
                    let into = details.entry(row.bucket).or_default();
                    add_counts(&mut into.prompt_tokens, &row.prompt_token_details);
                    add_counts(&mut into.completion_tokens, &row.completion_token_details);
                    add_amounts(&mut into.prompt_cost, &row.prompt_cost_details);
                    add_amounts(&mut into.completion_cost, &row.completion_cost_details);
                }
            }
            let feedback = if wants_feedback {
                run_query::thread_feedback_stats(clickhouse, query, bucketing).await?
            } else {
                BTreeMap::new()
            };
            Ok::<_, ApiError>((stats, details, feedback))
        }
    };
    let (totals, details, feedback) = gather(whole).await?;
    let empty = ThreadBucket::default();
    let total = totals.first().unwrap_or(&empty);
    let totals = values(&selected, total, details.get(&0), feedback.get(&0));
    let buckets = match stride_us {
        None => None,
        Some(stride) => {
            let (rows, details, feedback) = gather(Bucketing {
                stride_us: Some(stride),
            })
            .await?;
            let by_index: BTreeMap<i64, &ThreadBucket> =
                rows.iter().map(|r| (r.bucket, r)).collect();
            let count = bucket_count(min, max, stride);
            Some(
                (0..count)
                    .map(|index| {
                        let row = by_index.get(&index).copied().unwrap_or(&empty);
                        let mut out =
                            values(&selected, row, details.get(&index), feedback.get(&index));
                        out.bucket_start_time = Some(v2::time(min + index * stride));
                        out
                    })
                    .collect(),
            )
        }
    };
    Ok(Json(ThreadStatsResponse { totals, buckets }))
}
