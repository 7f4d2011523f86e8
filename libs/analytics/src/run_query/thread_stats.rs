//! Statistics over a project's conversations (`POST /v2/threads/stats`): how many threads and
//! traces, latency and first-token percentiles, error and streaming rates, tokens and costs,
//! and the feedback on the threads' traces, over a time window or in buckets of it.
//!
//! A thread is the traces whose root run carries its `thread_id`. The eligible threads are
//! those with a trace starting in the window whose root (`trace_filter`) or any run
//! (`tree_filter`) meets the filters; every trace of an eligible thread in the window then
//! counts. Each thread counts once, in the bucket holding the start of its most recent trace.
//! Runs are aggregated per trace first (a trace's tokens and costs are those of all its runs),
//! then per thread, then per bucket.

use std::collections::BTreeMap;

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::feedback::{Counted, FEEDBACK_AGGREGATE, FeedbackStat, fold, latest_run_feedback};
use super::{FILTER_COLUMNS, RunQuery, latest_versions};
use crate::AnalyticsError;
use crate::sql::Sql;

/// The statistics of one bucket (or of the whole window).
#[derive(Debug, Clone, Default, PartialEq, Row, Deserialize)]
pub struct ThreadBucket {
    /// The bucket's index from the window's start (0 without buckets).
    pub bucket: i64,
    pub thread_count: u64,
    pub trace_count: u64,
    /// Traces whose root run has ended (the base of the streaming rate).
    pub completed_traces: u64,
    /// Completed traces with a first-token time on any run.
    pub streamed_traces: u64,
    /// Traces with an error on any run.
    pub error_traces: u64,
    /// Trace latency (root start to root end), seconds: the 0.5 and 0.99 quantiles.
    pub latency: Vec<f64>,
    /// Time from the trace's start to its first token, seconds: the 0.5 and 0.99 quantiles.
    pub first_token: Vec<f64>,
    /// The median of the traces' total tokens.
    pub median_tokens: f64,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_cost: f64,
    pub prompt_cost: f64,
    pub completion_cost: f64,
    /// Runs with a cost: without any, the costs are unknown rather than zero.
    pub costed: u64,
}

/// The buckets of the statistics: `stride_us` wide from `query.start_min_us` (which must be
/// set), or one bucket for the whole window.
#[derive(Debug, Clone, Copy)]
pub struct Bucketing {
    pub stride_us: Option<i64>,
}

impl Bucketing {
    /// The bucket of a thread whose last trace started at `column`.
    fn of(self, column: &str, origin: i64) -> String {
        match self.stride_us {
            Some(stride) => format!("intDiv({column} - {origin}, {stride})"),
            None => "toInt64(0)".to_owned(),
        }
    }
}

/// The live runs of the project in the window, latest versions.
fn window_runs(query: &RunQuery, columns: &str) -> Sql {
    let mut sql = Sql::new("(");
    sql.append(&latest_versions(columns, &query.scan(false), None))
        .push(") WHERE is_deleted = 0");
    sql
}

/// `(thread, trace)` of every trace in the window whose root carries a thread id, restricted to
/// the eligible threads.
fn eligible_traces(query: &RunQuery) -> Sql {
    let mut sql = Sql::new("SELECT thread_id AS t_thread, trace_id AS t_trace FROM ");
    sql.append(&window_runs(query, FILTER_COLUMNS))
        .push(" AND parent_run_id IS NULL AND thread_id != ''");
    if let Some(conditions) = query.conditions() {
        let columns = if query.reads_payloads() {
            "*"
        } else {
            FILTER_COLUMNS
        };
        sql.push(" AND thread_id IN (SELECT thread_id FROM (")
            .append(&latest_versions(
                columns,
                &query.scan(false),
                Some(&conditions),
            ))
            .push(") WHERE is_deleted = 0 AND thread_id != '' AND (")
            .append(&conditions)
            .push("))");
    }
    sql
}

