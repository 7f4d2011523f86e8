//! ClickHouse access over its HTTP interface.
//!
//! Every query binds its values with `?` placeholders (`Query::bind`), which the client escapes;
//! server-side `{name:Type}` parameters do not exist on ClickHouse 18.16, which we support.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod cluster;
pub mod feedback;
pub mod migrate;
pub mod run_filter;
pub mod run_query;
pub mod runs;
pub mod sql;

use clickhouse::Client;
use ironsmith_config::ClickHouseConfig;

pub use clickhouse;

#[derive(thiserror::Error)]
pub enum AnalyticsError {
    /// Displayed without the server's echo of the query, which carries bound user values.
    #[error("clickhouse: {}", redacted(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The database's mutation queue stayed full: try again later.
    #[error("ClickHouse's mutation queue is full; try again later")]
    Busy,
    #[error("invalid ClickHouse migration {name}: {reason}")]
    BadMigration { name: String, reason: String },
    #[error(
        "ClickHouse migration {name} was edited after it was applied (checksum {applied} applied, {current} now)"
    )]
    EditedMigration {
        name: String,
        applied: String,
        current: String,
    },
}

impl AnalyticsError {
    /// ClickHouse could not be reached, did not answer in time, or asks to come back later
    /// (its mutation queue is full): retrying later can succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            AnalyticsError::Busy
                | AnalyticsError::ClickHouse(
                    clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut
                )
        )
    }
}

impl std::fmt::Debug for AnalyticsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Debug is what `?error` logs: the same redaction as Display.
        write!(f, "AnalyticsError({self})")
    }
}

/// A ClickHouse error as logs may show it. The client binds values into the query text, and
/// the server's error messages quote that text, so a server message keeps only its error code
/// and the exception's first phrase (`Code: 62. DB::Exception: Syntax error`).
fn redacted(error: &clickhouse::error::Error) -> String {
    match error {
        clickhouse::error::Error::BadResponse(message) => redact_server_message(message),
        other => other.to_string(),
    }
}

fn redact_server_message(message: &str) -> String {
    let Some((head, rest)) = message.split_once("DB::Exception: ") else {
        return "the server refused the query (details withheld: they quote the query)".into();
    };
    let phrase: String = rest
        .split([':', '(', '\'', '`', '"', '\n'])
        .next()
        .unwrap_or_default()
        .chars()
        .take(80)
        .collect();
    let code = head.trim().trim_end_matches('.').trim();
    format!("{code}. DB::Exception: {}", phrase.trim())
}

/// A client for the configured database.
pub fn client(config: &ClickHouseConfig) -> Client {
    server_client(config).with_database(&config.database)
}

/// A client without a database, for creating one.
pub fn server_client(config: &ClickHouseConfig) -> Client {
    let url = config.url.as_str().trim_end_matches('/');
    let client = Client::default()
        .with_url(url)
        .with_user(&config.user)
        .with_password(config.password.expose())
        .with_compression(clickhouse::Compression::None)
        .with_option(
            "max_execution_time",
            config.request_timeout_secs.to_string(),
        );
    if config.cluster.is_empty() {
        return client;
    }
    // On a cluster an insert is acknowledged once a replica of its shard holds it (not when
    // the node it reached has queued it), and `IN (SELECT …)` over Distributed tables reads
    // each subquery once, cluster-wide.
    client
        .with_option("insert_distributed_sync", "1")
        .with_option("distributed_product_mode", "global")
}

/// Readiness: ClickHouse answers a query in the configured database.
pub async fn check(client: &Client) -> Result<(), AnalyticsError> {
    let one: u8 = client.query("SELECT toUInt8(1)").fetch_one().await?;
    debug_assert_eq!(one, 1);
    Ok(())
}

/// Binds a list as the right-hand side of `IN`. ClickHouse 18.16 accepts only a tuple there
/// (`x IN ('a', 'b')`), not the array literal the client writes for a `Vec`. Never bind an
/// empty list: `IN ()` is a syntax error; callers skip the query instead.
pub struct InList<'a, T>(pub &'a [T]);

impl<T: serde::Serialize> serde::Serialize for InList<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for item in self.0 {
            tuple.serialize_element(item)?;
        }
        tuple.end()
    }
}

#[cfg(test)]
mod tests {
    use super::redact_server_message;

    #[test]
    fn server_messages_lose_the_query_they_quote() {
        let message = "Code: 62. DB::Exception: Syntax error: failed at position 42 ('secret-value'): \
                       'secret-value') AND tenant_id = 'x'. Expected one of: ...";
        let redacted = redact_server_message(message);
        assert_eq!(redacted, "Code: 62. DB::Exception: Syntax error");
        assert!(!redacted.contains("secret"));
        assert!(!redact_server_message("SELECT 'secret'").contains("secret"));
    }
}
