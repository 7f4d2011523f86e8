//! What narrows and orders a comparison of experiments on a dataset: the examples an
//! experiment's runs meet a filter on, and each example's feedback score in an experiment.

use clickhouse::{Client, Row};
use serde::Deserialize;
use uuid::Uuid;

use super::RunQuery;
use super::feedback::latest_run_feedback;
use super::stats::matching;
use crate::AnalyticsError;
use crate::sql::Sql;

/// The examples referenced by the runs `query` selects (distinct).
pub async fn referenced_examples(
    client: &Client,
    query: &RunQuery,
) -> Result<Vec<Uuid>, AnalyticsError> {
    let mut sql = Sql::new(
        "SELECT DISTINCT assumeNotNull(reference_example_id) AS example FROM (SELECT \
         reference_example_id FROM ",
    );
    sql.append(&matching(query))
        .push(") WHERE reference_example_id IS NOT NULL");
    #[derive(Row, Deserialize)]
    struct Referenced {
        #[serde(with = "clickhouse::serde::uuid")]
        example: Uuid,
    }
    let rows: Vec<Referenced> = sql.query(client).fetch_all().await?;
    Ok(rows.into_iter().map(|r| r.example).collect())
}

/// An example's mean score of one feedback key over the runs `query` selects.
#[derive(Debug, Clone, PartialEq, Row, Deserialize)]
pub struct ExampleScore {
    #[serde(with = "clickhouse::serde::uuid")]
    pub example: Uuid,
    pub score: f64,
}

/// The mean `key` score of each example, over the feedback on the runs `query` selects that
/// reference it; examples without a scored `key` feedback are absent.
pub async fn example_scores(
    client: &Client,
    query: &RunQuery,
    key: &str,
) -> Result<Vec<ExampleScore>, AnalyticsError> {
    let mut sql = Sql::new(
        "SELECT example, avg(assumeNotNull(score)) AS score FROM (SELECT id AS fb_run, \
         assumeNotNull(reference_example_id) AS example FROM ",
    );
    sql.append(&matching(query))
        .push(" AND reference_example_id IS NOT NULL) AS example_runs ALL INNER JOIN (SELECT fb_run, score FROM ")
        .append(&latest_run_feedback(query.tenant_id))
        .push(" WHERE key = ")
        .bind(key)
        .push(" AND score IS NOT NULL) AS fb USING fb_run GROUP BY example");
    Ok(sql.query(client).fetch_all().await?)
}
