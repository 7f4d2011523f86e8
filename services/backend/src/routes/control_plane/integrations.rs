//! What clients of LangSmith Cloud's control plane also call, answered as a self-hosted
//! installation does: no GitHub app is installed, and there is no image registry to push to.

use axum::Json;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{DeploymentsRead, DeploymentsUpdate};
use ironsmith_http::{ApiError, PathUuid};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(github_installations))
        .routes(routes!(push_token))
}

/// One installation of the GitHub app (none here).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct GithubInstallation {
    pub id: String,
    pub installation_id: i64,
    pub name: String,
}

#[utoipa::path(get, path = "/v1/integrations/github/install", operation_id = "list_github_installations", tag = "deployments",
    responses((status = 200, body = [GithubInstallation], description = "always empty: GitHub deployments are LangSmith Cloud's")))]
async fn github_installations(
    _caller: RequirePermission<DeploymentsRead>,
) -> Json<Vec<GithubInstallation>> {
    Json(Vec::new())
}

#[utoipa::path(post, path = "/v2/deployments/{deployment_id}/push-token", operation_id = "create_push_token", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "registry credentials, on LangSmith Cloud only: never answered here"),
        (status = 400, description = "always: this control plane has no image registry")))]
async fn push_token(
    _caller: RequirePermission<DeploymentsUpdate>,
    PathUuid(_id): PathUuid,
) -> Result<Json<serde_json::Value>, ApiError> {
    Err(ApiError::BadRequest(
        "This control plane has no image registry: push the image to a registry your cluster can pull from and deploy it with --image-uri (external_docker), or deploy the project from source".into(),
    ))
}
