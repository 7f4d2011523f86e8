//! `POST /playground/invoke` (`/api/v1/playground/invoke` at the edge): runs a prompt against a
//! model configuration. The answer streams back as server-sent events (`stream: true`, the
//! default) or arrives as one JSON object; either way the call is traced as an LLM run into
//! the workspace's playground project.
//!
//! Events, each a JSON object in `data:` with a `type`:
//! `start` {run_id, provider, model}; `delta` {text}; `tool_call` {index, id?, name?,
//! arguments}; `end` {run_id, message, usage, finish_reason, latency_ms, first_token_ms,
//! traced}; `error` {status, message, run_id}.

use std::convert::Infallible;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use ironsmith_api_types::playground::{
    ModelChoice, ModelConfigFields, ModelParameters, PromptRef, ResolveRequest, ResolvedCall,
};
use ironsmith_http::{ApiError, ValidationIssue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::AppState;
use crate::chat::{ChatMessage, Chunk, Completion, OutputSchema, Tool, ToolChoice, Usage};
use crate::provider_call::{self, Failure, RetryPolicy};
use crate::providers::{self, Call};
use crate::template::{self, Slot, TemplateFormat};
use crate::trace::{RunContext, run_payload};
use crate::upstream::Credentials;

/// The project playground runs are traced into unless the call names another.
pub const DEFAULT_PROJECT: &str = "playground";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvokeBody {
    /// The prompt as messages (templates filled from `inputs`)…
    #[serde(default)]
    pub messages: Option<Vec<ChatMessage>>,
    /// …or a hub prompt at a commit.
    #[serde(default)]
    pub prompt: Option<PromptRef>,
    /// The values of the prompt's variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Map<String, Value>,
    /// How `messages` are templated.
    #[serde(default)]
    pub template_format: TemplateFormat,
    /// A saved model configuration…
    #[serde(default)]
    pub model_config_id: Option<Uuid>,
    /// …or one given inline.
    #[serde(default)]
    pub model_config: Option<ModelConfigFields>,
    /// Overrides of the configuration's parameters, field by field.
    #[serde(default)]
    pub parameters: Option<ModelParameters>,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub output_schema: Option<OutputSchema>,
    #[serde(default = "yes")]
    pub stream: bool,
    #[serde(default)]
    pub project_name: Option<String>,
    /// Added to the traced run's metadata.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// The dataset example the call runs on (experiments), recorded on the traced run.
    #[serde(default)]
    pub reference_example_id: Option<Uuid>,
}

fn yes() -> bool {
    true
}

/// What a stream says.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    Start {
        run_id: Uuid,
        provider: String,
        model: String,
    },
    Delta {
        text: String,
    },
    ToolCall {
        index: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        arguments: String,
    },
    End(Box<Finished>),
    Error {
        status: u16,
        message: String,
        run_id: Option<Uuid>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Finished {
    pub run_id: Uuid,
    pub message: ChatMessage,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub latency_ms: u64,
    pub first_token_ms: Option<u64>,
    /// Whether the run reached the playground project (a failed trace does not fail the call).
    pub traced: bool,
    pub project_name: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), field.into()],
        msg: message.into(),
        kind: "value_error".into(),
    }])
}

fn model_choice(body: &mut InvokeBody) -> Result<ModelChoice, ApiError> {
    match (body.model_config_id, body.model_config.take()) {
        (Some(model_config_id), None) => Ok(ModelChoice::Saved { model_config_id }),
        (None, Some(model_config)) => Ok(ModelChoice::Inline {
            model_config: Box::new(model_config),
        }),
        _ => Err(invalid(
            "model_config_id",
            "give exactly one of model_config_id and model_config",
        )),
    }
}

fn merged(base: &ModelParameters, over: Option<&ModelParameters>) -> ModelParameters {
    let Some(over) = over else {
        return base.clone();
    };
    ModelParameters {
        temperature: over.temperature.or(base.temperature),
        max_tokens: over.max_tokens.or(base.max_tokens),
        top_p: over.top_p.or(base.top_p),
        stop: over.stop.clone().or_else(|| base.stop.clone()),
        seed: over.seed.or(base.seed),
        reasoning_effort: over
            .reasoning_effort
            .clone()
            .or_else(|| base.reasoning_effort.clone()),
    }
}

/// The messages of the call, from the hub prompt or the given messages.
fn messages(
    body: &InvokeBody,
    resolved: &ResolvedCall,
) -> Result<(Vec<ChatMessage>, Option<Value>), ApiError> {
    let (slots, schema) = match (&resolved.prompt, &body.messages) {
        (Some(prompt), _) => {
            let parsed =
                template::from_manifest(&prompt.manifest).map_err(|e| invalid("prompt", e))?;
            (parsed.slots, parsed.output_schema)
        }
        (None, Some(messages)) => (
            messages
                .iter()
                .map(|m| Slot::ChatMessage(m.clone(), body.template_format))
                .collect(),
            None,
        ),
        (None, None) => return Err(invalid("messages", "give messages or a hub prompt")),
    };
    let rendered = template::render(&slots, &body.inputs).map_err(|e| invalid("inputs", e))?;
    if rendered.is_empty() {
        return Err(invalid("messages", "the prompt has no messages"));
    }
    Ok((rendered, schema))
}

