//! The `runs`, `run_ids`, `runs_by_trace` and `feedback` tables (migration `0001_runs.sql`):
//! their row types, batched inserts, and the look-ups the ingestion worker needs.
//!
//! Reads deduplicate explicitly: the latest `version` of an id wins (`ORDER BY version DESC
//! LIMIT 1 BY id`), then `is_deleted = 0` filters. Nothing is ever updated in place.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cluster::mutation_target;
use crate::{AnalyticsError, InList};

/// One version of a run, every column of `runs`.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct RunRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub start_time_us: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub trace_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub parent_run_id: Option<Uuid>,
    pub dotted_order: String,
    pub depth: u16,
    pub name: String,
    pub run_type: String,
    pub status: String,
    pub end_time_us: Option<i64>,
    pub first_token_time_us: Option<i64>,
    pub error: String,
    pub inputs: String,
    pub outputs: String,
    pub inputs_preview: String,
    pub outputs_preview: String,
    pub inputs_s3_key: String,
    pub outputs_s3_key: String,
    /// Where the whole `extra` is when it is too large to keep inline; `extra` then holds only
    /// what derived columns read (`metadata`, the model name).
    pub extra_s3_key: String,
    /// Where `events` is when it is too large to keep inline (`events` is then empty).
    pub events_s3_key: String,
    /// Where `serialized` is when it is too large to keep inline (`serialized` is then empty).
    pub serialized_s3_key: String,
    /// Where the whole `error` is when it is too large to keep inline; `error` then holds its
    /// beginning.
    pub error_s3_key: String,
    pub extra: String,
    pub events: String,
    pub serialized: String,
    pub attachments: String,
    pub tags: Vec<String>,
    pub metadata_keys: Vec<String>,
    pub metadata_values: Vec<String>,
    pub input_keys: Vec<String>,
    pub input_values: Vec<String>,
    pub output_keys: Vec<String>,
    pub output_values: Vec<String>,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub reference_example_id: Option<Uuid>,
    pub thread_id: String,
    pub ls_provider: String,
    pub ls_model_name: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub prompt_cost: Option<f64>,
    pub completion_cost: Option<f64>,
    pub total_cost: Option<f64>,
    pub prompt_token_details: String,
    pub completion_token_details: String,
    pub prompt_cost_details: String,
    pub completion_cost_details: String,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub price_model_id: Option<Uuid>,
    pub trace_tier: String,
    pub has_create: u8,
    pub first_received_us: i64,
    pub received_us: i64,
    pub version: u64,
    pub is_deleted: u8,
}

/// Where a run is: a row of `run_ids` (and, with `dotted_order`, of `runs_by_trace`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct RunLocation {
    #[serde(with = "clickhouse::serde::uuid")]
    pub tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub start_time_us: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    pub trace_id: Uuid,
    pub dotted_order: String,
    pub first_received_us: i64,
    pub version: u64,
    pub is_deleted: u8,
}

impl RunLocation {
    pub fn of(row: &RunRow) -> Self {
        RunLocation {
            tenant_id: row.tenant_id,
            id: row.id,
            session_id: row.session_id,
            start_time_us: row.start_time_us,
            trace_id: row.trace_id,
            dotted_order: row.dotted_order.clone(),
            first_received_us: row.first_received_us,
            version: row.version,
            is_deleted: row.is_deleted,
        }
    }
}

/// A row of `runs_by_trace`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
struct TraceEntry {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    trace_id: Uuid,
    dotted_order: String,
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    session_id: Uuid,
    start_time_us: i64,
    first_received_us: i64,
    version: u64,
    is_deleted: u8,
}

/// One version of a feedback record, every column of `feedback`.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct FeedbackRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub trace_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub run_id: Option<Uuid>,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub session_id: Option<Uuid>,
    pub key: String,
    pub score: Option<f64>,
    pub value: String,
    pub comment: String,
    pub correction: String,
    pub feedback_source: String,
    pub feedback_config: String,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub comparative_experiment_id: Option<Uuid>,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub feedback_group_id: Option<Uuid>,
    pub extra: String,
    pub created_at_us: i64,
    pub modified_at_us: i64,
    pub version: u64,
    pub is_deleted: u8,
}

