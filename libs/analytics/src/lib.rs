//! ClickHouse access over its HTTP interface.
//!
//! Every query binds its values with `?` placeholders (`Query::bind`), which the client escapes;
//! server-side `{name:Type}` parameters do not exist on ClickHouse 18.16, which we support.

pub mod feedback;
pub mod migrate;
pub mod run_filter;
pub mod run_query;
pub mod runs;
pub mod sql;

use clickhouse::Client;
use ironsmith_config::ClickHouseConfig;

pub use clickhouse;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("clickhouse: {0}")]
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

/// A client for the configured database.
pub fn client(config: &ClickHouseConfig) -> Client {
    server_client(config).with_database(&config.database)
}

/// A client without a database, for creating one.
pub fn server_client(config: &ClickHouseConfig) -> Client {
    let url = config.url.as_str().trim_end_matches('/');
    Client::default()
        .with_url(url)
        .with_user(&config.user)
        .with_password(config.password.expose())
        .with_compression(clickhouse::Compression::None)
        .with_option(
            "max_execution_time",
            config.request_timeout_secs.to_string(),
        )
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
