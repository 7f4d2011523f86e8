//! Request extractors whose rejections use our error format: a malformed body or query string
//! is a 422 naming what is wrong, like every other validation failure (API.md §3.9).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ValidationIssue};

/// A JSON body. The Content-Type is not checked: clients send JSON with and without it
/// (API.md §3.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge("Request body too large".into())
                } else {
                    ApiError::BadRequest(format!("Could not read the request body: {rejection}"))
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body, reporting failures as a 422 at `body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"null"[..]
    } else {
        bytes
    };
    serde_json::from_slice(text).map_err(|error| {
        let kind = if error.is_syntax() || error.is_eof() {
            "json_invalid"
        } else {
            "value_error"
        };
        ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["body".into()],
            msg: error.to_string(),
            kind: kind.into(),
        }])
    })
}

/// A query string, deserialised with `serde_urlencoded`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|error| {
                ApiError::Unprocessable(vec![ValidationIssue {
                    loc: vec!["query".into()],
                    msg: error.to_string(),
                    kind: "value_error".into(),
                }])
            })
    }
}

/// A path parameter that must be a UUID (hyphenated or bare hex, any case); anything else is a
/// 422 naming the parameter, as for any other invalid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathUuid(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathUuid {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        uuid::Uuid::try_parse(&raw).map(PathUuid).map_err(|_| {
            ApiError::Unprocessable(vec![ValidationIssue {
                loc: vec!["path".into(), "id".into()],
                msg: format!("`{raw}` is not a valid UUID"),
                kind: "uuid_parsing".into(),
            }])
        })
    }
}
