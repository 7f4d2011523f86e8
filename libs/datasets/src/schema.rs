//! JSON-Schema validation of example inputs and outputs against their dataset's schemas.

use serde_json::Value;

/// Why a value does not satisfy its schema: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `inputs` or `outputs`, then the JSON pointer of the failing value, e.g. `inputs/question`.
    pub path: String,
    pub message: String,
}

/// Whether `schema` is a usable JSON Schema (checked when a dataset is created or updated).
pub fn check(schema: &Value) -> Result<(), String> {
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Validates `instance` (the example's `root`: `inputs` or `outputs`) against `schema`,
/// reporting the first violation.
pub fn validate(schema: &Value, instance: &Value, root: &str) -> Result<(), Violation> {
    let validator = jsonschema::validator_for(schema).map_err(|e| Violation {
        path: root.to_owned(),
        message: format!("the dataset's schema is invalid: {e}"),
    })?;
    match validator.iter_errors(instance).next() {
        None => Ok(()),
        Some(error) => Err(Violation {
            path: format!("{root}{}", error.instance_path.as_str()),
            message: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_failing_path() {
        let schema = json!({
            "type": "object",
            "properties": {"question": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["question"]
        });
        assert_eq!(
            validate(&schema, &json!({"question": "q", "n": 2}), "inputs"),
            Ok(())
        );
        let wrong = validate(&schema, &json!({"question": 7}), "inputs").expect_err("not a string");
        assert_eq!(wrong.path, "inputs/question");
        assert!(wrong.message.contains("string"), "{}", wrong.message);
        let missing = validate(&schema, &json!({}), "inputs").expect_err("required");
        assert_eq!(missing.path, "inputs");
        assert!(missing.message.contains("question"), "{}", missing.message);
    }

    #[test]
    fn rejects_broken_schemas() {
        assert!(check(&json!({"type": "object"})).is_ok());
        assert!(check(&json!({"type": "no-such-type"})).is_err());
    }
}
