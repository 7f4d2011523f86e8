//! Feedback reads and writes over the `feedback` table. Each write inserts a whole
//! new version; reads take the latest version of each id and skip deleted ones. Feedback is
//! keyed by trace, so it is accepted before its run arrives.

use clickhouse::{Client, Row};
use serde::Deserialize;
use uuid::Uuid;

use crate::AnalyticsError;
use crate::runs::FeedbackRow;
use crate::sql::{Param, Sql};

const LATEST: &str = "SELECT * FROM feedback WHERE tenant_id = ";

/// The latest version of one feedback record, deleted or not.
pub async fn get(
    client: &Client,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<FeedbackRow>, AnalyticsError> {
    let mut sql = Sql::new(LATEST);
    sql.bind(tenant_id)
        .push(" AND id = ")
        .bind(id)
        .push(" ORDER BY version DESC LIMIT 1");
    Ok(sql
        .query(client)
        .fetch_optional::<FeedbackRow>()
        .await?
        .filter(|row| row.is_deleted == 0))
}

/// Filters of `GET /feedback`.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFilter {
    pub runs: Vec<Uuid>,
    pub keys: Vec<String>,
    /// `feedback_source.type` values, lower case.
    pub sources: Vec<String>,
    pub sessions: Vec<Uuid>,
    pub comparative_experiment_id: Option<Uuid>,
    pub offset: u64,
    pub limit: u64,
}

pub async fn list(
    client: &Client,
    tenant_id: Uuid,
    filter: &FeedbackFilter,
) -> Result<Vec<FeedbackRow>, AnalyticsError> {
    let mut sql = Sql::new("SELECT * FROM (");
    sql.push(LATEST).bind(tenant_id);
    if !filter.runs.is_empty() {
        sql.push(" AND run_id IN ")
            .bind(Param::UuidSet(filter.runs.clone()));
    }
    sql.push(" ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0");
    if !filter.keys.is_empty() {
        sql.push(" AND key IN ")
            .bind(Param::StrSet(filter.keys.clone()));
    }
    if !filter.sources.is_empty() {
        sql.push(" AND lower(visitParamExtractString(feedback_source, 'type')) IN ")
            .bind(Param::StrSet(filter.sources.clone()));
    }
    if !filter.sessions.is_empty() {
        sql.push(" AND session_id IN ")
            .bind(Param::UuidSet(filter.sessions.clone()));
    }
    if let Some(id) = filter.comparative_experiment_id {
        sql.push(" AND comparative_experiment_id = ").bind(id);
    }
    sql.push(" ORDER BY created_at_us DESC, id LIMIT ")
        .bind(filter.limit)
        .push(" OFFSET ")
        .bind(filter.offset);
    Ok(sql.query(client).fetch_all::<FeedbackRow>().await?)
}

/// Records that these traces moved to the long retention tier. Idempotent: reads only ask
/// whether a trace is upgraded.
pub async fn upgrade_traces(
    client: &Client,
    tenant_id: Uuid,
    traces: &[Uuid],
    now_us: i64,
    reason: &str,
) -> Result<(), AnalyticsError> {
    if traces.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<TraceUpgrade>("trace_upgrades")?;
    for trace_id in traces {
        insert
            .write(&TraceUpgrade {
                tenant_id,
                trace_id: *trace_id,
                upgraded_at_us: now_us,
                reason: reason.to_owned(),
            })
            .await?;
    }
    insert.end().await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Row, serde::Serialize, Deserialize)]
pub struct TraceUpgrade {
    #[serde(with = "clickhouse::serde::uuid")]
    pub tenant_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub trace_id: Uuid,
    pub upgraded_at_us: i64,
    pub reason: String,
}

/// Which of these traces are upgraded.
pub async fn upgraded(
    client: &Client,
    tenant_id: Uuid,
    traces: &[Uuid],
) -> Result<Vec<Uuid>, AnalyticsError> {
    if traces.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(Row, Deserialize)]
    struct Upgraded {
        #[serde(with = "clickhouse::serde::uuid")]
        trace_id: Uuid,
    }
    let mut sql = Sql::new("SELECT DISTINCT trace_id FROM trace_upgrades WHERE tenant_id = ");
    sql.bind(tenant_id)
        .push(" AND trace_id IN ")
        .bind(Param::UuidSet(traces.to_vec()));
    Ok(sql
        .query(client)
        .fetch_all::<Upgraded>()
        .await?
        .into_iter()
        .map(|u| u.trace_id)
        .collect())
}
