//! Statistics over the runs a query selects, and the members of traces.

use clickhouse::{Client, Row};
use serde::Deserialize;
use uuid::Uuid;

use super::{FILTER_COLUMNS, RunQuery, latest_versions};
use crate::AnalyticsError;
use crate::sql::{Param, Sql};

/// Aggregates over a set of runs.
#[derive(Debug, Clone, Default, PartialEq, Row, Deserialize)]
pub struct RunStats {
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub run_count: u64,
    pub latency: Vec<f64>,
    pub first_token: Vec<f64>,
    pub error_count: u64,
    pub streaming_count: u64,
    pub llm_count: u64,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub median_tokens: f64,
    pub total_cost: f64,
    pub prompt_cost: f64,
    pub completion_cost: f64,
    pub costed: u64,
    pub first_start_us: i64,
    pub last_start_us: i64,
}

/// What the counts and latencies of [`stats`] are over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Every matching run (`POST /runs/stats`).
    Runs,
    /// Root runs, i.e. traces (project statistics); tokens and costs still sum every run.
    Traces,
}

fn aggregates(counting: Counting) -> String {
    let counted = match counting {
        Counting::Runs => "1",
        Counting::Traces => "parent_run_id IS NULL",
    };
    format!(
        "countIf({counted}) AS agg_run_count, \
         quantilesIf(0.5, 0.99)((assumeNotNull(end_time_us) - start_time_us) / 1e6, \
            {counted} AND end_time_us IS NOT NULL) AS agg_latency, \
         quantilesIf(0.5, 0.99)((assumeNotNull(first_token_time_us) - start_time_us) / 1e6, \
            {counted} AND first_token_time_us IS NOT NULL) AS agg_first_token, \
         countIf({counted} AND error != '') AS agg_error_count, \
         countIf(run_type = 'llm' AND first_token_time_us IS NOT NULL) AS streaming_count, \
         countIf(run_type = 'llm') AS llm_count, \
         sum(total_tokens) AS agg_total_tokens, sum(prompt_tokens) AS agg_prompt_tokens, \
         sum(completion_tokens) AS agg_completion_tokens, \
         medianIf(toFloat64(total_tokens), {counted}) AS median_tokens, \
         sum(ifNull(total_cost, 0)) AS agg_total_cost, sum(ifNull(prompt_cost, 0)) AS agg_prompt_cost, \
         sum(ifNull(completion_cost, 0)) AS agg_completion_cost, \
         countIf(total_cost IS NOT NULL) AS costed, \
         minIf(start_time_us, {counted}) AS first_start_us, \
         maxIf(start_time_us, {counted}) AS last_start_us"
    )
}

/// Statistics per project over the runs `query` selects (its order, limit and cursor are
/// ignored). Without conditions on mutable columns the scan reads raw rows and leaves out the
/// versions listed in `run_superseded`; with conditions it deduplicates candidates.
pub async fn stats(
    client: &Client,
    query: &RunQuery,
    counting: Counting,
    per_session: bool,
) -> Result<Vec<RunStats>, AnalyticsError> {
    let (group_column, group_by) = if per_session {
        ("session_id", " GROUP BY session_id")
    } else {
        ("toUUID('00000000-0000-0000-0000-000000000000')", "")
    };
    let mut sql = Sql::new(&format!(
        "SELECT {group_column} AS group_session, {} FROM ",
        aggregates(counting)
    ));
    sql.append(&matching(query));
    sql.push(group_by);
    Ok(sql.query(client).fetch_all::<RunStats>().await?)
}

/// `FROM` what `query` selects: without conditions on mutable columns, raw rows minus the
/// versions listed in `run_superseded`; with conditions, the deduplicated candidates that meet
/// them.
pub(super) fn matching(query: &RunQuery) -> Sql {
    let mut sql = Sql::new("");
    match query.conditions() {
        None => {
            // Raw rows minus the versions a newer one replaced (`run_superseded`).
            sql.push("runs WHERE ")
                .append(&query.scan(false))
                .push(" AND is_deleted = 0 AND (id, version) NOT IN (SELECT id, version FROM run_superseded WHERE ")
                .append(&query.key_scan())
                .push(")");
        }
        Some(conditions) => {
            // `version` too: the live tail reads when each run was written.
            let columns = if query.reads_payloads() {
                "*".to_owned()
            } else {
                format!("{FILTER_COLUMNS}, version")
            };
            sql.push("(")
                .append(&latest_versions(
                    &columns,
                    &query.scan(false),
                    Some(&conditions),
                ))
                .push(") WHERE is_deleted = 0 AND (")
                .append(&conditions)
                .push(")");
        }
    }
    sql
}

/// One entry of a run's trace, from `runs_by_trace`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct TraceMember {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub dotted_order: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub start_time_us: i64,
}

/// The live members of a trace in execution (`dotted_order`) order.
pub async fn trace_members(
    client: &Client,
    tenant_id: Uuid,
    trace_id: Uuid,
) -> Result<Vec<TraceMember>, AnalyticsError> {
    Ok(client
        .query(
            "SELECT id, dotted_order, session_id, start_time_us FROM (SELECT id, dotted_order, \
             session_id, start_time_us, is_deleted FROM runs_by_trace WHERE tenant_id = ? \
             AND trace_id = ? ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 \
             ORDER BY dotted_order",
        )
        .bind(tenant_id)
        .bind(trace_id)
        .fetch_all()
        .await?)
}

/// Tokens and costs summed over every run of a trace.
#[derive(Debug, Clone, Default, PartialEq, Row, Deserialize)]
pub struct TraceTotals {
    #[serde(with = "clickhouse::serde::uuid")]
    pub trace_id: Uuid,
    pub total_tokens: i64,
    pub total_cost: f64,
    /// Runs with a known cost (none: the total cost is unknown).
    pub costed: u64,
}

/// The totals of each of `traces` within the projects of `query`, in one scan: raw rows minus
/// the versions a newer one replaced, as [`stats`] reads them.
pub async fn trace_totals(
    client: &Client,
    query: &RunQuery,
    traces: &[Uuid],
) -> Result<Vec<TraceTotals>, AnalyticsError> {
    if traces.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        // Aliases differ from the column names: ClickHouse resolves an alias before a column,
        // so `sum(total_tokens) AS total_tokens` would aggregate itself.
        "SELECT trace_id, sum(total_tokens) AS agg_total_tokens, \
         sum(ifNull(total_cost, 0)) AS agg_total_cost, countIf(total_cost IS NOT NULL) AS costed \
         FROM runs WHERE ",
    );
    sql.append(&query.key_scan())
        .push(" AND trace_id IN ")
        .bind(Param::UuidSet(traces.to_vec()))
        .push(" AND is_deleted = 0 AND (id, version) NOT IN (SELECT id, version FROM run_superseded WHERE ")
        .append(&query.key_scan())
        .push(") GROUP BY trace_id");
    Ok(sql.query(client).fetch_all::<TraceTotals>().await?)
}