/// Inserts run versions into `runs`, and their locations into `run_ids` and `runs_by_trace`
/// (only for rows whose location is new or moved: `locate` says which), and the versions they
/// replace into `run_superseded`. Locations go first, so
/// a run visible in `runs` can always be found by id and in its trace. Each table is one
/// INSERT; the three succeed or the caller retries all of them (rows are versioned, so a
/// repeated insert only adds a duplicate version that reads collapse).
pub async fn insert_runs(
    client: &Client,
    rows: &[RunRow],
    superseded: &[Superseded],
    locate: impl Fn(&RunRow) -> bool,
) -> Result<(), AnalyticsError> {
    if rows.is_empty() {
        return Ok(());
    }
    let located: Vec<&RunRow> = rows.iter().filter(|row| locate(row)).collect();
    if !located.is_empty() {
        let mut insert = client.insert::<RunLocation>("run_ids")?;
        for row in &located {
            insert.write(&RunLocation::of(row)).await?;
        }
        insert.end().await?;
        let mut insert = client.insert::<TraceEntry>("runs_by_trace")?;
        for row in &located {
            insert
                .write(&TraceEntry {
                    tenant_id: row.tenant_id,
                    trace_id: row.trace_id,
                    dotted_order: row.dotted_order.clone(),
                    id: row.id,
                    session_id: row.session_id,
                    start_time_us: row.start_time_us,
                    first_received_us: row.first_received_us,
                    version: row.version,
                    is_deleted: row.is_deleted,
                })
                .await?;
        }
        insert.end().await?;
    }
    let mut insert = client.insert::<PayloadRow>("run_payloads")?;
    for row in rows {
        insert.write(&PayloadRow::of(row)).await?;
    }
    insert.end().await?;
    let mut insert = client.insert::<RunRow>("runs")?;
    for row in rows {
        insert.write(&without_payloads(row)).await?;
    }
    insert.end().await?;
    // After the new versions: statistics may count a run twice for a moment, never not at all.
    if !superseded.is_empty() {
        let mut insert = client.insert::<Superseded>("run_superseded")?;
        for entry in superseded {
            insert.write(entry).await?;
        }
        insert.end().await?;
    }
    Ok(())
}

/// A run version that a newer one replaced: a row of `run_superseded`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct Superseded {
    #[serde(with = "clickhouse::serde::uuid")]
    pub tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub start_time_us: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub version: u64,
    pub first_received_us: i64,
}

impl Superseded {
    pub fn of(row: &RunRow) -> Self {
        Superseded {
            tenant_id: row.tenant_id,
            session_id: row.session_id,
            start_time_us: row.start_time_us,
            id: row.id,
            version: row.version,
            first_received_us: row.first_received_us,
        }
    }
}

/// A run's payloads: a row of `run_payloads`.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
struct PayloadRow {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    inputs: String,
    outputs: String,
    events: String,
    serialized: String,
    first_received_us: i64,
    version: u64,
}

impl PayloadRow {
    fn of(row: &RunRow) -> Self {
        PayloadRow {
            tenant_id: row.tenant_id,
            id: row.id,
            inputs: row.inputs.clone(),
            outputs: row.outputs.clone(),
            events: row.events.clone(),
            serialized: row.serialized.clone(),
            first_received_us: row.first_received_us,
            version: row.version,
        }
    }
}

/// The `runs` row of a version: its payloads live in `run_payloads`.
fn without_payloads(row: &RunRow) -> RunRow {
    RunRow {
        inputs: String::new(),
        outputs: String::new(),
        events: String::new(),
        serialized: String::new(),
        ..row.clone()
    }
}

/// Which payload columns [`fill_payloads`] fetches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PayloadColumns {
    pub inputs: bool,
    pub outputs: bool,
    pub events: bool,
    pub serialized: bool,
}

impl PayloadColumns {
    pub const ALL: PayloadColumns = PayloadColumns {
        inputs: true,
        outputs: true,
        events: true,
        serialized: true,
    };

    fn any(&self) -> bool {
        self.inputs || self.outputs || self.events || self.serialized
    }
}

