//! Reading runs: cursor-paged listings, statistics, traces and feedback aggregates.
//!
//! Every read deduplicates explicitly (the latest `version` of an id wins, then
//! `is_deleted = 0`), and every condition on a mutable column is evaluated on that latest
//! version. To keep that cheap on large projects:
//!
//! - Conditions that every version of a run shares — tenant, project, start time, id, trace —
//!   go straight into the scan, where the sort key `(tenant_id, session_id, start_time_us, id)`
//!   prunes granules.
//! - Other conditions first select candidate ids over raw rows (a superset: the latest version
//!   is itself a raw row), then are checked again on the deduplicated rows.
//! - A listing page first finds the start time of the k-th newest matching raw row (reading one
//!   column), then deduplicates only the runs at or after it. Every run newer than that bound
//!   is considered, so if the window yields a full page the page is exact; otherwise the window
//!   grows until it does or covers everything.

use clickhouse::{Client, Row};
use ironsmith_filter::Filter;
use serde::Deserialize;
use uuid::Uuid;

use crate::runs::RunRow;
use crate::sql::{Param, Sql, join};
use crate::{AnalyticsError, run_filter};

mod experiments;
mod feedback;
mod stats;
mod tail;
mod thread_stats;
mod threads;
mod timeseries;

pub use experiments::{ExampleScore, example_scores, referenced_examples};
pub use feedback::{FeedbackScope, FeedbackStat, feedback_stats};
pub use stats::{Counting, RunStats, TraceMember, TraceTotals, stats, trace_members, trace_totals};
pub use tail::{Written, written_after};
pub use thread_stats::{
    BucketDetails, Bucketing, ThreadBucket, thread_details, thread_feedback_stats, thread_stats,
};
pub use threads::{ThreadGroup, thread_groups};
pub use timeseries::{FeedbackPoint, SeriesGroup, SeriesPoint, feedback_timeseries, timeseries};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

/// Which payload columns a read returns. Listings never read the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Payloads {
    pub inputs: bool,
    pub outputs: bool,
    pub extra: bool,
    pub events: bool,
    pub serialized: bool,
    pub attachments: bool,
}

impl Payloads {
    pub const ALL: Payloads = Payloads {
        inputs: true,
        outputs: true,
        extra: true,
        events: true,
        serialized: true,
        attachments: true,
    };

    fn wants(&self, column: &str) -> Option<bool> {
        Some(match column {
            "inputs" => self.inputs,
            "outputs" => self.outputs,
            "extra" => self.extra,
            "events" => self.events,
            "serialized" => self.serialized,
            "attachments" => self.attachments,
            _ => return None,
        })
    }
}

/// A position in a listing: the last run of a page, by start time then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub start_time_us: i64,
    pub id: Uuid,
}

/// What to read. `sessions` must be non-empty and hold only live projects of `tenant_id`; the
/// caller resolves them (from the request, or from where the ids or the trace live).
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub tenant_id: Uuid,
    pub sessions: Vec<Uuid>,
    /// Exactly these runs; every other selection below is ignored.
    pub ids: Option<Vec<Uuid>>,
    pub trace_id: Option<Uuid>,
    pub parent_run_id: Option<Uuid>,
    pub run_type: Option<String>,
    pub reference_examples: Option<Vec<Uuid>>,
    pub is_root: Option<bool>,
    pub error: Option<bool>,
    /// Bounds on the start time, in microseconds, inclusive.
    pub start_min_us: Option<i64>,
    pub start_max_us: Option<i64>,
    pub filter: Option<Filter>,
    pub trace_filter: Option<Filter>,
    pub tree_filter: Option<Filter>,
    pub order: Order,
    /// Runs per page, at least 1.
    pub limit: usize,
    /// Continue after this position.
    pub after: Option<Position>,
    pub payloads: Payloads,
}

/// One page: the runs and, when more follow, where the next page starts.
#[derive(Debug, Clone)]
pub struct Page {
    pub runs: Vec<RunRow>,
    pub next: Option<Position>,
}

/// Payload columns kept in `run_payloads`, empty in `runs`.
/// Every column a filter or a statistic reads, payloads aside.
const FILTER_COLUMNS: &str = "session_id, id, trace_id, parent_run_id, reference_example_id, \
    name, run_type, status, thread_id, start_time_us, end_time_us, first_token_time_us, error, \
    tags, metadata_keys, metadata_values, input_keys, input_values, output_keys, output_values, \
    total_tokens, prompt_tokens, completion_tokens, total_cost, prompt_cost, completion_cost, \
    inputs_preview, outputs_preview, is_deleted";

const SEPARATE_PAYLOADS: [&str; 4] = ["inputs", "outputs", "events", "serialized"];

