//! The stack with a Postgres streaming read replica (`postgres.replica_url`): a primary and a
//! hot standby replaying its WAL, started with `scripts/stores start-postgres-replica`. Prompt
//! pulls read from the replica (shown by pausing its replay: `latest` is then the commit it
//! last replayed), a commit the replica has not replayed yet is found on the primary, a
//! stopped replica sends reads to the primary, and a replica back up is used again.

use std::time::Duration;

use anyhow::Context;
use ironsmith_e2e::Stack;
use ironsmith_test_support::{PrivatePostgresReplica, isolated_config};
use serde_json::{Value, json};
use sqlx::PgPool;

/// Waits until the replica has replayed everything the primary has written so far.
async fn caught_up(primary: &PgPool, replica: &PgPool) -> anyhow::Result<()> {
    let written: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let replayed: bool =
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                .bind(&written)
                .fetch_one(replica)
                .await?;
        if replayed {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the replica did not replay {written}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resumes the replica's replay and waits until it has caught up.
async fn resume(primary: &PgPool, replica: &PgPool) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(replica)
        .await?;
    caught_up(primary, replica).await
}

async fn push(
    admin: &ironsmith_e2e::Client,
    parent: Option<&str>,
    text: &str,
) -> anyhow::Result<String> {
    let pushed = admin
        .post(
            "/commits/-/replicated",
            json!({"parent_commit": parent, "manifest": {"template": text}}),
        )
        .await?
        .expect(201)?;
    pushed["commit"]["commit_hash"]
        .as_str()
        .map(str::to_owned)
        .context("no commit hash")
}

async fn pull(admin: &ironsmith_e2e::Client, reference: &str) -> anyhow::Result<Value> {
    admin
        .get(&format!("/commits/-/replicated/{reference}"))
        .await?
        .expect(200)
}

#[tokio::test]
async fn reads_go_to_the_replica_and_fall_back_to_the_primary() -> anyhow::Result<()> {
    let stores = PrivatePostgresReplica::start()?;
    let (primary_url, replica_url) = (stores.url("primary"), stores.url("replica"));
    let template = isolated_config().await?;
    let mut postgres = template.postgres.clone();
    postgres.url = ironsmith_config::Secret::new(primary_url.as_str());
    let primary = ironsmith_db::connect(&postgres)?;
    ironsmith_db::migrate(&primary, template.stack.region).await?;
    let replica = PgPool::connect(&replica_url).await?;
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&replica)
        .await?;
    assert!(in_recovery, "the replica is a standby");

    let stack = Stack::start_with_options(
        |config| {
            config.postgres.url = ironsmith_config::Secret::new(primary_url.as_str());
            config.postgres.replica_url = ironsmith_config::Secret::new(replica_url.as_str());
        },
        false,
    )
    .await?;
    let admin = stack.admin();
    admin
        .post(
            "/repos/",
            json!({"repo_handle": "replicated", "is_public": false}),
        )
        .await?
        .expect(200)?;
    let first = push(&admin, None, "one").await?;
    caught_up(&primary, &replica).await?;
    assert_eq!(pull(&admin, "latest").await?["commit_hash"], first.as_str());

    // Replay paused: the replica answers `latest` with what it holds, and a hash it has not
    // seen is found on the primary.
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica)
        .await?;
    let second = push(&admin, Some(&first), "two").await?;
    assert_eq!(
        pull(&admin, "latest").await?["commit_hash"],
        first.as_str(),
        "latest came from the paused replica"
    );
    let by_hash = pull(&admin, &second).await?;
    assert_eq!(by_hash["commit_hash"], second.as_str());
    assert_eq!(by_hash["manifest"], json!({"template": "two"}));
    resume(&primary, &replica).await?;
    assert_eq!(
        pull(&admin, "latest").await?["commit_hash"],
        second.as_str()
    );

    // A public dataset link reads its examples from the replica too.
    let dataset = admin
        .post("/datasets", json!({"name": "replicated"}))
        .await?
        .expect(200)?;
    let dataset_id = dataset["id"].as_str().context("no dataset id")?.to_owned();
    admin
        .post(
            "/examples",
            json!({"dataset_id": dataset_id, "inputs": {"q": "?"}, "outputs": {"a": "!"}}),
        )
        .await?
        .expect(200)?;
    let token = admin
        .put(&format!("/datasets/{dataset_id}/share"), json!({}))
        .await?
        .expect(200)?["share_token"]
        .as_str()
        .context("no share token")?
        .to_owned();
    caught_up(&primary, &replica).await?;
    let shared = stack
        .anonymous()
        .get(&format!("/public/{token}/examples"))
        .await?
        .expect(200)?;
    assert_eq!(shared.as_array().map(Vec::len), Some(1));

    // The replica stopped: reads go to the primary, without errors.
    replica.close().await;
    stores.down("replica")?;
    for _ in 0..3 {
        assert_eq!(
            pull(&admin, "latest").await?["commit_hash"],
            second.as_str()
        );
    }
    let third = push(&admin, Some(&second), "three").await?;
    assert_eq!(pull(&admin, "latest").await?["commit_hash"], third.as_str());

    // Back up, it catches up and, once its rest is over, is read from again: paused, it
    // answers `latest` with the last commit it replayed.
    stores.up("replica")?;
    let replica = PgPool::connect(&replica_url).await?;
    caught_up(&primary, &replica).await?;
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica)
        .await?;
    let fourth = push(&admin, Some(&third), "four").await?;
    tokio::time::sleep(ironsmith_db::replica::REST + Duration::from_millis(500)).await;
    assert_eq!(pull(&admin, "latest").await?["commit_hash"], third.as_str());
    resume(&primary, &replica).await?;
    assert_eq!(
        pull(&admin, "latest").await?["commit_hash"],
        fourth.as_str()
    );

    stack.stop().await;
    Ok(())
}