/// Runs a prompt against a model configuration. With `stream` (the default) the answer is a
/// stream of server-sent events, each a JSON `Outgoing` in `data:`; without, the finished
/// answer as one object. Provider failures after the call started are reported with the
/// provider's message: 400 (refused request or key), 429 (rate limited after retries), 502
/// (provider error after retries), 504 (timeout); a base URL reaching an internal address is
/// 422.
#[utoipa::path(post, path = "/playground/invoke", operation_id = "invoke_playground", tag = "playground",
    request_body = InvokeBody,
    responses(
        (status = 200, description = "The answer: events (`text/event-stream`) or the finished answer",
            content((Outgoing = "text/event-stream"), (Finished = "application/json"))),
        (status = 400, description = "The provider refused the request or the key"),
        (status = 429, description = "Too many calls in flight, or the provider's rate limit"),
        (status = 502, description = "The provider failed"),
        (status = 504, description = "The provider did not answer in time")))]
pub async fn invoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    ironsmith_http::Json(mut body): ironsmith_http::Json<InvokeBody>,
) -> Result<Response, ApiError> {
    if body.messages.is_some() == body.prompt.is_some() {
        return Err(invalid(
            "messages",
            "give exactly one of messages and prompt",
        ));
    }
    let credentials = Credentials::of(&headers);
    let request = ResolveRequest {
        model: model_choice(&mut body)?,
        prompt: body.prompt.clone(),
    };
    let resolved = state.upstream.resolve(&credentials, &request).await?;
    let (messages, manifest_schema) = messages(&body, &resolved)?;
    let output_schema = body.output_schema.clone().or_else(|| {
        manifest_schema.map(|schema| OutputSchema {
            name: schema
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("output")
                .to_owned(),
            schema,
        })
    });
    let call = Call {
        parameters: merged(&resolved.config.parameters, body.parameters.as_ref()),
        config: resolved.config.clone(),
        api_key: resolved.api_key.clone(),
        messages,
        tools: body.tools.clone(),
        tool_choice: body.tool_choice.clone(),
        output_schema,
    };
    let (request, parser) = providers::prepare(&call).map_err(|e| invalid("model_config", e))?;
    let permit = state.limiter.acquire(resolved.tenant_id)?;
    let run = RunContext {
        run_id: Uuid::now_v7(),
        started: Utc::now(),
        project: body
            .project_name
            .clone()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_PROJECT.to_owned()),
        metadata: body.metadata.clone(),
        reference_example_id: body.reference_example_id,
        prompt: resolved.prompt.as_ref().map(|p| {
            format!(
                "{}:{}",
                p.repo,
                &p.commit_hash[..p.commit_hash.len().min(8)]
            )
        }),
        secret_key: resolved.secret_key.clone(),
    };
    let (sender, receiver) = mpsc::channel::<Outgoing>(64);
    let task_state = state.clone();
    tokio::spawn(async move {
        let _permit = permit;
        execute(
            &task_state,
            &credentials,
            resolved.tenant_id,
            call,
            request,
            parser,
            run,
            sender,
        )
        .await;
    });
    if body.stream {
        let events = tokio_stream_of(receiver).map(|event| {
            Ok::<_, Infallible>(
                Event::default().data(serde_json::to_string(&event).unwrap_or_default()),
            )
        });
        return Ok(Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    collect(receiver).await
}

fn tokio_stream_of(
    mut receiver: mpsc::Receiver<Outgoing>,
) -> impl futures::Stream<Item = Outgoing> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// The whole answer as one JSON object (`stream: false`).
async fn collect(mut receiver: mpsc::Receiver<Outgoing>) -> Result<Response, ApiError> {
    while let Some(event) = receiver.recv().await {
        match event {
            Outgoing::End(finished) => return Ok(Json(finished).into_response()),
            Outgoing::Error {
                status,
                message,
                run_id,
            } => {
                let mut response =
                    Json(json!({"detail": message, "run_id": run_id})).into_response();
                *response.status_mut() = axum::http::StatusCode::from_u16(status)
                    .unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
                return Ok(response);
            }
            _ => {}
        }
    }
    Err(ApiError::internal(
        "the provider call ended without an answer",
    ))
}

/// The status a failure is reported with, and its message (naming the secret for a refused
/// key).
fn report(failure: &Failure, call: &Call, secret_key: Option<&str>) -> (u16, String) {
    let provider = provider_name(call);
    let message = failure.message(provider);
    match failure {
        Failure::Blocked(_) => (422, message),
        Failure::Provider {
            status: 401 | 403, ..
        } => (
            400,
            match secret_key {
                Some(key) => format!(
                    "{message} (the key comes from the workspace secret `{key}`: check or replace it)"
                ),
                None => {
                    format!("{message} (the model configuration names no secret holding a key)")
                }
            },
        ),
        Failure::Provider { status: 429, .. } => (429, message),
        Failure::Provider { status, .. } if *status < 500 => (400, message),
        Failure::Timeout => (504, message),
        _ => (502, message),
    }
}

fn provider_name(call: &Call) -> &'static str {
    use ironsmith_api_types::playground::Provider;
    match call.config.provider {
        Provider::Openai => "OpenAI",
        Provider::AzureOpenai => "Azure OpenAI",
        Provider::OpenaiCompatible => "The model server",
        Provider::Anthropic => "Anthropic",
        Provider::GoogleGenai => "Gemini",
        Provider::Bedrock => "Bedrock",
    }
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    state: &AppState,
    credentials: &Credentials,
    tenant_id: Uuid,
    call: Call,
    request: providers::Request,
    mut parser: providers::StreamParser,
    run: RunContext,
    sender: mpsc::Sender<Outgoing>,
) {
    let started = Instant::now();
    // A client that went away stops nothing: the call completes and is traced.
    let send = |event: Outgoing| {
        let sender = sender.clone();
        async move { drop(sender.send(event).await) }
    };
    send(Outgoing::Start {
        run_id: run.run_id,
        provider: call.config.provider.ls_provider().to_owned(),
        model: call.config.model.clone(),
    })
    .await;
    let mut progress = Progress {
        started,
        completion: Completion::default(),
        first_token: None,
    };
    let outcome = stream_answer(state, &request, &mut parser, &mut progress, &sender).await;
    let Progress {
        completion,
        first_token,
        ..
    } = progress;
    let ended = Utc::now();
    let error = outcome
        .as_ref()
        .err()
        .map(|f| report(f, &call, run.secret_key.as_deref()));
    let trace = run_payload(
        &call,
        &request,
        &run,
        &completion,
        error.as_ref().map(|e| e.1.as_str()),
        first_token.map(|f| f.1),
        ended,
    );
    let traced = match state.upstream.trace(credentials, tenant_id, &trace).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, run_id = %run.run_id, "the playground run could not be traced");
            false
        }
    };
    match error {
        Some((status, message)) => {
            send(Outgoing::Error {
                status,
                message,
                run_id: traced.then_some(run.run_id),
            })
            .await
        }
        None => {
            send(Outgoing::End(Box::new(Finished {
                run_id: run.run_id,
                message: completion.message(),
                usage: completion.usage,
                finish_reason: completion.finish_reason.clone(),
                latency_ms: elapsed_ms(started),
                first_token_ms: first_token.map(|f| f.0),
                traced,
                project_name: run.project.clone(),
            })))
            .await;
        }
    }
}

