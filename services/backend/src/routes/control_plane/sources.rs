//! Project tarballs of source deployments: `POST …/upload-url` hands `langgraph deploy` a
//! signed URL, the CLI PUTs the tarball there without an API key, and the data plane GETs it
//! back through a signed download URL the listener asks for.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironsmith_api_types::deployments::{DeploymentSource, UploadUrl, UploadUrlRequest};

use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::DeploymentsUpdate;
use ironsmith_http::{ApiError, Path, QueryPairs};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::deployments::ops::{self, now_secs};
use crate::deployments::tarball_prefix;
use crate::deployments::uploads::{Op, TarballSigner};

/// The largest project tarball accepted, bytes.
const MAX_TARBALL_BYTES: usize = 50 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_url))
        .routes(routes!(upload))
        .routes(routes!(download))
}

fn signer(state: &AppState) -> TarballSigner {
    TarballSigner::new(
        state.config.auth.jwt_secret.expose(),
        &state.config.public.control_plane_url,
    )
}

#[utoipa::path(post, path = "/v2/deployments/{deployment_id}/upload-url", operation_id = "create_upload_url", tag = "deployments",
    params(("deployment_id" = uuid::Uuid, Path)), request_body = UploadUrlRequest,
    responses((status = 200, body = UploadUrl), (status = 400), (status = 404)))]
async fn upload_url(
    State(state): State<AppState>,
    caller: RequirePermission<DeploymentsUpdate>,
    Path(deployment_id): Path<Uuid>,
    // `{"supports_upload_headers": true}` or nothing: the answer always carries the headers.
    _body: Bytes,
) -> Result<Json<UploadUrl>, ApiError> {
    let row = ops::load(&state, caller.workspace_id, deployment_id).await?;
    if DeploymentSource::parse(&row.source) != Some(DeploymentSource::InternalSource) {
        return Err(ApiError::BadRequest(format!(
            "Deployment ID {deployment_id} deploys {}: only internal_source deployments upload source",
            row.source
        )));
    }
    let object_path = format!(
        "{}{}.tar.gz",
        tarball_prefix(caller.workspace_id, deployment_id),
        Uuid::new_v4()
    );
    let upload_url = signer(&state).url(Op::Upload, &object_path, now_secs());
    Ok(Json(UploadUrl {
        upload_url,
        object_path,
        upload_headers: BTreeMap::from([(
            "Content-Type".to_owned(),
            "application/gzip".to_owned(),
        )]),
    }))
}

/// The object path of a signed request, checked.
fn verified(state: &AppState, op: Op, query: &QueryPairs) -> Result<String, ApiError> {
    let (Some(path), Some(expires), Some(signature)) = (
        query.get("path"),
        query.int("expires")?,
        query.get("signature"),
    ) else {
        return Err(ApiError::Forbidden("The link is invalid".into()));
    };
    signer(state)
        .verify(op, path, expires, signature, now_secs())
        .map_err(|m| ApiError::Forbidden(m.into()))?;
    Ok(path.to_owned())
}

#[utoipa::path(put, path = "/v2/sources/upload", operation_id = "upload_source", tag = "deployments",
    params(("path" = String, Query), ("expires" = i64, Query), ("signature" = String, Query)),
    request_body(content = Vec<u8>, content_type = "application/gzip"),
    responses((status = 200), (status = 403), (status = 413)))]
async fn upload(
    State(state): State<AppState>,
    query: QueryPairs,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let path = verified(&state, Op::Upload, &query)?;
    if body.len() > MAX_TARBALL_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "A project tarball may be at most {MAX_TARBALL_BYTES} bytes"
        )));
    }
    // gzip magic: anything else cannot be unpacked by the data plane.
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Err(ApiError::BadRequest("The upload is not a gzip file".into()));
    }
    state.stores.storage.put(&path, body).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(get, path = "/v2/sources/download", operation_id = "download_source", tag = "deployments",
    params(("path" = String, Query), ("expires" = i64, Query), ("signature" = String, Query)),
    responses((status = 200, content_type = "application/gzip"), (status = 403), (status = 404)))]
async fn download(State(state): State<AppState>, query: QueryPairs) -> Result<Response, ApiError> {
    let path = verified(&state, Op::Download, &query)?;
    let bytes = state.stores.storage.get(&path).await.map_err(|e| {
        if e.is_not_found() {
            ApiError::NotFound("The source tarball was never uploaded".into())
        } else {
            ApiError::from(e)
        }
    })?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    Ok((headers, bytes).into_response())
}
