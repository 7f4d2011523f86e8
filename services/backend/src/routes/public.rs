//! Reads that need no key: a shared trace or dataset by its token, and
//! signed attachment downloads. The token or the signature is the only credential, and each
//! opens exactly one trace, one dataset (its examples and experiments) or one object.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ironsmith_analytics::run_query;
use ironsmith_api_types::resources;
use ironsmith_api_types::runs::{Project, Run, RunsPage};
use ironsmith_auth::PublicAccess;
use ironsmith_db::datasets;
use ironsmith_db::examples::{self, ExampleFilter};
use ironsmith_db::projects::{self, ProjectFilter};
use ironsmith_db::run_shares::{self, RunShare};
use ironsmith_db::thread_shares::{self, ThreadShare};
use ironsmith_http::Path;
use ironsmith_http::{ApiError, QueryPairs, replica_first};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::datasets::{render_dataset, render_example, resolve_version};
use crate::projects::render_projects;
use crate::runs::body::QueryBody;
use crate::runs::{query_page, render_one};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download))
        .routes(routes!(shared_root))
        .routes(routes!(shared_run))
        .routes(routes!(shared_query))
        .routes(routes!(shared_experiments))
        .routes(routes!(shared_listing))
        .routes(routes!(shared_run_v2))
        .routes(routes!(shared_query_v2))
}

fn unknown_token() -> ApiError {
    ApiError::NotFound("This link is not shared, or no longer".into())
}

async fn share_of(state: &AppState, token: &str) -> Result<RunShare, ApiError> {
    let token = Uuid::try_parse(token).map_err(|_| unknown_token())?;
    run_shares::by_token(&state.stores.postgres, token)
        .await?
        .ok_or_else(unknown_token)
}

#[utoipa::path(get, path = "/public/{token}/run", tag = "public links", security(()),
    params(("token" = String, Path)),
    responses((status = 200, body = Run)))]
async fn shared_root(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
) -> Result<Json<Run>, ApiError> {
    let share = share_of(&state, &token).await?;
    render_one(&state, share.tenant_id, share.run_id)
        .await?
        .map(Json)
        .ok_or_else(unknown_token)
}

/// What a v2 public token opens: a shared trace, or a shared thread (its traces).
enum Link {
    Trace(RunShare),
    Thread(ThreadShare),
}

impl Link {
    fn tenant_id(&self) -> Uuid {
        match self {
            Link::Trace(share) => share.tenant_id,
            Link::Thread(share) => share.tenant_id,
        }
    }
}

async fn link_of(state: &AppState, token: &str) -> Result<Link, ApiError> {
    let token = Uuid::try_parse(token).map_err(|_| unknown_token())?;
    if let Some(share) = run_shares::by_token(&state.stores.postgres, token).await? {
        return Ok(Link::Trace(share));
    }
    thread_shares::by_token(&state.stores.postgres, token)
        .await?
        .map(Link::Thread)
        .ok_or_else(unknown_token)
}

/// A page of the runs `link` opens.
async fn link_page(state: &AppState, link: &Link, body: QueryBody) -> Result<RunsPage, ApiError> {
    match link {
        Link::Trace(share) => shared_page(state, share, body).await,
        Link::Thread(share) => {
            crate::sharing::thread_runs(
                state,
                share.tenant_id,
                share.session_id,
                &share.thread_id,
                body,
            )
            .await
        }
    }
}

/// Which of `ids` belong to the shared trace.
async fn in_trace(state: &AppState, share: &RunShare, ids: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
    let members =
        run_query::trace_members(&state.stores.clickhouse, share.tenant_id, share.trace_id).await?;
    Ok(ids
        .iter()
        .copied()
        .filter(|id| members.iter().any(|m| m.id == *id))
        .collect())
}

#[utoipa::path(get, path = "/public/{token}/run/{run_id}", tag = "public links", security(()),
    params(("token" = String, Path), ("run_id" = Uuid, Path)),
    responses((status = 200, body = Run)))]
async fn shared_run(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path((token, run_id)): Path<(String, String)>,
) -> Result<Json<Run>, ApiError> {
    let share = share_of(&state, &token).await?;
    let run_id =
        Uuid::try_parse(&run_id).map_err(|_| ApiError::NotFound("Run not found".into()))?;
    if in_trace(&state, &share, &[run_id]).await?.is_empty() {
        return Err(ApiError::NotFound(
            "That run is not part of the shared trace".into(),
        ));
    }
    render_one(&state, share.tenant_id, run_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("Run not found".into()))
}

/// A page of the shared trace: the requested ids within it, or all of it.
async fn shared_page(
    state: &AppState,
    share: &RunShare,
    body: QueryBody,
) -> Result<RunsPage, ApiError> {
    let ids = match body.id.as_deref().filter(|ids| !ids.is_empty()) {
        Some(ids) => {
            let ids = in_trace(state, share, ids).await?;
            if ids.is_empty() {
                return Ok(RunsPage::default());
            }
            Some(ids)
        }
        None => None,
    };
    let scoped = QueryBody {
        id: ids,
        trace: Some(share.trace_id),
        select: body.select,
        limit: body.limit,
        order: body.order,
        cursor: body.cursor,
        ..QueryBody::default()
    };
    query_page(state, share.tenant_id, &scoped).await
}

