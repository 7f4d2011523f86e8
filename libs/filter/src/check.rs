//! Checking an untyped syntax tree against the language: every operator, field and value,
//! each value converted to the type its field needs.

use syntax::{Node, NodeKind};
use uuid::Uuid;

use crate::display::number_text;
use crate::*;

pub(crate) fn check(node: &Node) -> Result<Filter, FilterError> {
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
        // `eq(error, true)`: the run errored (LangSmith's own form, besides `neq(error, null)`).
        (Kind::Error, NodeKind::Bool(errored)) if null_ok => Ok(Value::Bool(*errored)),
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