/// Puts the latest payloads of `rows` (all of `tenant_id`) from `run_payloads` into them.
pub async fn fill_payloads(
    client: &Client,
    tenant_id: Uuid,
    rows: &mut [RunRow],
    columns: PayloadColumns,
) -> Result<(), AnalyticsError> {
    if rows.is_empty() || !columns.any() {
        return Ok(());
    }
    let pick = |wanted: bool, name: &str| {
        if wanted {
            name.to_owned()
        } else {
            format!("'' AS {name}")
        }
    };
    let select = format!(
        "SELECT tenant_id, id, {}, {}, {}, {}, first_received_us, version FROM run_payloads \
         WHERE tenant_id = ? AND id IN ? ORDER BY version DESC LIMIT 1 BY id",
        pick(columns.inputs, "inputs"),
        pick(columns.outputs, "outputs"),
        pick(columns.events, "events"),
        pick(columns.serialized, "serialized"),
    );
    let ids: Vec<Uuid> = unique(rows.iter().map(|r| r.id));
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        for payload in client
            .query(&select)
            .bind(tenant_id)
            .bind(InList(chunk))
            .fetch_all::<PayloadRow>()
            .await?
        {
            found.insert(payload.id, payload);
        }
    }
    for row in rows.iter_mut() {
        if let Some(payload) = found.get(&row.id) {
            if columns.inputs {
                payload.inputs.clone_into(&mut row.inputs);
            }
            if columns.outputs {
                payload.outputs.clone_into(&mut row.outputs);
            }
            if columns.events {
                payload.events.clone_into(&mut row.events);
            }
            if columns.serialized {
                payload.serialized.clone_into(&mut row.serialized);
            }
        }
    }
    Ok(())
}

pub async fn insert_feedback(client: &Client, rows: &[FeedbackRow]) -> Result<(), AnalyticsError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<FeedbackRow>("feedback")?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(())
}

/// Most ids bound into one query: ClickHouse's `max_query_size` (256 KiB) must hold the list.
const IDS_PER_QUERY: usize = 2000;

/// The latest locations of `ids` in `tenant_id` (deleted ones included: the caller decides).
pub async fn locate(
    client: &Client,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<RunLocation>, AnalyticsError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        found.extend(
            client
                .query(
                    "SELECT ?fields FROM run_ids WHERE tenant_id = ? AND id IN ? \
                     ORDER BY version DESC LIMIT 1 BY id",
                )
                .bind(tenant_id)
                .bind(InList(chunk))
                .fetch_all::<RunLocation>()
                .await?,
        );
    }
    Ok(found)
}

/// The latest versions of the runs at `locations` (all of one tenant).
pub async fn fetch_latest(
    client: &Client,
    tenant_id: Uuid,
    locations: &[RunLocation],
) -> Result<Vec<RunRow>, AnalyticsError> {
    let mut found = Vec::new();
    for chunk in locations.chunks(IDS_PER_QUERY / 2) {
        let sessions: Vec<Uuid> = unique(chunk.iter().map(|l| l.session_id));
        let starts: Vec<i64> = unique(chunk.iter().map(|l| l.start_time_us));
        let ids: Vec<Uuid> = unique(chunk.iter().map(|l| l.id));
        found.extend(
            client
                .query(
                    "SELECT ?fields FROM runs WHERE tenant_id = ? AND session_id IN ? \
                     AND start_time_us IN ? AND id IN ? ORDER BY version DESC LIMIT 1 BY id",
                )
                .bind(tenant_id)
                .bind(InList(&sessions))
                .bind(InList(&starts))
                .bind(InList(&ids))
                .fetch_all::<RunRow>()
                .await?,
        );
    }
    fill_payloads(client, tenant_id, &mut found, PayloadColumns::ALL).await?;
    Ok(found)
}

/// How many distinct, undeleted runs a project holds, deduplicated as every read must be.
pub async fn count_runs(
    client: &Client,
    tenant_id: Uuid,
    session_id: Uuid,
) -> Result<u64, AnalyticsError> {
    Ok(client
        .query(
            "SELECT count() FROM (SELECT id, argMax(is_deleted, version) AS deleted FROM runs \
             WHERE tenant_id = ? AND session_id = ? GROUP BY id) WHERE deleted = 0",
        )
        .bind(tenant_id)
        .bind(session_id)
        .fetch_one::<u64>()
        .await?)
}

