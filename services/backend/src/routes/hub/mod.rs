//! The prompt hub's repositories: `/repos` (create, read, list, update, delete), tags on
//! commits (`/repos/{owner}/{repo}/tags`), likes (`/likes/{owner}/{repo}`) and the workspace's
//! handle (`/settings/handle`). Commits are platform-backend's (`/commits`); the rules both
//! share live in the `ironsmith-hub` crate.

mod repos;
mod tags;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    repos::router()
        .merge(tags::router())
        .merge(webhooks::router())
}
