//! Prompts to messages: a hub manifest (LangChain's serialised `ChatPromptTemplate`, a
//! `PromptTemplate`, or either followed by a model in a `RunnableSequence`) or messages given
//! directly, with their input variables filled in (f-string or mustache).

use serde_json::{Map, Value};

use crate::chat::{ChatMessage, Content, Part, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
pub enum TemplateFormat {
    #[default]
    #[serde(rename = "f-string")]
    FString,
    #[serde(rename = "mustache")]
    Mustache,
}

/// A prompt ready to fill: messages whose texts are templates, and message placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    ChatMessage(ChatMessage, TemplateFormat),
    /// `MessagesPlaceholder`: the messages of an input variable.
    Placeholder {
        variable: String,
        optional: bool,
    },
}

/// What a manifest holds: the prompt's slots, and the model's settings when it has one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    pub slots: Vec<Slot>,
    /// The model's constructor kwargs (`model`, `temperature`, …) of a prompt-and-model manifest.
    pub model_kwargs: Option<Map<String, Value>>,
    /// The output schema of a `StructuredPrompt`.
    pub output_schema: Option<Value>,
}

fn class(value: &Value) -> Option<&str> {
    value.get("id")?.as_array()?.last()?.as_str()
}

fn kwargs(value: &Value) -> Option<&Map<String, Value>> {
    value.get("kwargs")?.as_object()
}

/// Reads a manifest. Errors name what was not understood.
pub fn from_manifest(manifest: &Value) -> Result<Prompt, String> {
    let mut prompt = Prompt::default();
    let mut node = manifest;
    if class(manifest) == Some("RunnableSequence") {
        let steps = kwargs(manifest).ok_or("a RunnableSequence without kwargs")?;
        node = steps
            .get("first")
            .ok_or("a RunnableSequence without a first step")?;
        if let Some(last) = steps.get("last") {
            prompt.model_kwargs = kwargs(last).cloned();
        }
    }
    match class(node) {
        Some("ChatPromptTemplate" | "StructuredPrompt") => {
            let args = kwargs(node).ok_or("a ChatPromptTemplate without kwargs")?;
            if let Some(schema) = args.get("schema_") {
                prompt.output_schema = Some(schema.clone());
            }
            for message in args
                .get("messages")
                .and_then(Value::as_array)
                .ok_or("a ChatPromptTemplate without messages")?
            {
                prompt.slots.push(slot(message)?);
            }
        }
        Some("PromptTemplate") => {
            let (text, format) = template(node)?;
            prompt.slots.push(Slot::ChatMessage(
                ChatMessage::text(Role::User, text),
                format,
            ));
        }
        other => {
            return Err(format!(
                "the playground runs chat and string prompts; this manifest is a {}",
                other.unwrap_or("value without a LangChain class")
            ));
        }
    }
    Ok(prompt)
}

fn template(node: &Value) -> Result<(String, TemplateFormat), String> {
    let args = kwargs(node).ok_or("a PromptTemplate without kwargs")?;
    let text = args
        .get("template")
        .and_then(Value::as_str)
        .ok_or("a PromptTemplate without a template")?;
    let format = match args.get("template_format").and_then(Value::as_str) {
        None | Some("f-string") => TemplateFormat::FString,
        Some("mustache") => TemplateFormat::Mustache,
        Some(other) => return Err(format!("the template format {other} is not supported")),
    };
    Ok((text.to_owned(), format))
}

