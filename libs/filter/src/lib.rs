//! LangSmith's run filter language (`filter`, `trace_filter` and `tree_filter` on run
//! queries; example metadata filters later), as a typed syntax tree.
//!
//! Text is parsed in two steps: [`syntax`] reads the untyped call structure, then [`Filter::parse`]
//! checks every operator, field and value against the spec and builds a [`Filter`], in which each
//! value already has the type its field needs (a timestamp in microseconds, a latency in
//! seconds, a UUID, ...). Backends compile a `Filter`, never the text, and bind its values as
//! parameters. `Display` prints a `Filter` back in canonical form; parsing that text gives the
//! same tree again (property-tested).

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod syntax;

use std::fmt;

use syntax::{Node, NodeKind};
use uuid::Uuid;

/// An invalid filter: where (a character offset from 0) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid filter at position {position}: {reason}")]
pub struct FilterError {
    pub position: usize,
    pub reason: String,
}

impl FilterError {
    pub fn new(position: usize, reason: impl Into<String>) -> Self {
        FilterError {
            position,
            reason: reason.into(),
        }
    }
}

/// A checked filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `eq`, `neq`, `gt`, `gte`, `lt`, `lte`.
    Compare {
        field: Field,
        op: CompareOp,
        value: Value,
    },
    /// `in(field, [v, …])`.
    In {
        field: Field,
        values: Vec<Value>,
    },
    /// `has(tags, "x")`, or `has(metadata, '{"k": "v"}')` (containment: every pair present).
    Has {
        field: Field,
        value: HasValue,
    },
    /// `exists(metadata, "k")`: the key is present.
    Exists {
        field: Field,
        key: String,
    },
    /// `search("text")` over a run's text, or `search(field, "text")`: a substring of one field.
    Search {
        field: Option<Field>,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum HasValue {
    Tag(String),
    /// Key/value pairs of a JSON object, each value as the text filters compare (a string as
    /// itself, anything else as JSON).
    Pairs(Vec<(String, String)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CompareOp {
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Neq => "neq",
            CompareOp::Gt => "gt",
            CompareOp::Gte => "gte",
            CompareOp::Lt => "lt",
            CompareOp::Lte => "lte",
        }
    }

    fn ordered(self) -> bool {
        !matches!(self, CompareOp::Eq | CompareOp::Neq)
    }
}

/// A value, already of its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Uuid(Uuid),
    /// Microseconds since the epoch.
    Time(i64),
    /// A duration in seconds (latency, time to first token).
    Seconds(f64),
}

/// How a field's values are typed and which operators apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uuid,
    /// A UUID that may be absent (`eq(parent_run_id, null)`).
    OptionalUuid,
    Text,
    Time,
    Duration,
    /// A timestamp, or a duration from the run's start.
    TimeOrDuration,
    Number,
    /// A string, or `null` for none.
    Error,
    Bool,
    /// A list; `has`/`eq` test membership.
    Tags,
    /// A JSON object: `has` (containment), `exists` (key), `search`.
    Object,
}

macro_rules! fields {
    ($($variant:ident = $name:literal : $kind:ident),+ $(,)?) => {
        /// A field of a run that filters name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field { $($variant),+ }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),+ }
            }

            pub fn kind(self) -> Kind {
                match self { $(Field::$variant => Kind::$kind),+ }
            }

            pub fn from_name(name: &str) -> Option<Field> {
                match name { $($name => Some(Field::$variant),)+ _ => None }
            }
        }
    };
}

