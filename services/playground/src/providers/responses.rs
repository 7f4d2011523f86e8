//! OpenAI's Responses API (`POST {base}/responses`, streamed as typed events), chosen with the
//! configuration option `api = "responses"`. Reference:
//! <https://platform.openai.com/docs/api-reference/responses>. System messages become
//! `instructions`; tool calls and results are `function_call` and `function_call_output` items.
//! The API takes no `stop` or `seed`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Call, Request, base_url, join};
use crate::chat::{ChatMessage, Chunk, Part, Role, ToolChoice, Usage};

fn items(message: &ChatMessage) -> Vec<Value> {
    match message.role {
        Role::Tool => vec![json!({
            "type": "function_call_output",
            "call_id": message.tool_call_id.clone().unwrap_or_default(),
            "output": message.content.joined_text(),
        })],
        Role::Assistant => {
            let mut out = Vec::new();
            let text = message.content.joined_text();
            if !text.is_empty() {
                out.push(json!({"role": "assistant", "content": [{"type": "output_text", "text": text}]}));
            }
            for call in &message.tool_calls {
                out.push(json!({"type": "function_call", "call_id": call.id, "name": call.function.name, "arguments": call.function.arguments}));
            }
            out
        }
        Role::User | Role::System => {
            let content: Vec<Value> = message
                .content
                .parts()
                .into_iter()
                .map(|part| match part {
                    Part::Text { text } => json!({"type": "input_text", "text": text}),
                    Part::ImageUrl { image_url } => {
                        json!({"type": "input_image", "image_url": image_url.url})
                    }
                })
                .collect();
            vec![json!({"role": "user", "content": content})]
        }
    }
}

pub fn request(call: &Call) -> Result<Request, String> {
    let config = &call.config;
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &call.api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    let instructions: Vec<String> = call
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.joined_text())
        .collect();
    let input: Vec<Value> = call
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .flat_map(items)
        .collect();
    let p = &call.parameters;
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("input".into(), Value::Array(input));
    body.insert("stream".into(), json!(true));
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions.join("\n\n")));
    }
    for (key, value) in [
        ("temperature", p.temperature.map(|t| json!(t))),
        ("max_output_tokens", p.max_tokens.map(|m| json!(m))),
        ("top_p", p.top_p.map(|t| json!(t))),
        (
            "reasoning",
            p.reasoning_effort.as_ref().map(|e| json!({"effort": e})),
        ),
    ] {
        if let Some(value) = value {
            body.insert(key.into(), value);
        }
    }
    if !call.tools.is_empty() {
        let tools: Vec<Value> = call
            .tools
            .iter()
            .map(|t| {
                let mut tool = t.declaration("parameters", t.parameters.clone());
                tool.insert("type".into(), json!("function"));
                Value::Object(tool)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &call.tool_choice {
            body.insert(
                "tool_choice".into(),
                match choice {
                    ToolChoice::Mode(mode) => json!(mode),
                    ToolChoice::Named { name } => json!({"type": "function", "name": name}),
                },
            );
        }
    }
    if let Some(schema) = &call.output_schema {
        body.insert(
            "text".into(),
            json!({"format": {"type": "json_schema", "name": schema.name, "schema": schema.schema, "strict": true}}),
        );
    }
    Ok(Request {
        url: join(&base_url(config)?, "responses"),
        headers,
        body: Value::Object(body),
        aws: None,
        framing: super::Framing::Sse,
    })
}

/// Reads the typed events of a streamed response.
#[derive(Debug, Default)]
pub struct Parser {
    pub done: bool,
    /// Output item index → tool call index, for function calls.
    calls: HashMap<u64, usize>,
}

impl Parser {
    pub fn event(&mut self, event: &str, data: &str) -> Result<Vec<Chunk>, String> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let value: Value = serde_json::from_str(data)
            .map_err(|e| format!("the provider sent an event that is not JSON: {e}"))?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(event);
        let index = value
            .get("output_index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(match kind {
            "response.output_text.delta" => {
                text(&value, "delta").map(Chunk::Text).into_iter().collect()
            }
            "response.output_item.added" => {
                let item = value.get("item").cloned().unwrap_or_default();
                if item.get("type").and_then(Value::as_str) != Some("function_call") {
                    return Ok(Vec::new());
                }
                let next = self.calls.len();
                self.calls.insert(index, next);
                vec![Chunk::ToolCall {
                    index: next,
                    id: text(&item, "call_id"),
                    name: text(&item, "name"),
                    arguments: text(&item, "arguments").unwrap_or_default(),
                }]
            }
            "response.function_call_arguments.delta" => match self.calls.get(&index) {
                Some(call) => vec![Chunk::ToolCall {
                    index: *call,
                    id: None,
                    name: None,
                    arguments: text(&value, "delta").unwrap_or_default(),
                }],
                None => Vec::new(),
            },
            "response.completed" | "response.incomplete" => {
                self.done = true;
                let response = value.get("response").cloned().unwrap_or_default();
                let mut out = Vec::new();
                if let Some(usage) = response.get("usage") {
                    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
                    out.push(Chunk::Usage(Usage {
                        input_tokens: count("input_tokens"),
                        output_tokens: count("output_tokens"),
                        total_tokens: count("input_tokens") + count("output_tokens"),
                    }));
                }
                let reason = if kind == "response.completed" {
                    if self.calls.is_empty() {
                        "stop"
                    } else {
                        "tool_calls"
                    }
                } else {
                    "length"
                };
                out.push(Chunk::Finish(reason.to_owned()));
                out
            }
            "response.failed" => {
                return Err(value
                    .pointer("/response/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the response failed")
                    .to_owned());
            }
            "error" => return Err(text(&value, "message").unwrap_or_else(|| value.to_string())),
            _ => Vec::new(),
        })
    }
}