#[utoipa::path(post, path = "/public/{token}/runs/query", tag = "public links", security(()),
    request_body = Option<QueryBody>,
    params(("token" = String, Path)),
    responses((status = 200, body = RunsPage)))]
async fn shared_query(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    ironsmith_http::Json(body): ironsmith_http::Json<Option<QueryBody>>,
) -> Result<Json<RunsPage>, ApiError> {
    let share = share_of(&state, &token).await?;
    Ok(Json(
        shared_page(&state, &share, body.unwrap_or_default()).await?,
    ))
}

/// `GET /public/{token}/runs?id=…`, and the JS SDK's form with the query string glued on
/// without a `?` (`/public/{token}/runsshare_token=…&id=…`).
#[utoipa::path(get, path = "/public/{token}/{listing}", tag = "public links", security(()),
    params(("token" = String, Path), ("listing" = String, Path, description = "`datasets` (the shared dataset), `examples` (its examples) or `runs` (the shared trace's runs)")),
    responses((status = 200, body = serde_json::Value, description = "A `Dataset`, or a list of `Example`s or of runs")))]
async fn shared_listing(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path((token, listing)): Path<(String, String)>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    match listing.as_str() {
        "datasets" => return Ok(shared_dataset(&state, &token).await?.into_response()),
        "examples" => {
            return Ok(shared_examples(&state, &token, &query)
                .await?
                .into_response());
        }
        _ => {}
    }
    let Some(glued) = listing.strip_prefix("runs") else {
        return Err(ApiError::NotFound(format!(
            "No route /public/{{token}}/{listing}"
        )));
    };
    let mut pairs = query;
    if !glued.is_empty() {
        pairs.0.extend(
            url::form_urlencoded::parse(glued.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    let share = share_of(&state, &token).await?;
    let ids = pairs.uuids("id")?;
    let body = QueryBody {
        id: (!ids.is_empty()).then_some(ids),
        ..QueryBody::default()
    };
    let page = shared_page(&state, &share, body).await?;
    Ok(Json(page.runs).into_response())
}

/// The workspace and dataset a dataset share token opens.
async fn dataset_share(state: &AppState, token: &str) -> Result<(Uuid, Uuid), ApiError> {
    let token = Uuid::try_parse(token).map_err(|_| unknown_token())?;
    datasets::by_share_token(&state.stores.postgres, token)
        .await?
        .ok_or_else(unknown_token)
}

/// `GET /public/{token}/datasets`: the shared dataset.
async fn shared_dataset(
    state: &AppState,
    token: &str,
) -> Result<Json<resources::Dataset>, ApiError> {
    let (tenant_id, dataset_id) = dataset_share(state, token).await?;
    let found = replica_first(
        &state.stores.postgres,
        state.stores.postgres_replica.as_ref(),
        |pg| async move {
            datasets::get(&pg, tenant_id, dataset_id)
                .await?
                .ok_or_else(unknown_token)
        },
    )
    .await?;
    Ok(Json(render_dataset(&found)))
}

/// `GET /public/{token}/examples?offset&limit&id=…`: the shared dataset's examples (what
/// `clone_public_dataset` copies).
async fn shared_examples(
    state: &AppState,
    token: &str,
    query: &QueryPairs,
) -> Result<Json<Vec<resources::Example>>, ApiError> {
    let (tenant_id, dataset_id) = dataset_share(state, token).await?;
    let (offset, limit) = query.page(100)?;
    let filter = &ExampleFilter {
        dataset: Some(dataset_id),
        ids: query.uuids("id")?,
        as_of: resolve_version(
            state,
            tenant_id,
            Some(dataset_id),
            query.get("as_of"),
            "as_of",
        )
        .await?,
        offset,
        limit,
        ..ExampleFilter::default()
    };
    // Copying a public dataset reads every example: from the replica when there is one (an
    // example added a moment ago may be missing until it is replayed).
    let found = replica_first(
        &state.stores.postgres,
        state.stores.postgres_replica.as_ref(),
        |pg| async move { Ok(examples::list(&pg, tenant_id, filter).await?) },
    )
    .await?;
    Ok(Json(
        found.iter().map(|e| render_example(state, e)).collect(),
    ))
}

/// `GET /public/{token}/datasets/sessions`: the shared dataset's experiments.
#[utoipa::path(get, path = "/public/{token}/datasets/sessions", tag = "public links", security(()),
    params(("token" = String, Path)),
    responses((status = 200, body = [Project])))]
async fn shared_experiments(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    query: QueryPairs,
) -> Result<Json<Vec<Project>>, ApiError> {
    let (tenant_id, dataset_id) = dataset_share(&state, &token).await?;
    let (offset, limit) = query.page(100)?;
    let found = projects::list(
        &state.stores.postgres,
        tenant_id,
        &ProjectFilter {
            ids: query.uuids("id")?,
            name: query.get("name").map(str::to_owned),
            name_contains: query.get("name_contains").map(str::to_owned),
            reference_dataset: Some(dataset_id),
            offset,
            limit,
            ..ProjectFilter::default()
        },
    )
    .await?;
    Ok(Json(
        render_projects(&state, tenant_id, &found, true).await?,
    ))
}

/// A signed attachment download (see `runs::attachments`).
#[utoipa::path(get, path = "/public/download", tag = "public links",
    params(("key" = String, Query, min_length = 1, description = "The object, from a signed link"),
        ("expires" = i64, Query, description = "When the link expires (Unix seconds)"),
        ("signature" = String, Query, min_length = 1, description = "The link's signature")),
    security(()),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "The attachment's bytes")))]
