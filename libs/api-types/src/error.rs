//! The bodies of error answers, for the API document and typed clients.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer. General routes answer `{"detail": "..."}`, or for a request that fails
/// validation (422) `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`; ingestion and
/// platform routes answer `{"error": "...", "details": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ErrorDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ErrorDetail {
    Message(String),
    Validation(Vec<ValidationIssue>),
}

/// One failing location of a 422 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidationIssue {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}
