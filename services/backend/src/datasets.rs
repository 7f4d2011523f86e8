//! What the dataset and example routes share: rendering (`Dataset`, `Example`),
//! and resolving a version reference (a time, a tag or `latest`).

use chrono::{DateTime, Utc};
use ironsmith_api_types::resources;
use ironsmith_db::datasets::{self, DatasetWithCounts};
use ironsmith_db::examples::Example;
use ironsmith_http::{ApiError, ValidationIssue};
use uuid::Uuid;

use crate::AppState;

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
