//! Google's Gemini API (`POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`, key in
//! `x-goog-api-key`). Reference: <https://ai.google.dev/api/generate-content>. System messages
//! become `systemInstruction`; the assistant is the `model` role; tool calls and results are
//! `functionCall` and `functionResponse` parts (a result names its function, found by the call
//! id it answers). Gemini gives calls no ids: the playground numbers them.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Call, Request, base_url, join};
use crate::chat::{ChatMessage, Chunk, Part, Role, ToolChoice, Usage};

fn image_part(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((mime_type, data)) = rest.split_once(";base64,")
    {
        return json!({"inlineData": {"mimeType": mime_type, "data": data}});
    }
    let lower = url.to_ascii_lowercase();
    let mime_type = if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    };
    json!({"fileData": {"mimeType": mime_type, "fileUri": url}})
}

fn parts(message: &ChatMessage, names: &HashMap<String, String>) -> Vec<Value> {
    if message.role == Role::Tool {
        let id = message.tool_call_id.clone().unwrap_or_default();
        let text = message.content.joined_text();
        let response = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(object)) => Value::Object(object),
            _ => json!({"content": text}),
        };
        let name = names.get(&id).cloned().unwrap_or(id);
        return vec![json!({"functionResponse": {"name": name, "response": response}})];
    }
    let mut out: Vec<Value> = message
        .content
        .parts()
        .into_iter()
        .filter_map(|part| match part {
            Part::Text { text } if text.is_empty() => None,
            Part::Text { text } => Some(json!({"text": text})),
            Part::ImageUrl { image_url } => Some(image_part(&image_url.url)),
        })
        .collect();
    for call in &message.tool_calls {
        let args: Value =
            serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
        out.push(json!({"functionCall": {"name": call.function.name, "args": args}}));
    }
    out
}

fn generation_config(call: &Call) -> Map<String, Value> {
    let p = &call.parameters;
    let mut config = Map::new();
    for (key, value) in [
        ("temperature", p.temperature.map(|t| json!(t))),
        ("maxOutputTokens", p.max_tokens.map(|m| json!(m))),
        ("topP", p.top_p.map(|t| json!(t))),
        ("stopSequences", p.stop.as_ref().map(|s| json!(s))),
        ("seed", p.seed.map(|s| json!(s))),
    ] {
        if let Some(value) = value {
            config.insert(key.into(), value);
        }
    }
    if let Some(effort) = &p.reasoning_effort {
        let budget = match effort.as_str() {
            "minimal" => 0,
            "low" => 1024,
            "medium" => 8192,
            _ => 24576,
        };
        config.insert("thinkingConfig".into(), json!({"thinkingBudget": budget}));
    }
    if let Some(schema) = &call.output_schema {
        config.insert("responseMimeType".into(), json!("application/json"));
        config.insert("responseJsonSchema".into(), schema.schema.clone());
    }
    config
}

pub fn request(call: &Call) -> Result<Request, String> {
    let config = &call.config;
    let mut url = join(
        &base_url(config)?,
        &format!("v1beta/models/{}:streamGenerateContent", config.model),
    );
    url.query_pairs_mut().append_pair("alt", "sse");
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &call.api_key {
        headers.push(("x-goog-api-key", key.clone()));
    }
    // Tool results name their function: found by the id of the call they answer.
    let names: HashMap<String, String> = call
        .messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .map(|c| (c.id.clone(), c.function.name.clone()))
        .collect();
    let (system, contents) = super::turns(&call.messages, "model", |m| {
        Ok::<_, String>(parts(m, &names))
    })?;
    let system: Vec<Value> = system
        .into_iter()
        .map(|text| json!({"text": text}))
        .collect();
    let mut body = Map::new();
    body.insert(
        "contents".into(),
        Value::Array(
            contents
                .into_iter()
                .map(|(role, parts)| json!({"role": role, "parts": parts}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let generation = generation_config(call);
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    if !call.tools.is_empty() {
        let declarations: Vec<Value> = call
            .tools
            .iter()
            .map(|t| Value::Object(t.declaration("parameters", t.parameters.clone())))
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        if let Some(choice) = &call.tool_choice {
            let config = match choice {
                ToolChoice::Mode(mode) => match mode.as_str() {
                    "required" | "any" => json!({"mode": "ANY"}),
                    "none" => json!({"mode": "NONE"}),
                    _ => json!({"mode": "AUTO"}),
                },
                ToolChoice::Named { name } => {
                    json!({"mode": "ANY", "allowedFunctionNames": [name]})
                }
            };
            body.insert(
                "toolConfig".into(),
                json!({"functionCallingConfig": config}),
            );
        }
    }
    Ok(Request {
        url,
        headers,
        body: Value::Object(body),
        aws: None,
        framing: super::Framing::Sse,
    })
}

/// Reads `data:` chunks, each a `GenerateContentResponse`; the stream ends when the server
/// closes it after the chunk with a `finishReason`.
#[derive(Debug, Default)]
pub struct Parser {
    pub done: bool,
    calls: usize,
}

impl Parser {
    pub fn event(&mut self, data: &str) -> Result<Vec<Chunk>, String> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| format!("the provider sent a chunk that is not JSON: {e}"))?;
        if let Some(error) = chunk.get("error") {
            return Err(error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned));
        }
        let mut out = Vec::new();
        let candidate = chunk.pointer("/candidates/0");
        for part in candidate
            .and_then(|c| c.pointer("/content/parts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Thoughts are not part of the answer.
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                out.push(Chunk::Text(text.to_owned()));
            }
            if let Some(call) = part.get("functionCall") {
                let index = self.calls;
                self.calls += 1;
                out.push(Chunk::ToolCall {
                    index,
                    id: Some(format!("call_{index}")),
                    name: call.get("name").and_then(Value::as_str).map(str::to_owned),
                    arguments: call
                        .get("args")
                        .map_or_else(|| "{}".to_owned(), Value::to_string),
                });
            }
        }
        if let Some(reason) = candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str)
        {
            out.push(Chunk::Finish(reason.to_ascii_lowercase()));
            self.done = true;
        }
        if let Some(usage) = chunk.get("usageMetadata") {
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            let input = count("promptTokenCount");
            let output = count("candidatesTokenCount") + count("thoughtsTokenCount");
            out.push(Chunk::Usage(Usage {
                input_tokens: input,
                output_tokens: output,
                total_tokens: input + output,
            }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_read_text_calls_usage_and_the_finish() {
        let mut parser = Parser::default();
        let text = parser
            .event(r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}]}"#)
            .unwrap();
        assert_eq!(text, vec![Chunk::Text("Hel".into())]);
        let last = parser
            .event(r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":3,"totalTokenCount":7}}"#)
            .unwrap();
        assert!(
            matches!(&last[0], Chunk::ToolCall { index: 0, arguments, .. } if arguments == "{\"a\":1}")
        );
        assert!(parser.done);
        assert!(last.contains(&Chunk::Usage(Usage {
            input_tokens: 4,
            output_tokens: 3,
            total_tokens: 7
        })));
    }
}
