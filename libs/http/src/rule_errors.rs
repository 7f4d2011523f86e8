//! How the domain crates' rule violations answer over HTTP: a 422 naming the body field at
//! fault, so a handler writes `?` on a domain check.

use ironsmith_runs::feedback::{EnforceError, FeedbackRule};

use crate::error::{ApiError, ValidationIssue};

impl From<FeedbackRule> for ApiError {
    fn from(rule: FeedbackRule) -> Self {
        ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["body".into(), rule.field.into()],
            msg: rule.message,
            kind: "value_error".into(),
        }])
    }
}

impl From<EnforceError> for ApiError {
    fn from(error: EnforceError) -> Self {
        match error {
            EnforceError::Rule { rule, .. } => rule.into(),
            EnforceError::Db(error) => error.into(),
        }
    }
}
