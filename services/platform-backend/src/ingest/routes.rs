//! The ingestion routes. Each answers 202 `{}` once the request is durable (see `mod.rs`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironsmith_auth::{RequirePermission, perm};
use ironsmith_http::Path;
use ironsmith_runs::dotted_order::Position;
use ironsmith_runs::wire::{RunWire, parse_run};
use ironsmith_runs::{OpKind, RunOp};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::IngestError;
use super::{Request, info, multipart, otel};
use crate::AppState;

type Writer = RequirePermission<perm::RunsCreate>;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info::info))
        .routes(routes!(create_run))
        .routes(routes!(update_run))
        .routes(routes!(batch))
        .routes(routes!(multipart))
        .routes(routes!(otel::export))
        .routes(routes!(otel::export_traces))
}

/// 202 `{}`.
pub fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(Accepted {})).into_response()
}

/// `{}`: the request is durable.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {}

/// Creates and updates runs, their attachments and feedback: one part per run, field or
/// attachment (`post.{id}`, `patch.{id}.outputs`, `attachment.{id}.{name}`, `feedback.{id}`).
#[utoipa::path(post, path = "/runs/multipart", tag = "ingestion",
    request_body(content = String, content_type = "multipart/form-data"),
    responses((status = 202, body = Accepted, description = "Durably accepted")))]
async fn multipart(
    State(state): State<AppState>,
    auth: Writer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let ingest = &state.ingest;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = ingest.read_body(&headers, body).await?;
    let parsed = multipart::parse(&content_type, bytes, now_us()).await?;
    ingest.accept(&auth, parsed.into(), true).await?;
    Ok(accepted())
}

/// Runs to create and runs to update, in one request.
#[derive(Deserialize, utoipa::ToSchema)]
struct BatchWire {
    #[serde(default)]
    #[schema(value_type = Option<Vec<RunWire>>)]
    post: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<RunWire>>)]
    patch: Option<Vec<Box<RawValue>>>,
}

#[utoipa::path(post, path = "/runs/batch", tag = "ingestion",
    request_body = BatchWire,
    responses((status = 202, body = Accepted, description = "Durably accepted")))]
async fn batch(
    State(state): State<AppState>,
    auth: Writer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let ingest = &state.ingest;
    let bytes = ingest.read_body(&headers, body).await?;
    if !ironsmith_http::is_json_object(&bytes) {
        return Err(IngestError::Unprocessable(
            "the body must be {\"post\": [runs], \"patch\": [runs]}".into(),
        ));
    }
    let wire: BatchWire = serde_json::from_slice(&bytes).map_err(|e| {
        IngestError::Unprocessable(format!(
            "the body must be {{\"post\": [runs], \"patch\": [runs]}}: {e}"
        ))
    })?;
    let mut request = Request::default();
    for (kind, runs) in [(OpKind::Post, wire.post), (OpKind::Patch, wire.patch)] {
        for run in runs.unwrap_or_default() {
            let parsed = parse_run(run.get().as_bytes(), None)?;
            let Some(id) = parsed.id else {
                return Err(IngestError::BadRequest(format!(
                    "every run of a batch needs an 'id' ({} without one)",
                    if kind == OpKind::Post {
                        "a create"
                    } else {
                        "an update"
                    }
                )));
            };
            request.ops.push(parsed.into_op(kind, id));
        }
    }
    ingest.accept(&auth, request, true).await?;
    Ok(accepted())
}

/// Creates one run; `trace_id` and `dotted_order` may be omitted.
#[utoipa::path(post, path = "/runs", tag = "ingestion", request_body = RunWire,
    responses((status = 202, body = Accepted, description = "Durably accepted")))]
async fn create_run(
    State(state): State<AppState>,
    auth: Writer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let ingest = &state.ingest;
    let bytes = ingest.read_body(&headers, body).await?;
    let parsed = parse_run(&bytes, None)?;
    let id = parsed.id.unwrap_or_else(Uuid::now_v7);
    let (mut op, session) = parsed.into_op(OpKind::Post, id);
    if op.start_time_us.is_none() {
        op.start_time_us = Some(now_us());
    }
    ironsmith_runs::wire::validate(&mut op, false)?;
    derive_position(&state, auth.workspace_id, &mut op).await?;
    ingest
        .accept(
            &auth,
            Request {
                ops: vec![(op.clone(), session)],
                ..Request::default()
            },
            false,
        )
        .await?;
    remember_position(&state, auth.workspace_id, &op).await;
    Ok(accepted())
}

