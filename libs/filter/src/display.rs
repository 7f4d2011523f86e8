//! The canonical text of a filter.

use std::fmt;

use crate::*;

pub(crate) fn number_text(n: f64) -> String {
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
