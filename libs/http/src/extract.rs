//! Request extractors whose rejections use our error format: a malformed body or query string
//! is a 422 naming what is wrong, like every other validation failure.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ValidationIssue};

/// A JSON body. The Content-Type is not checked: clients send JSON with and without it.
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

/// A query string as its ordered key/value pairs, for what `serde_urlencoded` cannot read:
/// repeated keys (`id=a&id=b`), booleans in any case, JSON values. Every getter
/// answers 422 naming the parameter when a value does not parse.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(QueryPairs(
            serde_urlencoded::from_str::<Vec<(String, String)>>(query).map_err(|error| {
                ApiError::Unprocessable(vec![ValidationIssue {
                    loc: vec!["query".into()],
                    msg: error.to_string(),
                    kind: "value_error".into(),
                }])
            })?,
        ))
    }
}

fn invalid_query(key: &str, msg: String) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["query".into(), key.into()],
        msg,
        kind: "value_error".into(),
    }])
}

impl QueryPairs {
    /// The last value of `key` (an empty value counts as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(invalid_query(key, format!("`{v}` is not a boolean"))),
            })
            .transpose()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| invalid_query(key, format!("`{v}` is not an integer")))
            })
            .transpose()
    }

    pub fn uuid(&self, key: &str) -> Result<Option<uuid::Uuid>, ApiError> {
        self.get(key).map(|v| parse_uuid(key, v)).transpose()
    }

    pub fn uuids(&self, key: &str) -> Result<Vec<uuid::Uuid>, ApiError> {
        self.all(key).map(|v| parse_uuid(key, v)).collect()
    }

    pub fn json(&self, key: &str) -> Result<Option<serde_json::Value>, ApiError> {
        self.get(key)
            .map(|v| {
                serde_json::from_str(v)
                    .map_err(|e| invalid_query(key, format!("is not valid JSON: {e}")))
            })
            .transpose()
    }

    /// `offset` and `limit` of an offset-paginated list: `limit` defaults to
    /// `default_limit` and must be 1–100.
    pub fn page(&self, default_limit: i64) -> Result<(i64, i64), ApiError> {
        let offset = self.int("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(invalid_query("offset", "must not be negative".into()));
        }
        let limit = self.int("limit")?.unwrap_or(default_limit);
        if !(1..=100).contains(&limit) {
            return Err(invalid_query("limit", "must be between 1 and 100".into()));
        }
        Ok((offset, limit))
    }
}

fn parse_uuid(key: &str, value: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::try_parse(value.trim())
        .map_err(|_| invalid_query(key, format!("`{value}` is not a valid UUID")))
}
