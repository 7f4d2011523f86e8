//! Run statistics over time: the runs a query selects, counted per time bucket (and per group:
//! run name, run type, tag or a metadata value), for the monitoring charts.

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::RunQuery;
use super::feedback::latest_run_feedback;
use super::stats::matching;
use crate::AnalyticsError;
use crate::sql::Sql;

/// What the series of [`timeseries`] are split by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesGroup {
    /// One series over every run.
    None,
    Name,
    RunType,
    /// A run counts in the series of each of its tags (untagged runs in the `""` series).
    Tag,
    /// The run's value for this metadata key (`""` when it has none).
    Metadata(String),
}

/// One bucket of one series.
#[derive(Debug, Clone, Default, PartialEq, Row, Deserialize)]
pub struct SeriesPoint {
    /// The bucket's start, in microseconds since the epoch.
    pub bucket_us: i64,
    pub series: String,
    pub run_count: u64,
    pub error_count: u64,
    /// Latency p50 and p99 in seconds over runs that ended (NaN when none did).
    pub latency: Vec<f64>,
    pub total_tokens: i64,
    pub total_cost: f64,
    /// Runs with a known cost (none: the bucket's cost is unknown).
    pub costed: u64,
}

/// Counts, errors, latency quantiles, tokens and cost of the runs `query` selects, per
/// `stride_us` bucket of start time and per `group`, ordered by bucket then series. Buckets
/// without runs are absent.
pub async fn timeseries(
    client: &Client,
    query: &RunQuery,
    stride_us: i64,
    group: &SeriesGroup,
) -> Result<Vec<SeriesPoint>, AnalyticsError> {
    let mut sql = Sql::new("SELECT intDiv(start_time_us, ");
    sql.bind(stride_us)
        .push(") * ")
        .bind(stride_us)
        .push(" AS bucket_start, ");
    match group {
        SeriesGroup::None => sql.push("''"),
        SeriesGroup::Name => sql.push("name"),
        SeriesGroup::RunType => sql.push("run_type"),
        SeriesGroup::Tag => sql.push("arrayJoin(if(empty(tags), [''], tags))"),
        SeriesGroup::Metadata(key) => sql
            .push("arrayElement(metadata_values, indexOf(metadata_keys, ")
            .bind(key.as_str())
            .push("))"),
    };
    // Aliases differ from the column names: ClickHouse resolves an alias before a column.
    sql.push(
        " AS series_name, count() AS agg_run_count, countIf(error != '') AS agg_error_count, \
         quantilesIf(0.5, 0.99)((assumeNotNull(end_time_us) - start_time_us) / 1e6, \
            end_time_us IS NOT NULL) AS agg_latency, \
         sum(total_tokens) AS agg_total_tokens, sum(ifNull(total_cost, 0)) AS agg_total_cost, \
         countIf(total_cost IS NOT NULL) AS agg_costed FROM ",
    )
    .append(&matching(query))
    .push(" GROUP BY bucket_start, series_name ORDER BY bucket_start, series_name");
    Ok(sql.query(client).fetch_all::<SeriesPoint>().await?)
}

/// Feedback scores of one key in one bucket (by the start time of the run they are on).
#[derive(Debug, Clone, Default, PartialEq, Row, Deserialize)]
pub struct FeedbackPoint {
    pub bucket_us: i64,
    pub key: String,
    /// Records with a score.
    pub scored: u64,
    pub score_sum: f64,
}

/// Feedback scores on the runs `query` selects, per `stride_us` bucket of the runs' start time
/// and per feedback key, ordered by bucket then key.
pub async fn feedback_timeseries(
    client: &Client,
    query: &RunQuery,
    stride_us: i64,
) -> Result<Vec<FeedbackPoint>, AnalyticsError> {
    let feedback = latest_run_feedback(query.tenant_id);
    let mut sql = Sql::new(
        "SELECT bucket_start, key, countIf(score IS NOT NULL) AS agg_scored, \
         sum(ifNull(score, 0)) AS agg_score_sum FROM (SELECT DISTINCT id AS fb_run, \
         intDiv(start_time_us, ",
    );
    sql.bind(stride_us)
        .push(") * ")
        .bind(stride_us)
        .push(" AS bucket_start FROM ")
        .append(&matching(query))
        .push(" AND id IN (SELECT fb_run FROM ")
        .append(&feedback)
        // Current ClickHouse requires an alias on each joined subquery.
        .push(")) AS fb_runs ALL INNER JOIN ")
        .append(&feedback)
        .push(" AS fb USING fb_run GROUP BY bucket_start, key ORDER BY bucket_start, key");
    Ok(sql.query(client).fetch_all::<FeedbackPoint>().await?)
}
