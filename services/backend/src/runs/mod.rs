//! Reading runs for the API: which projects a request reaches, one run with its
//! children, query pages, statistics, thread groups; payloads kept in object storage are
//! fetched back, attachments get signed URLs.

pub mod attachments;
pub mod body;
pub mod render;

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use ironsmith_analytics::run_query::{
    self, Counting, FeedbackScope, FeedbackStat, Page, Payloads, RunQuery, RunStats,
};
use ironsmith_analytics::runs::{self as run_rows, RunRow};
use ironsmith_api_types::runs::{self as wire, Cursors, Run, RunsPage, SelectedRun};
use ironsmith_db::projects;
use ironsmith_http::ApiError;
use uuid::Uuid;

use crate::AppState;
use body::QueryBody;
use render::{Extras, Renderer, Selection};

/// The payload columns a selection needs.
pub fn payloads_for(selection: &Selection) -> Payloads {
    Payloads {
        inputs: selection.wants("inputs"),
        outputs: selection.wants("outputs"),
        extra: selection.wants("extra"),
        events: selection.wants("events"),
        serialized: selection.wants("serialized"),
        attachments: selection.wants("s3_urls"),
    }
}

/// The latest version of one live run of `tenant_id`, or `None`.
pub async fn find_run(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<RunRow>, ApiError> {
    let clickhouse = &state.stores.clickhouse;
    let locations = run_rows::locate(clickhouse, tenant_id, &[id]).await?;
    let Some(location) = locations.into_iter().find(|l| l.is_deleted == 0) else {
        return Ok(None);
    };
    if !projects::exists(&state.stores.postgres, tenant_id, location.session_id).await? {
        return Ok(None);
    }
    let rows = run_rows::fetch_latest(clickhouse, tenant_id, &[location]).await?;
    Ok(rows.into_iter().find(|r| r.id == id && r.is_deleted == 0))
}

/// A column whose value may be kept in object storage.
#[derive(Clone, Copy)]
enum Stored {
    Inputs,
    Outputs,
    Extra,
    Events,
    Serialized,
    Error,
}

impl Stored {
    /// The column's key when its value is in object storage and `payloads` wants it. The
    /// error is always wanted: its inline text is only the beginning.
    fn key(self, row: &RunRow, payloads: Payloads) -> Option<&str> {
        let (wanted, inline_empty, key) = match self {
            Stored::Inputs => (payloads.inputs, row.inputs.is_empty(), &row.inputs_s3_key),
            Stored::Outputs => (
                payloads.outputs,
                row.outputs.is_empty(),
                &row.outputs_s3_key,
            ),
            Stored::Extra => (payloads.extra, true, &row.extra_s3_key),
            Stored::Events => (payloads.events, true, &row.events_s3_key),
            Stored::Serialized => (payloads.serialized, true, &row.serialized_s3_key),
            Stored::Error => (true, true, &row.error_s3_key),
        };
        (wanted && inline_empty && !key.is_empty()).then_some(key.as_str())
    }

    fn column(self, row: &mut RunRow) -> &mut String {
        match self {
            Stored::Inputs => &mut row.inputs,
            Stored::Outputs => &mut row.outputs,
            Stored::Extra => &mut row.extra,
            Stored::Events => &mut row.events,
            Stored::Serialized => &mut row.serialized,
            Stored::Error => &mut row.error,
        }
    }
}

/// Replaces the keys of values kept in object storage (inputs, outputs, extra, events,
/// serialized, error) by the values themselves, for the columns `payloads` selects.
pub async fn rehydrate(
    state: &AppState,
    rows: &mut [RunRow],
    payloads: Payloads,
) -> Result<(), ApiError> {
    let mut wanted = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        for column in [
            Stored::Inputs,
            Stored::Outputs,
            Stored::Extra,
            Stored::Events,
            Stored::Serialized,
            Stored::Error,
        ] {
            if let Some(key) = column.key(row, payloads) {
                wanted.push((index, column, key.to_owned()));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let storage = &state.stores.storage;
    let fetched: Vec<(usize, Stored, String)> = futures::stream::iter(wanted)
        .map(|(index, column, key)| async move {
            let bytes = storage.get(&key).await?;
            let text = String::from_utf8(bytes.to_vec())?;
            Ok::<_, ApiError>((index, column, text))
        })
        .buffer_unordered(state.config.runs.payload_fetch_concurrency)
        .try_collect()
        .await?;
    for (index, column, text) in fetched {
        if let Some(row) = rows.get_mut(index) {
            *column.column(row) = text;
        }
    }
    Ok(())
}

/// Which projects a query reaches, and narrows a trace query to where the trace lives.
/// Returns false when nothing can match (no live project).
pub async fn scope(
    state: &AppState,
    tenant_id: Uuid,
    body: &QueryBody,
    query: &mut RunQuery,
) -> Result<bool, ApiError> {
    let db = &state.stores.postgres;
    let clickhouse = &state.stores.clickhouse;
    let requested = body.session.as_deref().filter(|s| !s.is_empty());
    let requested_sessions = requested.is_some();
    let mut sessions: Vec<Uuid> = match requested {
        Some(requested) => projects::live_ids(db, tenant_id, requested).await?,
        None => Vec::new(),
    };
    if let Some(ids) = body.id.as_deref().filter(|ids| !ids.is_empty()) {
        let located = run_rows::locate(clickhouse, tenant_id, ids).await?;
        let mut found: Vec<Uuid> = located.iter().map(|l| l.session_id).collect();
        found.sort_unstable();
        found.dedup();
        sessions = projects::live_ids(db, tenant_id, &found).await?;
        query.ids = Some(ids.to_vec());
    } else if let Some(trace) = body.trace {
        let members = run_query::trace_members(clickhouse, tenant_id, trace).await?;
        if members.is_empty() {
            return Ok(false);
        }
        let mut found: Vec<Uuid> = members.iter().map(|m| m.session_id).collect();
        found.sort_unstable();
        found.dedup();
        if requested_sessions {
            found.retain(|s| sessions.contains(s));
        }
        sessions = projects::live_ids(db, tenant_id, &found).await?;
        let min = members.iter().map(|m| m.start_time_us).min();
        let max = members.iter().map(|m| m.start_time_us).max();
        query.start_min_us = query.start_min_us.max(min);
        query.start_max_us = match (query.start_max_us, max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    } else if !requested_sessions {
        sessions = projects::all_live_ids(db, tenant_id).await?;
    }
    query.sessions = sessions;
    Ok(!query.sessions.is_empty())
}

/// A `RunQuery` from a query body (everything but the projects).
pub fn query_from(
    tenant_id: Uuid,
    body: &QueryBody,
    payloads: Payloads,
) -> Result<RunQuery, ApiError> {
    let filters = body.filters()?;
    Ok(RunQuery {
        tenant_id,
        sessions: Vec::new(),
        ids: None,
        trace_id: body.trace,
        parent_run_id: body.parent_run,
        run_type: body.run_type.clone().filter(|t| !t.is_empty()),
        reference_examples: body.reference_example.clone(),
        is_root: body.is_root()?,
        error: body.error,
        start_min_us: body.start_time,
        start_max_us: body.end_time,
        filter: filters.filter,
        trace_filter: filters.trace_filter,
        tree_filter: filters.tree_filter,
        order: body.order()?,
        limit: body.limit()?,
        after: body.position()?,
        payloads,
    })
}

/// Renders a page of runs with what the selection asks for.
pub async fn render_page(
    state: &AppState,
    tenant_id: Uuid,
    mut page: Page,
    selection: &Selection,
) -> Result<RunsPage, ApiError> {
    let payloads = payloads_for(selection);
    run_rows::fill_payloads(
        &state.stores.clickhouse,
        tenant_id,
        &mut page.runs,
        run_rows::PayloadColumns {
            inputs: payloads.inputs,
            outputs: payloads.outputs,
            events: payloads.events,
            serialized: payloads.serialized,
        },
    )
    .await?;
    rehydrate(state, &mut page.runs, payloads).await?;
    let feedback = if selection.wants("feedback_stats") {
        runs_feedback(state, tenant_id, &page.runs).await?
    } else {
        BTreeMap::new()
    };
    let mut children: BTreeMap<Uuid, (Vec<Uuid>, Vec<Uuid>)> = BTreeMap::new();
    if selection.names("child_run_ids") || selection.names("direct_child_run_ids") {
        let mut traces: Vec<Uuid> = page.runs.iter().map(|r| r.trace_id).collect();
        traces.sort_unstable();
        traces.dedup();
        for trace in traces {
            let members =
                run_query::trace_members(&state.stores.clickhouse, tenant_id, trace).await?;
            for run in page.runs.iter().filter(|r| r.trace_id == trace) {
                children.insert(
                    run.id,
                    render::children_of(
                        &run.dotted_order,
                        members.iter().map(|m| (m.dotted_order.as_str(), m.id)),
                    ),
                );
            }
        }
    }
    let upgraded = if selection.wants("trace_upgrade") || selection.wants("trace_tier") {
        let mut traces: Vec<Uuid> = page.runs.iter().map(|r| r.trace_id).collect();
        traces.sort_unstable();
        traces.dedup();
        ironsmith_analytics::feedback::upgraded(&state.stores.clickhouse, tenant_id, &traces)
            .await?
    } else {
        Vec::new()
    };
    let signer = state.url_signer();
    let renderer = Renderer {
        signer: &signer,
        now: chrono::Utc::now().timestamp(),
    };
    let runs = page
        .runs
        .iter()
        .map(|row| SelectedRun {
            run: renderer.run(
                row,
                Extras {
                    feedback: feedback.get(&row.id),
                    children: children.remove(&row.id),
                    upgraded: upgraded.contains(&row.trace_id),
                    ..Extras::default()
                },
            ),
            selection: selection.clone(),
        })
        .collect();
    Ok(RunsPage {
        runs,
        cursors: Cursors {
            next: page.next.map(body::encode_cursor),
            prev: None,
        },
        parsed_query: None,
    })
}

/// Feedback statistics per run of `rows`.
pub async fn runs_feedback(
    state: &AppState,
    tenant_id: Uuid,
    rows: &[RunRow],
) -> Result<BTreeMap<Uuid, BTreeMap<String, FeedbackStat>>, ApiError> {
    let mut traces: Vec<Uuid> = rows.iter().map(|r| r.trace_id).collect();
    traces.sort_unstable();
    traces.dedup();
    let runs: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    run_query::feedback_stats(
        &state.stores.clickhouse,
        tenant_id,
        FeedbackScope::Runs {
            traces: &traces,
            runs: &runs,
        },
    )
    .await
    .map_err(ApiError::from)
}

/// The statistics of `/runs/stats` and of a project read with `include_stats`.
pub fn render_stats(
    stats: Option<&RunStats>,
    feedback: Option<&BTreeMap<String, FeedbackStat>>,
) -> wire::RunStats {
    let empty = RunStats::default();
    let stats = stats.unwrap_or(&empty);
    let any = stats.run_count > 0;
    let quantile =
        |values: &[f64], i: usize| values.get(i).copied().filter(|v| v.is_finite() && any);
    let time = |us: i64| if any { render::time(us) } else { None };
    let cost = |value: f64| (stats.costed > 0).then_some(value);
    wire::RunStats {
        run_count: stats.run_count,
        latency_p50: quantile(&stats.latency, 0),
        latency_p99: quantile(&stats.latency, 1),
        first_token_p50: quantile(&stats.first_token, 0),
        first_token_p99: quantile(&stats.first_token, 1),
        total_tokens: stats.total_tokens,
        prompt_tokens: stats.prompt_tokens,
        completion_tokens: stats.completion_tokens,
        median_tokens: (any && stats.median_tokens.is_finite()).then_some(stats.median_tokens),
        total_cost: cost(stats.total_cost),
        prompt_cost: cost(stats.prompt_cost),
        completion_cost: cost(stats.completion_cost),
        first_run_start_time: time(stats.first_start_us),
        last_run_start_time: time(stats.last_start_us),
        error_rate: any.then(|| stats.error_count as f64 / stats.run_count as f64),
        streaming_rate: (stats.llm_count > 0)
            .then(|| stats.streaming_count as f64 / stats.llm_count as f64),
        feedback_stats: feedback.map(render::feedback_stats).unwrap_or_default(),
        run_facets: Vec::new(),
    }
}

/// Feedback statistics per project.
pub type FeedbackByProject = BTreeMap<Uuid, BTreeMap<String, FeedbackStat>>;

/// Statistics of each of `sessions` (projects): run statistics over their traces, feedback on
/// their runs, and project-level feedback.
pub async fn project_stats(
    state: &AppState,
    tenant_id: Uuid,
    sessions: &[Uuid],
) -> Result<
    (
        BTreeMap<Uuid, RunStats>,
        FeedbackByProject,
        FeedbackByProject,
    ),
    ApiError,
> {
    if sessions.is_empty() {
        return Ok((BTreeMap::new(), BTreeMap::new(), BTreeMap::new()));
    }
    let query = RunQuery {
        tenant_id,
        sessions: sessions.to_vec(),
        ..RunQuery::default()
    };
    let clickhouse = &state.stores.clickhouse;
    let (stats, feedback, project_level) = tokio::try_join!(
        run_query::stats(clickhouse, &query, Counting::Traces, true),
        run_query::feedback_stats(clickhouse, tenant_id, FeedbackScope::Sessions(sessions)),
        run_query::feedback_stats(clickhouse, tenant_id, FeedbackScope::ProjectLevel(sessions)),
    )?;
    Ok((
        stats.into_iter().map(|s| (s.session_id, s)).collect(),
        feedback,
        project_level,
    ))
}

/// One run with full payloads, attachment URLs, children and feedback statistics.
pub async fn render_one(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Run>, ApiError> {
    let Some(row) = find_run(state, tenant_id, id).await? else {
        return Ok(None);
    };
    let mut rows = [row];
    rehydrate(state, &mut rows, payloads_for(&Selection::All)).await?;
    let [row] = rows;
    let members =
        run_query::trace_members(&state.stores.clickhouse, tenant_id, row.trace_id).await?;
    let children = render::children_of(
        &row.dotted_order,
        members.iter().map(|m| (m.dotted_order.as_str(), m.id)),
    );
    let feedback = runs_feedback(state, tenant_id, std::slice::from_ref(&row)).await?;
    let share = ironsmith_db::run_shares::of_run(&state.stores.postgres, tenant_id, row.id).await?;
    let upgraded = ironsmith_analytics::feedback::upgraded(
        &state.stores.clickhouse,
        tenant_id,
        &[row.trace_id],
    )
    .await?;
    let signer = state.url_signer();
    let renderer = Renderer {
        signer: &signer,
        now: chrono::Utc::now().timestamp(),
    };
    Ok(Some(renderer.run(
        &row,
        Extras {
            feedback: feedback.get(&row.id),
            children: Some(children),
            share_token: share.map(|s| s.share_token),
            reference_dataset_id: None,
            upgraded: !upgraded.is_empty(),
        },
    )))
}

/// A page of runs for `body`, within `tenant_id`.
pub async fn query_page(
    state: &AppState,
    tenant_id: Uuid,
    body: &QueryBody,
) -> Result<RunsPage, ApiError> {
    let selection = Selection::from(body.select.as_deref());
    let mut query = query_from(tenant_id, body, payloads_for(&selection))?;
    if !scope(state, tenant_id, body, &mut query).await? {
        return Ok(RunsPage::default());
    }
    let page = run_query::list(&state.stores.clickhouse, &query).await?;
    render_page(state, tenant_id, page, &selection).await
}