fields! {
    Id = "id": Uuid,
    TraceId = "trace_id": Uuid,
    ParentRunId = "parent_run_id": OptionalUuid,
    ReferenceExampleId = "reference_example_id": OptionalUuid,
    SessionId = "session_id": Uuid,
    Name = "name": Text,
    RunType = "run_type": Text,
    Status = "status": Text,
    ThreadId = "thread_id": Text,
    StartTime = "start_time": Time,
    EndTime = "end_time": Time,
    Latency = "latency": Duration,
    FirstTokenTime = "first_token_time": TimeOrDuration,
    TotalTokens = "total_tokens": Number,
    PromptTokens = "prompt_tokens": Number,
    CompletionTokens = "completion_tokens": Number,
    TotalCost = "total_cost": Number,
    PromptCost = "prompt_cost": Number,
    CompletionCost = "completion_cost": Number,
    Error = "error": Error,
    Tags = "tags": Tags,
    IsRoot = "is_root": Bool,
    MetadataKey = "metadata_key": Text,
    MetadataValue = "metadata_value": Text,
    InputKey = "input_key": Text,
    InputValue = "input_value": Text,
    OutputKey = "output_key": Text,
    OutputValue = "output_value": Text,
    FeedbackKey = "feedback_key": Text,
    FeedbackScore = "feedback_score": Number,
    FeedbackValue = "feedback_value": Text,
    Metadata = "metadata": Object,
    Inputs = "inputs": Object,
    Outputs = "outputs": Object,
}

/// Fields whose key and value conditions pair up inside one `and` (one and the
/// same entry must match both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairFamily {
    Metadata,
    Input,
    Output,
    Feedback,
}

impl Field {
    pub fn pair_family(self) -> Option<PairFamily> {
        match self {
            Field::MetadataKey | Field::MetadataValue => Some(PairFamily::Metadata),
            Field::InputKey | Field::InputValue => Some(PairFamily::Input),
            Field::OutputKey | Field::OutputValue => Some(PairFamily::Output),
            Field::FeedbackKey | Field::FeedbackScore | Field::FeedbackValue => {
                Some(PairFamily::Feedback)
            }
            _ => None,
        }
    }

    /// Fields `search(field, "text")` may name.
    fn searchable(self) -> bool {
        matches!(
            self.kind(),
            Kind::Text | Kind::Error | Kind::Object | Kind::Uuid | Kind::OptionalUuid
        )
    }
}

impl Filter {
    /// Parses and checks a filter expression.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        check(&syntax::parse(text)?)
    }

    /// The pair family of a key/value leaf (`eq(metadata_key, …)`, `gt(feedback_score, …)`).
    pub fn pair_family(&self) -> Option<PairFamily> {
        match self {
            Filter::Compare { field, .. } | Filter::In { field, .. } => field.pair_family(),
            _ => None,
        }
    }
}

fn check(node: &Node) -> Result<Filter, FilterError> {
    let NodeKind::Call { name, args } = &node.kind else {
        return Err(FilterError::new(
            node.position,
            format!("expected an operator call, found {}", node.kind.describe()),
        ));
    };
    let name = name.as_str();
    match name {
        "and" | "or" => {
            if args.is_empty() {
                return Err(FilterError::new(
                    node.position,
                    format!("`{name}` needs at least one argument"),
                ));
            }
            let children = args.iter().map(check).collect::<Result<Vec<_>, _>>()?;
            Ok(if name == "and" {
                Filter::And(children)
            } else {
                Filter::Or(children)
            })
        }
        "not" => {
            let [inner] = arguments(node, name, args)?;
            Ok(Filter::Not(Box::new(check(inner)?)))
        }
        "eq" | "neq" | "gt" | "gte" | "lt" | "lte" => {
            let [field_node, value_node] = arguments(node, name, args)?;
            let op = match name {
                "eq" => CompareOp::Eq,
                "neq" => CompareOp::Neq,
                "gt" => CompareOp::Gt,
                "gte" => CompareOp::Gte,
                "lt" => CompareOp::Lt,
                _ => CompareOp::Lte,
            };
            compare(field(field_node)?, op, value_node)
        }
        "in" => {
            let [field_node, list] = arguments(node, name, args)?;
            check_in(field_node, list)
        }
        "has" => {
            let [field_node, value_node] = arguments(node, name, args)?;
            check_has(field_node, value_node)
        }
        "exists" => {
            let [field_node, key] = arguments(node, name, args)?;
            let field = field(field_node)?;
            if field.kind() != Kind::Object {
                return Err(not_for(name, field, field_node.position));
            }
            let key = string(key, "`exists` needs the key as a string")?;
            Ok(Filter::Exists { field, key })
        }
        "search" => check_search(node, args),
        other => Err(FilterError::new(
            node.position,
            format!(
                "unknown operator `{other}`; expected one of and, or, not, eq, neq, gt, gte, lt, lte, in, has, exists, search"
            ),
        )),
    }
}

