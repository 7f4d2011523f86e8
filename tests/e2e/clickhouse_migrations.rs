//! The ClickHouse migration runner against the real server (18.16 here).

use ironsmith_analytics::AnalyticsError;
use ironsmith_analytics::migrate::{Migration, run};
use ironsmith_test_support::isolated_config;

fn fixture(version: u32, sql: &str) -> Migration {
    Migration::parse(&format!("{version:04}_fixture.sql"), sql).expect("fixture parses")
}

#[tokio::test]
async fn applies_in_order_once_and_refuses_edited_files() -> anyhow::Result<()> {
    let mut config = isolated_config().await?;
    // A database of its own: the isolated one already holds the real migrations.
    config.clickhouse.database = format!("{}_fixtures", config.clickhouse.database);
    let server = ironsmith_analytics::server_client(&config.clickhouse);
    let client = ironsmith_analytics::client(&config.clickhouse);
    let db = &config.clickhouse.database;
    let first = fixture(
        1,
        "CREATE TABLE IF NOT EXISTS things (id UUID, at_us Int64, version UInt64, is_deleted UInt8)\n\
         ENGINE = ReplacingMergeTree(version) PARTITION BY toMonday(toDateTime(intDiv(at_us, 1000000))) ORDER BY (id);\n",
    );
    let second = fixture(
        2,
        "CREATE TABLE IF NOT EXISTS names (id UUID, name String) ENGINE = ReplacingMergeTree() ORDER BY id;\n",
    );

    let report = run(&server, &client, db, "", &[second.clone(), first.clone()]).await?;
    assert_eq!(report.applied, ["0001_fixture", "0002_fixture"]);

    let again = run(&server, &client, db, "", &[first.clone(), second.clone()]).await?;
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied, 2);

    let tables: Vec<String> = client
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(db.as_str())
        .fetch_all()
        .await?;
    assert_eq!(tables, ["names", "schema_migrations", "things"]);

    let edited = fixture(
        2,
        "CREATE TABLE IF NOT EXISTS labels (id UUID) ENGINE = ReplacingMergeTree() ORDER BY id;\n",
    );
    match run(&server, &client, db, "", &[first, edited]).await {
        Err(AnalyticsError::EditedMigration { name, .. }) => assert_eq!(name, "0002_fixture"),
        other => panic!("an edited migration must be refused, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_half_applied_migration_completes_on_the_next_run() -> anyhow::Result<()> {
    let mut config = isolated_config().await?;
    // A database of its own: the isolated one already holds the real migrations.
    config.clickhouse.database = format!("{}_fixtures", config.clickhouse.database);
    let server = ironsmith_analytics::server_client(&config.clickhouse);
    let client = ironsmith_analytics::client(&config.clickhouse);
    let db = &config.clickhouse.database;
    // Its first statement succeeds, its second fails: as if killed halfway.
    let broken = fixture(
        5,
        "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = Memory;\nCREATE TABLE b (y UInt8) ENGINE = NoSuchEngine;\n",
    );
    assert!(run(&server, &client, db, "", &[broken]).await.is_err());
    let fixed = fixture(
        5,
        "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = Memory;\nCREATE TABLE IF NOT EXISTS b (y UInt8) ENGINE = Memory;\n",
    );
    let report = run(&server, &client, db, "", &[fixed]).await?;
    assert_eq!(report.applied, ["0005_fixture"]);
    Ok(())
}

#[tokio::test]
async fn an_added_column_applied_but_not_recorded_is_not_added_twice() -> anyhow::Result<()> {
    let mut config = isolated_config().await?;
    config.clickhouse.database = format!("{}_fixtures", config.clickhouse.database);
    let server = ironsmith_analytics::server_client(&config.clickhouse);
    let client = ironsmith_analytics::client(&config.clickhouse);
    let db = &config.clickhouse.database;
    let table = fixture(
        1,
        "CREATE TABLE IF NOT EXISTS t (id UUID) ENGINE = MergeTree() ORDER BY id;\n",
    );
    run(&server, &client, db, "", std::slice::from_ref(&table)).await?;
    // The run that added `a` was killed before it recorded the migration.
    client
        .query("ALTER TABLE t ADD COLUMN a String")
        .execute()
        .await?;
    let alter = fixture(
        2,
        "ALTER TABLE t\n    ADD COLUMN a String,\n    ADD COLUMN b Array(String) AFTER a;\n",
    );
    let report = run(&server, &client, db, "", &[table, alter]).await?;
    assert_eq!(report.applied, ["0002_fixture"]);
    let columns: Vec<String> = client
        .query("SELECT name FROM system.columns WHERE database = ? AND table = 't' ORDER BY name")
        .bind(db.as_str())
        .fetch_all()
        .await?;
    assert_eq!(columns, ["a", "b", "id"]);
    Ok(())
}
