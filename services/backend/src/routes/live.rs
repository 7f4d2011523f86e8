//! `GET /runs/stream`: the live tail of a project. A server-sent event stream that sends each
//! run matching the query as it is written (created or updated), checked twice a second, at
//! most 50 runs per check (when more arrive, the oldest are skipped and a `skipped` event says
//! so). Browsers' `EventSource` cannot set headers, so the workspace may also come as
//! `?tenant_id=` (it then plays the part of `X-Tenant-Id`). Each workspace holds at most
//! `MOST_STREAMS` open streams per backend instance (429 beyond), so one workspace's tabs
//! cannot load ClickHouse for the others.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use ironsmith_analytics::run_query::{self, RunQuery};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::RunsRead;
use ironsmith_http::{ApiError, QueryPairs};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::{QueryBody, invalid};
use crate::runs::{self as reads, query_page};

const EVERY: Duration = Duration::from_millis(500);
const MOST_PER_CHECK: u64 = 50;
const MOST_STREAMS: usize = 20;

/// Open streams per workspace, in this process.
fn open_streams() -> &'static Mutex<HashMap<Uuid, usize>> {
    static OPEN: OnceLock<Mutex<HashMap<Uuid, usize>>> = OnceLock::new();
    OPEN.get_or_init(Mutex::default)
}

/// One open stream of a workspace, counted until dropped (the client went away).
struct Slot(Uuid);

impl Slot {
    fn take(workspace: Uuid) -> Result<Slot, ApiError> {
        let mut open = open_streams()
            .lock()
            .map_err(|_| ApiError::ServiceUnavailable("The live view is unavailable".into()))?;
        let count = open.entry(workspace).or_default();
        if *count >= MOST_STREAMS {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "This workspace already has {MOST_STREAMS} live views open; close one and retry"
                ),
                retry_after_secs: 5,
            });
        }
        *count += 1;
        Ok(Slot(workspace))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = open_streams().lock()
            && let Some(count) = open.get_mut(&self.0)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.0);
            }
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stream_runs))
        .layer(axum::middleware::map_request(tenant_from_query))
}

/// `?tenant_id=` stands in for a missing `X-Tenant-Id` header.
async fn tenant_from_query(mut request: Request) -> Request {
    if !request.headers().contains_key("x-tenant-id")
        && let Some(query) = request.uri().query()
        && let Some(value) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "tenant_id")
            .map(|(_, v)| v.into_owned())
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        request.headers_mut().insert("x-tenant-id", value);
    }
    request
}

/// What one stream follows, and how far it has read.
struct Tail {
    state: AppState,
    tenant_id: Uuid,
    body: QueryBody,
    query: RunQuery,
    /// The newest write time sent so far (microseconds).
    cursor: u64,
    started: bool,
    /// Held while the stream is open.
    _slot: Slot,
}

impl Tail {
    /// The events of one check: each newly written run (oldest first), or what went wrong.
    async fn check(&mut self) -> Vec<Event> {
        match self.read().await {
            Ok(events) => events,
            Err(error) => vec![
                Event::default()
                    .event("error")
                    .data(serde_json::json!({"detail": error.to_string()}).to_string()),
            ],
        }
    }

    async fn read(&mut self) -> Result<Vec<Event>, ApiError> {
        let clickhouse = &self.state.stores.clickhouse;
        let written =
            run_query::written_after(clickhouse, &self.query, self.cursor, MOST_PER_CHECK + 1)
                .await?;
        let mut events = Vec::new();
        if written.len() as u64 > MOST_PER_CHECK {
            events.push(Event::default().event("skipped").data(
                serde_json::json!({"detail": "more runs arrived than the stream sends; the oldest were skipped"})
                    .to_string(),
            ));
        }
        let sent: Vec<_> = written.into_iter().take(MOST_PER_CHECK as usize).collect();
        let Some(newest) = sent.iter().map(|w| w.version).max() else {
            return Ok(events);
        };
        let ids: Vec<Uuid> = sent.iter().map(|w| w.id).collect();
        let page_body = QueryBody {
            id: Some(ids),
            limit: Some(MOST_PER_CHECK as i64),
            ..self.body.clone()
        };
        let mut runs = query_page(&self.state, self.tenant_id, &page_body)
            .await?
            .runs;
        runs.reverse();
        for run in runs {
            events.push(
                Event::default()
                    .event("run")
                    .id(run.run.id.to_string())
                    .data(serde_json::to_string(&run).unwrap_or_default()),
            );
        }
        self.cursor = newest;
        Ok(events)
    }
}

#[utoipa::path(get, path = "/runs/stream", tag = "runs",
    params(
        ("session" = Uuid, Query, description = "The project to follow"),
        ("filter" = Option<String>, Query, description = "A run filter, as `/runs/query` takes it"),
        ("is_root" = Option<bool>, Query, description = "Only root runs (traces)"),
        ("run_type" = Option<String>, Query),
        ("select" = Option<Vec<String>>, Query, description = "The fields to send, as `/runs/query` takes them"),
        ("tenant_id" = Option<Uuid>, Query, description = "The workspace, when `X-Tenant-Id` cannot be sent")),
    responses((status = 200, content_type = "text/event-stream",
        description = "`run` events (a run as `/runs/query` renders it), `skipped` when the rate cap dropped runs, `error` when a check failed"),
        (status = 429, description = "The workspace has 20 live views open")))]
async fn stream_runs(
    State(state): State<AppState>,
    caller: RequirePermission<RunsRead>,
    params: QueryPairs,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let session = params
        .uuid("session")?
        .ok_or_else(|| invalid("session", "name the project to follow".into()))?;
    let tenant_id = caller.workspace_id;
    let body = QueryBody {
        session: Some(vec![session]),
        filter: params.get("filter").map(str::to_owned),
        is_root: params.bool("is_root")?,
        run_type: params.get("run_type").map(str::to_owned),
        select: Some(params.all("select").map(str::to_owned).collect::<Vec<_>>())
            .filter(|s| !s.is_empty()),
        ..QueryBody::default()
    };
    let mut query = reads::query_from(tenant_id, &body, Default::default())?;
    if !reads::scope(&state, tenant_id, &body, &mut query).await? {
        return Err(ApiError::NotFound("Project not found".into()));
    }
    let slot = Slot::take(tenant_id)?;
    // Runs written from now on (microseconds, as versions are).
    let now = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or_default();
    let tail = Tail {
        state,
        tenant_id,
        body,
        query,
        cursor: now,
        started: false,
        _slot: slot,
    };
    let events = stream::unfold(tail, |mut tail| async move {
        if tail.started {
            tokio::time::sleep(EVERY).await;
        }
        tail.started = true;
        let events = tail.check().await;
        Some((stream::iter(events.into_iter().map(Ok)), tail))
    })
    .flatten();
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
