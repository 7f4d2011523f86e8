//! Feedback aggregated over runs: counts, averages and categorical values by key.

use std::collections::BTreeMap;

use clickhouse::{Client, Row};
use serde::Deserialize;
use uuid::Uuid;

use super::{FILTER_COLUMNS, RunQuery, latest_versions};
use crate::AnalyticsError;
use crate::sql::{Param, Sql};

/// Feedback aggregated per key (`feedback_stats`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackStat {
    pub n: u64,
    pub scored: u64,
    pub score_sum: f64,
    pub score_squares: f64,
    /// Counts of non-score values (categorical feedback), by the value's JSON text.
    pub values: BTreeMap<String, u64>,
}

impl FeedbackStat {
    pub fn avg(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum / self.scored as f64)
    }

    /// Adds one group of feedback records sharing a key and value: `n` records, `scored` of
    /// them with a score; the unscored ones count towards `value` (categorical feedback).
    pub(super) fn add(&mut self, value: String, n: u64, scored: u64, sum: f64, squares: f64) {
        self.n += n;
        self.scored += scored;
        self.score_sum += sum;
        self.score_squares += squares;
        let unscored = n - scored;
        if unscored > 0 && !value.is_empty() && value != "null" {
            *self.values.entry(value).or_default() += unscored;
        }
    }

    pub fn stdev(&self) -> Option<f64> {
        let avg = self.avg()?;
        Some(
            (self.score_squares / self.scored as f64 - avg * avg)
                .max(0.0)
                .sqrt(),
        )
    }
}

#[derive(Debug, Row, Deserialize)]
struct FeedbackGroup {
    #[serde(with = "clickhouse::serde::uuid")]
    group_id: Uuid,
    key: String,
    value: String,
    n: u64,
    scored: u64,
    score_sum: f64,
    score_squares: f64,
}

