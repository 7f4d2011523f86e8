//! Readiness follows the stores: a store going down turns the services that use it unready,
//! naming it, and its return turns them ready again without a restart.

use std::sync::Arc;
use std::time::Duration;

use ironsmith_config::Region;
use ironsmith_test_support::{
    PrivateStore, isolated_config, migrate, readiness, wait_for_readiness,
};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn stopping_clickhouse_makes_services_unready_until_it_returns() -> anyhow::Result<()> {
    let clickhouse = PrivateStore::start("clickhouse")?;
    let mut config = isolated_config().await?;
    config.clickhouse.url = format!("http://127.0.0.1:{}", clickhouse.ports()[2]).parse()?;
    config.http.readiness_timeout_ms = 1000;
    migrate(&config).await?;
    let config = Arc::new(config);
    let shutdown = CancellationToken::new();
    let backend = ironsmith_backend::start(config.clone(), shutdown.clone()).await?;
    let platform = ironsmith_platform_backend::start(config.clone(), shutdown.clone()).await?;
    let worker = ironsmith_queue_worker::start(config.clone(), shutdown.clone()).await?;
    let playground = ironsmith_playground::start(config.clone(), shutdown.clone()).await?;
    let users = [
        format!("http://{}", backend.local_addr),
        format!("http://{}", platform.local_addr),
        format!("http://{}", worker.served.local_addr),
    ];
    for url in &users {
        let (status, report) = readiness(url).await?;
        assert_eq!(status, 200, "{url}: {report:?}");
    }

    clickhouse.down()?;
    for url in &users {
        let report =
            wait_for_readiness(url, Duration::from_secs(20), |status, _| status == 503).await?;
        assert_eq!(
            report.down(),
            ["clickhouse"],
            "{url}: only ClickHouse is named: {report:?}"
        );
        assert!(report.dependencies["clickhouse"].error.is_some());
    }
    // The playground does not use ClickHouse and stays ready.
    let (status, _) = readiness(&format!("http://{}", playground.local_addr)).await?;
    assert_eq!(status, 200);

    clickhouse.up()?;
    for url in &users {
        wait_for_readiness(url, Duration::from_secs(30), |status, report| {
            status == 200 && report.is_ready()
        })
        .await?;
    }

    shutdown.cancel();
    backend.wait().await?;
    platform.wait().await?;
    worker.wait().await?;
    playground.wait().await?;
    Ok(())
}

#[tokio::test]
async fn a_database_of_another_region_is_refused() -> anyhow::Result<()> {
    let mut config = isolated_config().await?; // migrated as `us`
    config.stack.region = Region::Eu;
    let shutdown = CancellationToken::new();
    let backend = ironsmith_backend::start(Arc::new(config.clone()), shutdown.clone()).await?;
    let (status, report) = readiness(&format!("http://{}", backend.local_addr)).await?;
    assert_eq!(status, 503);
    assert_eq!(report.down(), ["postgres"]);
    let error = report.dependencies["postgres"]
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("belongs to the us region"), "{error}");
    // And migrating as another region refuses too, rather than adopting the database.
    let refused = migrate(&config)
        .await
        .expect_err("migrating a us database as eu must fail");
    assert!(
        format!("{refused:#}").contains("belongs to the us region"),
        "{refused:#}"
    );
    shutdown.cancel();
    backend.wait().await?;
    Ok(())
}

#[tokio::test]
async fn an_unmigrated_database_says_so() -> anyhow::Result<()> {
    let config = isolated_config().await?;
    let pool = ironsmith_db::connect(&config.postgres)?;
    sqlx_drop(&pool).await?;
    let error = ironsmith_db::check(&pool, config.stack.region)
        .await
        .expect_err("not migrated");
    assert!(
        error.to_string().contains("run `backend migrate`"),
        "{error}"
    );
    Ok(())
}

async fn sqlx_drop(pool: &ironsmith_db::Pool) -> anyhow::Result<()> {
    ironsmith_test_support::execute(pool, "DROP TABLE stack_metadata").await
}

#[tokio::test]
async fn migrations_are_idempotent() -> anyhow::Result<()> {
    let config = isolated_config().await?; // migrated once
    migrate(&config).await?;
    let report = ironsmith_runtime::migrate_all(&config).await?;
    assert!(report.applied.is_empty());
    Ok(())
}
