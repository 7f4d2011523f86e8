//! A small versioned migration runner for ClickHouse.
//!
//! ClickHouse DDL is not transactional, so the unit of safety is the statement: every statement
//! is idempotent (see `migrations/clickhouse/README.md`), a migration is recorded in
//! `schema_migrations` only after all its statements succeed, and re-running one that was killed
//! halfway simply repeats its statements. Concurrent runs are harmless for the same reason.

use clickhouse::Client;
use serde::Deserialize;

use crate::AnalyticsError;

include!(concat!(env!("OUT_DIR"), "/clickhouse_migrations.rs"));

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u64,
    pub name: String,
    pub statements: Vec<String>,
    pub checksum: String,
}

impl Migration {
    /// Parses `NNNN_description.sql` and its text.
    pub fn parse(file_name: &str, text: &str) -> Result<Self, AnalyticsError> {
        let bad = |reason: &str| AnalyticsError::BadMigration {
            name: file_name.to_owned(),
            reason: reason.to_owned(),
        };
        let stem = file_name
            .strip_suffix(".sql")
            .ok_or_else(|| bad("not a .sql file"))?;
        let (version, _) = stem
            .split_once('_')
            .ok_or_else(|| bad("name must be NNNN_description.sql"))?;
        let version: u64 = version
            .parse()
            .map_err(|_| bad("name must start with a version number"))?;
        let statements = split_statements(text);
        if statements.is_empty() {
            return Err(bad("no statements"));
        }
        Ok(Migration {
            version,
            name: stem.to_owned(),
            statements,
            checksum: format!("{:016x}", fnv1a(text.as_bytes())),
        })
    }
}

/// The migrations under `migrations/clickhouse`, embedded at build time.
pub fn embedded() -> Result<Vec<Migration>, AnalyticsError> {
    EMBEDDED
        .iter()
        .map(|(name, text)| Migration::parse(name, text))
        .collect()
}

/// Statements end with `;` at the end of a line; `--` comment lines are dropped.
fn split_statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_owned();
            if !statement.is_empty() {
                statements.push(statement);
            }
            current.clear();
        }
    }
    let rest = current.trim().to_owned();
    if !rest.is_empty() {
        statements.push(rest);
    }
    statements
}

/// 64-bit FNV-1a: a stable checksum that needs no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where applied migrations are recorded.
const SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt64,
    name String,
    checksum String,
    applied_at_us Int64
) ENGINE = MergeTree() ORDER BY version";

#[derive(Debug, Deserialize, clickhouse::Row)]
struct Applied {
    version: u64,
    checksum: String,
}

/// What a run of the runner did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub already_applied: usize,
}

/// Creates `database` if needed, then applies every migration not yet recorded, in version order.
/// `server` must be a client without a database, `client` one bound to `database`. With a
/// `cluster` (empty: one server), each statement is rewritten for it
/// ([`crate::cluster::statements_for_cluster`]) and runs `ON CLUSTER`.
pub async fn run(
    server: &Client,
    client: &Client,
    database: &str,
    cluster: &str,
    migrations: &[Migration],
) -> Result<MigrationReport, AnalyticsError> {
    // `database` and `cluster` are validated identifiers (config crate); DDL cannot bind them.
    let on_cluster = if cluster.is_empty() {
        String::new()
    } else {
        format!(" ON CLUSTER {cluster}")
    };
    server
        .query(&format!(
            "CREATE DATABASE IF NOT EXISTS {database}{on_cluster}"
        ))
        .execute()
        .await?;
    let keys = crate::cluster::shard_keys(
        std::iter::once(SCHEMA_MIGRATIONS).chain(
            migrations
                .iter()
                .flat_map(|m| m.statements.iter().map(String::as_str)),
        ),
    );
    let execute = |statement: &str| {
        let statements = if cluster.is_empty() {
            Ok(vec![statement.to_owned()])
        } else {
            crate::cluster::statements_for_cluster(statement, cluster, database, &keys)
        };
        async move {
            for statement in statements? {
                client.query(&statement).execute().await?;
            }
            Ok::<(), AnalyticsError>(())
        }
    };
    execute(SCHEMA_MIGRATIONS).await?;
    let applied: Vec<Applied> = client
        .query("SELECT version, any(checksum) AS checksum FROM schema_migrations GROUP BY version")
        .fetch_all()
        .await?;

    let mut ordered: Vec<&Migration> = migrations.iter().collect();
    ordered.sort_by_key(|m| m.version);
    let mut report = MigrationReport::default();
    for migration in ordered {
        if let Some(done) = applied.iter().find(|a| a.version == migration.version) {
            if done.checksum != migration.checksum {
                return Err(AnalyticsError::EditedMigration {
                    name: migration.name.clone(),
                    applied: done.checksum.clone(),
                    current: migration.checksum.clone(),
                });
            }
            report.already_applied += 1;
            continue;
        }
        tracing::info!(migration = %migration.name, "applying ClickHouse migration");
        for statement in &migration.statements {
            execute(statement).await?;
        }
        client
            .query(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at_us)
                 SELECT ?, ?, ?, toInt64(toUnixTimestamp(now())) * 1000000",
            )
            .bind(migration.version)
            .bind(&migration.name)
            .bind(&migration.checksum)
            .execute()
            .await?;
        report.applied.push(migration.name.clone());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_ending_semicolons() {
        let m = Migration::parse(
            "0002_runs.sql",
            "-- a comment\nCREATE TABLE IF NOT EXISTS a (x UInt8)\n  ENGINE = Memory;\n\nCREATE TABLE IF NOT EXISTS b (y String) ENGINE = Memory;\n",
        )
        .expect("parses");
        assert_eq!(m.version, 2);
        assert_eq!(m.name, "0002_runs");
        assert_eq!(m.statements.len(), 2);
        assert!(m.statements[0].starts_with("CREATE TABLE IF NOT EXISTS a"));
        assert!(!m.statements[0].ends_with(';'));
    }

    #[test]
    fn bad_names_and_empty_files_are_refused() {
        assert!(Migration::parse("runs.sql", "SELECT 1;").is_err());
        assert!(Migration::parse("x_runs.sql", "SELECT 1;").is_err());
        assert!(Migration::parse("0001_runs.sql", "-- nothing\n").is_err());
    }

    #[test]
    fn checksums_change_with_the_text() {
        let a = Migration::parse("0001_a.sql", "SELECT 1;").expect("a");
        let b = Migration::parse("0001_a.sql", "SELECT 2;").expect("b");
        assert_ne!(a.checksum, b.checksum);
    }

    #[test]
    fn embedded_migrations_parse() {
        embedded().expect("every file under migrations/clickhouse parses");
    }
}
