//! The prompt hub's repositories: `/repos` (create, read, list, update, delete), tags on
//! commits (`/repos/{owner}/{repo}/tags`), likes (`/likes/{owner}/{repo}`) and the workspace's
//! handle (`/settings/handle`). Commits are platform-backend's (`/commits`); the rules both
//! share live in the `ironsmith-hub` crate.

mod repos;
mod tags;

use ironsmith_auth::{AuthContext, Permission};
use ironsmith_http::ApiError;
use ironsmith_hub::Viewer;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    repos::router().merge(tags::router())
}

/// Who is asking, after checking the caller (if any) holds `permission`.
pub(crate) fn viewer(
    caller: Option<&AuthContext>,
    permission: Permission,
) -> Result<Viewer, ApiError> {
    let Some(caller) = caller else {
        return Ok(Viewer::default());
    };
    caller
        .require(permission)
        .map_err(|e| ApiError::Forbidden(e.to_string()))?;
    Ok(Viewer {
        workspace_id: Some(caller.workspace_id),
        liker_id: caller.user_id().or(caller.credential.api_key_id()),
    })
}
