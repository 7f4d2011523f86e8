//! One router per resource.

pub mod agent_metadata;
pub mod api_keys;
pub mod auth_session;
pub mod commits;
pub mod directories;
pub mod example_metadata;
pub mod examples;
pub mod members;
pub mod oidc;
pub mod organizations;
pub mod playground_experiments;
pub mod workspaces;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// The public routes, each with its description in the API document.
pub fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth_session::router())
        .merge(agent_metadata::router())
        .merge(organizations::router())
        .merge(members::router())
        .merge(workspaces::router())
        .merge(api_keys::router())
        .merge(oidc::router())
        .merge(examples::router())
        .merge(example_metadata::router())
        .merge(commits::router())
        .merge(directories::router())
        .merge(playground_experiments::router())
        .merge(crate::ingest::router())
}

/// Every route: the public ones and the operator's, which take the operator token and are
/// not part of the public API.
pub fn router(operator_token: &ironsmith_config::Secret) -> Router<AppState> {
    let (public, _) = public().split_for_parts();
    public.merge(ironsmith_http::operator::operator_only(
        organizations::operator_router(),
        operator_token,
    ))
}
