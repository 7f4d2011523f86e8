//! Provider wire formats. Each module turns a [`Call`] into the provider's HTTP request and its
//! streamed answer (server-sent events) back into [`Chunk`]s.

pub mod anthropic;
pub mod bedrock;
pub mod gemini;
pub mod openai;
pub mod responses;

use ironsmith_api_types::playground::{ModelConfigFields, ModelParameters, OpenAiApi, Provider};
use serde_json::Value;

use crate::chat::{ChatMessage, Chunk, OutputSchema, Role, Tool, ToolChoice};

/// One call, provider-neutral.
#[derive(Debug, Clone)]
pub struct Call {
    pub config: ModelConfigFields,
    pub api_key: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub parameters: ModelParameters,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub output_schema: Option<OutputSchema>,
}

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: url::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
    /// Signed with AWS Signature Version 4 before each attempt.
    pub aws: Option<AwsSigning>,
    /// How the streamed answer is framed.
    pub framing: Framing,
}

/// What signing a request for AWS needs.
#[derive(Clone)]
pub struct AwsSigning {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub service: &'static str,
}

impl std::fmt::Debug for AwsSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSigning")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The framing of a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events (`text/event-stream`).
    Sse,
    /// AWS's binary event stream (`application/vnd.amazon.eventstream`).
    AwsEventStream,
}

/// Reads one provider's event stream.
pub enum StreamParser {
    OpenAi(openai::Parser),
    Anthropic(anthropic::Parser),
    Gemini(gemini::Parser),
    Responses(responses::Parser),
    Bedrock(bedrock::Parser),
}

impl StreamParser {
    /// The chunks one event carries; `Err` with the provider's message when the event reports
    /// an error.
    pub fn event(&mut self, event: &str, data: &str) -> Result<Vec<Chunk>, String> {
        match self {
            StreamParser::OpenAi(p) => p.event(data),
            StreamParser::Anthropic(p) => p.event(event, data),
            StreamParser::Gemini(p) => p.event(data),
            StreamParser::Responses(p) => p.event(event, data),
            StreamParser::Bedrock(p) => p.event(event, data),
        }
    }

    /// Whether the provider said it is done.
    pub fn done(&self) -> bool {
        match self {
            StreamParser::OpenAi(p) => p.done,
            StreamParser::Anthropic(p) => p.done,
            StreamParser::Gemini(p) => p.done,
            StreamParser::Responses(p) => p.done,
            StreamParser::Bedrock(p) => p.done,
        }
    }
}

/// The request for `call` and the parser of its answer.
pub fn prepare(call: &Call) -> Result<(Request, StreamParser), String> {
    match call.config.provider {
        Provider::Openai | Provider::OpenaiCompatible
            if call.config.options.api == Some(OpenAiApi::Responses) =>
        {
            Ok((
                responses::request(call)?,
                StreamParser::Responses(responses::Parser::default()),
            ))
        }
        Provider::Openai | Provider::AzureOpenai | Provider::OpenaiCompatible => Ok((
            openai::request(call)?,
            StreamParser::OpenAi(openai::Parser::default()),
        )),
        Provider::Anthropic => Ok((
            anthropic::request(call)?,
            StreamParser::Anthropic(anthropic::Parser::new(call.output_schema.is_some())),
        )),
        Provider::Bedrock => Ok((
            bedrock::request(call)?,
            StreamParser::Bedrock(bedrock::Parser::new(call.output_schema.is_some())),
        )),
        Provider::GoogleGenai => Ok((
            gemini::request(call)?,
            StreamParser::Gemini(gemini::Parser::default()),
        )),
    }
}

/// The system prompt's texts, and the other messages as turns of alternating roles (the user's,
/// and the assistant's named `assistant` on the wire): consecutive messages of one role (a
/// tool's results after the user's question) merge into one turn, as Anthropic, Gemini and
/// Bedrock require. `content` gives a message's content blocks.
#[allow(clippy::type_complexity)]
pub fn turns<E>(
    messages: &[ChatMessage],
    assistant: &'static str,
    mut content: impl FnMut(&ChatMessage) -> Result<Vec<Value>, E>,
) -> Result<(Vec<String>, Vec<(&'static str, Vec<Value>)>), E> {
    let system = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.joined_text())
        .collect();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages.iter().filter(|m| m.role != Role::System) {
        let role = if message.role == Role::Assistant {
            assistant
        } else {
            "user"
        };
        let blocks = content(message)?;
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Ok((system, turns))
}

/// The message inside a provider's error body, or the body itself (shortened).
pub fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("detail"))
            .and_then(Value::as_str)
    });
    match message {
        Some(m) => m.to_owned(),
        None => body.chars().take(500).collect(),
    }
}

/// The base URL of a configuration, or the provider's own.
pub fn base_url(config: &ModelConfigFields) -> Result<url::Url, String> {
    let regional = config
        .options
        .region
        .as_ref()
        .filter(|_| config.provider == Provider::Bedrock)
        .map(|region| format!("https://bedrock-runtime.{region}.amazonaws.com"));
    let base = config
        .base_url
        .as_deref()
        .or(regional.as_deref())
        .or(config.provider.default_base_url())
        .ok_or("the model configuration has no base URL")?;
    url::Url::parse(base).map_err(|e| format!("the base URL `{base}` is not a URL: {e}"))
}

/// `base` with `path` appended (the base's own path kept).
pub fn join(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}