/// The `N` arguments of the call `node` to `name`, or an error saying how many it takes.
fn arguments<'a, const N: usize>(
    node: &Node,
    name: &str,
    args: &'a [Node],
) -> Result<&'a [Node; N], FilterError> {
    args.try_into().map_err(|_| {
        FilterError::new(
            node.position,
            format!("`{name}` takes {N} argument(s), got {}", args.len()),
        )
    })
}

fn check_in(field_node: &Node, list: &Node) -> Result<Filter, FilterError> {
    let field = field(field_node)?;
    let NodeKind::List(items) = &list.kind else {
        return Err(FilterError::new(
            list.position,
            format!(
                "`in` needs a list such as [\"a\", \"b\"], found {}",
                list.kind.describe()
            ),
        ));
    };
    if items.is_empty() {
        return Err(FilterError::new(
            list.position,
            "`in` needs a non-empty list",
        ));
    }
    if matches!(field.kind(), Kind::Object | Kind::Bool) {
        return Err(not_for("in", field, field_node.position));
    }
    let values = items
        .iter()
        .map(|item| value(field, CompareOp::Eq, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filter::In { field, values })
}

fn check_has(field_node: &Node, value_node: &Node) -> Result<Filter, FilterError> {
    let field = field(field_node)?;
    let text = string(value_node, "`has` needs a string")?;
    match field.kind() {
        Kind::Tags => Ok(Filter::Has {
            field,
            value: HasValue::Tag(text),
        }),
        Kind::Object => Ok(Filter::Has {
            field,
            value: HasValue::Pairs(pairs(&text, value_node.position)?),
        }),
        _ => Err(not_for("has", field, field_node.position)),
    }
}

fn check_search(node: &Node, args: &[Node]) -> Result<Filter, FilterError> {
    match args {
        [text] => Ok(Filter::Search {
            field: None,
            text: string(text, "`search` needs the text as a string")?,
        }),
        [field_node, text] => {
            let field = field(field_node)?;
            if !field.searchable() {
                return Err(not_for("search", field, field_node.position));
            }
            Ok(Filter::Search {
                field: Some(field),
                text: string(text, "`search` needs the text as a string")?,
            })
        }
        _ => Err(FilterError::new(
            node.position,
            format!("`search` takes 1 or 2 arguments, got {}", args.len()),
        )),
    }
}

fn not_for(op: &str, field: Field, position: usize) -> FilterError {
    FilterError::new(
        position,
        format!("`{op}` does not apply to the field `{}`", field.name()),
    )
}

/// A field, written bare or quoted (`has("metadata", …)`).
fn field(node: &Node) -> Result<Field, FilterError> {
    let name = match &node.kind {
        NodeKind::Ident(name) | NodeKind::Str(name) => name,
        other => {
            return Err(FilterError::new(
                node.position,
                format!("expected a field name, found {}", other.describe()),
            ));
        }
    };
    Field::from_name(name).ok_or_else(|| {
        FilterError::new(
            node.position,
            format!(
                "unknown field `{name}`; fields are {}",
                Field::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

fn string(node: &Node, expected: &str) -> Result<String, FilterError> {
    match &node.kind {
        NodeKind::Str(text) => Ok(text.clone()),
        other => Err(FilterError::new(
            node.position,
            format!("{expected}, found {}", other.describe()),
        )),
    }
}

fn compare(field: Field, op: CompareOp, node: &Node) -> Result<Filter, FilterError> {
    let kind = field.kind();
    if op.ordered()
        && !matches!(
            kind,
            Kind::Time | Kind::Duration | Kind::TimeOrDuration | Kind::Number
        )
    {
        return Err(FilterError::new(
            node.position,
            format!(
                "`{}` compares numbers, times and latencies; `{}` is not one",
                op.name(),
                field.name()
            ),
        ));
    }
    if kind == Kind::Object {
        return Err(not_for(op.name(), field, node.position));
    }
    Ok(Filter::Compare {
        field,
        op,
        value: value(field, op, node)?,
    })
}

/// Types one value for `field`.
fn value(field: Field, op: CompareOp, node: &Node) -> Result<Value, FilterError> {
    let wrong = |expected: &str| {
        FilterError::new(
            node.position,
            format!(
                "`{}` needs {expected}, found {}",
                field.name(),
                node.kind.describe()
            ),
        )
    };
    let null_ok = matches!(op, CompareOp::Eq | CompareOp::Neq);
    match (field.kind(), &node.kind) {
        (Kind::OptionalUuid | Kind::Error, NodeKind::Null) if null_ok => Ok(Value::Null),
        (Kind::Uuid | Kind::OptionalUuid, NodeKind::Str(text)) => Uuid::try_parse(text)
            .map(Value::Uuid)
            .map_err(|_| FilterError::new(node.position, format!("`{text}` is not a UUID"))),
        (Kind::Uuid | Kind::OptionalUuid, _) => Err(wrong("a UUID string")),
        (Kind::Text | Kind::Error | Kind::Tags, NodeKind::Str(text)) => {
            Ok(Value::Text(text.clone()))
        }
        (Kind::Text, NodeKind::Num(n)) => Ok(Value::Text(number_text(*n))),
        (Kind::Text, NodeKind::Bool(b)) => Ok(Value::Text(b.to_string())),
        (Kind::Text | Kind::Error | Kind::Tags, _) => Err(wrong("a string")),
        (Kind::Time, NodeKind::Str(text)) => time(text, node.position),
        (Kind::Time, NodeKind::Num(n)) => epoch(*n, node.position),
        (Kind::Time, _) => Err(wrong("a timestamp")),
        (Kind::Duration, NodeKind::Num(n)) => Ok(Value::Seconds(*n)),
        (Kind::Duration, NodeKind::Str(text)) => {
            duration(text).map(Value::Seconds).ok_or_else(|| {
                FilterError::new(
                    node.position,
                    format!(
                        "`{text}` is not a duration such as 5, \"5s\", \"250ms\", \"2m\" or \"1h\""
                    ),
                )
            })
        }
        (Kind::Duration, _) => Err(wrong("a number of seconds or a duration string")),
        (Kind::TimeOrDuration, NodeKind::Num(n)) => Ok(Value::Seconds(*n)),
        (Kind::TimeOrDuration, NodeKind::Str(text)) => match duration(text) {
            Some(seconds) => Ok(Value::Seconds(seconds)),
            None => time(text, node.position),
        },
        (Kind::TimeOrDuration, _) => Err(wrong("a timestamp or a duration")),
        (Kind::Number, NodeKind::Num(n)) => Ok(Value::Number(*n)),
        (Kind::Number, NodeKind::Bool(b)) => Ok(Value::Number(if *b { 1.0 } else { 0.0 })),
        (Kind::Number, NodeKind::Str(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| wrong("a number")),
        (Kind::Number, _) => Err(wrong("a number")),
        (Kind::Bool, NodeKind::Bool(b)) => Ok(Value::Bool(*b)),
        (Kind::Bool, NodeKind::Num(n)) if *n == 0.0 || *n == 1.0 => Ok(Value::Bool(*n == 1.0)),
        (Kind::Bool, NodeKind::Str(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong("true or false")),
        },
        (Kind::Bool, _) => Err(wrong("true or false")),
        (Kind::Object, _) => Err(wrong("a key")),
    }
}

fn time(text: &str, position: usize) -> Result<Value, FilterError> {
    ironsmith_api_types::timestamp::parse(text)
        .filter(printable)
        .map(|t| Value::Time(t.timestamp_micros()))
        .ok_or_else(|| FilterError::new(position, format!("`{text}` is not a timestamp")))
}

fn epoch(n: f64, position: usize) -> Result<Value, FilterError> {
    ironsmith_api_types::timestamp::from_epoch(n)
        .filter(printable)
        .map(|t| Value::Time(t.timestamp_micros()))
        .ok_or_else(|| FilterError::new(position, format!("`{n}` is not a timestamp")))
}

/// Times in years 1 to 9999: what RFC 3339 can write, so a filter prints and parses back to
/// itself. (Found by fuzzing: an epoch in milliseconds far in the future printed as
/// `+17814-…`, which no parser reads.)
fn printable(t: &chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&t.year())
}

/// `"5s"`, `"250ms"`, `"2m"`, `"1h"`, `"1d"`, or a bare number of seconds, as seconds.
fn duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok().filter(|n: &f64| n.is_finite())?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" => 0.001,
        "us" | "µs" => 0.000_001,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        _ => return None,
    };
    Some(number * scale)
}

/// A JSON object as the key/value pairs `has(metadata, …)` requires.
fn pairs(text: &str, position: usize) -> Result<Vec<(String, String)>, FilterError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|error| FilterError::new(position, format!("expected a JSON object: {error}")))?;
    let serde_json::Value::Object(object) = value else {
        return Err(FilterError::new(position, "expected a JSON object"));
    };
    Ok(object
        .into_iter()
        .map(|(key, value)| (key, value_text(&value)))
        .collect())
}

/// How a JSON value is compared as text: a string is itself, anything else its JSON.
pub fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Prints the canonical form: double-quoted strings, timestamps as RFC 3339 with
/// microseconds, durations as seconds.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(f: &mut fmt::Formatter<'_>, items: &[Filter]) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            Filter::And(items) => {
                f.write_str("and(")?;
                list(f, items)?;
                f.write_str(")")
            }
            Filter::Or(items) => {
                f.write_str("or(")?;
                list(f, items)?;
                f.write_str(")")
            }
            Filter::Not(inner) => write!(f, "not({inner})"),
            Filter::Compare { field, op, value } => {
                write!(f, "{}({}, {value})", op.name(), field.name())
            }
            Filter::In { field, values } => {
                write!(f, "in({}, [", field.name())?;
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str("])")
            }
            Filter::Has { field, value } => {
                let text = match value {
                    HasValue::Tag(tag) => tag.clone(),
                    HasValue::Pairs(pairs) => serde_json::Value::Object(
                        pairs
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect(),
                    )
                    .to_string(),
                };
                write!(f, "has({}, {})", field.name(), Quoted(&text))
            }
            Filter::Exists { field, key } => write!(f, "exists({}, {})", field.name(), Quoted(key)),
            Filter::Search { field: None, text } => write!(f, "search({})", Quoted(text)),
            Filter::Search {
                field: Some(field),
                text,
            } => write!(f, "search({}, {})", field.name(), Quoted(text)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) | Value::Seconds(n) => write!(f, "{n}"),
            Value::Text(text) => write!(f, "{}", Quoted(text)),
            Value::Uuid(id) => write!(f, "\"{id}\""),
            Value::Time(us) => match chrono::DateTime::from_timestamp_micros(*us) {
                Some(t) => write!(f, "\"{}Z\"", ironsmith_api_types::timestamp::format(&t)),
                None => write!(f, "{}", *us as f64 / 1e6),
            },
        }
    }
}

/// A double-quoted string with `\` and `"` escaped (and newlines, tabs and returns spelled out).
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests;