fn slot(message: &Value) -> Result<Slot, String> {
    let cls = class(message).unwrap_or_default();
    let args = kwargs(message).ok_or_else(|| format!("a {cls} without kwargs"))?;
    let role = match cls {
        "SystemMessagePromptTemplate" | "SystemMessage" => Role::System,
        "HumanMessagePromptTemplate" | "HumanMessage" => Role::User,
        "AIMessagePromptTemplate" | "AIMessage" => Role::Assistant,
        "ChatMessagePromptTemplate" => match args.get("role").and_then(Value::as_str) {
            Some("system") => Role::System,
            Some("assistant" | "ai") => Role::Assistant,
            _ => Role::User,
        },
        "MessagesPlaceholder" => {
            return Ok(Slot::Placeholder {
                variable: args
                    .get("variable_name")
                    .and_then(Value::as_str)
                    .ok_or("a MessagesPlaceholder without variable_name")?
                    .to_owned(),
                optional: args
                    .get("optional")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
        other => return Err(format!("the message class {other} is not supported")),
    };
    // A fixed message (`SystemMessage`) holds its content directly.
    if let Some(content) = args.get("content") {
        let content: Content =
            serde_json::from_value(content.clone()).map_err(|e| e.to_string())?;
        let mut m = ChatMessage::text(role, String::new());
        m.content = content;
        return Ok(Slot::ChatMessage(m, TemplateFormat::FString));
    }
    let inner = args
        .get("prompt")
        .ok_or_else(|| format!("a {cls} without a prompt"))?;
    // A multimodal message template holds a list of text and image templates.
    if let Some(parts) = inner.as_array() {
        let mut out = Vec::new();
        let mut format = TemplateFormat::FString;
        for part in parts {
            match class(part) {
                Some("PromptTemplate") => {
                    let (text, f) = template(part)?;
                    format = f;
                    out.push(Part::Text { text });
                }
                Some("ImagePromptTemplate") => {
                    let url = kwargs(part)
                        .and_then(|k| k.get("template"))
                        .and_then(|t| t.get("url"))
                        .and_then(Value::as_str)
                        .ok_or("an ImagePromptTemplate without a url")?;
                    out.push(Part::ImageUrl {
                        image_url: crate::chat::ImageUrl {
                            url: url.to_owned(),
                            detail: None,
                        },
                    });
                }
                other => {
                    return Err(format!(
                        "the part {} is not supported",
                        other.unwrap_or("?")
                    ));
                }
            }
        }
        let mut m = ChatMessage::text(role, String::new());
        m.content = Content::Parts(out);
        return Ok(Slot::ChatMessage(m, format));
    }
    let (text, format) = template(inner)?;
    Ok(Slot::ChatMessage(ChatMessage::text(role, text), format))
}

/// Fills the slots with `inputs`. A variable a template names but the inputs lack is an error
/// naming it.
pub fn render(slots: &[Slot], inputs: &Map<String, Value>) -> Result<Vec<ChatMessage>, String> {
    let mut messages = Vec::new();
    for slot in slots {
        match slot {
            // A tool's result is data, not a template.
            Slot::ChatMessage(message, _) if message.role == Role::Tool => {
                messages.push(message.clone());
            }
            Slot::ChatMessage(message, format) => {
                let mut filled = message.clone();
                filled.content = match &message.content {
                    Content::Text(text) => Content::Text(fill(text, *format, inputs)?),
                    Content::Parts(parts) => Content::Parts(
                        parts
                            .iter()
                            .map(|part| match part {
                                Part::Text { text } => Ok(Part::Text {
                                    text: fill(text, *format, inputs)?,
                                }),
                                Part::ImageUrl { image_url } => Ok(Part::ImageUrl {
                                    image_url: crate::chat::ImageUrl {
                                        url: fill(&image_url.url, *format, inputs)?,
                                        detail: image_url.detail.clone(),
                                    },
                                }),
                            })
                            .collect::<Result<_, String>>()?,
                    ),
                };
                messages.push(filled);
            }
            Slot::Placeholder { variable, optional } => match inputs.get(variable) {
                Some(Value::Array(items)) => {
                    for item in items {
                        messages.push(serde_json::from_value(item.clone()).map_err(|e| {
                            format!("`{variable}` holds a message that is not one: {e}")
                        })?);
                    }
                }
                None | Some(Value::Null) if *optional => {}
                _ => {
                    return Err(format!(
                        "the input variable `{variable}` must be a list of messages"
                    ));
                }
            },
        }
    }
    Ok(messages)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn missing(name: &str) -> String {
    format!("the input variable `{name}` is missing")
}

/// Fills one template.
pub fn fill(
    template: &str,
    format: TemplateFormat,
    inputs: &Map<String, Value>,
) -> Result<String, String> {
    match format {
        TemplateFormat::FString => fill_fstring(template, inputs),
        TemplateFormat::Mustache => fill_mustache(template, inputs),
    }
}

fn fill_fstring(template: &str, inputs: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if rest[i..].starts_with("{{") {
            out.push('{');
            rest = &rest[i + 2..];
        } else if rest[i..].starts_with("}}") {
            out.push('}');
            rest = &rest[i + 2..];
        } else if rest[i..].starts_with('}') {
            return Err("a lone `}` in an f-string template (write `}}`)".into());
        } else {
            let end = after
                .find('}')
                .ok_or("an unclosed `{` in an f-string template")?;
            let name = after[..end].trim();
            let value = inputs.get(name).ok_or_else(|| missing(name))?;
            out.push_str(&value_text(value));
            rest = &after[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn fill_mustache(template: &str, inputs: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find("}}")
            .ok_or("an unclosed `{{` in a mustache template")?;
        let name = after[..end].trim();
        // A dotted name walks into objects.
        let mut value = None;
        for (depth, key) in name.split('.').enumerate() {
            value = if depth == 0 {
                inputs.get(key)
            } else {
                value.and_then(|v: &Value| v.get(key))
            };
        }
        out.push_str(&value.map(value_text).ok_or_else(|| missing(name))?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn inputs(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn fstring_and_mustache_fill_their_variables() {
        let vars = inputs(json!({"q": "why?", "n": 3, "user": {"name": "Ada"}}));
        assert_eq!(
            fill("Q: {q} ({n}) {{literal}}", TemplateFormat::FString, &vars).unwrap(),
            "Q: why? (3) {literal}"
        );
        assert_eq!(
            fill("Hi {{user.name}}: {{ q }}", TemplateFormat::Mustache, &vars).unwrap(),
            "Hi Ada: why?"
        );
        assert_eq!(
            fill("{missing}", TemplateFormat::FString, &vars).unwrap_err(),
            "the input variable `missing` is missing"
        );
        assert!(fill("{q", TemplateFormat::FString, &vars).is_err());
    }

    #[test]
    fn a_chat_prompt_manifest_with_a_model_reads() {
        let manifest = json!({"lc": 1, "type": "constructor", "id": ["langchain", "schema", "runnable", "RunnableSequence"],
        "kwargs": {
            "first": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptTemplate"],
                "kwargs": {"input_variables": ["question"], "messages": [
                    {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "SystemMessagePromptTemplate"],
                     "kwargs": {"prompt": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
                        "kwargs": {"input_variables": [], "template": "Be brief.", "template_format": "f-string"}}}},
                    {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "MessagesPlaceholder"],
                     "kwargs": {"variable_name": "history", "optional": true}},
                    {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "HumanMessagePromptTemplate"],
                     "kwargs": {"prompt": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
                        "kwargs": {"input_variables": ["question"], "template": "{question}", "template_format": "f-string"}}}}
                ]}},
            "last": {"lc": 1, "type": "constructor", "id": ["langchain", "chat_models", "openai", "ChatOpenAI"],
                "kwargs": {"model": "gpt-4o-mini", "temperature": 0.2}}
        }});
        let prompt = from_manifest(&manifest).unwrap();
        assert_eq!(
            prompt.model_kwargs.as_ref().and_then(|k| k.get("model")),
            Some(&json!("gpt-4o-mini"))
        );
        let messages = render(&prompt.slots, &inputs(json!({"question": "2+2?"}))).unwrap();
        assert_eq!(
            messages,
            vec![
                ChatMessage::text(Role::System, "Be brief."),
                ChatMessage::text(Role::User, "2+2?")
            ]
        );
        let with_history = render(&prompt.slots, &inputs(json!({"question": "and 3+3?",
            "history": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}))).unwrap();
        assert_eq!(with_history.len(), 4);
        assert_eq!(with_history[2], ChatMessage::text(Role::Assistant, "4"));
    }
}
