//! `POST /metadata/submit`: the usage reports a running Agent Server sends to its
//! `LANGSMITH_ENDPOINT` every few minutes. They are acknowledged (202) and not kept: a
//! self-hosted install meters no licence. No credential is asked for, as none is needed to
//! store nothing.

use axum::body::Bytes;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(submit))
}

#[utoipa::path(post, path = "/metadata/submit", operation_id = "submit_agent_server_metadata", tag = "deployments",
    security(()),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 202, description = "acknowledged")))]
async fn submit(body: Bytes) -> StatusCode {
    tracing::debug!(bytes = body.len(), "agent server usage report acknowledged");
    StatusCode::ACCEPTED
}
