//! The playground's provider-neutral chat: messages in (OpenAI's shape, which the UI and the
//! traced runs use too), events out. Each provider module maps these to its wire format.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    #[serde(alias = "human")]
    User,
    #[serde(alias = "ai")]
    Assistant,
    Tool,
}

/// One message. `content` is text or a list of parts (text and images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    pub role: Role,
    #[serde(default)]
    pub content: Content,
    /// Calls an assistant message made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn text(role: Role, text: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role,
            content: Content::Text(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Text(String::new())
    }
}

impl Content {
    /// The parts, a plain text being one text part.
    pub fn parts(&self) -> Vec<Part> {
        match self {
            Content::Text(text) => vec![Part::Text { text: text.clone() }],
            Content::Parts(parts) => parts.clone(),
        }
    }

    /// The text of every text part, joined.
    pub fn joined_text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text } => Some(text.as_str()),
                    Part::ImageUrl { .. } => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Part {
    Text {
        text: String,
    },
    /// An `https:` URL or a `data:<mime>;base64,` URL.
    ImageUrl {
        image_url: ImageUrl,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A tool call, OpenAI's shape: the arguments are JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A tool the model may call: a name, what it does and a JSON schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON schema of the arguments.
    #[serde(default = "empty_schema")]
    #[schema(value_type = Object)]
    pub parameters: Value,
}

impl Tool {
    /// The tool as most providers declare one: its name, its description when it has one, and
    /// its argument schema under `schema_key` (`parameters`, `input_schema`…).
    pub fn declaration(&self, schema_key: &str, schema: Value) -> serde_json::Map<String, Value> {
        let mut declaration = serde_json::Map::new();
        declaration.insert("name".into(), Value::String(self.name.clone()));
        if let Some(description) = &self.description {
            declaration.insert("description".into(), Value::String(description.clone()));
        }
        declaration.insert(schema_key.into(), schema);
        declaration
    }
}

fn empty_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Whether and which tool the model must call: `auto`, `none`, `required`, or a tool's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Named { name: String },
}

/// A structured output: the answer must be JSON matching `schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSchema {
    #[serde(default = "schema_name")]
    pub name: String,
    /// A JSON schema.
    #[schema(value_type = Object)]
    pub schema: Value,
}

fn schema_name() -> String {
    "output".into()
}

/// Token counts as LangSmith records them (`usage_metadata`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

/// What a provider's stream says, one piece at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Text(String),
    /// A piece of the tool call at `index`: its id and name arrive first, the arguments in
    /// pieces.
    ToolCall {
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    Usage(Usage),
    Finish(String),
}

/// The answer assembled from the chunks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
}

impl Completion {
    pub fn add(&mut self, chunk: &Chunk) {
        match chunk {
            Chunk::Text(text) => self.text.push_str(text),
            Chunk::ToolCall {
                index,
                id,
                name,
                arguments,
            } => {
                while self.tool_calls.len() <= *index {
                    self.tool_calls.push(ToolCall {
                        id: String::new(),
                        kind: function_type(),
                        function: FunctionCall {
                            name: String::new(),
                            arguments: String::new(),
                        },
                    });
                }
                if let Some(call) = self.tool_calls.get_mut(*index) {
                    if let Some(id) = id {
                        call.id.clone_from(id);
                    }
                    if let Some(name) = name {
                        call.function.name.push_str(name);
                    }
                    call.function.arguments.push_str(arguments);
                }
            }
            Chunk::Usage(usage) => {
                let mut merged = self.usage.unwrap_or_default();
                merged.input_tokens = merged.input_tokens.max(usage.input_tokens);
                merged.output_tokens = merged.output_tokens.max(usage.output_tokens);
                merged.total_tokens = merged.input_tokens + merged.output_tokens;
                self.usage = Some(merged);
            }
            Chunk::Finish(reason) => self.finish_reason = Some(reason.clone()),
        }
    }

    /// The answer as an assistant message.
    pub fn message(&self) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: Content::Text(self.text.clone()),
            tool_calls: self.tool_calls.clone(),
            tool_call_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_pieces_assemble() {
        let mut completion = Completion::default();
        for chunk in [
            Chunk::Text("Let me ".into()),
            Chunk::Text("check.".into()),
            Chunk::ToolCall {
                index: 0,
                id: Some("call_1".into()),
                name: Some("weather".into()),
                arguments: String::new(),
            },
            Chunk::ToolCall {
                index: 0,
                id: None,
                name: None,
                arguments: "{\"city\":".into(),
            },
            Chunk::ToolCall {
                index: 0,
                id: None,
                name: None,
                arguments: "\"Paris\"}".into(),
            },
            Chunk::Usage(Usage {
                input_tokens: 10,
                output_tokens: 0,
                total_tokens: 10,
            }),
            Chunk::Usage(Usage {
                input_tokens: 0,
                output_tokens: 7,
                total_tokens: 7,
            }),
            Chunk::Finish("tool_calls".into()),
        ] {
            completion.add(&chunk);
        }
        assert_eq!(completion.text, "Let me check.");
        assert_eq!(
            completion.tool_calls[0].function.arguments,
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(completion.tool_calls[0].id, "call_1");
        assert_eq!(
            completion.usage,
            Some(Usage {
                input_tokens: 10,
                output_tokens: 7,
                total_tokens: 17
            })
        );
    }

    #[test]
    fn messages_read_the_openai_and_langchain_role_names() {
        let m: ChatMessage =
            serde_json::from_value(serde_json::json!({"role": "human", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]}))
            .expect("a message");
        assert_eq!(m.role, Role::User);
        assert_eq!(m.content.parts().len(), 2);
    }
}
