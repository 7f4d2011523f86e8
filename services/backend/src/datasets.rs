//! What the dataset and example routes share: rendering (`Dataset`, `Example`),
//! and resolving a version reference (a time, a tag or `latest`).

use chrono::{DateTime, Utc};
use ironsmith_api_types::resources;
use ironsmith_db::datasets::{self, DatasetWithCounts};
use ironsmith_db::examples::Example;
use ironsmith_http::{ApiError, ValidationIssue};
use uuid::Uuid;

use std::collections::BTreeMap;

use ironsmith_analytics::run_query::{self, Order, RunQuery};
use ironsmith_api_types::runs::SelectedRun;
use ironsmith_db::examples::{self, ExampleFilter};
use ironsmith_db::projects;

use crate::AppState;
use crate::runs::body::invalid;
use crate::runs::render::Selection;
use crate::runs::{payloads_for, render_page};

pub fn render_dataset(found: &DatasetWithCounts) -> resources::Dataset {
    let d = &found.dataset;
    resources::Dataset {
        id: d.id,
        tenant_id: d.tenant_id,
        name: d.name.clone(),
        description: d.description.clone(),
        data_type: d.data_type.clone(),
        created_at: d.created_at,
        modified_at: d.modified_at,
        example_count: found.example_count,
        session_count: found.session_count,
        last_session_start_time: found.last_session_start_time,
        inputs_schema_definition: d.inputs_schema.clone(),
        outputs_schema_definition: d.outputs_schema.clone(),
        transformations: d.transformations.clone(),
        metadata: d.metadata.clone(),
        externally_managed: d.externally_managed,
        baseline_experiment_id: d.baseline_experiment_id,
    }
}

/// An example, with signed download URLs for its attachments.
pub fn render_example(state: &AppState, example: &Example) -> resources::Example {
    let signer = state.url_signer();
    let now = Utc::now().timestamp();
    let attachments = example.attachments.as_object();
    let attachment_urls = attachments.filter(|a| !a.is_empty()).map(|files| {
        files
            .iter()
            .map(|(name, file)| {
                let key = file["key"].as_str().unwrap_or_default();
                let url = resources::AttachmentUrl {
                    presigned_url: signer.url(key, now),
                    mime_type: file["mime_type"].as_str().map(str::to_owned),
                };
                (format!("attachment.{name}"), url)
            })
            .collect()
    });
    resources::Example {
        id: example.id,
        dataset_id: example.dataset_id,
        inputs: example.inputs.clone(),
        outputs: example.outputs.clone(),
        metadata: example.metadata.clone(),
        created_at: example.created_at,
        modified_at: example.modified_at,
        source_run_id: example.source_run_id,
        attachment_urls,
    }
}

/// A version reference: `latest` (or nothing) is the current state; otherwise a time in any
/// accepted form, or a tag of the dataset.
pub async fn resolve_version(
    state: &AppState,
    tenant_id: Uuid,
    dataset_id: Option<Uuid>,
    reference: Option<&str>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(reference) = reference.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if reference.eq_ignore_ascii_case("latest") {
        return Ok(None);
    }
    if let Some(at) = ironsmith_api_types::timestamp::parse(reference) {
        return Ok(Some(at));
    }
    let Some(dataset_id) = dataset_id else {
        return Err(ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["query".into(), name.into()],
            msg: "a tag needs a dataset; give a timestamp instead".into(),
            kind: "value_error".into(),
        }]));
    };
    datasets::tag_time(&state.stores.postgres, tenant_id, dataset_id, reference)
        .await?
        .map(Some)
        .ok_or_else(|| {
            ApiError::NotFound(format!("The dataset has no version tagged `{reference}`"))
        })
}

/// Most experiments one request compares.
const MAX_COMPARED_SESSIONS: usize = 100;

/// Most runs one answer carries: the work of one request is bounded whatever the experiments
/// hold.
const MAX_RUNS_PER_PAGE: usize = 10_000;

