//! Feedback's one write path. `POST /feedback`, presigned feedback tokens and multipart
//! `feedback.<id>` parts all read the same wire shape ([`FeedbackWire`]), turn it into the
//! same operation ([`FeedbackOp`], whose `to_row` is the one row builder), and check it
//! against the key's feedback configuration with the same rules ([`check_config`],
//! [`check_against`], [`enforce_configs`]).
//!
//! A key's configuration is its enforced one, else its first (see
//! `ironsmith_db::feedback_configs::get`). Feedback of a key that has none may carry a
//! `feedback_config`: it is checked, the feedback is checked against it, and it becomes the
//! key's first configuration.

use std::collections::HashMap;

use ironsmith_db::{DbError, Pool, feedback_configs};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::op::FeedbackOp;
use crate::wire::lenient_time;

/// Feedback as the SDKs send it, to `POST /feedback` or as a multipart `feedback.<id>` part.
/// Unknown keys are ignored and `null` reads as absent.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = FeedbackBody)]
pub struct FeedbackWire {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub run_id: Option<Uuid>,
    #[serde(default)]
    pub trace_id: Option<Uuid>,
    #[serde(default)]
    pub session_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub key: Option<String>,
    /// A number, or a boolean (true is 1).
    #[serde(default, deserialize_with = "lenient_score")]
    #[schema(schema_with = score_schema)]
    pub score: Option<f64>,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Box<RawValue>>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub correction: Option<Box<RawValue>>,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub feedback_source: Option<Box<RawValue>>,
    #[serde(default, alias = "feedbackConfig")]
    #[schema(value_type = Option<ironsmith_api_types::bodies::FeedbackConfig>)]
    pub feedback_config: Option<Box<RawValue>>,
    #[serde(default)]
    pub comparative_experiment_id: Option<Uuid>,
    #[serde(default)]
    pub feedback_group_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    pub created_at: Option<i64>,
    /// Read from multipart parts; `POST /feedback` dates the modification itself.
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    pub modified_at: Option<i64>,
}

/// A score: a number or a boolean (or absent).
pub fn score_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

/// A score as sent: a number, or a boolean (true is 1); `null` is none.
pub fn score_of(value: &Value) -> Result<Option<f64>, FeedbackRule> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
        Value::Number(n) => Ok(n.as_f64()),
        other => Err(broken(
            "score",
            format!("{other} is not a number or a boolean"),
        )),
    }
}

/// Reads a score with [`score_of`].
pub fn lenient_score<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let score = Option::<Value>::deserialize(deserializer)?.unwrap_or(Value::Null);
    score_of(&score).map_err(|rule| serde::de::Error::custom(rule.message))
}

/// Feedback that breaks a rule: the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field '{field}': {message}")]
pub struct FeedbackRule {
    pub field: &'static str,
    pub message: String,
}

fn broken(field: &'static str, message: impl Into<String>) -> FeedbackRule {
    FeedbackRule {
        field,
        message: message.into(),
    }
}

/// What feedback must be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// A trace (`trace_id`, or `run_id` taken as its own trace until the run is known): a
    /// multipart part is queued on its trace's shard.
    Trace,
    /// A run, a trace or a project (`session_id`): `POST /feedback`.
    Any,
}

/// A JSON value as sent, `null` read as absent.
fn present(value: Option<Box<RawValue>>) -> Option<Box<RawValue>> {
    value.filter(|v| v.get().trim() != "null")
}

impl FeedbackWire {
    /// The operation this feedback stores. `id` names feedback that carries no id, `now_us`
    /// dates it when it carries no time. Its trace is `trace_id`, else its run (until the run
    /// is located), else none (nil: feedback on a project).
    pub fn into_op(
        self,
        id: Uuid,
        now_us: i64,
        anchor: Anchor,
    ) -> Result<FeedbackOp, FeedbackRule> {
        let key = self
            .key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| broken("key", "is required"))?
            .to_owned();
        let trace_id = self.trace_id.or(self.run_id);
        match anchor {
            Anchor::Trace if trace_id.is_none() => {
                return Err(broken(
                    "trace_id",
                    "is required on a multipart feedback part",
                ));
            }
            Anchor::Any if trace_id.is_none() && self.session_id.is_none() => {
                return Err(broken(
                    "run_id",
                    "feedback needs a run, a trace or a project (session_id)",
                ));
            }
            _ => {}
        }
        let created = self.created_at.unwrap_or(now_us);
        Ok(FeedbackOp {
            id: self.id.unwrap_or(id),
            trace_id: trace_id.unwrap_or(Uuid::nil()),
            run_id: self.run_id,
            session_id: self.session_id,
            key,
            score: self.score,
            value: present(self.value),
            comment: self.comment.filter(|c| !c.is_empty()),
            correction: present(self.correction),
            feedback_source: present(self.feedback_source),
            feedback_config: present(self.feedback_config),
            comparative_experiment_id: self.comparative_experiment_id,
            feedback_group_id: self.feedback_group_id,
            extra: present(self.extra),
            created_at_us: created,
            modified_at_us: self.modified_at.unwrap_or(created),
        })
    }
}

