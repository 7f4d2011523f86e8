//! Parts of request bodies that handlers read as JSON (to check them in their own words), so
//! their shape is stated here for the API document and for clients.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a feedback key is scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeedbackConfig {
    /// A number, optionally within `min`..`max`.
    Continuous { min: Option<f64>, max: Option<f64> },
    /// One of the categories' values.
    Categorical {
        #[schema(min_items = 1)]
        categories: Vec<FeedbackCategory>,
    },
    /// Any value, usually text.
    Freeform,
}

/// One category of a categorical feedback configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackCategory {
    pub value: f64,
    pub label: Option<String>,
}

/// One item of an annotation queue's rubric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RubricItem {
    /// The feedback key reviewers score.
    #[schema(min_length = 1, pattern = "\\S")]
    pub feedback_key: String,
    pub description: Option<String>,
    /// Descriptions of particular values.
    #[schema(value_type = Option<Object>)]
    pub value_descriptions: Option<Value>,
    /// Descriptions of particular scores.
    #[schema(value_type = Option<Object>)]
    pub score_descriptions: Option<Value>,
}

/// The multipart form of `POST /datasets/upload`.
#[derive(Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct DatasetUpload {
    /// The CSV or JSON Lines file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The dataset's name; the file's name when absent.
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    pub description: Option<String>,
    /// `kv` (the default), `llm` or `chat`.
    pub data_type: Option<String>,
    /// Columns that become inputs (repeat the part for each).
    pub input_keys: Vec<String>,
    /// Columns that become outputs (repeat the part for each).
    pub output_keys: Vec<String>,
}
