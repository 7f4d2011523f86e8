//! The traced run of a playground call: an LLM run as an SDK's LangChain integration would post
//! it (OpenAI-shaped messages in, the answer and `usage_metadata` out, `ls_provider` and
//! `ls_model_name` so the worker costs it, the first token as an event).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::chat::Completion;
use crate::providers::{self, Call};

/// What the traced run records besides the call.
pub struct RunContext {
    pub run_id: Uuid,
    pub started: DateTime<Utc>,
    pub project: String,
    pub metadata: Map<String, Value>,
    pub reference_example_id: Option<Uuid>,
    pub prompt: Option<String>,
    pub secret_key: Option<String>,
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The traced LLM run, as an SDK would post it.
pub fn run_payload(
    call: &Call,
    request: &providers::Request,
    run: &RunContext,
    completion: &Completion,
    error: Option<&str>,
    first_token: Option<DateTime<Utc>>,
    ended: DateTime<Utc>,
) -> Value {
    use ironsmith_api_types::playground::Provider;
    let p = &call.parameters;
    let mut metadata = run.metadata.clone();
    for (key, value) in [
        ("ls_provider", json!(call.config.provider.ls_provider())),
        ("ls_model_name", json!(call.config.model)),
        ("ls_model_type", json!("chat")),
        ("ls_temperature", json!(p.temperature)),
        ("ls_max_tokens", json!(p.max_tokens)),
        ("ls_stop", json!(p.stop)),
        ("model_config", json!(call.config.name)),
        ("prompt", json!(run.prompt)),
    ] {
        if !value.is_null() {
            metadata.insert(key.to_owned(), value);
        }
    }
    let mut invocation = request.body.clone();
    if let Some(params) = invocation.as_object_mut() {
        params.remove("messages");
    }
    let name = match call.config.provider {
        Provider::Openai | Provider::OpenaiCompatible => "ChatOpenAI",
        Provider::AzureOpenai => "AzureChatOpenAI",
        Provider::Anthropic => "ChatAnthropic",
        Provider::GoogleGenai => "ChatGoogleGenerativeAI",
        Provider::Bedrock => "ChatBedrockConverse",
    };
    let mut inputs = Map::new();
    inputs.insert("messages".into(), json!(call.messages));
    if !call.tools.is_empty() {
        inputs.insert("tools".into(), json!(call.tools));
    }
    let outputs = (error.is_none()).then(|| {
        let mut outputs = Map::new();
        outputs.insert("choices".into(), json!([{"index": 0, "message": completion.message(), "finish_reason": completion.finish_reason}]));
        if let Some(usage) = completion.usage {
            outputs.insert("usage_metadata".into(), json!(usage));
        }
        outputs
    });
    let mut events = Vec::new();
    if let Some(first) = first_token {
        events.push(json!({"name": "new_token", "time": timestamp(first)}));
    }
    json!({
        "id": run.run_id,
        "trace_id": run.run_id,
        "dotted_order": format!("{}{}", run.started.format("%Y%m%dT%H%M%S%6fZ"), run.run_id),
        "name": name,
        "run_type": "llm",
        "start_time": timestamp(run.started),
        "end_time": timestamp(ended),
        "inputs": inputs,
        "outputs": outputs,
        "error": error,
        "events": events,
        "extra": {"metadata": metadata, "invocation_params": invocation},
        "tags": ["playground"],
        "session_name": run.project,
        "reference_example_id": run.reference_example_id,
    })
}
