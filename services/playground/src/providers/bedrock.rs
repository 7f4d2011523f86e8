//! Amazon Bedrock's Converse API (`POST {base}/model/{model}/converse-stream`, the base being
//! `https://bedrock-runtime.{region}.amazonaws.com` unless the configuration names one), signed
//! with AWS Signature Version 4 (service `bedrock`); the answer streams as AWS's binary event
//! stream. Reference: <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>.
//! The access key id is part of the configuration (`options.access_key_id`), the secret access
//! key a workspace secret.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::{AwsSigning, Call, Framing, Request, base_url, join};
use crate::chat::{ChatMessage, Chunk, Part, Role, ToolChoice, Usage};

fn image_block(url: &str) -> Result<Value, String> {
    let (media_type, data) = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .ok_or("Bedrock takes images as data: URLs (base64), not links")?;
    let format = media_type.strip_prefix("image/").unwrap_or(media_type);
    // Bedrock's JSON carries the bytes base64-encoded: already so in a data URL.
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| "the image's data is not valid base64")?;
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

fn blocks(message: &ChatMessage) -> Result<Vec<Value>, String> {
    if message.role == Role::Tool {
        return Ok(vec![json!({"toolResult": {
            "toolUseId": message.tool_call_id.clone().unwrap_or_default(),
            "content": [{"text": message.content.joined_text()}],
        }})]);
    }
    let mut out = Vec::new();
    for part in message.content.parts() {
        match part {
            Part::Text { text } if text.is_empty() => {}
            Part::Text { text } => out.push(json!({"text": text})),
            Part::ImageUrl { image_url } => out.push(image_block(&image_url.url)?),
        }
    }
    for call in &message.tool_calls {
        let input: Value =
            serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
        out.push(
            json!({"toolUse": {"toolUseId": call.id, "name": call.function.name, "input": input}}),
        );
    }
    Ok(out)
}

fn tool_config(call: &Call) -> Option<Value> {
    let mut specs: Vec<Value> = call
        .tools
        .iter()
        .map(|t| json!({"toolSpec": t.declaration("inputSchema", json!({"json": t.parameters}))}))
        .collect();
    let mut choice = call.tool_choice.as_ref().and_then(|choice| match choice {
        ToolChoice::Mode(mode) => match mode.as_str() {
            "required" | "any" => Some(json!({"any": {}})),
            "auto" => Some(json!({"auto": {}})),
            // Bedrock has no "none": the tools are left out instead.
            _ => None,
        },
        ToolChoice::Named { name } => Some(json!({"tool": {"name": name}})),
    });
    if call.tool_choice == Some(ToolChoice::Mode("none".into())) {
        specs.clear();
    }
    if let Some(schema) = &call.output_schema {
        specs.push(json!({"toolSpec": {"name": schema.name, "description": "Answer with this structure.", "inputSchema": {"json": schema.schema}}}));
        choice = Some(json!({"tool": {"name": schema.name}}));
    }
    if specs.is_empty() {
        return None;
    }
    let mut config = json!({"tools": specs});
    if let (Some(choice), Some(object)) = (choice, config.as_object_mut()) {
        object.insert("toolChoice".into(), choice);
    }
    Some(config)
}

pub fn request(call: &Call) -> Result<Request, String> {
    let config = &call.config;
    let options = &config.options;
    let region = options
        .region
        .clone()
        .ok_or("Bedrock needs options.region")?;
    let access_key_id = options
        .access_key_id
        .clone()
        .ok_or("Bedrock needs options.access_key_id")?;
    let secret_access_key = call
        .api_key
        .clone()
        .ok_or("Bedrock needs the secret access key in a workspace secret")?;
    let model: String = url::form_urlencoded::byte_serialize(config.model.as_bytes()).collect();
    let url = join(
        &base_url(config)?,
        &format!("model/{model}/converse-stream"),
    );
    let (system, messages) = super::turns(&call.messages, "assistant", blocks)?;
    let system: Vec<Value> = system
        .into_iter()
        .map(|text| json!({"text": text}))
        .collect();
    let p = &call.parameters;
    let mut inference = Map::new();
    for (key, value) in [
        ("maxTokens", p.max_tokens.map(|m| json!(m))),
        ("temperature", p.temperature.map(|t| json!(t.min(1.0)))),
        ("topP", p.top_p.map(|t| json!(t))),
        ("stopSequences", p.stop.as_ref().map(|s| json!(s))),
    ] {
        if let Some(value) = value {
            inference.insert(key.into(), value);
        }
    }
    let mut body = Map::new();
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(tools) = tool_config(call) {
        body.insert("toolConfig".into(), tools);
    }
    Ok(Request {
        url,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "application/vnd.amazon.eventstream".to_owned()),
        ],
        body: Value::Object(body),
        aws: Some(AwsSigning {
            access_key_id,
            secret_access_key,
            region,
            service: "bedrock",
        }),
        framing: Framing::AwsEventStream,
    })
}

/// Reads the events of a Converse stream (named by their `:event-type`; an exception arrives as
/// `exception:<type>`).
#[derive(Debug, Default)]
pub struct Parser {
    pub done: bool,
    /// A structured output: the forced tool's input is the answer's text.
    structured: bool,
    /// Content block index → tool call index, for tool-use blocks.
    tools: HashMap<u64, usize>,
}

impl Parser {
    pub fn new(structured: bool) -> Parser {
        Parser {
            structured,
            ..Parser::default()
        }
    }

    pub fn event(&mut self, event: &str, data: &str) -> Result<Vec<Chunk>, String> {
        let value: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        if let Some(kind) = event.strip_prefix("exception:") {
            let message = value.get("message").and_then(Value::as_str).unwrap_or(kind);
            return Err(format!("{kind}: {message}"));
        }
        let index = value
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let text = |v: Option<&Value>, key: &str| {
            v.and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(match event {
            "contentBlockStart" => match value.pointer("/start/toolUse") {
                Some(_) if self.structured => Vec::new(),
                Some(tool) => {
                    let next = self.tools.len();
                    self.tools.insert(index, next);
                    vec![Chunk::ToolCall {
                        index: next,
                        id: text(Some(tool), "toolUseId"),
                        name: text(Some(tool), "name"),
                        arguments: String::new(),
                    }]
                }
                None => Vec::new(),
            },
            "contentBlockDelta" => {
                let delta = value.get("delta");
                let input = text(delta.and_then(|d| d.get("toolUse")), "input");
                if let Some(t) = text(delta, "text") {
                    vec![Chunk::Text(t)]
                } else if let (Some(input), true) = (&input, self.structured) {
                    vec![Chunk::Text(input.clone())]
                } else if let (Some(input), Some(tool)) = (input, self.tools.get(&index)) {
                    vec![Chunk::ToolCall {
                        index: *tool,
                        id: None,
                        name: None,
                        arguments: input,
                    }]
                } else {
                    Vec::new()
                }
            }
            "messageStop" => text(Some(&value), "stopReason")
                .map(Chunk::Finish)
                .into_iter()
                .collect(),
            "metadata" => {
                self.done = true;
                let usage = value.get("usage");
                let count = |key: &str| {
                    usage
                        .and_then(|u| u.get(key))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                vec![Chunk::Usage(Usage {
                    input_tokens: count("inputTokens"),
                    output_tokens: count("outputTokens"),
                    total_tokens: count("inputTokens") + count("outputTokens"),
                })]
            }
            _ => Vec::new(),
        })
    }
}
