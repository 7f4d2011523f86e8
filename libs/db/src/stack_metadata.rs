//! The one-row `stack_metadata` table: which region this database belongs to.

use ironsmith_config::Region;
use sqlx::PgExecutor;

use crate::DbError;

/// Records `region` unless a region is already recorded.
pub async fn claim_region(db: impl PgExecutor<'_>, region: Region) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO stack_metadata (region) VALUES ($1) ON CONFLICT (singleton) DO NOTHING",
        region.as_str()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The recorded region, if the schema is migrated and a region recorded.
pub async fn recorded_region(db: impl PgExecutor<'_>) -> Result<Option<String>, DbError> {
    let row = sqlx::query_scalar!("SELECT region FROM stack_metadata")
        .fetch_optional(db)
        .await;
    match row {
        Ok(region) => Ok(region),
        // 42P01: undefined_table — the schema was never migrated.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
            Err(DbError::NotMigrated)
        }
        Err(e) => Err(e.into()),
    }
}

/// Fails unless the database is migrated and belongs to `region`.
pub async fn check_region(db: impl PgExecutor<'_>, region: Region) -> Result<(), DbError> {
    match recorded_region(db).await? {
        Some(recorded) if recorded == region.as_str() => Ok(()),
        Some(recorded) => Err(DbError::RegionMismatch {
            database: recorded,
            configured: region,
        }),
        None => Err(DbError::NotMigrated),
    }
}