/// Checks a feedback configuration's shape (`continuous`, `categorical` or `freeform`).
pub fn check_config(config: &Value) -> Result<(), FeedbackRule> {
    let kind = config
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "continuous" => {
            for bound in ["min", "max"] {
                if config
                    .get(bound)
                    .is_some_and(|v| !v.is_null() && !v.is_number())
                {
                    return Err(broken(
                        "feedback_config",
                        format!("`{bound}` must be a number or null"),
                    ));
                }
            }
            let min = config.get("min").and_then(Value::as_f64);
            let max = config.get("max").and_then(Value::as_f64);
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                return Err(broken(
                    "feedback_config",
                    format!("min ({min}) is greater than max ({max})"),
                ));
            }
            Ok(())
        }
        "categorical" => {
            let categories = config.get("categories").and_then(Value::as_array);
            let Some(categories) = categories.filter(|c| !c.is_empty()) else {
                return Err(broken(
                    "feedback_config",
                    "a categorical configuration needs categories",
                ));
            };
            // Each category is `{"value": <number>, "label": <text, optional>}`.
            for (index, category) in categories.iter().enumerate() {
                let has_value = category.get("value").is_some_and(Value::is_number);
                let label_ok = category
                    .get("label")
                    .is_none_or(|label| label.is_string() || label.is_null());
                if !has_value || !label_ok {
                    return Err(broken(
                        "feedback_config",
                        format!(
                            "category {index} must be an object with a numeric `value` and an \
                             optional text `label`"
                        ),
                    ));
                }
            }
            Ok(())
        }
        "freeform" => Ok(()),
        other => Err(broken(
            "feedback_config",
            format!("type `{other}` is not one of continuous, categorical, freeform"),
        )),
    }
}

/// Whether a score and value fit a configuration of `key`.
pub fn check_against(
    config: &Value,
    key: &str,
    score: Option<f64>,
    value: &Value,
) -> Result<(), FeedbackRule> {
    match config.get("type").and_then(Value::as_str) {
        Some("continuous") => {
            if let Some(score) = score {
                let min = config.get("min").and_then(Value::as_f64);
                let max = config.get("max").and_then(Value::as_f64);
                if min.is_some_and(|m| score < m) || max.is_some_and(|m| score > m) {
                    return Err(broken(
                        "score",
                        format!(
                            "{score} is outside the range of `{key}` ({} to {})",
                            min.map_or("any".into(), |m| m.to_string()),
                            max.map_or("any".into(), |m| m.to_string())
                        ),
                    ));
                }
            }
            Ok(())
        }
        Some("categorical") => {
            let categories = config
                .get("categories")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let by_score = score.is_some_and(|s| {
                categories
                    .iter()
                    .any(|c| c.get("value").and_then(Value::as_f64) == Some(s))
            });
            let by_label = value.as_str().is_some_and(|v| {
                categories
                    .iter()
                    .any(|c| c.get("label").and_then(Value::as_str) == Some(v))
            });
            if score.is_none() && value.is_null() || by_score || by_label {
                Ok(())
            } else {
                Err(broken(
                    "score",
                    format!("the feedback is not one of the categories of `{key}`"),
                ))
            }
        }
        _ => Ok(()),
    }
}

/// Why a batch of feedback was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    #[error("feedback {feedback}: {rule}")]
    Rule { feedback: Uuid, rule: FeedbackRule },
    #[error(transparent)]
    Db(#[from] DbError),
}

