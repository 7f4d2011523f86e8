//! Ids a request body refers to (a project's reference or default dataset, feedback's project)
//! must name the caller's own resources. One that names nothing the
//! caller can see is refused exactly as an unknown id is, whether or not it exists in another
//! workspace, so a body cannot link to another tenant's data or probe for its ids.
//!
//! An example's `source_run_id` is not checked: the SDKs create examples from runs they have
//! just traced, which ingestion may not have stored yet, and the id is only ever shown back to
//! its own workspace, never resolved, so it opens nothing.

use ironsmith_db::{datasets, projects};
use ironsmith_http::ApiError;
use uuid::Uuid;

use crate::AppState;

/// `dataset_id`, when given, is one of `tenant_id`'s datasets (404 otherwise).
pub async fn dataset(
    state: &AppState,
    tenant_id: Uuid,
    dataset_id: Option<Uuid>,
) -> Result<(), ApiError> {
    let Some(id) = dataset_id else {
        return Ok(());
    };
    match datasets::get(&state.stores.postgres, tenant_id, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("Dataset not found".into())),
    }
}

/// `project_id`, when given, is one of `tenant_id`'s live projects (404 otherwise).
pub async fn project(
    state: &AppState,
    tenant_id: Uuid,
    project_id: Option<Uuid>,
) -> Result<(), ApiError> {
    let Some(id) = project_id else {
        return Ok(());
    };
    if projects::exists(&state.stores.postgres, tenant_id, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound("Project not found".into()))
    }
}
