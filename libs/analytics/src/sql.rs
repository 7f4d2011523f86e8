//! Dynamic ClickHouse SQL with bound values. Text is only ever our own fragments; every value
//! goes through [`Sql::bind`] and reaches ClickHouse escaped by the client (`Query::bind`), so a
//! filter string can never change the shape of a query.

use clickhouse::Client;
use clickhouse::query::Query;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::InList;

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Uuid(Uuid),
    /// The right-hand side of `IN` (a tuple; see [`InList`]). Never empty.
    StrSet(Vec<String>),
    UuidSet(Vec<Uuid>),
    I64Set(Vec<i64>),
    /// An array literal, e.g. for `hasAny(tags, ?)`.
    StrArray(Vec<String>),
}

impl Serialize for Param {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Param::Str(v) => v.serialize(s),
            Param::I64(v) => v.serialize(s),
            Param::U64(v) => v.serialize(s),
            Param::F64(v) => v.serialize(s),
            Param::Uuid(v) => v.serialize(s),
            Param::StrSet(v) => InList(v).serialize(s),
            Param::UuidSet(v) => InList(v).serialize(s),
            Param::I64Set(v) => InList(v).serialize(s),
            Param::StrArray(v) => v.serialize(s),
        }
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Str(v.to_owned())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Str(v)
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::I64(v)
    }
}
impl From<u64> for Param {
    fn from(v: u64) -> Self {
        Param::U64(v)
    }
}
impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::F64(v)
    }
}
impl From<Uuid> for Param {
    fn from(v: Uuid) -> Self {
        Param::Uuid(v)
    }
}

/// SQL text with a `?` for each bound value, in order.
#[derive(Clone, Default, PartialEq)]
pub struct Sql {
    text: String,
    params: Vec<Param>,
}

/// The text and how many values are bound, never the values: they are users' data.
impl std::fmt::Debug for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql")
            .field("text", &self.text)
            .field("bound_values", &self.params.len())
            .finish()
    }
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends SQL text (our own, never a value).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a `?` bound to `value`.
    pub fn bind(&mut self, value: impl Into<Param>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    /// Appends another fragment with its values.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params.iter().cloned());
        self
    }

    /// The length of the SQL text, in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// A query with every value bound.
    pub fn query(&self, client: &Client) -> Query {
        self.params
            .iter()
            .fold(client.query(&self.text), |query, param| query.bind(param))
    }
}

/// Joins fragments with `separator` (e.g. `" AND "`), each wrapped in parentheses when there is
/// more than one.
pub fn join(parts: &[Sql], separator: &str) -> Sql {
    if let [only] = parts {
        return only.clone();
    }
    let mut out = Sql::default();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(separator);
        }
        out.push("(").append(part).push(")");
    }
    out
}
