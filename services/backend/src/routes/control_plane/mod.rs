//! The deployment control plane: deployments of Agent Servers, their revisions and logs, the
//! listeners of data planes, and the protocol listeners speak. Served under `/api-host` when
//! `deployment.enabled` (the edge also forwards `/api/v2/deployments…` and `/api/v2/listeners…`
//! there, where the newest clients call it); otherwise `/api-host/*` is 404.

mod deployments;
mod integrations;
mod listeners;
mod logs;
mod protocol;
mod revisions;
mod sources;

use axum::Json;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// The control plane's routes, each with its description in the API document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(deployments::router())
        .merge(revisions::router())
        .merge(listeners::router())
        .merge(protocol::router())
        .merge(logs::router())
        .merge(sources::router())
        .merge(integrations::router())
}

/// Every route under `/api-host`, with upstream's health path kept for gateways.
pub fn router() -> axum::Router<AppState> {
    let (routes, _) = routes().split_for_parts();
    routes.route("/ok", get(ok))
}

async fn ok() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}