/// Which examples, and which experiments' runs on them (`POST /datasets/{id}/runs`,
/// `POST /v2/datasets/{id}/experiment-runs`).
#[derive(Debug, Clone, Default)]
pub struct ExperimentRuns {
    pub session_ids: Vec<Uuid>,
    pub offset: i64,
    /// 1–100 examples.
    pub limit: i64,
    /// Only the preview fields of each run.
    pub preview: bool,
    pub example_ids: Vec<Uuid>,
    /// A dataset version (timestamp or tag).
    pub as_of: Option<String>,
    /// Only these examples (those whose runs met the experiments' filters), when set.
    pub only_examples: Option<Vec<Uuid>>,
    /// These examples first, in this order (sorted by a score), then the rest in creation
    /// order, when set.
    pub ranked: Option<Vec<Uuid>>,
}

/// The page of examples [`examples_with_runs`] shows: in creation order, or ranked first.
async fn page_of_examples(
    db: &ironsmith_db::Pool,
    tenant_id: Uuid,
    params: &ExperimentRuns,
    base: ExampleFilter,
) -> Result<Vec<ironsmith_db::examples::Example>, ApiError> {
    let mut base = base;
    if let Some(only) = &params.only_examples {
        base.ids = if base.ids.is_empty() {
            only.clone()
        } else {
            base.ids
                .into_iter()
                .filter(|id| only.contains(id))
                .collect()
        };
        if base.ids.is_empty() {
            return Ok(Vec::new());
        }
    }
    let (offset, limit) = (params.offset.max(0), params.limit);
    let Some(ranked) = &params.ranked else {
        return Ok(examples::list(
            db,
            tenant_id,
            &ExampleFilter {
                offset,
                limit,
                ..base
            },
        )
        .await?);
    };
    let ranked: Vec<Uuid> = if base.ids.is_empty() {
        ranked.clone()
    } else {
        ranked
            .iter()
            .filter(|id| base.ids.contains(id))
            .copied()
            .collect()
    };
    let mut first = if ranked.is_empty() {
        Vec::new()
    } else {
        examples::list(
            db,
            tenant_id,
            &ExampleFilter {
                ids: ranked.clone(),
                offset: 0,
                limit: ranked.len() as i64,
                ..base.clone()
            },
        )
        .await?
    };
    let rank: BTreeMap<Uuid, usize> = ranked.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    first.sort_by_key(|e| rank.get(&e.id).copied().unwrap_or(usize::MAX));
    let ranked_count = first.len() as i64;
    let mut page: Vec<_> = first
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    let wanted = limit - page.len() as i64;
    if wanted > 0 {
        page.extend(
            examples::list(
                db,
                tenant_id,
                &ExampleFilter {
                    exclude_ids: ranked,
                    offset: (offset - ranked_count).max(0),
                    limit: wanted,
                    ..base
                },
            )
            .await?,
        );
    }
    Ok(page)
}

/// A page of the dataset's examples, each with the root runs the given experiments made on it
/// (their feedback statistics included): what comparison views and the SDKs' result readers
/// use.
// Long: paging examples, finding each experiment's runs and capping the work are one
// sequence.
#[allow(clippy::too_many_lines)]
pub async fn examples_with_runs(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    params: &ExperimentRuns,
) -> Result<Vec<resources::ExampleWithRuns>, ApiError> {
    datasets::get(&state.stores.postgres, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Dataset not found".into()))?;
    let limit = params.limit;
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 100".into()));
    }
    if params.session_ids.len() > MAX_COMPARED_SESSIONS {
        return Err(invalid(
            "session_ids",
            format!("compare at most {MAX_COMPARED_SESSIONS} experiments at once"),
        ));
    }
    let db = &state.stores.postgres;
    let as_of =
        resolve_version(state, tenant_id, Some(id), params.as_of.as_deref(), "as_of").await?;
    let page = page_of_examples(
        db,
        tenant_id,
        params,
        ExampleFilter {
            dataset: Some(id),
            ids: params.example_ids.clone(),
            as_of,
            ..ExampleFilter::default()
        },
    )
    .await?;
    let sessions = projects::live_ids(db, tenant_id, &params.session_ids).await?;
    let mut by_example: BTreeMap<Uuid, Vec<SelectedRun>> = BTreeMap::new();
    if !page.is_empty() && !sessions.is_empty() {
        let selection = if params.preview {
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
            let rendered = render_page(state, tenant_id, found, &selection).await?;
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
    Ok(page
        .iter()
        .map(|example| resources::ExampleWithRuns {
            example: render_example(state, example),
            runs: by_example.remove(&example.id).unwrap_or_default(),
        })
        .collect())
}
