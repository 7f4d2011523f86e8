//! Conversations: runs grouped by `thread_id`.

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::{FILTER_COLUMNS, RunQuery, latest_versions};
use crate::AnalyticsError;
use crate::sql::Sql;

/// One conversation of `POST /runs/group`: the runs sharing a `thread_id`.
#[derive(Debug, Clone, PartialEq, Row, Deserialize)]
pub struct ThreadGroup {
    pub thread_id: String,
    /// Traces (root runs) in the thread.
    pub count: u64,
    pub run_count: u64,
    pub min_start_us: i64,
    pub max_start_us: i64,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_cost: f64,
    pub costed: u64,
    pub latency: Vec<f64>,
    pub first_inputs: String,
    pub last_outputs: String,
    pub error_count: u64,
}

/// A page of the threads among the runs `query` selects, most recently active first, and how
/// many threads there are in all.
pub async fn thread_groups(
    client: &Client,
    query: &RunQuery,
    offset: u64,
    limit: u64,
) -> Result<(Vec<ThreadGroup>, u64), AnalyticsError> {
    let mut conditions = Sql::new("thread_id != ''");
    if let Some(more) = query.conditions() {
        conditions.push(" AND (").append(&more).push(")");
    }
    let columns = if query.reads_payloads() {
        "*"
    } else {
        FILTER_COLUMNS
    };
    let mut runs = Sql::new("(");
    runs.append(&latest_versions(
        columns,
        &query.scan(false),
        Some(&conditions),
    ))
    .push(") WHERE is_deleted = 0 AND (")
    .append(&conditions)
    .push(")");
    let mut sql = Sql::new(
        "SELECT thread_id, countIf(parent_run_id IS NULL) AS count, count() AS agg_run_count, \
         min(start_time_us) AS min_start_us, max(start_time_us) AS max_start_us, \
         sum(total_tokens) AS agg_total_tokens, sum(prompt_tokens) AS agg_prompt_tokens, \
         sum(completion_tokens) AS agg_completion_tokens, sum(ifNull(total_cost, 0)) AS agg_total_cost, \
         countIf(total_cost IS NOT NULL) AS costed, \
         quantilesIf(0.5, 0.99)((assumeNotNull(end_time_us) - start_time_us) / 1e6, \
            parent_run_id IS NULL AND end_time_us IS NOT NULL) AS agg_latency, \
         argMinIf(inputs_preview, start_time_us, parent_run_id IS NULL) AS first_inputs, \
         argMaxIf(outputs_preview, start_time_us, parent_run_id IS NULL) AS last_outputs, \
         countIf(parent_run_id IS NULL AND error != '') AS agg_error_count FROM ",
    );
    sql.append(&runs)
        .push(" GROUP BY thread_id ORDER BY max_start_us DESC, thread_id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let mut total = Sql::new("SELECT uniqExact(thread_id) FROM ");
    total.append(&runs);
    let groups = sql.query(client).fetch_all::<ThreadGroup>().await?;
    let total = total.query(client).fetch_one::<u64>().await?;
    Ok((groups, total))
}
