//! Compiles a checked [`Filter`] into a ClickHouse condition over the `runs` columns, with every
//! value bound. The condition applies to one (deduplicated) run row; feedback conditions become
//! a sub-query over `feedback`.
//!
//! Key/value pairs: inside one `and`, the positive conditions on one family
//! (`metadata_key`/`metadata_value`, input, output, feedback) must hold for one and the same
//! entry, so they compile into a single `arrayExists` (or one feedback sub-query). A `neq` on a
//! pair field means that no entry matches.

use std::collections::BTreeMap;

use ironsmith_filter::{CompareOp, Field, Filter, HasValue, PairFamily, Value};
use uuid::Uuid;

use crate::sql::{Param, Sql, join};

/// Compiles `filter` for runs of `tenant_id`.
pub fn compile(filter: &Filter, tenant_id: Uuid) -> Sql {
    Compiler { tenant_id }.filter(filter)
}

/// Whether `filter` reads `extra` (a search of metadata), which listings otherwise never touch.
pub fn reads_payloads(filter: &Filter) -> bool {
    match filter {
        Filter::And(items) | Filter::Or(items) => items.iter().any(reads_payloads),
        Filter::Not(inner) => reads_payloads(inner),
        Filter::Search { field, .. } => matches!(field, Some(Field::Metadata)),
        _ => false,
    }
}

struct Compiler {
    tenant_id: Uuid,
}

impl Compiler {
    fn filter(&self, filter: &Filter) -> Sql {
        match filter {
            Filter::And(items) => self.and(items),
            Filter::Or(items) => join(
                &items.iter().map(|f| self.filter(f)).collect::<Vec<_>>(),
                " OR ",
            ),
            Filter::Not(inner) => {
                let mut sql = Sql::new("NOT (");
                sql.append(&self.filter(inner)).push(")");
                sql
            }
            leaf if leaf.pair_family().is_some() => self.pair_leaf(leaf),
            Filter::Compare { field, op, value } => compare(*field, *op, value),
            Filter::In { field, values } => join(
                &values
                    .iter()
                    .map(|value| compare(*field, CompareOp::Eq, value))
                    .collect::<Vec<_>>(),
                " OR ",
            ),
            Filter::Has { field, value } => has(*field, value),
            Filter::Exists { field, key } => {
                let mut sql = Sql::new(match field {
                    Field::Inputs => "has(input_keys, ",
                    Field::Outputs => "has(output_keys, ",
                    _ => "has(metadata_keys, ",
                });
                sql.bind(key.as_str()).push(")");
                sql
            }
            Filter::Search { field, text } => self.search(*field, text),
        }
    }

    /// `and`: positive pair conditions of one family combine into one entry test.
    fn and(&self, items: &[Filter]) -> Sql {
        let mut families: BTreeMap<u8, (PairFamily, Vec<&Filter>)> = BTreeMap::new();
        let mut parts = Vec::new();
        for item in items {
            match item.pair_family() {
                Some(family) if is_positive(item) => {
                    families
                        .entry(family as u8)
                        .or_insert_with(|| (family, Vec::new()))
                        .1
                        .push(item);
                }
                _ => parts.push(self.filter(item)),
            }
        }
        for (family, leaves) in families.into_values() {
            parts.push(self.entry_exists(family, &leaves));
        }
        join(&parts, " AND ")
    }

    fn pair_leaf(&self, leaf: &Filter) -> Sql {
        let family = leaf.pair_family().unwrap_or(PairFamily::Metadata);
        if is_positive(leaf) {
            return self.entry_exists(family, &[leaf]);
        }
        // `neq(metadata_key, "k")`: no entry has key k.
        let Filter::Compare { field, value, .. } = leaf else {
            return self.entry_exists(family, &[leaf]);
        };
        let positive = Filter::Compare {
            field: *field,
            op: CompareOp::Eq,
            value: value.clone(),
        };
        let mut sql = Sql::new("NOT (");
        sql.append(&self.entry_exists(family, &[&positive]))
            .push(")");
        sql
    }

