//! ClickHouse access over its HTTP interface.
//!
//! Every query binds its values with `?` placeholders (`Query::bind`), which the client escapes;
//! server-side `{name:Type}` parameters do not exist on ClickHouse 18.16, which we support.

pub mod migrate;

use clickhouse::Client;
use ironsmith_config::ClickHouseConfig;

pub use clickhouse;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
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
