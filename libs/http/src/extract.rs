//! Request extractors whose rejections use our error format: a malformed body or query string
//! is a 422 naming what is wrong, like every other validation failure.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::Deserializer;
use serde::de::{DeserializeOwned, Visitor};

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
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    T::deserialize(ObjectsOnly(&mut deserializer))
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|error| {
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

/// Reads a value as the wrapped deserializer does, except that a struct at the top (or inside
/// an `Option` there) must be a JSON object. Serde also reads a struct from an array of its
/// fields in order, so `[null, null]` would be accepted as a body of absent fields; no client of
/// a JSON API means that, and the API document says "object".
struct ObjectsOnly<D>(D);

macro_rules! forward {
    ($($method:ident($($arg:ident: $kind:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $kind,)* visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward!(
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(),
        deserialize_i32(), deserialize_i64(), deserialize_i128(), deserialize_u8(),
        deserialize_u16(), deserialize_u32(), deserialize_u64(), deserialize_u128(),
        deserialize_f32(), deserialize_f64(), deserialize_char(), deserialize_str(),
        deserialize_string(), deserialize_bytes(), deserialize_byte_buf(), deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str), deserialize_seq(),
        deserialize_tuple(len: usize), deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(), deserialize_ignored_any(),
    );

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(SomeObjectsOnly(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The visitor of an `Option` whose value is read by [`ObjectsOnly`].
struct SomeObjectsOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for SomeObjectsOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.expecting(formatter)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(ObjectsOnly(inner))
    }
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

/// Path parameters, deserialised as axum's `Path` does; a value that does not parse (a UUID that
/// is not one, a number out of range) is a 422 naming the path, in our error format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| {
                ApiError::Unprocessable(vec![ValidationIssue {
                    loc: vec!["path".into()],
                    msg: rejection.body_text(),
                    kind: "value_error".into(),
                }])
            })
    }
}

/// Whether a JSON body is an object at its top level. Serde reads a struct from an array of its
/// fields in order too; a body documented as an object checks this first, so `[null, null]` is
/// refused rather than read as an empty object.
pub fn is_json_object(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|first| *first == b'{')
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

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::parse_json;
    use crate::error::ApiError;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    struct Body {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    struct Inner {
        #[serde(default)]
        count: Option<i64>,
    }

    fn refused<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> bool {
        matches!(
            parse_json::<T>(text.as_bytes()),
            Err(ApiError::Unprocessable(_))
        )
    }

    #[test]
    fn a_struct_body_must_be_an_object() {
        assert!(refused::<Body>("[null, null]"));
        assert!(refused::<Body>("[]"));
        assert!(refused::<Option<Body>>("[null]"));
        assert!(refused::<Body>(r#"{"name": "a"} trailing"#));
        let body: Body = parse_json(br#"{"name": "a", "inner": {"count": 2}}"#).expect("an object");
        assert_eq!(body.name.as_deref(), Some("a"));
        assert_eq!(body.inner, Some(Inner { count: Some(2) }));
        assert_eq!(parse_json::<Option<Body>>(b"null").expect("null"), None);
        assert_eq!(parse_json::<Option<Body>>(b"  ").expect("empty"), None);
        assert_eq!(
            parse_json::<Option<Body>>(br#"{"name": "b"}"#).expect("an object"),
            Some(Body {
                name: Some("b".into()),
                inner: None
            })
        );
    }

    #[test]
    fn lists_and_values_read_as_before() {
        let list: Vec<Body> = parse_json(br#"[{"name": "a"}, {}]"#).expect("a list");
        assert_eq!(list.len(), 2);
        let value: serde_json::Value = parse_json(b"[1, 2]").expect("any JSON");
        assert_eq!(value, serde_json::json!([1, 2]));
        let ids: Vec<uuid::Uuid> =
            parse_json(br#"["0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d11"]"#).expect("uuids");
        assert_eq!(ids.len(), 1);
    }
}
