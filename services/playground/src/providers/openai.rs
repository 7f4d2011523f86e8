//! OpenAI's Chat Completions API (`POST {base}/chat/completions`, streamed), which Azure OpenAI
//! (`{base}/openai/deployments/{deployment}/chat/completions?api-version=`, key in `api-key`)
//! and OpenAI-compatible servers (vLLM, Ollama, LiteLLM) speak too.
//! Reference: <https://platform.openai.com/docs/api-reference/chat/create>.

use ironsmith_api_types::playground::Provider;
use serde_json::{Map, Value, json};

use super::{Call, Request, base_url, join};
use crate::chat::{Chunk, ToolChoice, Usage};

pub fn request(call: &Call) -> Result<Request, String> {
    let config = &call.config;
    let base = base_url(config)?;
    let mut headers = vec![("content-type", "application/json".to_owned())];
    let url = match config.provider {
        Provider::AzureOpenai => {
            let deployment = config
                .options
                .deployment
                .as_deref()
                .unwrap_or(&config.model);
            let mut url = join(
                &base,
                &format!("openai/deployments/{deployment}/chat/completions"),
            );
            url.query_pairs_mut().append_pair(
                "api-version",
                config.options.api_version.as_deref().unwrap_or_default(),
            );
            if let Some(key) = &call.api_key {
                headers.push(("api-key", key.clone()));
            }
            url
        }
        _ => {
            if let Some(key) = &call.api_key {
                headers.push(("authorization", format!("Bearer {key}")));
            }
            join(&base, "chat/completions")
        }
    };
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert(
        "messages".into(),
        serde_json::to_value(&call.messages).map_err(|e| e.to_string())?,
    );
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    parameters(call, &mut body);
    tools(call, &mut body);
    Ok(Request {
        url,
        headers,
        body: Value::Object(body),
        aws: None,
        framing: super::Framing::Sse,
    })
}

fn parameters(call: &Call, body: &mut Map<String, Value>) {
    let p = &call.parameters;
    if let Some(t) = p.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(m) = p.max_tokens {
        // OpenAI's own API replaced `max_tokens` (which reasoning models refuse) with
        // `max_completion_tokens`; compatible servers and Azure read `max_tokens`.
        let name = if call.config.provider == Provider::Openai {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(name.into(), json!(m));
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".into(), json!(t));
    }
    if let Some(stop) = &p.stop {
        body.insert("stop".into(), json!(stop));
    }
    if let Some(seed) = p.seed {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(effort) = &p.reasoning_effort {
        body.insert("reasoning_effort".into(), json!(effort));
    }
}

fn tools(call: &Call, body: &mut Map<String, Value>) {
    if !call.tools.is_empty() {
        body.insert(
            "tools".into(),
            Value::Array(
                call.tools
                    .iter()
                    .map(|t| json!({"type": "function", "function": t.declaration("parameters", t.parameters.clone())}))
                    .collect(),
            ),
        );
        if let Some(choice) = &call.tool_choice {
            body.insert(
                "tool_choice".into(),
                match choice {
                    ToolChoice::Mode(mode) => json!(mode),
                    ToolChoice::Named { name } => {
                        json!({"type": "function", "function": {"name": name}})
                    }
                },
            );
        }
    }
    if let Some(schema) = &call.output_schema {
        body.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {"name": schema.name, "schema": schema.schema, "strict": true}}),
        );
    }
}

/// Reads `data:` chunks until `[DONE]`.
#[derive(Debug, Default)]
pub struct Parser {
    pub done: bool,
}

impl Parser {
    pub fn event(&mut self, data: &str) -> Result<Vec<Chunk>, String> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        if data.is_empty() {
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
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            let delta = choice.get("delta");
            if let Some(text) = delta.and_then(|d| d.get("content")).and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push(Chunk::Text(text.to_owned()));
            }
            for call in delta
                .and_then(|d| d.get("tool_calls"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let function = call.get("function");
                out.push(Chunk::ToolCall {
                    index: usize::try_from(call.get("index").and_then(Value::as_u64).unwrap_or(0))
                        .unwrap_or(0),
                    id: call.get("id").and_then(Value::as_str).map(str::to_owned),
                    name: function
                        .and_then(|f| f.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    arguments: function
                        .and_then(|f| f.get("arguments"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                out.push(Chunk::Finish(reason.to_owned()));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let input = usage
                .get("prompt_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let output = usage
                .get("completion_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
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
    fn chunks_read_text_tool_calls_usage_and_done() {
        let mut parser = Parser::default();
        let text = parser
            .event(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#)
            .unwrap();
        assert_eq!(text, vec![Chunk::Text("Hel".into())]);
        let call = parser
            .event(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#)
            .unwrap();
        assert!(matches!(&call[0], Chunk::ToolCall { id: Some(id), .. } if id == "call_1"));
        let usage = parser
            .event(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#)
            .unwrap();
        assert_eq!(
            usage,
            vec![Chunk::Usage(Usage {
                input_tokens: 5,
                output_tokens: 2,
                total_tokens: 7
            })]
        );
        assert!(parser.event("[DONE]").unwrap().is_empty());
        assert!(parser.done);
        assert_eq!(
            parser
                .event(r#"{"error":{"message":"overloaded"}}"#)
                .unwrap_err(),
            "overloaded"
        );
    }
}
