//! The live tail: which of the runs a query selects were written (created or updated) after a
//! point in time. Every stored version carries its write time (`version`, microseconds).

use clickhouse::{Client, Row};
use serde::Deserialize;
use uuid::Uuid;

use super::RunQuery;
use super::stats::matching;
use crate::AnalyticsError;
use crate::sql::Sql;

/// A run and the write time of its newest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct Written {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub version: u64,
}

/// Up to `limit` of the runs `query` selects whose newest version was written after
/// `after_version`, the most recently written first, one entry per run.
pub async fn written_after(
    client: &Client,
    query: &RunQuery,
    after_version: u64,
    limit: u64,
) -> Result<Vec<Written>, AnalyticsError> {
    let mut sql = Sql::new("SELECT id, max(version) AS newest FROM ");
    sql.append(&matching(query))
        .push(" AND version > ")
        .bind(after_version)
        .push(" GROUP BY id ORDER BY newest DESC LIMIT ")
        .bind(limit);
    Ok(sql.query(client).fetch_all::<Written>().await?)
}
