//! Examples joined to the runs experiments made on them (`POST /datasets/{id}/runs`).

use super::*;
use ironsmith_api_types::runs::SelectedRun;

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
/// Most experiments one `POST /datasets/{id}/runs` compares.
const MAX_COMPARED_SESSIONS: usize = 100;

/// Most runs one `POST /datasets/{id}/runs` answer carries: the work of one request is bounded
/// whatever the experiments hold.
const MAX_RUNS_PER_PAGE: usize = 10_000;

// Long: paging examples, finding each experiment's runs and capping the work are one
// sequence.
#[allow(clippy::too_many_lines)]
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
    let tenant_id = caller.workspace_id;
    get_dataset(&state, tenant_id, id).await?;
    let limit = body.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 100".into()));
    }
    if body.session_ids.len() > MAX_COMPARED_SESSIONS {
        return Err(invalid(
            "session_ids",
            format!("compare at most {MAX_COMPARED_SESSIONS} experiments at once"),
        ));
    }
    let db = &state.stores.postgres;
    let as_of = resolve_version(
        &state,
        caller.workspace_id,
        Some(id),
        body.as_of.as_deref(),
        "as_of",
    )
    .await?;
    let page = examples::list(
        db,
        tenant_id,
        &ExampleFilter {
            dataset: Some(id),
            ids: body.example_ids.unwrap_or_default(),
            as_of,
            offset: body.offset.unwrap_or(0).max(0),
            limit,
            ..ExampleFilter::default()
        },
    )
    .await?;
    let sessions = projects::live_ids(db, tenant_id, &body.session_ids).await?;
    let mut by_example: BTreeMap<Uuid, Vec<SelectedRun>> = BTreeMap::new();
    if !page.is_empty() && !sessions.is_empty() {
        let selection = if body.preview.unwrap_or(false) {
            Selection::Only(
                [
                    "inputs_preview",
                    "outputs_preview",
                    "feedback_stats",
                    "reference_example_id",
                ]
                .map(str::to_owned)
                .into(),
            )
        } else {
            Selection::All
        };
        let mut query = RunQuery {
            tenant_id,
            sessions,
            ids: None,
            trace_id: None,
            parent_run_id: None,
            run_type: None,
            reference_examples: Some(page.iter().map(|e| e.id).collect()),
            is_root: Some(true),
            error: None,
            start_min_us: None,
            start_max_us: None,
            filter: None,
            trace_filter: None,
            tree_filter: None,
            order: Order::Asc,
            limit: 100,
            after: None,
            payloads: payloads_for(&selection),
        };
        let mut collected = 0usize;
        loop {
            let found = run_query::list(&state.stores.clickhouse, &query).await?;
            let next = found.next;
            let rendered = render_page(&state, tenant_id, found, &selection).await?;
            collected += rendered.runs.len();
            if collected > MAX_RUNS_PER_PAGE {
                return Err(invalid(
                    "limit",
                    format!(
                        "these examples have more than {MAX_RUNS_PER_PAGE} runs in the \
                         experiments; ask for fewer examples or experiments at once"
                    ),
                ));
            }
            for run in rendered.runs {
                if let Some(example) = run.run.reference_example_id {
                    by_example.entry(example).or_default().push(run);
                }
            }
            match next {
                Some(position) => query.after = Some(position),
                None => break,
            }
        }
    }
    Ok(Json(
        page.iter()
            .map(|example| resources::ExampleWithRuns {
                example: render_example(&state, example),
                runs: by_example.remove(&example.id).unwrap_or_default(),
            })
            .collect(),
    ))
}
