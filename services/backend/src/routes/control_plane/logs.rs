//! Build and deploy logs of a deployment, in both shapes clients read them: the v2 query
//! (`GET …/revisions/{id}/logs?type=`) and the v1 POSTs `langgraph deploy logs` sends.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use ironsmith_api_types::deployments::{LogEntry, LogPage, LogQuery};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::DeploymentsRead;
use ironsmith_db::deployments::{self as rows, LogQuery as Query};
use ironsmith_http::{ApiError, Path, QueryPairs, ValidationIssue};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::deployments::ops;
use crate::deployments::revision_not_found;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(v2_logs))
        .routes(routes!(build_logs))
        .routes(routes!(deploy_logs))
        .routes(routes!(revision_deploy_logs))
}

fn invalid(field: &str, msg: &str) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["query".into(), field.into()],
        msg: msg.into(),
        kind: "value_error".into(),
    }])
}

async fn page(
    state: &AppState,
    tenant_id: Uuid,
    deployment_id: Uuid,
    revision_id: Option<Uuid>,
    kind: &str,
    q: LogQuery,
) -> Result<LogPage, ApiError> {
    let row = ops::load(state, tenant_id, deployment_id).await?;
    if let Some(id) = revision_id {
        rows::get_revision(&state.stores.postgres, row.id, id)
            .await?
            .ok_or_else(|| revision_not_found(id))?;
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 1000"));
    }
    let ascending = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(invalid("order", "must be asc or desc")),
    };
    let after_id = q
        .offset
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| invalid("offset", "is not an offset this API returned"))
        })
        .transpose()?;
    let lines = rows::logs(
        &state.stores.postgres,
        &Query {
            deployment_id: row.id,
            revision_id,
            kind,
            level: q.level.as_deref(),
            contains: q.query.as_deref().filter(|s| !s.is_empty()),
            start: q.start_time,
            end: q.end_time,
            ascending,
            after_id,
            limit,
        },
    )
    .await?;
    let next_offset = (lines.len() as i64 == limit)
        .then(|| lines.last().map(|l| l.id.to_string()))
        .flatten();
    Ok(LogPage {
        logs: lines
            .into_iter()
            .map(|l| LogEntry {
                id: l.id.to_string(),
                timestamp: l.logged_at,
                level: l.level,
                message: l.message,
            })
            .collect(),
        next_offset,
    })
}

fn time(query: &QueryPairs, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    query
        .get(key)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid(key, "is not an RFC 3339 time"))
        })
        .transpose()
}

#[utoipa::path(get, path = "/v2/deployments/{deployment_id}/revisions/{revision_id}/logs", operation_id = "read_revision_logs", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path),
        ("type" = String, Query, description = "build or deploy"), ("start_time" = Option<String>, Query),
        ("end_time" = Option<String>, Query), ("order" = Option<String>, Query), ("limit" = Option<i64>, Query),
        ("offset" = Option<String>, Query), ("query" = Option<String>, Query), ("level" = Option<String>, Query)),
    responses((status = 200, body = LogPage), (status = 404), (status = 422)))]
async fn v2_logs(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
    query: QueryPairs,
) -> Result<Json<LogPage>, ApiError> {
    let kind = match query.get("type") {
        Some(k @ ("build" | "deploy")) => k.to_owned(),
        _ => return Err(invalid("type", "is required: build or deploy")),
    };
    let q = LogQuery {
        limit: query.int("limit")?,
        order: query.get("order").map(str::to_owned),
        offset: query.get("offset").map(str::to_owned),
        level: query.get("level").map(str::to_owned),
        query: query.get("query").map(str::to_owned),
        start_time: time(&query, "start_time")?,
        end_time: time(&query, "end_time")?,
    };
    Ok(Json(
        page(
            &state,
            caller.workspace_id,
            deployment_id,
            Some(revision_id),
            &kind,
            q,
        )
        .await?,
    ))
}

#[utoipa::path(post, path = "/v1/projects/{deployment_id}/revisions/{revision_id}/build_logs", operation_id = "query_build_logs", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)), request_body = LogQuery,
    responses((status = 200, body = LogPage), (status = 404)))]
async fn build_logs(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
    ironsmith_http::Json(q): ironsmith_http::Json<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    Ok(Json(
        page(
            &state,
            caller.workspace_id,
            deployment_id,
            Some(revision_id),
            "build",
            q,
        )
        .await?,
    ))
}

#[utoipa::path(post, path = "/v1/projects/{deployment_id}/deploy_logs", operation_id = "query_deploy_logs", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path)), request_body = LogQuery,
    responses((status = 200, body = LogPage), (status = 404)))]
async fn deploy_logs(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path(deployment_id): Path<Uuid>,
    ironsmith_http::Json(q): ironsmith_http::Json<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    Ok(Json(
        page(
            &state,
            caller.workspace_id,
            deployment_id,
            None,
            "deploy",
            q,
        )
        .await?,
    ))
}

#[utoipa::path(post, path = "/v1/projects/{deployment_id}/revisions/{revision_id}/deploy_logs", operation_id = "query_revision_deploy_logs", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path), ("revision_id" = uuid::Uuid, Path)), request_body = LogQuery,
    responses((status = 200, body = LogPage), (status = 404)))]
async fn revision_deploy_logs(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsRead>,
    Path((deployment_id, revision_id)): Path<(Uuid, Uuid)>,
    ironsmith_http::Json(q): ironsmith_http::Json<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    Ok(Json(
        page(
            &state,
            caller.workspace_id,
            deployment_id,
            Some(revision_id),
            "deploy",
            q,
        )
        .await?,
    ))
}