/// The answer so far.
struct Progress {
    started: Instant,
    completion: Completion,
    /// When the first token arrived: milliseconds after the start, and the time.
    first_token: Option<(u64, DateTime<Utc>)>,
}

/// Sends the request and relays the answer's chunks as they arrive.
async fn stream_answer(
    state: &AppState,
    request: &providers::Request,
    parser: &mut providers::StreamParser,
    progress: &mut Progress,
    sender: &mpsc::Sender<Outgoing>,
) -> Result<(), Failure> {
    let retry = RetryPolicy {
        max_retries: state.config.playground.max_retries,
        base: std::time::Duration::from_millis(state.config.playground.retry_base_ms),
    };
    let response =
        provider_call::send(&state.provider_http, request, &state.outbound, retry).await?;
    let mut events = provider_call::events(
        response,
        state.config.playground.max_response_bytes,
        request.framing,
    );
    while let Some(event) = events.next().await {
        let event = event?;
        let chunks = parser
            .event(&event.event, &event.data)
            .map_err(Failure::Stream)?;
        for chunk in chunks {
            if progress.first_token.is_none()
                && matches!(chunk, Chunk::Text(_) | Chunk::ToolCall { .. })
            {
                progress.first_token = Some((elapsed_ms(progress.started), Utc::now()));
            }
            progress.completion.add(&chunk);
            let outgoing = match chunk {
                Chunk::Text(text) => Outgoing::Delta { text },
                Chunk::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                } => Outgoing::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                },
                Chunk::Usage(_) | Chunk::Finish(_) => continue,
            };
            // A client that went away stops nothing: the call completes and is traced.
            drop(sender.send(outgoing).await);
        }
        if parser.done() {
            break;
        }
    }
    if !parser.done() && progress.completion == Completion::default() {
        return Err(Failure::Stream("the stream ended before any answer".into()));
    }
    Ok(())
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
