//! Projects, at `/sessions` (their name on the wire): create (409 on a duplicate name unless
//! `upsert=true`), read by id or name, list with filters and statistics, update, delete.
//! Deleting makes the project's runs unreachable at once; the worker removes them afterwards.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::resources::Deleted;
use ironsmith_api_types::runs::Project;
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::{ProjectsCreate, ProjectsDelete, ProjectsRead, ProjectsUpdate};
use ironsmith_db::projects::{self, NewProject, ProjectFilter, ProjectPatch, SortBy};
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use ironsmith_queue::tasks::Task;
use ironsmith_queue::{DEFAULT_QUEUE, Queue};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::projects::{render, render_projects};
use crate::runs::body::{invalid, lenient_time};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ProjectCreate {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000, pattern = "^[^\\u0000]*\\S[^\\u0000]*$")]
    name: Option<String>,
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    #[serde(default)]
    reference_dataset_id: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    end_time: Option<i64>,
}

fn from_micros(us: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    us.and_then(chrono::DateTime::from_timestamp_micros)
}

fn checked_extra(extra: Option<Value>) -> Result<Value, ApiError> {
    match extra {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(map)) => {
            if map
                .get("metadata")
                .is_some_and(|m| !m.is_object() && !m.is_null())
            {
                return Err(invalid(
                    "extra",
                    "`extra.metadata` must be an object".into(),
                ));
            }
            Ok(Value::Object(map))
        }
        Some(_) => Err(invalid("extra", "must be an object".into())),
    }
}

fn checked_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    projects::check_name(name).map_err(|rule| invalid("name", rule))?;
    Ok(name)
}

#[utoipa::path(post, path = "/sessions", operation_id = "create_project", tag = "projects",
    request_body = ProjectCreate,
    params(("upsert" = Option<bool>, Query, description = "Update the project of the same name instead of answering 409")),
    responses((status = 201, body = Project), (status = 200, body = Project, description = "With `upsert=true`, the existing project of that name, updated")))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<ProjectsCreate>,
    query: QueryPairs,
    ironsmith_http::Json(body): ironsmith_http::Json<ProjectCreate>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let upsert = query.bool("upsert")?.unwrap_or(false);
    let name = checked_name(body.name.as_deref().unwrap_or_default())?;
    let extra = checked_extra(body.extra)?;
    let tenant_id = caller.workspace_id;
    crate::references::dataset(&state, tenant_id, body.reference_dataset_id).await?;
    let db = &state.stores.postgres;
    let created = projects::create(
        db,
        &NewProject {
            id: body.id.unwrap_or_else(Uuid::now_v7),
            tenant_id,
            name,
            description: body.description.as_deref(),
            extra: &extra,
            reference_dataset_id: body.reference_dataset_id,
            start_time: from_micros(body.start_time),
            end_time: from_micros(body.end_time),
        },
    )
    .await;
    match created {
        Ok(project) => Ok((StatusCode::CREATED, Json(render(&project, None)))),
        Err(error) if error.is_unique_violation() => {
            let existing = projects::get_by_name(db, tenant_id, name).await?;
            match existing {
                Some(existing) if upsert => {
                    let patch = ProjectPatch {
                        description: body.description.as_deref(),
                        extra: (extra != json!({})).then_some(&extra),
                        end_time: from_micros(body.end_time),
                        ..ProjectPatch::default()
                    };
                    let project = projects::update(db, tenant_id, existing.id, &patch)
                        .await?
                        .unwrap_or(existing);
                    Ok((StatusCode::OK, Json(render(&project, None))))
                }
                Some(_) => Err(ApiError::Conflict(format!(
                    "A project named `{name}` already exists in this workspace"
                ))),
                None => Err(ApiError::Conflict(
                    "A project with this id already exists in this workspace".into(),
                )),
            }
        }
        Err(error) => Err(error.into()),
    }
}

