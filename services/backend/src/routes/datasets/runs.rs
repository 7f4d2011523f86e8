//! Examples joined to the runs experiments made on them (`POST /datasets/{id}/runs`).

use super::*;

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ExamplesWithRunsBody {
    #[serde(default)]
    session_ids: Vec<Uuid>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    #[serde(default)]
    preview: Option<bool>,
    #[serde(default)]
    example_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    as_of: Option<String>,
}

/// Examples of the dataset, each with the root runs the given experiments made on it
/// (their feedback statistics included): what comparison views and the SDKs' result readers use.
#[utoipa::path(post, path = "/datasets/{id}/runs", tag = "datasets",
    params(("id" = Uuid, Path)),
    request_body = ExamplesWithRunsBody, responses((status = 200, body = [resources::ExampleWithRuns])))]
pub(super) async fn examples_with_runs(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsRead>,
    _runs: RequirePermission<ProjectsRead>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<ExamplesWithRunsBody>,
) -> Result<Json<Vec<resources::ExampleWithRuns>>, ApiError> {
    crate::datasets::examples_with_runs(
        &state,
        caller.workspace_id,
        id,
        &crate::datasets::ExperimentRuns {
            session_ids: body.session_ids,
            offset: body.offset.unwrap_or(0),
            limit: body.limit.unwrap_or(100),
            preview: body.preview.unwrap_or(false),
            example_ids: body.example_ids.unwrap_or_default(),
            as_of: body.as_of,
            only_examples: None,
            ranked: None,
        },
    )
    .await
    .map(Json)
}
