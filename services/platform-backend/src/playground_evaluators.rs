//! Evaluators a playground experiment can run without executing code: exact match, JSON
//! validity, a regular expression, string similarity, and an LLM judge (a model configuration
//! grading the answer against the criteria given).

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Evaluator {
    /// 1 when the answer equals the example's reference output (trimmed), else 0.
    ExactMatch {
        #[serde(default)]
        key: Option<String>,
    },
    /// 1 when the answer is valid JSON.
    JsonValid {
        #[serde(default)]
        key: Option<String>,
    },
    /// 1 when the pattern matches somewhere in the answer.
    Regex {
        pattern: String,
        #[serde(default)]
        key: Option<String>,
    },
    /// Similarity to the reference output, from 0 to 1 (normalised Levenshtein).
    StringDistance {
        #[serde(default)]
        key: Option<String>,
    },
    /// A model grades the answer from 0 to 1 against `criteria`.
    LlmJudge {
        model_config_id: Uuid,
        criteria: String,
        #[serde(default)]
        key: Option<String>,
    },
}

impl Evaluator {
    /// The feedback key the scores are recorded under.
    pub fn key(&self) -> String {
        let (own, default) = match self {
            Evaluator::ExactMatch { key } => (key, "exact_match"),
            Evaluator::JsonValid { key } => (key, "json_valid"),
            Evaluator::Regex { key, .. } => (key, "regex_match"),
            Evaluator::StringDistance { key } => (key, "string_similarity"),
            Evaluator::LlmJudge { key, .. } => (key, "llm_judge"),
        };
        own.clone().unwrap_or_else(|| default.to_owned())
    }

    /// Checks what can be checked before running: the pattern compiles, names are sane.
    pub fn check(&self) -> Result<(), String> {
        if let Evaluator::Regex { pattern, .. } = self {
            Regex::new(pattern).map_err(|e| format!("the pattern does not compile: {e}"))?;
        }
        let key = self.key();
        if key.is_empty() || key.len() > 100 {
            return Err("a feedback key must be 1 to 100 characters".into());
        }
        Ok(())
    }

    /// The score of a code-free evaluator; `None` for the judge (run apart).
    pub fn score(&self, answer: &str, reference: Option<&str>) -> Option<f64> {
        let same = |a: &str, b: &str| a.trim() == b.trim();
        match self {
            Evaluator::ExactMatch { .. } => Some(f64::from(u8::from(
                reference.is_some_and(|r| same(answer, r)),
            ))),
            Evaluator::JsonValid { .. } => Some(f64::from(u8::from(
                serde_json::from_str::<Value>(answer).is_ok(),
            ))),
            Evaluator::Regex { pattern, .. } => Regex::new(pattern)
                .ok()
                .map(|re| f64::from(u8::from(re.is_match(answer)))),
            Evaluator::StringDistance { .. } => Some(reference.map_or(0.0, |r| {
                strsim::normalized_levenshtein(answer.trim(), r.trim())
            })),
            Evaluator::LlmJudge { .. } => None,
        }
    }
}

/// The reference answer of an example: its only output, or its `output`, `answer` or
/// `expected` field, as text.
pub fn reference_text(outputs: &Value) -> Option<String> {
    let object = outputs.as_object()?;
    let value = if object.len() == 1 {
        object.values().next()
    } else {
        ["output", "answer", "expected", "content"]
            .iter()
            .find_map(|k| object.get(*k))
    }?;
    Some(match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn code_free_evaluators_score() {
        let exact = Evaluator::ExactMatch { key: None };
        assert_eq!(exact.score(" Paris ", Some("Paris")), Some(1.0));
        assert_eq!(exact.score("Rome", Some("Paris")), Some(0.0));
        assert_eq!(
            Evaluator::JsonValid { key: None }.score("{\"a\":1}", None),
            Some(1.0)
        );
        assert_eq!(
            Evaluator::JsonValid { key: None }.score("{a", None),
            Some(0.0)
        );
        let regex = Evaluator::Regex {
            pattern: "^\\d+$".into(),
            key: None,
        };
        assert_eq!(regex.score("42", None), Some(1.0));
        let distance = Evaluator::StringDistance { key: None };
        assert!(
            distance
                .score("Pariss", Some("Paris"))
                .is_some_and(|s| s > 0.8 && s < 1.0)
        );
        assert!(
            Evaluator::Regex {
                pattern: "(".into(),
                key: None
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn the_reference_is_the_only_or_the_named_output() {
        assert_eq!(
            reference_text(&json!({"city": "Paris"})).as_deref(),
            Some("Paris")
        );
        assert_eq!(
            reference_text(&json!({"answer": 4, "why": "sum"})).as_deref(),
            Some("4")
        );
        assert_eq!(reference_text(&json!({"a": 1, "b": 2})), None);
    }
}
