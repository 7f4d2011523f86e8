//! The ingestion routes. Each answers 202 `{}` once the request is durable (see `mod.rs`).

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use ironsmith_auth::{RequirePermission, perm};
use ironsmith_runs::dotted_order;
use ironsmith_runs::wire::parse_run;
use ironsmith_runs::{OpKind, RunOp};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::error::IngestError;
use super::{Request, info, multipart, otel};
use crate::AppState;

type Writer = RequirePermission<perm::RunsCreate>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/info", get(info::info))
        .route("/runs", post(create_run))
        .route("/runs/{run_id}", patch(update_run))
        .route("/runs/batch", post(batch))
        .route("/runs/multipart", post(multipart))
        .route("/otel", post(otel::export))
        .route("/otel/v1/traces", post(otel::export))
}

/// 202 `{}`.
pub fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response()
}

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

#[derive(Deserialize)]
struct BatchWire {
    #[serde(default)]
    post: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    patch: Option<Vec<Box<RawValue>>>,
}

async fn batch(
    State(state): State<AppState>,
    auth: Writer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let ingest = &state.ingest;
    let bytes = ingest.read_body(&headers, body).await?;
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
    let own = dotted_order::segment(start, op.id);
    match op.parent_run_id {
        None => {
            op.trace_id = Some(op.id);
            op.dotted_order = Some(own);
        }
        Some(parent) => {
            if let Some((trace_id, dotted)) = parent_position(state, tenant_id, parent).await? {
                op.trace_id = Some(trace_id);
                op.dotted_order = Some(format!("{dotted}.{own}"));
                // A parent that started later than its child (clock skew between processes)
                // would make this order invalid; keep the run, without a position.
                if ironsmith_runs::wire::validate(&mut op.clone(), false).is_err() {
                    op.dotted_order = None;
                }
            } else if op.trace_id.is_none() {
                op.trace_id = Some(parent);
            }
        }
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
) -> Result<Option<(Uuid, String)>, IngestError> {
    let mut conn = state.stores.redis.connection().await?;
    let cached: Option<String> =
        redis::AsyncCommands::get(&mut conn, position_key(state, tenant_id, parent))
            .await
            .map_err(ironsmith_queue::QueueError::from)?;
    if let Some((trace, dotted)) = cached.as_deref().and_then(|c| c.split_once(' '))
        && let Ok(trace) = Uuid::try_parse(trace)
    {
        return Ok(Some((trace, dotted.to_owned())));
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
        .map(|l| (l.trace_id, l.dotted_order)))
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