#[utoipa::path(get, path = "/sessions/{id}", operation_id = "read_project", tag = "projects",
    params(("id" = Uuid, Path),
        ("include_stats" = Option<bool>, Query, description = "Add run and feedback statistics")),
    responses((status = 200, body = Project)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<ProjectsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Project>, ApiError> {
    let include_stats = query.bool("include_stats")?.unwrap_or(false);
    let project = projects::get(&state.stores.postgres, caller.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Project not found".into()))?;
    render_projects(&state, caller.workspace_id, &[project], include_stats)
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("Project not found".into()))
}

#[utoipa::path(get, path = "/sessions", operation_id = "list_projects", tag = "projects",
    params(
        ("id" = Option<Vec<Uuid>>, Query, description = "Only these projects"),
        ("name" = Option<String>, Query, description = "The project of this exact name"),
        ("name_contains" = Option<String>, Query, description = "Names containing this text"),
        ("reference_dataset" = Option<Uuid>, Query, description = "Experiments on this dataset"),
        ("reference_free" = Option<bool>, Query, description = "Only projects that are (true) or are not (false) experiments"),
        ("metadata" = Option<String>, Query, description = "A JSON object every listed project's `extra.metadata` contains"),
        ("dataset_version" = Option<String>, Query, description = "Experiments run on this dataset version"),
        ("sort_by" = Option<String>, Query, pattern = "^(start_time|name|created_at)$", description = "`start_time` (the default), `name` or `created_at`"),
        ("sort_by_desc" = Option<bool>, Query, description = "Descending (the default except by name)"),
        ("include_stats" = Option<bool>, Query, description = "Add run and feedback statistics"),
        ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [Project])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<ProjectsRead>,
    query: QueryPairs,
) -> Result<Json<Vec<Project>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let sort_by = match query.get("sort_by") {
        None | Some("start_time") => SortBy::StartTime,
        Some("name") => SortBy::Name,
        Some("created_at") => SortBy::CreatedAt,
        Some(other) => {
            return Err(ApiError::Unprocessable(vec![
                ironsmith_http::ValidationIssue {
                    loc: vec!["query".into(), "sort_by".into()],
                    msg: format!("cannot sort by `{other}`; use start_time, name or created_at"),
                    kind: "value_error".into(),
                },
            ]));
        }
    };
    let metadata = query.json("metadata")?;
    if metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err(ApiError::Unprocessable(vec![
            ironsmith_http::ValidationIssue {
                loc: vec!["query".into(), "metadata".into()],
                msg: "must be a JSON object".into(),
                kind: "value_error".into(),
            },
        ]));
    }
    let filter = ProjectFilter {
        ids: query.uuids("id")?,
        name: query.get("name").map(str::to_owned),
        name_contains: query.get("name_contains").map(str::to_owned),
        reference_dataset: query.uuid("reference_dataset")?,
        reference_free: query.bool("reference_free")?,
        metadata,
        dataset_version: query.get("dataset_version").map(str::to_owned),
        sort_by,
        descending: query
            .bool("sort_by_desc")?
            .unwrap_or(sort_by != SortBy::Name),
        offset,
        limit,
    };
    let tenant_id = caller.workspace_id;
    let db = &state.stores.postgres;
    let mut found = projects::list(db, tenant_id, &filter).await?;
    // Every workspace has a project: one whose projects were all deleted gets
    // `default` back on its next unfiltered listing.
    let unfiltered = filter.ids.is_empty()
        && filter.name.is_none()
        && filter.name_contains.is_none()
        && filter.reference_dataset.is_none()
        && filter.reference_free.is_none()
        && filter.metadata.is_none()
        && filter.dataset_version.is_none();
    if found.is_empty() && offset == 0 && unfiltered {
        projects::ensure_named(db, tenant_id, "default").await?;
        found = projects::list(db, tenant_id, &filter).await?;
    }
    let include_stats = query.bool("include_stats")?.unwrap_or(false);
    Ok(Json(
        render_projects(&state, tenant_id, &found, include_stats).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ProjectUpdate {
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = "^[^\\u0000]*\\S[^\\u0000]*$"
    )]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    end_time: Option<i64>,
    #[serde(default)]
    default_dataset_id: Option<Uuid>,
}

/// `extra` merged into `base`: top-level keys replace, except `metadata`, whose keys merge.
fn merged_extra(base: &Value, patch: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(patch) = patch {
        for (key, value) in patch {
            match (key.as_str(), out.get_mut(&key), value) {
                ("metadata", Some(Value::Object(old)), Value::Object(new)) => {
                    old.extend(new);
                }
                (_, _, value) => {
                    out.insert(key, value);
                }
            }
        }
    }
    Value::Object(out)
}

#[utoipa::path(patch, path = "/sessions/{id}", operation_id = "update_project", tag = "projects",
    params(("id" = Uuid, Path)),
    request_body = ProjectUpdate, responses((status = 200, body = Project)))]
async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<ProjectsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<ProjectUpdate>,
) -> Result<Json<Project>, ApiError> {
    let tenant_id = caller.workspace_id;
    let db = &state.stores.postgres;
    let name = body.name.as_deref().map(checked_name).transpose()?;
    crate::references::dataset(&state, tenant_id, body.default_dataset_id).await?;
    let existing = projects::get(db, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Project not found".into()))?;
    let extra = match body.extra {
        None | Some(Value::Null) => None,
        Some(extra) => Some(merged_extra(&existing.extra, checked_extra(Some(extra))?)),
    };
    let patch = ProjectPatch {
        name,
        description: body.description.as_deref(),
        extra: extra.as_ref(),
        end_time: from_micros(body.end_time),
        default_dataset_id: body.default_dataset_id,
    };
    match projects::update(db, tenant_id, id, &patch).await {
        Ok(Some(project)) => Ok(Json(render(&project, None))),
        Ok(None) => Err(ApiError::NotFound("Project not found".into())),
        Err(error) if error.is_unique_violation() => Err(ApiError::Conflict(format!(
            "A project named `{}` already exists in this workspace",
            name.unwrap_or_default()
        ))),
        Err(error) => Err(error.into()),
    }
}

#[utoipa::path(delete, path = "/sessions/{id}", operation_id = "delete_project", tag = "projects",
    params(("id" = Uuid, Path)),
    responses((status = 202, body = Deleted, description = "Deleted; its runs are removed in the background")))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<ProjectsDelete>,
    PathUuid(id): PathUuid,
) -> Result<(StatusCode, Json<Deleted>), ApiError> {
    let tenant_id = caller.workspace_id;
    if !projects::mark_deleted(&state.stores.postgres, tenant_id, id).await? {
        return Err(ApiError::NotFound("Project not found".into()));
    }
    Queue::new(state.stores.redis.clone(), DEFAULT_QUEUE)
        .enqueue(&Task::DeleteProjectRuns {
            tenant_id,
            session_id: id,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Deleted { id, deleted: true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_merges_and_other_keys_replace() {
        let base = json!({"metadata": {"a": 1, "b": 2}, "runtime": {"x": 1}});
        let patched = merged_extra(
            &base,
            json!({"metadata": {"b": 3, "c": 4}, "runtime": {"y": 2}}),
        );
        assert_eq!(
            patched,
            json!({"metadata": {"a": 1, "b": 3, "c": 4}, "runtime": {"y": 2}})
        );
    }
}
