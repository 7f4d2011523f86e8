//! Public links (shared runs, threads and datasets) exist only while the workspace's organisation allows
//! public sharing. Creating one is refused here; reading one checks the same flag in the query
//! that resolves its token, so turning sharing off closes every existing link at once.

use ironsmith_api_types::runs::RunShare;
use ironsmith_api_types::runs::RunsPage;
use ironsmith_db::organizations;
use ironsmith_db::run_shares::{self, NewShare};
use ironsmith_db::thread_shares;
use ironsmith_http::ApiError;
use uuid::Uuid;

use crate::AppState;
use crate::runs::body::QueryBody;

/// Refuses (403) when the organisation owning `workspace_id` has disabled public sharing.
pub async fn ensure_allowed(state: &AppState, workspace_id: Uuid) -> Result<(), ApiError> {
    if organizations::sharing_allowed(&state.stores.postgres, workspace_id).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Public sharing is disabled for this organisation".into(),
        ))
    }
}

fn run_not_found() -> ApiError {
    ApiError::NotFound("Run not found".into())
}

/// Shares the trace of run `run_id` (v1 `PUT /runs/{id}/share`, v2 `POST /v2/runs/{id}/share`).
pub async fn share_run(
    state: &AppState,
    tenant_id: Uuid,
    created_by: Option<Uuid>,
    run_id: Uuid,
) -> Result<RunShare, ApiError> {
    ensure_allowed(state, tenant_id).await?;
    let run = crate::runs::find_run(state, tenant_id, run_id)
        .await?
        .ok_or_else(run_not_found)?;
    // A share token is a capability: the server mints it. The token a client proposes is not
    // used, so an unguessable token is guaranteed and a proposal reveals nothing about the
    // tokens that exist; the SDKs build their links from the token in the answer.
    let share = run_shares::share(
        &state.stores.postgres,
        &NewShare {
            share_token: Uuid::new_v4(),
            tenant_id,
            run_id: run.id,
            trace_id: run.trace_id,
            session_id: run.session_id,
            created_by,
        },
    )
    .await;
    match share {
        Ok(share) => Ok(RunShare {
            run_id: share.run_id,
            share_token: share.share_token,
        }),
        // The requested token is already another run's link.
        Err(error) if error.is_unique_violation() => Err(ApiError::Conflict(
            "That share token is already in use".into(),
        )),
        Err(error) => Err(error.into()),
    }
}

/// Removes run `run_id`'s link; unsharing a run that is not shared is fine, an unknown run is
/// not.
pub async fn unshare_run(state: &AppState, tenant_id: Uuid, run_id: Uuid) -> Result<(), ApiError> {
    let unshared = run_shares::unshare(&state.stores.postgres, tenant_id, run_id).await?;
    if !unshared
        && crate::runs::find_run(state, tenant_id, run_id)
            .await?
            .is_none()
    {
        return Err(run_not_found());
    }
    Ok(())
}

/// Shares thread `thread_id` of project `session_id` (`POST /v2/threads/{id}/share`); a thread
/// already shared keeps its token. The thread must have a trace in the project.
pub async fn share_thread(
    state: &AppState,
    tenant_id: Uuid,
    created_by: Option<Uuid>,
    session_id: Uuid,
    thread_id: &str,
) -> Result<Uuid, ApiError> {
    ensure_allowed(state, tenant_id).await?;
    let page = thread_runs(
        state,
        tenant_id,
        session_id,
        thread_id,
        QueryBody {
            select: Some(vec!["id".into()]),
            limit: Some(1),
            ..QueryBody::default()
        },
    )
    .await?;
    if page.runs.is_empty() {
        return Err(ApiError::NotFound("No such thread in that project".into()));
    }
    // As for runs, the server mints the token.
    let share = thread_shares::share(
        &state.stores.postgres,
        Uuid::new_v4(),
        tenant_id,
        session_id,
        thread_id,
        created_by,
    )
    .await?;
    Ok(share.share_token)
}

/// The runs of the traces of a thread (those whose root run carries its `thread_id`) in one
/// project: a page of what `body` asks for (its selection, order, limit, cursor and ids).
pub async fn thread_runs(
    state: &AppState,
    tenant_id: Uuid,
    session_id: Uuid,
    thread_id: &str,
    body: QueryBody,
) -> Result<RunsPage, ApiError> {
    let in_thread = format!("eq(thread_id, {})", serde_json::json!(thread_id));
    // A query by ids ignores every other condition: keep only the ids of runs whose trace's
    // root is in the thread.
    let ids = match body.id.filter(|ids| !ids.is_empty()) {
        None => None,
        Some(ids) => {
            let mut kept = Vec::new();
            for id in ids {
                let Some(run) = crate::runs::find_run(state, tenant_id, id).await? else {
                    continue;
                };
                let root = QueryBody {
                    session: Some(vec![session_id]),
                    trace: Some(run.trace_id),
                    is_root: Some(true),
                    filter: Some(in_thread.clone()),
                    select: Some(vec!["id".into()]),
                    limit: Some(1),
                    ..QueryBody::default()
                };
                if run.session_id == session_id
                    && !crate::runs::query_page(state, tenant_id, &root)
                        .await?
                        .runs
                        .is_empty()
                {
                    kept.push(id);
                }
            }
            if kept.is_empty() {
                return Ok(RunsPage::default());
            }
            Some(kept)
        }
    };
    let scoped = QueryBody {
        session: Some(vec![session_id]),
        trace_filter: Some(in_thread),
        id: ids,
        select: body.select,
        limit: body.limit,
        order: body.order,
        cursor: body.cursor,
        ..QueryBody::default()
    };
    crate::runs::query_page(state, tenant_id, &scoped).await
}