    /// Some entry of `family` satisfies every leaf.
    fn entry_exists(&self, family: PairFamily, leaves: &[&Filter]) -> Sql {
        let conditions: Vec<Sql> = leaves.iter().map(|leaf| entry_condition(leaf)).collect();
        let condition = join(&conditions, " AND ");
        let (keys, values) = match family {
            PairFamily::Metadata => ("metadata_keys", "metadata_values"),
            PairFamily::Input => ("input_keys", "input_values"),
            PairFamily::Output => ("output_keys", "output_values"),
            PairFamily::Feedback => {
                let mut sql = Sql::new(
                    "id IN (SELECT assumeNotNull(run_id) FROM (SELECT run_id, key, score, value, \
                     is_deleted FROM feedback WHERE tenant_id = ",
                );
                sql.bind(self.tenant_id)
                    .push(" ORDER BY version DESC LIMIT 1 BY id) WHERE is_deleted = 0 AND run_id IS NOT NULL AND ")
                    .append(&condition)
                    .push(")");
                return sql;
            }
        };
        let mut sql = Sql::new("arrayExists((entry_key, entry_value) -> (");
        sql.append(&condition)
            .push(&format!("), {keys}, {values})"));
        sql
    }
}

fn is_positive(leaf: &Filter) -> bool {
    !matches!(
        leaf,
        Filter::Compare {
            op: CompareOp::Neq,
            ..
        }
    )
}

/// One leaf on an entry: `entry_key`/`entry_value` inside `arrayExists`, or the feedback
/// columns `key`, `score`, `value`.
fn entry_condition(leaf: &Filter) -> Sql {
    let (field, op, values): (Field, CompareOp, Vec<&Value>) = match leaf {
        Filter::Compare { field, op, value } => (*field, *op, vec![value]),
        Filter::In { field, values } => (*field, CompareOp::Eq, values.iter().collect()),
        _ => return Sql::new("1"),
    };
    let column = match field {
        Field::MetadataKey | Field::InputKey | Field::OutputKey => "entry_key",
        Field::MetadataValue | Field::InputValue | Field::OutputValue => "entry_value",
        Field::FeedbackKey => "key",
        Field::FeedbackScore => "score",
        _ => "value",
    };
    let parts: Vec<Sql> = values
        .into_iter()
        .map(|value| {
            let mut sql = Sql::default();
            match (field, value) {
                (Field::FeedbackScore, Value::Number(n)) => {
                    sql.push(&format!("{column} {} ", operator(op))).bind(*n);
                }
                // Feedback values are stored as JSON: a string value is quoted there.
                (Field::FeedbackValue, value) => {
                    let text = text_of(value);
                    let quoted = serde_json::Value::String(text.clone()).to_string();
                    sql.push(&format!("{column} IN "))
                        .bind(Param::StrSet(vec![text, quoted]));
                }
                (_, value) => {
                    sql.push(&format!("{column} = ")).bind(text_of(value));
                }
            }
            sql
        })
        .collect();
    join(&parts, " OR ")
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Text(text) => text.clone(),
        other => other.to_string(),
    }
}

fn operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Neq => "!=",
        CompareOp::Gt => ">",
        CompareOp::Gte => ">=",
        CompareOp::Lt => "<",
        CompareOp::Lte => "<=",
    }
}

/// `field op value` for a scalar field of a run.
fn compare(field: Field, op: CompareOp, value: &Value) -> Sql {
    let mut sql = Sql::default();
    let sign = operator(op);
    let negate = op == CompareOp::Neq;
    match (field, value) {
        (Field::Error, Value::Null) => {
            sql.push(if negate { "error != ''" } else { "error = ''" });
        }
        (Field::Error, Value::Bool(errored)) => {
            sql.push(if *errored != negate {
                "error != ''"
            } else {
                "error = ''"
            });
        }
        (Field::ParentRunId | Field::ReferenceExampleId, Value::Null) => {
            let column = column(field);
            sql.push(&format!(
                "{column} {}",
                if negate { "IS NOT NULL" } else { "IS NULL" }
            ));
        }
        (Field::IsRoot, Value::Bool(root)) => {
            let is_root = *root != negate;
            sql.push(if is_root {
                "parent_run_id IS NULL"
            } else {
                "parent_run_id IS NOT NULL"
            });
        }
        (Field::Tags, value) => {
            sql.push(if negate {
                "NOT has(tags, "
            } else {
                "has(tags, "
            })
            .bind(text_of(value))
            .push(")");
        }
        (Field::Latency, Value::Seconds(seconds)) => {
            sql.push(&format!("(end_time_us - start_time_us) {sign} "))
                .bind(seconds * 1e6);
        }
        (Field::FirstTokenTime, Value::Seconds(seconds)) => {
            sql.push(&format!("(first_token_time_us - start_time_us) {sign} "))
                .bind(seconds * 1e6);
        }
        (_, Value::Time(us)) => {
            sql.push(&format!("{} {sign} ", column(field))).bind(*us);
        }
        (_, Value::Number(n)) => {
            sql.push(&format!("{} {sign} ", column(field))).bind(*n);
        }
        (_, Value::Uuid(id)) => {
            sql.push(&format!("{} {sign} ", column(field))).bind(*id);
        }
        (_, Value::Text(text)) => {
            sql.push(&format!("{} {sign} ", column(field)))
                .bind(text.as_str());
        }
        // The checker admits no other combination; match nothing rather than everything.
        _ => {
            sql.push("0");
        }
    }
    sql
}

