//! `/datasets`: datasets, their versions, tags, splits, diffs and public links,
//! CSV/JSONL upload, comparative experiments, and examples joined to experiment runs.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use ironsmith_api_types::resources;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{
    DatasetsCreate, DatasetsDelete, DatasetsRead, DatasetsShare, DatasetsUpdate, ProjectsRead,
};
use ironsmith_datasets::{ExampleChange, Mode, schema};
use ironsmith_db::datasets::{self, Comparative, DatasetFilter, DatasetPatch, NewDataset};
use ironsmith_db::examples::{self};
use ironsmith_db::projects::{self, ProjectFilter};
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use ironsmith_queue::tasks::Task;
use ironsmith_queue::{DEFAULT_QUEUE, Queue};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::datasets::{render_dataset, resolve_version};
use crate::runs::body::{invalid, lenient_time};

mod comparative;
mod crud;
mod runs;
mod share;
mod splits;
mod upload;
mod versions;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(crud::list, crud::create))
        .routes(routes!(upload::upload))
        .routes(routes!(comparative::create_comparative))
        .routes(routes!(comparative::delete_comparative))
        .routes(routes!(crud::read, crud::update, crud::remove))
        .routes(routes!(versions::versions))
        .routes(routes!(versions::version))
        .routes(routes!(versions::diff))
        .routes(routes!(versions::tag))
        .routes(routes!(splits::splits, splits::edit_split))
        .routes(routes!(share::share_state, share::share, share::unshare))
        .routes(routes!(runs::examples_with_runs))
        .routes(routes!(comparative::list_comparative))
}

const DATA_TYPES: [&str; 3] = ["kv", "llm", "chat"];

fn checked_data_type(data_type: Option<&str>) -> Result<&str, ApiError> {
    let data_type = data_type.unwrap_or("kv");
    if DATA_TYPES.contains(&data_type) {
        Ok(data_type)
    } else {
        Err(invalid(
            "data_type",
            format!("`{data_type}` is not one of kv, llm, chat"),
        ))
    }
}

fn checked_name(name: Option<&str>) -> Result<&str, ApiError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("name", "must not be empty".into()));
    }
    Ok(name)
}

fn checked_schema<'a>(
    field: &str,
    value: Option<&'a Value>,
) -> Result<Option<&'a Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(schema_value) => {
            schema::check(schema_value)
                .map_err(|e| invalid(field, format!("is not a valid JSON Schema: {e}")))?;
            Ok(Some(schema_value))
        }
    }
}

async fn get_dataset(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<datasets::DatasetWithCounts, ApiError> {
    datasets::get(&state.stores.postgres, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Dataset not found".into()))
}

fn duplicate(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "A dataset named `{name}` already exists in this workspace"
    ))
}
