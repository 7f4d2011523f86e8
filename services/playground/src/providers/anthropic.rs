//! Anthropic's Messages API (`POST {base}/v1/messages`, streamed), called as Anthropic's
//! official client calls it: the key as a bearer token and the API version it names.
//! Reference: <https://docs.anthropic.com/en/api/messages> and its streaming events.
//! System messages go to `system`; tool results are user messages of `tool_result` blocks;
//! consecutive messages of one role are merged (the API wants them alternating). A structured
//! output is a tool the model must call, whose input is the answer.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Call, Request, base_url, join};
use crate::chat::{ChatMessage, Chunk, Part, Role, ToolChoice, Usage};

/// The API version every request names: the one the official clients send (`anthropic` 2.10
/// on PyPI), whose request and event shapes are the ones mapped here.
pub const VERSION: &str = "2026-10-21";
/// `max_tokens` is required by the API: used when the configuration sets none.
const DEFAULT_MAX_TOKENS: u32 = 4096;

fn thinking_budget(effort: &str) -> u32 {
    match effort {
        "minimal" | "low" => 1024,
        "medium" => 4096,
        _ => 16384,
    }
}

fn image_block(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media_type, data)) = rest.split_once(";base64,")
    {
        return json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}});
    }
    json!({"type": "image", "source": {"type": "url", "url": url}})
}

fn blocks(message: &ChatMessage) -> Vec<Value> {
    let mut out = Vec::new();
    if message.role == Role::Tool {
        out.push(json!({
            "type": "tool_result",
            "tool_use_id": message.tool_call_id.clone().unwrap_or_default(),
            "content": message.content.joined_text(),
        }));
        return out;
    }
    for part in message.content.parts() {
        match part {
            Part::Text { text } if !text.is_empty() => {
                out.push(json!({"type": "text", "text": text}))
            }
            Part::Text { .. } => {}
            Part::ImageUrl { image_url } => out.push(image_block(&image_url.url)),
        }
    }
    for call in &message.tool_calls {
        let input: Value =
            serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
        out.push(
            json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}),
        );
    }
    out
}

/// The system prompt and the alternating user and assistant messages.
#[allow(clippy::type_complexity)]
fn conversation(call: &Call) -> Result<(Vec<String>, Vec<(&'static str, Vec<Value>)>), String> {
    let (system, messages) =
        super::turns(&call.messages, "assistant", |m| Ok::<_, String>(blocks(m)))?;
    if messages.is_empty() {
        return Err("Anthropic needs at least one user message besides the system prompt".into());
    }
    Ok((system, messages))
}

pub fn request(call: &Call) -> Result<Request, String> {
    let config = &call.config;
    let url = join(&base_url(config)?, "v1/messages");
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("anthropic-version", VERSION.to_owned()),
    ];
    if let Some(key) = &call.api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    let (system, messages) = conversation(call)?;
    let p = &call.parameters;
    let max_tokens = p.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("max_tokens".into(), json!(max_tokens));
    body.insert("stream".into(), json!(true));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    let thinking = p.reasoning_effort.as_deref().map(thinking_budget);
    if let Some(budget) = thinking {
        if budget >= max_tokens {
            return Err(format!(
                "reasoning effort {} needs max_tokens above {budget}",
                p.reasoning_effort.as_deref().unwrap_or_default()
            ));
        }
        // Extended thinking does not take a temperature or top_p.
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    } else {
        if let Some(t) = p.temperature {
            // Anthropic's temperature runs from 0 to 1.
            body.insert("temperature".into(), json!(t.min(1.0)));
        }
        if let Some(t) = p.top_p {
            body.insert("top_p".into(), json!(t));
        }
    }
    if let Some(stop) = &p.stop {
        body.insert("stop_sequences".into(), json!(stop));
    }
    tools(call, &mut body);
    Ok(Request {
        url,
        headers,
        body: Value::Object(body),
        aws: None,
        framing: super::Framing::Sse,
    })
}

fn tools(call: &Call, body: &mut Map<String, Value>) {
    let mut tools: Vec<Value> = call
        .tools
        .iter()
        .map(|t| Value::Object(t.declaration("input_schema", t.parameters.clone())))
        .collect();
    let mut tool_choice = call.tool_choice.as_ref().map(|choice| match choice {
        ToolChoice::Mode(mode) => match mode.as_str() {
            "required" | "any" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            _ => json!({"type": "auto"}),
        },
        ToolChoice::Named { name } => json!({"type": "tool", "name": name}),
    });
    if let Some(schema) = &call.output_schema {
        tools.push(json!({"name": schema.name, "description": "Answer with this structure.", "input_schema": schema.schema}));
        tool_choice = Some(json!({"type": "tool", "name": schema.name}));
    }
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice {
        body.insert("tool_choice".into(), choice);
    }
}

/// Reads the typed events of a streamed message.
#[derive(Debug, Default)]
pub struct Parser {
    pub done: bool,
    /// A structured output: the forced tool's input is the answer's text.
    structured: bool,
    /// Content block index → tool call index, for tool-use blocks.
    tools: HashMap<u64, usize>,
    input_tokens: u64,
}

impl Parser {
    pub fn new(structured: bool) -> Parser {
        Parser {
            structured,
            ..Parser::default()
        }
    }