/// The `runs` column behind a scalar field.
fn column(field: Field) -> &'static str {
    match field {
        Field::Id => "id",
        Field::TraceId => "trace_id",
        Field::ParentRunId => "parent_run_id",
        Field::ReferenceExampleId => "reference_example_id",
        Field::SessionId => "session_id",
        Field::Name => "name",
        Field::RunType => "run_type",
        Field::Status => "status",
        Field::ThreadId => "thread_id",
        Field::StartTime => "start_time_us",
        Field::EndTime => "end_time_us",
        Field::FirstTokenTime => "first_token_time_us",
        Field::TotalTokens => "total_tokens",
        Field::PromptTokens => "prompt_tokens",
        Field::CompletionTokens => "completion_tokens",
        Field::TotalCost => "total_cost",
        Field::PromptCost => "prompt_cost",
        Field::CompletionCost => "completion_cost",
        Field::Error => "error",
        _ => "name",
    }
}

fn has(field: Field, value: &HasValue) -> Sql {
    match value {
        HasValue::Tag(tag) => {
            let mut sql = Sql::new("has(tags, ");
            sql.bind(tag.as_str()).push(")");
            sql
        }
        HasValue::Pairs(pairs) if pairs.is_empty() => Sql::new("1"),
        HasValue::Pairs(pairs) => {
            let (keys, values) = match field {
                Field::Inputs => ("input_keys", "input_values"),
                Field::Outputs => ("output_keys", "output_values"),
                _ => ("metadata_keys", "metadata_values"),
            };
            let parts: Vec<Sql> = pairs
                .iter()
                .map(|(key, value)| {
                    let mut sql = Sql::new("arrayExists((entry_key, entry_value) -> entry_key = ");
                    sql.bind(key.as_str())
                        .push(" AND entry_value = ")
                        .bind(value.as_str())
                        .push(&format!(", {keys}, {values})"));
                    sql
                })
                .collect();
            join(&parts, " AND ")
        }
    }
}