fn parsed(raw: Option<&RawValue>) -> Value {
    raw.and_then(|v| serde_json::from_str(v.get()).ok())
        .unwrap_or(Value::Null)
}

/// Checks every feedback of `ops` against its key's configuration in `tenant_id`, in order,
/// and refuses them all if one breaks a rule. Keys without a configuration take the first
/// `feedback_config` one of their feedback carries (checked first); those configurations are
/// created only once every feedback passed. One configuration read per distinct key.
pub async fn enforce_configs(
    db: &Pool,
    tenant_id: Uuid,
    ops: &[FeedbackOp],
) -> Result<(), EnforceError> {
    // Per key: its configuration, and whether it is new (carried by feedback of this batch).
    let mut configs: HashMap<&str, Option<(Value, bool)>> = HashMap::new();
    for op in ops {
        let refused = |rule| EnforceError::Rule {
            feedback: op.id,
            rule,
        };
        let key = op.key.as_str();
        if !configs.contains_key(key) {
            let stored = feedback_configs::get(db, tenant_id, key).await?;
            configs.insert(key, stored.map(|c| (c.config, false)));
        }
        let entry = configs.entry(key).or_default();
        if entry.is_none()
            && let Some(inline) = op.feedback_config.as_deref()
        {
            let inline = parsed(Some(inline));
            check_config(&inline).map_err(refused)?;
            *entry = Some((inline, true));
        }
        if let Some((config, _)) = entry {
            check_against(config, key, op.score, &parsed(op.value.as_deref())).map_err(refused)?;
        }
    }
    for (key, config) in configs {
        if let Some((config, true)) = config {
            feedback_configs::create(db, tenant_id, key, &config, None).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(body: Value) -> FeedbackWire {
        serde_json::from_value(body).expect("feedback wire")
    }

    #[test]
    fn scores_are_numbers_or_flags() {
        assert_eq!(wire(json!({"score": true})).score, Some(1.0));
        assert_eq!(wire(json!({"score": 0.25})).score, Some(0.25));
        assert_eq!(wire(json!({"score": null})).score, None);
        let error = serde_json::from_value::<FeedbackWire>(json!({"score": "high"}))
            .expect_err("a text score");
        assert!(
            error.to_string().contains("not a number or a boolean"),
            "{error}"
        );
    }

    #[test]
    fn the_anchor_decides_what_feedback_needs() {
        let id = Uuid::now_v7();
        let on_project = || wire(json!({"key": "k", "session_id": Uuid::now_v7()}));
        assert!(on_project().into_op(id, 1, Anchor::Any).is_ok());
        let refused = on_project()
            .into_op(id, 1, Anchor::Trace)
            .expect_err("no trace");
        assert_eq!(refused.field, "trace_id");
        let run = Uuid::now_v7();
        let op = wire(json!({"key": " k ", "run_id": run, "value": null}))
            .into_op(id, 7, Anchor::Trace)
            .expect("a run is its own trace until located");
        assert_eq!((op.trace_id, op.key.as_str(), op.id), (run, "k", id));
        assert!(op.value.is_none(), "null reads as absent");
        assert_eq!((op.created_at_us, op.modified_at_us), (7, 7));
        let blank = wire(json!({"key": "  ", "run_id": run})).into_op(id, 1, Anchor::Any);
        assert_eq!(blank.expect_err("blank key").field, "key");
    }

    #[test]
    fn configurations_bound_scores_and_categories() {
        let continuous = json!({"type": "continuous", "min": 0, "max": 1});
        assert!(check_against(&continuous, "k", Some(0.5), &Value::Null).is_ok());
        assert!(check_against(&continuous, "k", Some(2.0), &Value::Null).is_err());
        let categorical = json!({"type": "categorical",
            "categories": [{"value": 1, "label": "good"}, {"value": 0, "label": "bad"}]});
        assert!(check_config(&categorical).is_ok());
        assert!(check_against(&categorical, "k", Some(1.0), &Value::Null).is_ok());
        assert!(check_against(&categorical, "k", None, &json!("bad")).is_ok());
        assert!(check_against(&categorical, "k", Some(3.0), &Value::Null).is_err());
        assert!(check_config(&json!({"type": "continuous", "min": 2, "max": 1})).is_err());
        assert!(check_config(&json!({"type": "categorical", "categories": []})).is_err());
        assert!(check_config(&json!({"type": "stars"})).is_err());
    }
}