/// One row per eligible thread: its last trace's start, trace count, and per-trace arrays.
fn per_thread(query: &RunQuery) -> Sql {
    // Per trace first: the runs of the eligible traces, grouped by trace; a trace's thread is
    // its root run's.
    let mut traces = Sql::new(
        "SELECT trace_id AS t_trace, anyIf(thread_id, parent_run_id IS NULL) AS t_thread, \
         anyIf(id, parent_run_id IS NULL) AS t_root, \
         minIf(start_time_us, parent_run_id IS NULL) AS t_start, \
         countIf(parent_run_id IS NULL AND end_time_us IS NOT NULL) > 0 AS t_completed, \
         countIf(first_token_time_us IS NOT NULL) > 0 AS t_streamed, \
         countIf(error != '') > 0 AS t_error, \
         maxIf((assumeNotNull(end_time_us) - start_time_us) / 1e6, \
            parent_run_id IS NULL AND end_time_us IS NOT NULL) AS t_latency, \
         (minIf(assumeNotNull(first_token_time_us), first_token_time_us IS NOT NULL) \
            - minIf(start_time_us, parent_run_id IS NULL)) / 1e6 AS t_first_token, \
         sum(total_tokens) AS t_total_tokens, sum(prompt_tokens) AS t_prompt_tokens, \
         sum(completion_tokens) AS t_completion_tokens, \
         sum(ifNull(total_cost, 0)) AS t_total_cost, sum(ifNull(prompt_cost, 0)) AS t_prompt_cost, \
         sum(ifNull(completion_cost, 0)) AS t_completion_cost, \
         countIf(total_cost IS NOT NULL) AS t_costed FROM ",
    );
    traces
        .append(&window_runs(query, FILTER_COLUMNS))
        .push(" AND trace_id IN (SELECT t_trace FROM (")
        .append(&eligible_traces(query))
        .push(")) GROUP BY trace_id");
    let mut sql = Sql::new(
        "SELECT t_thread, max(t_start) AS th_last, count() AS th_traces, \
         groupArray(t_root) AS th_roots, groupArray(t_trace) AS th_trace_ids, \
         sum(t_completed) AS th_completed, sumIf(t_streamed, t_completed) AS th_streamed, \
         sum(t_error) AS th_errors, \
         groupArrayIf(t_latency, t_completed) AS th_latencies, \
         groupArrayIf(t_first_token, t_streamed) AS th_first_tokens, \
         groupArray(toFloat64(t_total_tokens)) AS th_tokens, \
         sum(t_total_tokens) AS th_total_tokens, sum(t_prompt_tokens) AS th_prompt_tokens, \
         sum(t_completion_tokens) AS th_completion_tokens, sum(t_total_cost) AS th_total_cost, \
         sum(t_prompt_cost) AS th_prompt_cost, sum(t_completion_cost) AS th_completion_cost, \
         sum(t_costed) AS th_costed FROM (",
    );
    sql.append(&traces).push(") GROUP BY t_thread");
    sql
}

/// The statistics per bucket, in bucket order; buckets without threads are absent.
pub async fn thread_stats(
    client: &Client,
    query: &RunQuery,
    bucketing: Bucketing,
) -> Result<Vec<ThreadBucket>, AnalyticsError> {
    let origin = query.start_min_us.unwrap_or_default();
    let mut sql = Sql::new(&format!(
        "SELECT {} AS bucket, count() AS agg_thread_count, sum(th_traces) AS agg_trace_count, \
         sum(th_completed) AS agg_completed, sum(th_streamed) AS agg_streamed, \
         sum(th_errors) AS agg_errors, \
         quantilesArray(0.5, 0.99)(th_latencies) AS agg_latency, \
         quantilesArray(0.5, 0.99)(th_first_tokens) AS agg_first_token, \
         medianArray(th_tokens) AS agg_median_tokens, \
         sum(th_total_tokens) AS agg_total_tokens, sum(th_prompt_tokens) AS agg_prompt_tokens, \
         sum(th_completion_tokens) AS agg_completion_tokens, sum(th_total_cost) AS agg_total_cost, \
         sum(th_prompt_cost) AS agg_prompt_cost, sum(th_completion_cost) AS agg_completion_cost, \
         sum(th_costed) AS agg_costed FROM (",
        bucketing.of("th_last", origin)
    ));
    sql.append(&per_thread(query))
        .push(") GROUP BY bucket ORDER BY bucket");
    Ok(sql.query(client).fetch_all::<ThreadBucket>().await?)
}