impl Compiler {
    /// Case-insensitive substring search. Inputs and outputs are searched in `run_payloads` (any
    /// version of the run); payloads kept in object storage through their 200-character
    /// previews.
    fn search(&self, field: Option<Field>, text: &str) -> Sql {
        let (columns, payloads): (&[&str], &[&str]) = match field {
            None => (
                &["name", "error", "inputs_preview", "outputs_preview"],
                &["inputs", "outputs"],
            ),
            Some(Field::Inputs) => (&["inputs_preview"], &["inputs"]),
            Some(Field::Outputs) => (&["outputs_preview"], &["outputs"]),
            Some(Field::Metadata) => (&["extra"], &[]),
            Some(Field::Tags) => (&["arrayStringConcat(tags, ' ')"], &[]),
            Some(Field::Id) => (&["toString(id)"], &[]),
            Some(Field::TraceId) => (&["toString(trace_id)"], &[]),
            Some(Field::SessionId) => (&["toString(session_id)"], &[]),
            Some(Field::ParentRunId) => (&["toString(assumeNotNull(parent_run_id))"], &[]),
            Some(Field::ReferenceExampleId) => {
                (&["toString(assumeNotNull(reference_example_id))"], &[])
            }
            Some(Field::RunType) => (&["run_type"], &[]),
            Some(Field::Status) => (&["status"], &[]),
            Some(Field::ThreadId) => (&["thread_id"], &[]),
            Some(Field::Error) => (&["error"], &[]),
            Some(_) => (&["name"], &[]),
        };
        let contains = |column: &str| {
            let mut sql = Sql::new(&format!("positionCaseInsensitiveUTF8({column}, "));
            sql.bind(text).push(") > 0");
            sql
        };
        let mut parts: Vec<Sql> = columns.iter().map(|c| contains(c)).collect();
        if !payloads.is_empty() {
            let inner: Vec<Sql> = payloads.iter().map(|c| contains(c)).collect();
            let mut sql = Sql::new("id IN (SELECT id FROM run_payloads WHERE tenant_id = ");
            sql.bind(self.tenant_id)
                .push(" AND (")
                .append(&join(&inner, " OR "))
                .push("))");
            parts.push(sql);
        }
        join(&parts, " OR ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str) -> (String, Vec<Param>) {
        let compiled = compile(&Filter::parse(text).expect("parses"), Uuid::nil());
        (compiled.text().to_owned(), compiled.params().to_vec())
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let (text, params) = sql(r#"eq(name, "x'); DROP TABLE runs; --")"#);
        assert_eq!(text, "name = ?");
        assert_eq!(params, vec![Param::Str("x'); DROP TABLE runs; --".into())]);
    }

    #[test]
    fn pairs_in_one_and_test_one_entry() {
        let (text, params) =
            sql("and(eq(metadata_key, 'k'), eq(metadata_value, 'v'), eq(name, 'n'))");
        assert_eq!(
            text,
            "(name = ?) AND (arrayExists((entry_key, entry_value) -> ((entry_key = ?) AND (entry_value = ?)), metadata_keys, metadata_values))"
        );
        assert_eq!(
            params,
            vec![
                Param::Str("n".into()),
                Param::Str("k".into()),
                Param::Str("v".into())
            ]
        );
        // Across `or`, each leaf stands alone.
        let (text, _) = sql("or(eq(metadata_key, 'k'), eq(metadata_value, 'v'))");
        assert_eq!(text.matches("arrayExists").count(), 2);
    }

    #[test]
    fn feedback_pairs_become_one_sub_query() {
        let (text, params) = sql("and(eq(feedback_key, 'correctness'), gt(feedback_score, 0.5))");
        assert!(
            text.starts_with("id IN (SELECT assumeNotNull(run_id) FROM (SELECT"),
            "{text}"
        );
        assert!(text.contains("(key = ?) AND (score > ?)"), "{text}");
        assert_eq!(
            params[1..],
            [Param::Str("correctness".into()), Param::F64(0.5)]
        );
    }

    #[test]
    fn special_fields() {
        assert_eq!(sql("neq(error, null)").0, "error != ''");
        assert_eq!(sql("eq(is_root, false)").0, "parent_run_id IS NOT NULL");
        assert_eq!(sql("eq(parent_run_id, null)").0, "parent_run_id IS NULL");
        let (text, params) = sql("gt(latency, '2s')");
        assert_eq!(
            (text.as_str(), params),
            ("(end_time_us - start_time_us) > ?", vec![Param::F64(2e6)])
        );
        assert_eq!(
            sql("neq(metadata_key, 'k')").0,
            "NOT (arrayExists((entry_key, entry_value) -> (entry_key = ?), metadata_keys, metadata_values))"
        );
        assert_eq!(sql("exists(inputs, 'q')").0, "has(input_keys, ?)");
        assert!(reads_payloads(
            &Filter::parse("and(eq(name, 'a'), search(metadata, 'x'))").expect("parses")
        ));
        assert!(!reads_payloads(
            &Filter::parse("search('x')").expect("parses")
        ));
        let (text, params) = sql("search('Needle')");
        assert!(
            text.ends_with("OR (id IN (SELECT id FROM run_payloads WHERE tenant_id = ? AND ((positionCaseInsensitiveUTF8(inputs, ?) > 0) OR (positionCaseInsensitiveUTF8(outputs, ?) > 0))))"),
            "{text}"
        );
        assert_eq!(params.len(), 7);
    }
}
