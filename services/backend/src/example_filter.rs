//! Example `filter` expressions (`GET /examples?filter=…`) as conditions on metadata.

use ironsmith_db::examples::MetadataCondition;
use ironsmith_filter::{CompareOp, Field, Filter, HasValue, Value as FilterValue};
use ironsmith_http::ApiError;
use serde_json::Value;

/// The example `filter` expressions the SDKs build, as conditions on metadata: `has(metadata,
/// '{…}')`, `exists(metadata, "k")`, `eq`/`neq` on `metadata_key` and `metadata_value` (an `and`
/// of `eq(metadata_key, k)` with comparisons of `metadata_value` compares that key's value),
/// `in(metadata_key, […])`, and `and`/`or`/`not` of them. Anything else is refused with 400
/// rather than silently ignored.
pub fn parse(expression: &str) -> Result<MetadataCondition, ApiError> {
    let parsed = Filter::parse(expression)
        .map_err(|e| ApiError::BadRequest(format!("Invalid filter: {e}")))?;
    condition(parsed)
}

fn text_of(value: &FilterValue) -> Option<String> {
    match value {
        FilterValue::Text(text) => Some(text.clone()),
        FilterValue::Number(n) => Some(n.to_string()),
        FilterValue::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `and(…)`; with `eq(metadata_key, k)` among its parts, comparisons of `metadata_value`
/// compare key k's value.
fn and(parts: Vec<Filter>) -> Result<MetadataCondition, ApiError> {
    let key = parts.iter().find_map(|p| match p {
        Filter::Compare {
            field: Field::MetadataKey,
            op: CompareOp::Eq,
            value: FilterValue::Text(k),
        } => Some(k.clone()),
        _ => None,
    });
    let mut conditions = Vec::with_capacity(parts.len());
    for part in parts {
        match (&key, part) {
            (
                Some(_),
                Filter::Compare {
                    field: Field::MetadataKey,
                    op: CompareOp::Eq,
                    ..
                },
            ) => {}
            (
                Some(key),
                Filter::Compare {
                    field: Field::MetadataValue,
                    op: op @ (CompareOp::Eq | CompareOp::Neq),
                    value,
                },
            ) => conditions.push(MetadataCondition::KeyEquals {
                key: key.clone(),
                text: text_of(&value).unwrap_or_default(),
                equal: op == CompareOp::Eq,
            }),
            (_, part) => conditions.push(condition(part)?),
        }
    }
    if let Some(key) = key
        && !conditions
            .iter()
            .any(|c| matches!(c, MetadataCondition::KeyEquals { .. }))
    {
        conditions.push(MetadataCondition::HasKey(key));
    }
    Ok(MetadataCondition::And(conditions))
}

fn negated(condition: MetadataCondition, negate: bool) -> MetadataCondition {
    if negate {
        MetadataCondition::Not(Box::new(condition))
    } else {
        condition
    }
}

fn condition(filter: Filter) -> Result<MetadataCondition, ApiError> {
    let refuse = |other: &Filter| {
        ApiError::BadRequest(format!(
            "Invalid filter: examples are filtered on metadata (has, exists, metadata_key, \
             metadata_value, and, or, not); `{other}` is not one of those"
        ))
    };
    Ok(match filter {
        Filter::And(parts) => and(parts)?,
        Filter::Or(parts) => {
            MetadataCondition::Or(parts.into_iter().map(condition).collect::<Result<_, _>>()?)
        }
        Filter::Not(inner) => MetadataCondition::Not(Box::new(condition(*inner)?)),
        Filter::Has {
            field: Field::Metadata,
            value: HasValue::Pairs(pairs),
        } => {
            let object = pairs
                .into_iter()
                .map(|(key, text)| {
                    // Strings arrive as themselves, anything else as its JSON text.
                    let value = serde_json::from_str::<Value>(&text)
                        .ok()
                        .filter(|v| !v.is_string())
                        .unwrap_or(Value::String(text));
                    (key, value)
                })
                .collect();
            MetadataCondition::Contains(Value::Object(object))
        }
        Filter::Exists {
            field: Field::Metadata,
            key,
        } => MetadataCondition::HasKey(key),
        Filter::Compare {
            field: Field::MetadataKey,
            op: op @ (CompareOp::Eq | CompareOp::Neq),
            value: FilterValue::Text(key),
        } => negated(MetadataCondition::HasKey(key), op == CompareOp::Neq),
        Filter::Compare {
            field: Field::MetadataValue,
            op: op @ (CompareOp::Eq | CompareOp::Neq),
            ref value,
        } if text_of(value).is_some() => {
            let any = MetadataCondition::AnyValueEquals(text_of(value).unwrap_or_default());
            negated(any, op == CompareOp::Neq)
        }
        Filter::In {
            field: Field::MetadataKey,
            values,
        } => MetadataCondition::Or(
            values
                .iter()
                .filter_map(text_of)
                .map(MetadataCondition::HasKey)
                .collect(),
        ),
        other => return Err(refuse(&other)),
    })
}
