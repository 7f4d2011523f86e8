//! Insights (`POST /sessions/{id}/insights` and the reads of a report): LangSmith clusters a
//! project's conversations with a hosted model into a report. This server runs no such job; it
//! says so with a 501 the SDKs surface, after the usual authentication.

use axum::extract::State;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::RunsRead;
use ironsmith_http::{ApiError, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_insights))
        .routes(routes!(read_insights))
        .routes(routes!(insights_runs))
}

fn not_offered() -> ApiError {
    ApiError::NotImplemented(
        "Insights reports are not available on this server: they need LangSmith's hosted \
         clustering job. Group conversations with POST /api/v2/threads/stats or /runs/group instead."
            .into(),
    )
}

#[utoipa::path(post, path = "/sessions/{id}/insights", operation_id = "create_insights", tag = "projects",
    params(("id" = Uuid, Path)),
    responses((status = 501, description = "Not offered by this server")))]
async fn create_insights(
    State(_state): State<AppState>,
    _caller: RequirePermission<RunsRead>,
    Path(_id): Path<Uuid>,
) -> Result<(), ApiError> {
    Err(not_offered())
}

#[utoipa::path(get, path = "/sessions/{id}/insights/{job_id}", operation_id = "read_insights", tag = "projects",
    params(("id" = Uuid, Path), ("job_id" = Uuid, Path)),
    responses((status = 501, description = "Not offered by this server")))]
async fn read_insights(
    State(_state): State<AppState>,
    _caller: RequirePermission<RunsRead>,
    Path(_ids): Path<(Uuid, Uuid)>,
) -> Result<(), ApiError> {
    Err(not_offered())
}

#[utoipa::path(get, path = "/sessions/{id}/insights/{job_id}/runs", operation_id = "read_insights_runs", tag = "projects",
    params(("id" = Uuid, Path), ("job_id" = Uuid, Path)),
    responses((status = 501, description = "Not offered by this server")))]
async fn insights_runs(
    State(_state): State<AppState>,
    _caller: RequirePermission<RunsRead>,
    Path(_ids): Path<(Uuid, Uuid)>,
) -> Result<(), ApiError> {
    Err(not_offered())
}