/// Whose feedback [`feedback_stats`] aggregates, and what it groups by.
pub enum FeedbackScope<'a> {
    /// Feedback on these runs (of these traces), per run.
    Runs {
        traces: &'a [Uuid],
        runs: &'a [Uuid],
    },
    /// Feedback on the runs of these projects, per project.
    Sessions(&'a [Uuid]),
    /// Project-level feedback (a `session_id` and no run, e.g. summary evaluators), per project.
    ProjectLevel(&'a [Uuid]),
    /// Feedback on the runs a query selects (its order, limit and cursor ignored), all in one
    /// group keyed by the nil id.
    Matching(&'a RunQuery),
}

/// Feedback aggregated per `group_id`, joined to `runs` (a query of `fb_run, group_id`). The
/// runs are first narrowed to those with feedback, so the join's left side stays small and its
/// right side is the (small) latest feedback. The join is ALL: a run has one row on the left
/// (DISTINCT) and every one of its feedback records on the right.
fn feedback_of_runs(tenant_id: Uuid, runs: &Sql) -> Sql {
    let feedback = latest_run_feedback(tenant_id);
    let mut sql = Sql::new(&format!(
        "SELECT group_id, {FEEDBACK_AGGREGATE} FROM (SELECT DISTINCT fb_run, group_id FROM ("
    ));
    sql.append(runs)
        .push(") WHERE fb_run IN (SELECT fb_run FROM ")
        .append(&feedback)
        // Current ClickHouse requires an alias on each joined subquery.
        .push(")) AS fb_runs ALL INNER JOIN ")
        .append(&feedback)
        .push(" AS fb USING fb_run GROUP BY group_id, key, value");
    sql
}

/// The workspace's live feedback on runs, newest version of each record: `(fb_run, key, value,
/// score)`, parenthesised for use as a table.
pub(super) fn latest_run_feedback(tenant_id: Uuid) -> Sql {
    let mut feedback = Sql::new(
        "(SELECT assumeNotNull(run_id) AS fb_run, key, value, score FROM (SELECT run_id, key, \
         value, score, is_deleted FROM feedback WHERE tenant_id = ",
    );
    feedback
        .bind(tenant_id)
        .push(" ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 AND run_id IS NOT NULL)");
    feedback
}

pub(super) const FEEDBACK_AGGREGATE: &str = "key, value, count() AS n, countIf(score IS NOT NULL) AS scored, \
    sum(ifNull(score, 0)) AS score_sum, sum(ifNull(score, 0) * ifNull(score, 0)) AS score_squares";

pub async fn feedback_stats(
    client: &Client,
    tenant_id: Uuid,
    scope: FeedbackScope<'_>,
) -> Result<BTreeMap<Uuid, BTreeMap<String, FeedbackStat>>, AnalyticsError> {
    let mut sql = Sql::default();
    match scope {
        FeedbackScope::Runs { traces, runs } => {
            if traces.is_empty() || runs.is_empty() {
                return Ok(BTreeMap::new());
            }
            sql.push(&format!(
                "SELECT assumeNotNull(run_id) AS group_id, {FEEDBACK_AGGREGATE} FROM (SELECT run_id, key, \
                 value, score, is_deleted FROM feedback WHERE tenant_id = "
            ))
            .bind(tenant_id)
            .push(" AND trace_id IN ")
            .bind(Param::UuidSet(traces.to_vec()))
            .push(" ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 AND run_id IN ")
            .bind(Param::UuidSet(runs.to_vec()))
            .push(" GROUP BY group_id, key, value");
        }
        FeedbackScope::ProjectLevel(sessions) => {
            if sessions.is_empty() {
                return Ok(BTreeMap::new());
            }
            sql.push(&format!(
                "SELECT assumeNotNull(session_id) AS group_id, {FEEDBACK_AGGREGATE} FROM (SELECT \
                 session_id, run_id, key, value, score, is_deleted FROM feedback WHERE tenant_id = "
            ))
            .bind(tenant_id)
            .push(" AND trace_id = toUUID('00000000-0000-0000-0000-000000000000')")
            .push(" ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 AND run_id IS NULL AND session_id IN ")
            .bind(Param::UuidSet(sessions.to_vec()))
            .push(" GROUP BY group_id, key, value");
        }
        FeedbackScope::Sessions(sessions) => {
            if sessions.is_empty() {
                return Ok(BTreeMap::new());
            }
            let mut runs = Sql::new(
                "SELECT id AS fb_run, session_id AS group_id FROM run_ids WHERE tenant_id = ",
            );
            runs.bind(tenant_id)
                .push(" AND session_id IN ")
                .bind(Param::UuidSet(sessions.to_vec()));
            sql = feedback_of_runs(tenant_id, &runs);
        }
        FeedbackScope::Matching(query) => {
            let mut runs = Sql::default();
            match query.conditions() {
                None => {
                    runs.push("SELECT id AS fb_run, toUUID('00000000-0000-0000-0000-000000000000') AS group_id FROM runs WHERE ")
                        .append(&query.scan(false));
                }
                Some(conditions) => {
                    let columns = if query.reads_payloads() {
                        "*"
                    } else {
                        FILTER_COLUMNS
                    };
                    runs.push("SELECT id AS fb_run, toUUID('00000000-0000-0000-0000-000000000000') AS group_id FROM (")
                        .append(&latest_versions(columns, &query.scan(false), Some(&conditions)))
                        .push(") WHERE is_deleted = 0 AND (")
                        .append(&conditions)
                        .push(")");
                }
            }
            sql = feedback_of_runs(tenant_id, &runs);
        }
    }
    let groups: Vec<FeedbackGroup> = sql.query(client).fetch_all().await?;
    Ok(fold(groups.into_iter().map(|g| {
        (
            g.group_id,
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

/// One row of a [`FEEDBACK_AGGREGATE`] query: the records of a group sharing a key and value.
pub(super) struct Counted {
    pub key: String,
    pub value: String,
    pub n: u64,
    pub scored: u64,
    pub score_sum: f64,
    pub score_squares: f64,
}

/// Folds aggregate rows into statistics per group and key.
pub(super) fn fold<G: Ord>(
    rows: impl IntoIterator<Item = (G, Counted)>,
) -> BTreeMap<G, BTreeMap<String, FeedbackStat>> {
    let mut out: BTreeMap<G, BTreeMap<String, FeedbackStat>> = BTreeMap::new();
    for (group, row) in rows {
        out.entry(group)
            .or_default()
            .entry(row.key)
            .or_default()
            .add(
                row.value,
                row.n,
                row.scored,
                row.score_sum,
                row.score_squares,
            );
    }
    out
}