/// The latest version of each of a project's runs with their payloads, oldest first (tests
/// and tools; the API pages through `run_query`).
pub async fn latest_runs(
    client: &Client,
    tenant_id: Uuid,
    session_id: Uuid,
) -> Result<Vec<RunRow>, AnalyticsError> {
    let mut rows = client
        .query(
            "SELECT ?fields FROM (SELECT * FROM runs WHERE tenant_id = ? AND session_id = ? \
             ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 \
             ORDER BY start_time_us, dotted_order",
        )
        .bind(tenant_id)
        .bind(session_id)
        .fetch_all::<RunRow>()
        .await?;
    fill_payloads(client, tenant_id, &mut rows, PayloadColumns::ALL).await?;
    Ok(rows)
}

/// The latest version of each feedback record on a trace.
pub async fn trace_feedback(
    client: &Client,
    tenant_id: Uuid,
    trace_id: Uuid,
) -> Result<Vec<FeedbackRow>, AnalyticsError> {
    Ok(client
        .query(
            "SELECT ?fields FROM (SELECT * FROM feedback WHERE tenant_id = ? AND trace_id = ? \
             ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 ORDER BY created_at_us",
        )
        .bind(tenant_id)
        .bind(trace_id)
        .fetch_all::<FeedbackRow>()
        .await?)
}

fn unique<T: Ord + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = items.collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Unfinished mutations in the client's database.
pub async fn pending_mutations(client: &Client) -> Result<u64, AnalyticsError> {
    Ok(client
        .query("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0")
        .fetch_one::<u64>()
        .await?)
}

/// Waits until fewer than `max_pending` mutations are unfinished; `false` when that did not
/// happen within `patience` (the caller gives up and retries later).
async fn mutation_room(
    client: &Client,
    max_pending: u64,
    patience: std::time::Duration,
) -> Result<bool, AnalyticsError> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if pending_mutations(client).await? < max_pending.max(1) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Removes every run of a project, with its payloads, look-up rows and feedback, as
/// ClickHouse mutations (asynchronous on the server; idempotent). Feedback goes first, while
/// the runs still say which feedback is theirs. Each mutation waits for room in the database's
/// mutation queue (`max_pending` unfinished at most); when none frees up for a while the
/// delete stops with `AnalyticsError::Busy`, to be retried later from the start. Returns the
/// ids of the project's runs, whose objects the caller removes.
pub async fn delete_project(
    client: &Client,
    cluster: &str,
    database: &str,
    tenant_id: Uuid,
    session_id: Uuid,
    max_pending: u64,
) -> Result<Vec<Uuid>, AnalyticsError> {
    let patience = std::time::Duration::from_secs(20);
    let run_ids: Vec<Uuid> = client
        .query("SELECT DISTINCT id FROM run_ids WHERE tenant_id = ? AND session_id = ?")
        .bind(tenant_id)
        .bind(session_id)
        .fetch_all::<RunId>()
        .await?
        .into_iter()
        .map(|row| row.0)
        .collect();
    for chunk in run_ids.chunks(IDS_PER_QUERY) {
        for (table, column) in [("feedback", "run_id"), ("run_payloads", "id")] {
            if !mutation_room(client, max_pending, patience).await? {
                return Err(AnalyticsError::Busy);
            }
            let target = mutation_target(table, cluster, database);
            client
                .query(&format!(
                    "ALTER TABLE {target} DELETE WHERE tenant_id = ? AND {column} IN ?"
                ))
                .bind(tenant_id)
                .bind(InList(chunk))
                .execute()
                .await?;
        }
    }
    for table in ["runs", "run_ids", "runs_by_trace", "run_superseded"] {
        if !mutation_room(client, max_pending, patience).await? {
            return Err(AnalyticsError::Busy);
        }
        let target = mutation_target(table, cluster, database);
        client
            .query(&format!(
                "ALTER TABLE {target} DELETE WHERE tenant_id = ? AND session_id = ?"
            ))
            .bind(tenant_id)
            .bind(session_id)
            .execute()
            .await?;
    }
    Ok(run_ids)
}

#[derive(Row, Deserialize)]
struct RunId(#[serde(with = "clickhouse::serde::uuid")] Uuid);
