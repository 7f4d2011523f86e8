//! A small versioned migration runner for ClickHouse.
//!
//! ClickHouse DDL is not transactional, so the unit of safety is the statement: every statement
//! is idempotent (see `migrations/clickhouse/README.md`; `ADD COLUMN` is made so by adding only
//! missing columns), a statement whose connection fails is sent again, a migration is recorded in
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
                execute_statement(client, database, &statement).await?;
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

/// How often a statement is sent again after the connection to ClickHouse failed.
const NETWORK_ATTEMPTS: u32 = 5;

/// Runs one statement, sending it again (up to [`NETWORK_ATTEMPTS`] times, with a growing pause)
/// when the connection fails: a node restarting, or a kept-alive connection the server closed
/// as the statement went out. A statement that reached the server before the connection broke
/// may have run, so each must be safe to repeat; an `ALTER TABLE … ADD COLUMN` (ClickHouse 18.16
/// has no `IF NOT EXISTS` for it) is made so by adding only the columns the table lacks.
async fn execute_statement(
    client: &Client,
    database: &str,
    statement: &str,
) -> Result<(), AnalyticsError> {
    let mut attempt = 1;
    loop {
        let result = match add_columns(statement) {
            Some(alter) => {
                let (db, table) = match alter.table.split_once('.') {
                    Some((db, table)) => (db, table),
                    None => (database, alter.table),
                };
                let existing: Vec<String> = client
                    .query("SELECT name FROM system.columns WHERE database = ? AND table = ?")
                    .bind(db)
                    .bind(table)
                    .fetch_all()
                    .await?;
                match alter.without(&existing) {
                    Some(statement) => client.query(&statement).execute().await,
                    None => Ok(()),
                }
            }
            None => client.query(statement).execute().await,
        };
        match result {
            Err(clickhouse::error::Error::Network(error)) if attempt < NETWORK_ATTEMPTS => {
                tracing::warn!(%error, attempt, "ClickHouse connection failed during a migration; sending the statement again");
                tokio::time::sleep(std::time::Duration::from_millis(500 << attempt)).await;
                attempt += 1;
            }
            other => return Ok(other?),
        }
    }
}

/// An `ALTER TABLE t [ON CLUSTER c] ADD COLUMN …, ADD COLUMN …` statement, taken apart.
#[derive(Debug, PartialEq)]
struct AddColumns<'a> {
    /// `ALTER TABLE t [ON CLUSTER c]`.
    head: &'a str,
    table: &'a str,
    /// Each `ADD COLUMN name …` clause, with its column's name.
    clauses: Vec<(&'a str, &'a str)>,
}

impl AddColumns<'_> {
    /// The statement adding only the columns not in `existing`, or `None` when it adds none.
    fn without(&self, existing: &[String]) -> Option<String> {
        let clauses: Vec<&str> = self
            .clauses
            .iter()
            .filter(|(name, _)| !existing.iter().any(|e| e == name))
            .map(|(_, clause)| *clause)
            .collect();
        (!clauses.is_empty()).then(|| format!("{}\n    {}", self.head, clauses.join(",\n    ")))
    }
}

/// Parses `statement` when it is an ALTER made only of `ADD COLUMN` clauses.
fn add_columns(statement: &str) -> Option<AddColumns<'_>> {
    let rest = statement.strip_prefix("ALTER TABLE ")?;
    let first = rest.find("ADD COLUMN ")?;
    let head = statement
        .get(..statement.len() - rest.len() + first)?
        .trim_end();
    let table = rest.split_whitespace().next()?;
    // Split the clauses at commas outside parentheses (types such as `Tuple(a, b)`).
    let body = rest.get(first..)?;
    let (mut depth, mut start, mut clauses) = (0i32, 0, Vec::new());
    for (at, c) in body
        .char_indices()
        .chain(std::iter::once((body.len(), ',')))
    {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                let clause = body.get(start..at)?.trim();
                let name = clause
                    .strip_prefix("ADD COLUMN ")?
                    .split_whitespace()
                    .next()?;
                clauses.push((name, clause));
                start = at + 1;
            }
            _ => {}
        }
    }
    Some(AddColumns {
        head,
        table,
        clauses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_columns_that_exist_are_left_out() {
        let statement = "ALTER TABLE db.runs_local ON CLUSTER c1\n    ADD COLUMN a Array(String) AFTER m,\n    ADD COLUMN b Tuple(String, UInt8) AFTER a,\n    ADD COLUMN c String AFTER b";
        let alter = add_columns(statement).unwrap_or_else(|| unreachable!("parses"));
        assert_eq!(alter.table, "db.runs_local");
        assert_eq!(alter.head, "ALTER TABLE db.runs_local ON CLUSTER c1");
        let names: Vec<&str> = alter.clauses.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(alter.without(&[]).as_deref(), Some(statement));
        assert_eq!(
            alter.without(&["a".into(), "c".into()]).as_deref(),
            Some(
                "ALTER TABLE db.runs_local ON CLUSTER c1\n    ADD COLUMN b Tuple(String, UInt8) AFTER a"
            )
        );
        assert_eq!(alter.without(&["a".into(), "b".into(), "c".into()]), None);
        // Other statements, and ALTERs doing more than adding columns, run as written.
        assert_eq!(
            add_columns("CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Log"),
            None
        );
        assert_eq!(
            add_columns("ALTER TABLE t ADD COLUMN a UInt8, DROP COLUMN b"),
            None
        );
        assert_eq!(add_columns("ALTER TABLE t DELETE WHERE 1"), None);
    }

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
