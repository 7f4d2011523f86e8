//! One router per resource.

pub mod api_keys;
pub mod auth_session;
pub mod examples;
pub mod members;
pub mod oidc;
pub mod organizations;
pub mod workspaces;

use axum::Router;

use crate::AppState;

pub fn router(operator_token: &ironsmith_config::Secret) -> Router<AppState> {
    Router::new()
        .merge(ironsmith_http::operator::operator_only(
            organizations::operator_router(),
            operator_token,
        ))
        .merge(auth_session::router())
        .merge(organizations::router())
        .merge(members::router())
        .merge(workspaces::router())
        .merge(api_keys::router())
        .merge(oidc::router())
        .merge(examples::router())
        .merge(crate::ingest::router())
}