/// Updates one run: its end time, outputs, error, events, extra.
#[utoipa::path(patch, path = "/runs/{run_id}", tag = "ingestion", request_body = RunWire,
    params(("run_id" = Uuid, Path)),
    responses((status = 202, body = Accepted, description = "Durably accepted")))]
async fn update_run(
    State(state): State<AppState>,
    auth: Writer,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let ingest = &state.ingest;
    let run_id = Uuid::try_parse(&run_id).map_err(|_| {
        IngestError::Unprocessable(format!("'{run_id}' in the path is not a run id"))
    })?;
    let bytes = ingest.read_body(&headers, body).await?;
    let parsed = parse_run(&bytes, Some(run_id))?;
    let (op, session) = parsed.into_op(OpKind::Patch, run_id);
    ingest
        .accept(
            &auth,
            Request {
                ops: vec![(op, session)],
                ..Request::default()
            },
            false,
        )
        .await?;
    Ok(accepted())
}

/// `POST /runs` may omit `trace_id` and `dotted_order`: a root is its own trace;
/// a child continues its parent's, found among the runs this endpoint accepted recently, then
/// in ClickHouse. A child whose parent is nowhere yet keeps its parent as its trace and gets
/// its position when a later operation brings one.
async fn derive_position(
    state: &AppState,
    tenant_id: Uuid,
    op: &mut RunOp,
) -> Result<(), IngestError> {
    if op.dotted_order.is_some() {
        return Ok(());
    }
    let start = op.start_time_us.unwrap_or_else(now_us);
    match op.parent_run_id {
        None => {
            let Position {
                trace_id,
                dotted_order,
            } = Position::root(start, op.id);
            op.trace_id = Some(trace_id);
            op.dotted_order = Some(dotted_order);
        }
        Some(parent) => match parent_position(state, tenant_id, parent).await? {
            Some(parent) => {
                let Position {
                    trace_id,
                    dotted_order,
                } = parent.child(start, op.id);
                op.trace_id = Some(trace_id);
                op.dotted_order = Some(dotted_order);
                // A parent that started later than its child (clock skew between processes)
                // would make this order invalid; keep the run, without a position.
                if ironsmith_runs::wire::validate(&mut op.clone(), false).is_err() {
                    op.dotted_order = None;
                }
            }
            None => {
                op.trace_id.get_or_insert(parent);
            }
        },
    }
    Ok(())
}

fn position_key(state: &AppState, tenant_id: Uuid, run_id: Uuid) -> String {
    state
        .stores
        .redis
        .key(&ironsmith_redis::keys::ingest_position(tenant_id, run_id))
}

async fn parent_position(
    state: &AppState,
    tenant_id: Uuid,
    parent: Uuid,
) -> Result<Option<Position>, IngestError> {
    let mut conn = state.stores.redis.connection().await?;
    let cached: Option<String> =
        redis::AsyncCommands::get(&mut conn, position_key(state, tenant_id, parent))
            .await
            .map_err(ironsmith_queue::QueueError::from)?;
    if let Some((trace, dotted)) = cached.as_deref().and_then(|c| c.split_once(' '))
        && let Ok(trace) = Uuid::try_parse(trace)
    {
        return Ok(Some(Position {
            trace_id: trace,
            dotted_order: dotted.to_owned(),
        }));
    }
    let located = ironsmith_analytics::runs::locate(&state.stores.clickhouse, tenant_id, &[parent])
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot look up a parent run");
            IngestError::Unavailable("ClickHouse is unreachable; retry shortly".into())
        })?;
    Ok(located
        .into_iter()
        .find(|l| !l.dotted_order.is_empty())
        .map(|l| Position {
            trace_id: l.trace_id,
            dotted_order: l.dotted_order,
        }))
}

/// Remembers where a run accepted by `POST /runs` sits, for its children (six hours, as long as
/// upstream keeps pending run state).
async fn remember_position(state: &AppState, tenant_id: Uuid, op: &RunOp) {
    let (Some(trace), Some(dotted)) = (op.trace_id, op.dotted_order.as_deref()) else {
        return;
    };
    let result = async {
        let mut conn = state.stores.redis.connection().await?;
        ironsmith_redis::set_ex(
            &mut conn,
            &position_key(state, tenant_id, op.id),
            &format!("{trace} {dotted}"),
            6 * 3600,
        )
        .await
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, run = %op.id, "best effort: could not remember a run's position for its children");
    }
}

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
