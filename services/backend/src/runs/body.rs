//! The body of `POST /runs/query` and `/runs/stats`, read leniently the
//! way the SDKs send it: nulls for absent keys, booleans as `true`/`1`/`"True"`, timestamps in
//! every form the SDKs send, unknown keys ignored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironsmith_analytics::run_query::{Order, Position};
use ironsmith_filter::{Filter, FilterError};
use ironsmith_http::{ApiError, ValidationIssue};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use uuid::Uuid;

/// A run query: which runs (projects, ids, trace, filters, a time range), which fields, and
/// which page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = RunQuery)]
pub struct QueryBody {
    #[serde(default, deserialize_with = "uuid_list")]
    pub session: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "uuid_list")]
    pub id: Option<Vec<Uuid>>,
    #[serde(default)]
    pub trace: Option<Uuid>,
    #[serde(default)]
    pub parent_run: Option<Uuid>,
    #[serde(default)]
    pub run_type: Option<String>,
    #[serde(default, deserialize_with = "uuid_list")]
    pub reference_example: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_root: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub error: Option<bool>,
    /// `1` selects root runs (the SDKs' older way of asking for traces); no other value is
    /// meaningful.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1)]
    pub execution_order: Option<Value>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub trace_filter: Option<String>,
    #[serde(default)]
    pub tree_filter: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub select: Option<Vec<String>>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub limit: Option<i64>,
    #[serde(default)]
    #[schema(pattern = "^(?i:asc|desc)$")]
    pub order: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The checked filters of a body.
#[derive(Debug, Default)]
pub struct Filters {
    pub filter: Option<Filter>,
    pub trace_filter: Option<Filter>,
    pub tree_filter: Option<Filter>,
}

/// Largest SQL one filter may compile to.
const MAX_COMPILED_FILTER_BYTES: usize = 256 * 1024;

impl QueryBody {
    /// Whether only root runs (or only child runs) are wanted: `is_root`, or
    /// `execution_order=1`, which selects root runs.
    pub fn is_root(&self) -> Result<Option<bool>, ApiError> {
        match &self.execution_order {
            None | Some(Value::Null) => Ok(self.is_root),
            Some(order) if order.as_f64() == Some(1.0) || order.as_str() == Some("1") => {
                Ok(Some(self.is_root.unwrap_or(true)))
            }
            Some(other) => Err(ApiError::Unprocessable(vec![ValidationIssue {
                loc: vec!["body".into(), "execution_order".into()],
                msg: format!("execution_order {other} is not supported: 1 selects root runs"),
                kind: "value_error".into(),
            }])),
        }
    }

    /// Parses the three filters (and `query`, as `search(...)`); a bad one is a 400 naming
    /// the key, the position and the reason.
    pub fn filters(&self) -> Result<Filters, ApiError> {
        let parse = |key: &str, text: &Option<String>| -> Result<Option<Filter>, ApiError> {
            match text.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => {
                    let filter = Filter::parse(text).map_err(|error| bad_filter(key, &error))?;
                    // The values are bound, but the SQL around them grows with the filter.
                    let compiled = ironsmith_analytics::run_filter::compile(&filter, Uuid::nil());
                    if compiled.len() > MAX_COMPILED_FILTER_BYTES {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid {key}: the filter is too large ({} bytes of SQL; at most \
                             {MAX_COMPILED_FILTER_BYTES}); split it into smaller queries",
                            compiled.len()
                        )));
                    }
                    Ok(Some(filter))
                }
            }
        };
        let mut filter = parse("filter", &self.filter)?;
        if let Some(text) = self.query.as_deref().filter(|q| !q.trim().is_empty()) {
            let search = Filter::Search {
                field: None,
                text: text.to_owned(),
            };
            filter = Some(match filter {
                Some(existing) => Filter::And(vec![existing, search]),
                None => search,
            });
        }
        Ok(Filters {
            filter,
            trace_filter: parse("trace_filter", &self.trace_filter)?,
            tree_filter: parse("tree_filter", &self.tree_filter)?,
        })
    }

    pub fn order(&self) -> Result<Order, ApiError> {
        match self
            .order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("desc") => Ok(Order::Desc),
            Some("asc") => Ok(Order::Asc),
            Some(other) => Err(invalid(
                "order",
                format!("must be `asc` or `desc`, not `{other}`"),
            )),
        }
    }

    /// The page size: at least 1, clamped to 100.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(100),
            Some(n) if n < 1 => Err(invalid("limit", "must be at least 1".into())),
            Some(n) => Ok(n.min(100) as usize),
        }
    }

    pub fn position(&self) -> Result<Option<Position>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
            .transpose()
    }
}

