//! The deployment control plane, mounted at `/api-host` only when `deployment.enabled`
//!. Deployments, revisions and listeners arrive with their own issue.

use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/ok", get(ok))
}

/// Upstream's control-plane health path, kept for gateways.
async fn ok() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}