#[derive(Debug, Row, Deserialize)]
struct BucketFeedback {
    bucket: i64,
    key: String,
    value: String,
    n: u64,
    scored: u64,
    score_sum: f64,
    score_squares: f64,
}

/// The feedback on the root runs of the eligible threads' traces, per bucket and key.
pub async fn thread_feedback_stats(
    client: &Client,
    query: &RunQuery,
    bucketing: Bucketing,
) -> Result<BTreeMap<i64, BTreeMap<String, FeedbackStat>>, AnalyticsError> {
    let origin = query.start_min_us.unwrap_or_default();
    let feedback = latest_run_feedback(query.tenant_id);
    let mut sql = Sql::new(&format!(
        "SELECT bucket, {FEEDBACK_AGGREGATE} FROM (SELECT DISTINCT fb_run, {} AS bucket FROM (",
        bucketing.of("th_last", origin)
    ));
    sql.append(&per_thread(query))
        .push(") ARRAY JOIN th_roots AS fb_run WHERE fb_run IN (SELECT fb_run FROM ")
        .append(&feedback)
        .push(")) AS fb_runs ALL INNER JOIN ")
        .append(&feedback)
        .push(" AS fb USING fb_run GROUP BY bucket, key, value");
    let groups: Vec<BucketFeedback> = sql.query(client).fetch_all().await?;
    Ok(fold(groups.into_iter().map(|g| {
        (
            g.bucket,
            Counted {
                key: g.key,
                value: g.value,
                n: g.n,
                scored: g.scored,
                score_sum: g.score_sum,
                score_squares: g.score_squares,
            },
        )
    })))
}

/// The token and cost breakdowns (`input_token_details` and the like, JSON objects of numbers)
/// of the runs of the eligible threads' traces, per bucket, as stored: the caller sums them.
#[derive(Debug, Row, Deserialize)]
pub struct BucketDetails {
    pub bucket: i64,
    pub prompt_token_details: String,
    pub completion_token_details: String,
    pub prompt_cost_details: String,
    pub completion_cost_details: String,
}

pub async fn thread_details(
    client: &Client,
    query: &RunQuery,
    bucketing: Bucketing,
) -> Result<Vec<BucketDetails>, AnalyticsError> {
    let origin = query.start_min_us.unwrap_or_default();
    let columns = "id, trace_id, start_time_us, is_deleted, prompt_token_details, \
                   completion_token_details, prompt_cost_details, completion_cost_details";
    let mut sql = Sql::new(
        "SELECT bucket, prompt_token_details, completion_token_details, prompt_cost_details, \
         completion_cost_details FROM (SELECT trace_id AS t_trace, prompt_token_details, \
         completion_token_details, prompt_cost_details, completion_cost_details FROM ",
    );
    sql.append(&window_runs(query, columns))
        .push(
            " AND (prompt_token_details NOT IN ('', '{}') OR completion_token_details NOT IN ('', '{}') \
             OR prompt_cost_details NOT IN ('', '{}') OR completion_cost_details NOT IN ('', '{}'))) \
             AS detailed ALL INNER JOIN (SELECT DISTINCT t_trace, ",
        )
        .push(&bucketing.of("th_last", origin))
        .push(" AS bucket FROM (")
        .append(&per_thread(query))
        .push(") ARRAY JOIN th_trace_ids AS t_trace) AS trace_buckets USING t_trace");
    Ok(sql.query(client).fetch_all::<BucketDetails>().await?)
}