fn bad_filter(key: &str, error: &FilterError) -> ApiError {
    ApiError::BadRequest(format!("Invalid {key}: {error}"))
}

pub fn invalid(field: &str, msg: String) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), field.into()],
        msg,
        kind: "value_error".into(),
    }])
}

/// The opaque cursor: where the previous page ended (start time and id), base64url.
pub fn encode_cursor(position: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        position.start_time_us,
        position.id.simple()
    ))
}

fn decode_cursor(cursor: &str) -> Result<Position, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "Invalid cursor `{cursor}`: send back a `next` cursor unchanged"
        ))
    };
    let text = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let (start, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(Position {
        start_time_us: start.parse().map_err(|_| bad())?,
        id: Uuid::try_parse(id).map_err(|_| bad())?,
    })
}

/// A list of UUIDs, `null`, or a single UUID.
fn uuid_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Uuid>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Uuid),
        Many(Vec<Uuid>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(id)) => Some(vec![id]),
        Some(OneOrMany::Many(ids)) => Some(ids),
    })
}

/// `true`/`false`, `1`/`0`, or those as strings in any case.
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => Ok(Some(true)),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(Some(false)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(D::Error::custom(format!("`{s}` is not a boolean"))),
        },
        Some(other) => Err(D::Error::custom(format!("`{other}` is not a boolean"))),
    }
}

/// A timestamp in any form the SDKs send, as microseconds since the epoch.
pub fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    let parsed = match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => ironsmith_api_types::timestamp::parse(&s),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(ironsmith_api_types::timestamp::from_epoch),
        Some(other) => return Err(D::Error::custom(format!("`{other}` is not a timestamp"))),
    };
    parsed
        .map(|t| Some(t.timestamp_micros()))
        .ok_or_else(|| D::Error::custom("not a timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_400() {
        let position = Position {
            start_time_us: 1_700_000_000_123_456,
            id: Uuid::now_v7(),
        };
        let body = QueryBody {
            cursor: Some(encode_cursor(position)),
            ..QueryBody::default()
        };
        assert_eq!(body.position().expect("decodes"), Some(position));
        let body = QueryBody {
            cursor: Some("not-a-cursor".into()),
            ..QueryBody::default()
        };
        assert!(matches!(body.position(), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn reads_what_the_sdks_send() {
        let body: QueryBody = serde_json::from_value(serde_json::json!({
            "session": ["6f1b2c3d4e5f40718293a4b5c6d7e8f9"],
            "is_root": 1,
            "error": "False",
            "start_time": "2025-03-01T10:15:00+00:00",
            "end_time": 1740824100123_u64,
            "execution_order": 1,
            "limit": 500,
            "trace": null,
        }))
        .expect("parses");
        assert_eq!(body.session.as_ref().map(Vec::len), Some(1));
        assert_eq!((body.is_root, body.error), (Some(true), Some(false)));
        assert_eq!(body.is_root().expect("execution_order 1"), Some(true));
        let roots: QueryBody =
            serde_json::from_value(serde_json::json!({"execution_order": 1})).expect("parses");
        assert_eq!(roots.is_root().expect("roots"), Some(true));
        let other: QueryBody =
            serde_json::from_value(serde_json::json!({"execution_order": 3})).expect("parses");
        assert!(other.is_root().is_err());
        assert_eq!(body.start_time, Some(1_740_824_100_000_000));
        assert_eq!(body.end_time, Some(1_740_824_100_123_000));
        assert_eq!(body.limit().expect("limit"), 100);
    }

    #[test]
    fn a_bad_filter_names_the_key_and_position() {
        let body = QueryBody {
            trace_filter: Some("eq(nme, 'x')".into()),
            ..QueryBody::default()
        };
        let Err(ApiError::BadRequest(message)) = body.filters() else {
            panic!("expected a 400");
        };
        assert!(
            message.starts_with(
                "Invalid trace_filter: invalid filter at position 3: unknown field `nme`"
            ),
            "{message}"
        );
    }
}