impl RunQuery {
    fn selects_ids(&self) -> bool {
        self.ids.is_some()
    }

    fn reads_payloads(&self) -> bool {
        !self.selects_ids()
            && [&self.filter, &self.trace_filter, &self.tree_filter]
                .into_iter()
                .flatten()
                .any(run_filter::reads_payloads)
    }

    /// The `RunRow` columns, in field order; payload columns not wanted read as `''`. Inputs,
    /// outputs, events and serialized live in `run_payloads` (`runs::fill_payloads`).
    fn columns(&self) -> String {
        let filter_payloads = self.reads_payloads();
        RunRow::COLUMN_NAMES
            .iter()
            .map(|name| match self.payloads.wants(name) {
                Some(_) if SEPARATE_PAYLOADS.contains(name) => format!("'' AS {name}"),
                Some(false) if !filter_payloads => format!("'' AS {name}"),
                _ => (*name).to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Conditions every version of a run shares.
    fn scan(&self, with_cursor: bool) -> Sql {
        let mut sql = self.key_scan();
        if self.ids.is_none()
            && let Some(trace) = self.trace_id
        {
            sql.push(" AND trace_id = ").bind(trace);
        }
        if with_cursor && let Some(after) = self.after {
            let (cmp, cmp_eq) = match self.order {
                Order::Desc => ("<", "<="),
                Order::Asc => (">", ">="),
            };
            sql.push(&format!(" AND start_time_us {cmp_eq} "))
                .bind(after.start_time_us)
                .push(&format!(" AND (start_time_us {cmp} "))
                .bind(after.start_time_us)
                .push(&format!(" OR id {cmp} "))
                .bind(after.id)
                .push(")");
        }
        sql
    }

    /// The part of [`Self::scan`] on the sort key (tenant, project, start time, id), which
    /// `run_superseded` shares: a superset of the scan.
    fn key_scan(&self) -> Sql {
        let mut sql = Sql::new("tenant_id = ");
        sql.bind(self.tenant_id)
            .push(" AND session_id IN ")
            .bind(Param::UuidSet(self.sessions.clone()));
        if let Some(ids) = &self.ids {
            sql.push(" AND id IN ").bind(Param::UuidSet(ids.clone()));
        } else {
            if let Some(min) = self.start_min_us {
                sql.push(" AND start_time_us >= ").bind(min);
            }
            if let Some(max) = self.start_max_us {
                sql.push(" AND start_time_us <= ").bind(max);
            }
        }
        sql
    }

    /// Conditions on mutable columns, evaluated on a run's latest version.
    fn conditions(&self) -> Option<Sql> {
        if self.selects_ids() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(parent) = self.parent_run_id {
            let mut sql = Sql::new("parent_run_id = ");
            sql.bind(parent);
            parts.push(sql);
        }
        if let Some(run_type) = &self.run_type {
            let mut sql = Sql::new("run_type = ");
            sql.bind(run_type.as_str());
            parts.push(sql);
        }
        if let Some(examples) = self.reference_examples.as_ref().filter(|e| !e.is_empty()) {
            let mut sql = Sql::new("reference_example_id IN ");
            sql.bind(Param::UuidSet(examples.clone()));
            parts.push(sql);
        }
        match self.is_root {
            Some(true) => parts.push(Sql::new("parent_run_id IS NULL")),
            Some(false) => parts.push(Sql::new("parent_run_id IS NOT NULL")),
            None => {}
        }
        match self.error {
            Some(true) => parts.push(Sql::new("error != ''")),
            Some(false) => parts.push(Sql::new("error = ''")),
            None => {}
        }
        if let Some(filter) = &self.filter {
            parts.push(run_filter::compile(filter, self.tenant_id));
        }
        if let Some(filter) = &self.trace_filter {
            parts.push(self.traces_where(filter, true));
        }
        if let Some(filter) = &self.tree_filter {
            parts.push(self.traces_where(filter, false));
        }
        (!parts.is_empty()).then(|| join(&parts, " AND "))
    }

    /// `trace_id IN (traces whose root — or any run — matches filter)`, over the projects.
    fn traces_where(&self, filter: &Filter, root: bool) -> Sql {
        let mut condition = run_filter::compile(filter, self.tenant_id);
        if root {
            let mut rooted = Sql::new("(parent_run_id IS NULL) AND (");
            rooted.append(&condition).push(")");
            condition = rooted;
        }
        let scope = RunQuery {
            tenant_id: self.tenant_id,
            sessions: self.sessions.clone(),
            payloads: Payloads::default(),
            ..RunQuery::default()
        };
        let columns = if run_filter::reads_payloads(filter) {
            "*"
        } else {
            FILTER_COLUMNS
        };
        let mut sql = Sql::new("trace_id IN (SELECT trace_id FROM (");
        sql.append(&latest_versions(
            columns,
            &scope.scan(false),
            Some(&condition),
        ))
        .push(") WHERE is_deleted = 0 AND ")
        .append(&condition)
        .push(")");
        sql
    }
}

/// `SELECT columns` of the latest version of each run in `scan` (narrowed to runs with some
/// raw version matching `candidates`). Deleted runs are still in; callers filter them.
fn latest_versions(columns: &str, scan: &Sql, candidates: Option<&Sql>) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {columns} FROM runs WHERE "));
    sql.append(scan);
    if let Some(condition) = candidates {
        sql.push(" AND id IN (SELECT id FROM runs WHERE ")
            .append(scan)
            .push(" AND (")
            .append(condition)
            .push("))");
    }
    sql.push(" ORDER BY version DESC LIMIT 1 BY id");
    sql
}

/// One page of `query`.
pub async fn list(client: &Client, query: &RunQuery) -> Result<Page, AnalyticsError> {
    let want = query.limit.max(1) + 1;
    let conditions = query.conditions();
    let bounded = query.ids.is_none() && query.trace_id.is_none();
    let mut k = want * 2;
    let runs = loop {
        let bound = if bounded {
            window_bound(client, query, conditions.as_ref(), k).await?
        } else {
            None
        };
        let runs = page(client, query, conditions.as_ref(), bound, want).await?;
        if runs.len() >= want || bound.is_none() {
            break runs;
        }
        k = k.saturating_mul(16);
    };
    let mut runs = runs;
    let next = if runs.len() >= want {
        runs.truncate(want - 1);
        runs.last().map(|run| Position {
            start_time_us: run.start_time_us,
            id: run.id,
        })
    } else {
        None
    };
    Ok(Page { runs, next })
}

/// A start time such that the window from it to the page's edge holds at least `k` matching
/// raw rows, or `None` when the whole range holds fewer. Windows grow 16-fold from one second
/// back from the newest run (forward from the oldest, ascending): each probe reads only its
/// window's granules through the primary key, where sorting the whole start-time column
/// (ClickHouse 18.16 cannot read in key order) reads all of it.
async fn window_bound(
    client: &Client,
    query: &RunQuery,
    conditions: Option<&Sql>,
    k: usize,
) -> Result<Option<i64>, AnalyticsError> {
    #[derive(Row, Deserialize)]
    struct Span {
        first: i64,
        last: i64,
        rows: u64,
    }
    let scan = query.scan(true);
    let mut sql =
        Sql::new("SELECT min(start_time_us), max(start_time_us), count() FROM runs WHERE ");
    sql.append(&scan);
    let span: Span = sql.query(client).fetch_one().await?;
    if span.rows < k as u64 {
        return Ok(None);
    }
    let mut width: i64 = 1_000_000;
    loop {
        let (bound, covers_all, side) = match query.order {
            Order::Desc => (
                span.last.saturating_sub(width),
                span.last.saturating_sub(width) <= span.first,
                " AND start_time_us >= ",
            ),
            Order::Asc => (
                span.first.saturating_add(width),
                span.first.saturating_add(width) >= span.last,
                " AND start_time_us <= ",
            ),
        };
        if covers_all {
            return Ok(None);
        }
        let mut probe = Sql::new("SELECT count() FROM runs WHERE ");
        probe.append(&scan).push(side).bind(bound);
        if let Some(conditions) = conditions {
            probe.push(" AND (").append(conditions).push(")");
        }
        if probe.query(client).fetch_one::<u64>().await? >= k as u64 {
            return Ok(Some(bound));
        }
        width = width.saturating_mul(16);
    }
}

async fn page(
    client: &Client,
    query: &RunQuery,
    conditions: Option<&Sql>,
    bound: Option<i64>,
    want: usize,
) -> Result<Vec<RunRow>, AnalyticsError> {
    let mut scan = query.scan(true);
    if let Some(bound) = bound {
        scan.push(match query.order {
            Order::Desc => " AND start_time_us >= ",
            Order::Asc => " AND start_time_us <= ",
        })
        .bind(bound);
    }
    let columns = query.columns();
    let mut sql = Sql::new(&format!("SELECT {columns} FROM ("));
    sql.append(&latest_versions(&columns, &scan, conditions))
        .push(") WHERE is_deleted = 0");
    if let Some(conditions) = conditions {
        sql.push(" AND (").append(conditions).push(")");
    }
    sql.push(match query.order {
        Order::Desc => " ORDER BY start_time_us DESC, id DESC",
        Order::Asc => " ORDER BY start_time_us ASC, id ASC",
    })
    .push(" LIMIT ")
    .bind(want as u64);
    Ok(sql.query(client).fetch_all::<RunRow>().await?)
}
