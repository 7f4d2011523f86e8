//! A new dataset from an uploaded CSV or JSON Lines file.

use super::*;

/// `POST /datasets/upload`: a new dataset from a CSV file (or JSON Lines), columns split into
/// inputs and outputs by `input_keys` / `output_keys`.
#[utoipa::path(post, path = "/datasets/upload", tag = "datasets",
    request_body(content = ironsmith_api_types::bodies::DatasetUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = resources::Dataset)))]
pub(super) async fn upload(
    State(state): State<AppState>,
    caller: RequirePermission<DatasetsCreate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<resources::Dataset>, ApiError> {
    let form = crate::upload::read_form(&headers, body, state.config.http.max_body_bytes).await?;
    let file = form
        .file
        .ok_or_else(|| invalid("file", "is required".into()))?;
    let name = form
        .fields
        .get("name")
        .and_then(|v| v.last())
        .cloned()
        .or_else(|| file.filename.clone())
        .unwrap_or_default();
    let name = checked_name(Some(&name))?.to_owned();
    let field = |key: &str| form.fields.get(key).and_then(|v| v.last()).cloned();
    let data_type = field("data_type");
    let data_type = checked_data_type(data_type.as_deref())?.to_owned();
    let input_keys = form.fields.get("input_keys").cloned().unwrap_or_default();
    let output_keys = form.fields.get("output_keys").cloned().unwrap_or_default();
    let is_jsonl = file
        .filename
        .as_deref()
        .is_some_and(|f| f.ends_with(".jsonl") || f.ends_with(".ndjson"))
        || file
            .content_type
            .as_deref()
            .is_some_and(|c| c.contains("jsonl") || c.contains("ndjson"));
    let rows = if is_jsonl {
        crate::upload::jsonl_rows(&file.bytes, &input_keys, &output_keys)?
    } else {
        crate::upload::csv_rows(&file.bytes, &input_keys, &output_keys)?
    };
    let tenant_id = caller.workspace_id;
    let id = match field("id") {
        Some(id) => Uuid::parse_str(&id).map_err(|_| invalid("id", "is not a UUID".into()))?,
        None => Uuid::now_v7(),
    };
    let description = field("description");
    datasets::create(
        &state.stores.postgres,
        &NewDataset {
            id,
            tenant_id,
            name: &name,
            description: description.as_deref(),
            data_type: &data_type,
            inputs_schema: None,
            outputs_schema: None,
            transformations: None,
            metadata: None,
            externally_managed: false,
        },
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            duplicate(&name)
        } else {
            ApiError::from(e)
        }
    })?;
    let changes: Vec<ExampleChange> = rows
        .into_iter()
        .map(|(inputs, outputs, metadata)| ExampleChange {
            id: Uuid::now_v7(),
            inputs: Some(inputs),
            outputs,
            metadata,
            ..ExampleChange::default()
        })
        .collect();
    if !changes.is_empty() {
        let written = ironsmith_datasets::write(
            &state.stores.postgres,
            &state.stores.storage,
            tenant_id,
            id,
            Mode::Create,
            changes,
        )
        .await;
        if let Err(error) = written {
            // The dataset was created for this upload only: do not leave it half filled.
            datasets::delete(&state.stores.postgres, tenant_id, id).await?;
            return Err(ApiError::from(error));
        }
    }
    let found = get_dataset(&state, tenant_id, id).await?;
    Ok(Json(render_dataset(&found)))
}