    pub fn event(&mut self, event: &str, data: &str) -> Result<Vec<Chunk>, String> {
        let value: Value = match data.trim() {
            "" => return Ok(Vec::new()),
            text => serde_json::from_str(text)
                .map_err(|e| format!("the provider sent an event that is not JSON: {e}"))?,
        };
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(event);
        let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let usage = value.pointer("/message/usage");
                self.input_tokens = usage
                    .and_then(|u| u.get("input_tokens"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let output = usage
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                out.push(self.usage(output));
            }
            "content_block_start" => out.extend(self.block_start(&value, index)),
            "content_block_delta" => out.extend(self.block_delta(&value, index)),
            "message_delta" => {
                if let Some(reason) = value.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.push(Chunk::Finish(reason.to_owned()));
                }
                if let Some(output) = value
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                {
                    out.push(self.usage(output));
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                return Err(value
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .map_or_else(|| value.to_string(), str::to_owned));
            }
            // ping, content_block_stop
            _ => {}
        }
        Ok(out)
    }

    fn block_start(&mut self, value: &Value, index: u64) -> Option<Chunk> {
        let block = value.get("content_block");
        let text = |key: &str| block.and_then(|b| b.get(key)).and_then(Value::as_str);
        match text("type") {
            Some("tool_use") if !self.structured => {
                let next = self.tools.len();
                self.tools.insert(index, next);
                Some(Chunk::ToolCall {
                    index: next,
                    id: text("id").map(str::to_owned),
                    name: text("name").map(str::to_owned),
                    arguments: String::new(),
                })
            }
            Some("text") => text("text")
                .filter(|t| !t.is_empty())
                .map(|t| Chunk::Text(t.to_owned())),
            _ => None,
        }
    }

    fn block_delta(&self, value: &Value, index: u64) -> Option<Chunk> {
        let delta = value.get("delta");
        let text = |key: &str| delta.and_then(|d| d.get(key)).and_then(Value::as_str);
        match text("type") {
            Some("text_delta") => text("text").map(|t| Chunk::Text(t.to_owned())),
            Some("input_json_delta") => {
                let partial = text("partial_json").unwrap_or_default().to_owned();
                if self.structured {
                    Some(Chunk::Text(partial))
                } else {
                    self.tools.get(&index).map(|tool| Chunk::ToolCall {
                        index: *tool,
                        id: None,
                        name: None,
                        arguments: partial,
                    })
                }
            }
            // Thinking is not part of the answer.
            _ => None,
        }
    }

    fn usage(&self, output: u64) -> Chunk {
        Chunk::Usage(Usage {
            input_tokens: self.input_tokens,
            output_tokens: output,
            total_tokens: self.input_tokens + output,
        })
    }
}

#[cfg(test)]
mod tests {
    use ironsmith_api_types::playground::{
        ModelConfigFields, ModelParameters, Provider, ProviderOptions,
    };

    use super::*;
    use crate::chat::{FunctionCall, ToolCall};

    fn call(messages: Vec<ChatMessage>) -> Call {
        Call {
            config: ModelConfigFields {
                name: "c".into(),
                provider: Provider::Anthropic,
                model: "claude-sonnet-4-5".into(),
                base_url: Some("http://stand-in:1/".into()),
                secret_key: None,
                parameters: ModelParameters::default(),
                options: ProviderOptions::default(),
            },
            api_key: Some("sk-ant".into()),
            messages,
            parameters: ModelParameters::default(),
            tools: Vec::new(),
            tool_choice: None,
            output_schema: None,
        }
    }

    #[test]
    fn system_goes_apart_and_tool_results_become_user_blocks() {
        let mut assistant = ChatMessage::text(Role::Assistant, "");
        assistant.tool_calls.push(ToolCall {
            id: "toolu_1".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: "weather".into(),
                arguments: "{\"city\":\"Paris\"}".into(),
            },
        });
        let mut result = ChatMessage::text(Role::Tool, "sunny");
        result.tool_call_id = Some("toolu_1".into());
        let request = request(&call(vec![
            ChatMessage::text(Role::System, "Be brief."),
            ChatMessage::text(Role::User, "Weather in Paris?"),
            assistant,
            result,
        ]))
        .unwrap();
        assert_eq!(request.url.as_str(), "http://stand-in:1/v1/messages");
        assert_eq!(request.body["system"], "Be brief.");
        assert_eq!(request.body["max_tokens"], 4096);
        let messages = request.body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[1]["content"][0],
            json!({"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}})
        );
        assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    }

    #[test]
    fn streamed_events_read() {
        let mut parser = Parser::new(false);
        let mut chunks = Vec::new();
        for (event, data) in [
            (
                "message_start",
                r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"f","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ] {
            chunks.extend(parser.event(event, data).unwrap());
        }
        assert!(parser.done);
        let mut completion = crate::chat::Completion::default();
        for c in &chunks {
            completion.add(c);
        }
        assert_eq!(completion.text, "Hi");
        assert_eq!(completion.tool_calls[0].function.arguments, "{\"a\":1}");
        assert_eq!(completion.usage.unwrap().total_tokens, 21);
        assert_eq!(
            parser
                .event(
                    "error",
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
                )
                .unwrap_err(),
            "Overloaded"
        );
    }
}
