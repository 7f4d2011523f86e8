//! Reads that may go to the Postgres read replica.

use crate::ApiError;

/// Runs `read` on the read replica when one is configured and in use, else on `primary`; and
/// again on `primary` when the replica fails (it then rests for a few seconds) or does not hold what was
/// asked for yet (a 404: a row written a moment ago and not replayed). For reads that may see
/// the state of a moment ago, such as the latest commit of a prompt.
pub async fn replica_first<T, F, Fut>(
    primary: &ironsmith_db::Pool,
    replica: Option<&ironsmith_db::Replica>,
    read: F,
) -> Result<T, ApiError>
where
    F: Fn(ironsmith_db::Pool) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    if let Some((replica, pool)) = replica.and_then(|r| Some((r, r.pool()?))) {
        match read(pool.clone()).await {
            // Down, or failing in a way the primary may not (a query cancelled by a conflict
            // with recovery is a 500 otherwise).
            Err(error @ (ApiError::ServiceUnavailable(_) | ApiError::Internal(_))) => {
                tracing::warn!(%error, "the Postgres read replica failed; reading from the primary");
                replica.failed();
            }
            Err(ApiError::NotFound(_)) => {}
            done => return done,
        }
    }
    read(primary.clone()).await
}