async fn download(
    State(state): State<AppState>,
    _public: PublicAccess,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let missing = || ApiError::BadRequest("The download link is incomplete".into());
    let key = query.get("key").ok_or_else(missing)?;
    let expires = query.int("expires")?.ok_or_else(missing)?;
    let signature = query.get("signature").ok_or_else(missing)?;
    state
        .url_signer()
        .verify(key, expires, signature, chrono::Utc::now().timestamp())
        .map_err(|reason| ApiError::Forbidden(reason.into()))?;
    let bytes = match state.stores.storage.get(key).await {
        Ok(bytes) => bytes,
        Err(error) if error.is_not_found() => {
            return Err(ApiError::NotFound("The attachment no longer exists".into()));
        }
        Err(error) => return Err(error.into()),
    };
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/v2/public/{token}/run/{run_id}", operation_id = "read_shared_run_v2", tag = "public links", security(()),
    params(("token" = String, Path), ("run_id" = Uuid, Path),
        ("selects" = Option<Vec<String>>, Query, description = "Fields to return, in UPPERCASE; `ID` alone when absent"),
        ("start_time" = Option<String>, Query)),
    responses((status = 200, body = Object)))]
async fn shared_run_v2(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path((token, run_id)): Path<(String, String)>,
    query: QueryPairs,
) -> Result<Json<serde_json::Value>, ApiError> {
    let given: Vec<String> = query.all("selects").map(str::to_owned).collect();
    let selects = crate::v2::selects(&given)?;
    let link = link_of(&state, &token).await?;
    let run_id =
        Uuid::try_parse(&run_id).map_err(|_| ApiError::NotFound("Run not found".into()))?;
    let member = link_page(
        &state,
        &link,
        QueryBody {
            id: Some(vec![run_id]),
            select: Some(vec!["id".into()]),
            ..QueryBody::default()
        },
    )
    .await?;
    if member.runs.is_empty() {
        return Err(ApiError::NotFound(
            "That run is not part of what is shared".into(),
        ));
    }
    let run = render_one(&state, link.tenant_id(), run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Run not found".into()))?;
    let v1 = serde_json::to_value(&run)?;
    Ok(Json(crate::v2::run(
        &v1,
        &selects,
        state.config.public.ui_url.as_str(),
    )))
}

/// `POST /v2/public/{token}/runs/query`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
struct SharedQueryV2 {
    #[serde(default)]
    selects: Option<Vec<String>>,
}

/// The runs of a shared trace.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct SharedRunsV2 {
    #[schema(value_type = Vec<Object>)]
    items: Vec<serde_json::Value>,
}

/// Pages read for one shared trace.
const MAX_SHARED_PAGES: usize = 50;

#[utoipa::path(post, path = "/v2/public/{token}/runs/query", operation_id = "query_shared_runs_v2", tag = "public links", security(()),
    params(("token" = String, Path)), request_body = Option<SharedQueryV2>,
    responses((status = 200, body = SharedRunsV2)))]
async fn shared_query_v2(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    ironsmith_http::Json(body): ironsmith_http::Json<Option<SharedQueryV2>>,
) -> Result<Json<SharedRunsV2>, ApiError> {
    let body = body.unwrap_or_default();
    let selects = crate::v2::selects(body.selects.as_deref().unwrap_or_default())?;
    let link = link_of(&state, &token).await?;
    let ui = state.config.public.ui_url.as_str();
    let fields = crate::v2::v1_fields(&selects);
    let mut cursor: Option<String> = None;
    let mut items = Vec::new();
    for _ in 0..MAX_SHARED_PAGES {
        let page_body = QueryBody {
            select: Some(fields.clone()),
            order: Some("asc".into()),
            limit: Some(100),
            cursor: cursor.take(),
            ..QueryBody::default()
        };
        let page = link_page(&state, &link, page_body).await?;
        for run in &page.runs {
            let v1 = serde_json::to_value(run)?;
            items.push(crate::v2::run(&v1, &selects, ui));
        }
        match page.cursors.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(Json(SharedRunsV2 { items }))
}
