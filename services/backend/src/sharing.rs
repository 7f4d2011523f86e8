//! Public links (shared runs and datasets) exist only while the workspace's organisation allows
//! public sharing. Creating one is refused here; reading one checks the same flag in the query
//! that resolves its token, so turning sharing off closes every existing link at once.

use ironsmith_db::organizations;
use ironsmith_http::ApiError;
use uuid::Uuid;

use crate::AppState;

/// Refuses (403) when the organisation owning `workspace_id` has disabled public sharing.
pub async fn ensure_allowed(state: &AppState, workspace_id: Uuid) -> Result<(), ApiError> {
    if organizations::sharing_allowed(&state.stores.postgres, workspace_id).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Public sharing is disabled for this organisation".into(),
        ))
    }
}
