//! Postgres access. Queries live here, one module per table or aggregate, taking an executor so
//! they compose in transactions. Migrations are `migrations/postgres/*.sql`, embedded at build
//! time and applied only by the backend's explicit `migrate` command.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod annotation_queues;
pub mod api_keys;
pub mod audit_log;
pub mod datasets;
pub mod deployment_listeners;
pub mod deployments;
pub mod examples;
pub mod feedback_configs;
pub mod feedback_tokens;
pub mod hub;
pub mod invitations;
pub mod login_sessions;
pub mod members;
pub mod model_configs;
pub mod model_prices;
pub mod organizations;
pub mod projects;
pub mod prompt_webhooks;
pub mod replica;
pub mod run_shares;
pub mod stack_metadata;
pub mod thread_shares;
pub mod users;
pub mod workspace_secrets;
pub mod workspaces;

use std::time::Duration;

use ironsmith_config::{PostgresConfig, Region};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use replica::Replica;
pub use sqlx::PgConnection;
pub use sqlx::PgExecutor;
pub use sqlx::PgPool as Pool;

/// Every Postgres migration, embedded.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid postgres.url")]
    Url(#[source] sqlx::Error),
    #[error("postgres: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("postgres migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the Postgres schema is not migrated: run `backend migrate`")]
    NotMigrated,
    #[error(
        "this database belongs to the {database} region, but this service is configured for {configured}"
    )]
    RegionMismatch {
        database: String,
        configured: Region,
    },
}

/// A pool that connects lazily, so a service starts (and reports itself unready) while
/// Postgres is down, and recovers on its own when it comes back.
pub fn connect(config: &PostgresConfig) -> Result<PgPool, DbError> {
    let options: PgConnectOptions = config.url.expose().parse().map_err(DbError::Url)?;
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .connect_lazy_with(options))
}

/// Applies every pending migration, then records (or checks) the stack's region.
/// Safe to re-run and to run while services are up: sqlx takes an advisory lock, each migration
/// runs in a transaction, and applied ones are skipped.
pub async fn migrate(pool: &PgPool, region: Region) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    stack_metadata::claim_region(pool, region).await?;
    stack_metadata::check_region(pool, region).await
}

/// Readiness: Postgres answers, is migrated, and belongs to this region.
pub async fn check(pool: &PgPool, region: Region) -> Result<(), DbError> {
    stack_metadata::check_region(pool, region).await
}

impl DbError {
    /// A unique constraint refused the write: the caller answers 409, never 500.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// A foreign key refused the write: it names something that does not exist (any more).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    }

    /// Postgres refused a value it cannot hold or that breaks a check: a number out of its
    /// column's range, a string over its length, a date out of range (SQLSTATE class 22, data
    /// exceptions), a check constraint (23514) or a missing required value (23502). The request
    /// carried it, so the caller answers 422, never 500.
    pub fn is_invalid_value(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e))
            if e.code().is_some_and(|code| code.starts_with("22") || code == "23514" || code == "23502"))
    }

    /// Postgres could not be reached, or did not answer in time: retrying later can succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DbError::Sqlx(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}
