//! Spans mapped to run creates: ids, positions, run types, inputs and outputs by attribute
//! convention.

use std::collections::HashMap;

use ironsmith_runs::dotted_order::{self, Position};
use ironsmith_runs::{OpKind, Payload, RunOp};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{STATUS_ERROR, SpanData};

fn trace_uuid(span: &SpanData) -> Uuid {
    Uuid::from_bytes(span.trace_id)
}

fn span_uuid(trace: &[u8; 16], span: &[u8; 8]) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&trace[..8]);
    bytes[8..].copy_from_slice(span);
    Uuid::from_bytes(bytes)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A JSON string attribute parsed as JSON, or wrapped as `{key: text}` when it is not JSON.
fn json_or(value: &Value, key: &str) -> Value {
    match value {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Value::Object(o),
            Ok(other) => json!({ key: other }),
            Err(_) => json!({ key: s }),
        },
        Value::Object(_) => value.clone(),
        other => json!({ key: other }),
    }
}

fn run_type_of(attributes: &HashMap<&str, &Value>) -> String {
    let get = |k: &str| {
        attributes
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_ascii_lowercase)
    };
    if let Some(kind) = get("langsmith.span.kind")
        && ironsmith_runs::RUN_TYPES.contains(&kind.as_str())
    {
        return kind;
    }
    if let Some(operation) = get("gen_ai.operation.name") {
        match operation.as_str() {
            "chat" | "completion" | "text_completion" | "generate_content" => return "llm".into(),
            "embeddings" | "embedding" => return "embedding".into(),
            "execute_tool" => return "tool".into(),
            _ => {}
        }
    }
    if attributes.contains_key("gen_ai.tool.name") {
        return "tool".into();
    }
    for key in ["openinference.span.kind", "traceloop.span.kind"] {
        if let Some(kind) = get(key) {
            match kind.as_str() {
                "llm" => return "llm".into(),
                "tool" => return "tool".into(),
                "retriever" => return "retriever".into(),
                "embedding" => return "embedding".into(),
                "prompt" => return "prompt".into(),
                _ => {}
            }
        }
    }
    "chain".into()
}

/// Messages from indexed attributes: `<prefix>.<n>.role` / `.content` (or `.message.role` /
/// `.message.content`).
fn indexed_messages(attributes: &[(String, Value)], prefix: &str) -> Vec<Value> {
    let mut messages: std::collections::BTreeMap<u64, Map<String, Value>> = Default::default();
    for (key, value) in attributes {
        let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(index) = index.parse::<u64>() else {
            continue;
        };
        let field = field.strip_prefix("message.").unwrap_or(field);
        if matches!(field, "role" | "content") {
            messages
                .entry(index)
                .or_default()
                .insert(field.to_owned(), value.clone());
        }
    }
    messages.into_values().map(Value::Object).collect()
}

/// Each span's run id, computed once.
fn run_ids(spans: &[SpanData]) -> Vec<Uuid> {
    spans
        .iter()
        .map(|span| {
            span.attributes
                .iter()
                .find(|(k, _)| k == "langsmith.span.id")
                .and_then(|(_, v)| v.as_str())
                .and_then(|v| Uuid::try_parse(v).ok())
                .unwrap_or_else(|| match span.parent_span_id {
                    None => trace_uuid(span),
                    Some(_) => span_uuid(&span.trace_id, &span.span_id),
                })
        })
        .collect()
}

/// The dotted order of each span whose ancestors are all in this request, each computed once:
/// a span's is its parent's plus its own segment. Spans are resolved along their parent chains
/// with an explicit stack, so a deep chain neither recurses nor is walked more than once.
fn dotted_orders(
    spans: &[SpanData],
    ids: &[Uuid],
    index: &HashMap<([u8; 16], [u8; 8]), usize>,
) -> Vec<Option<String>> {
    #[derive(Clone)]
    enum State {
        Unresolved,
        InProgress,
        Done(Option<String>),
    }
    let mut state = vec![State::Unresolved; spans.len()];
    let start_us = |i: usize| spans.get(i).map_or(0, |s| (s.start_ns / 1000) as i64);
    let id = |i: usize| ids.get(i).copied().unwrap_or_default();
    for first in 0..spans.len() {
        let mut stack = vec![first];
        while let Some(&i) = stack.last() {
            if matches!(state.get(i), Some(State::Done(_))) {
                stack.pop();
                continue;
            }
            let Some(span) = spans.get(i) else {
                stack.pop();
                continue;
            };
            let parent = span
                .parent_span_id
                .map(|p| index.get(&(span.trace_id, p)).copied());
            let resolved = match parent {
                None => Some(Some(Position::root(start_us(i), id(i)).dotted_order)),
                // The parent is not in this request: the position cannot be known here.
                Some(None) => Some(None),
                Some(Some(p)) => match state.get(p) {
                    Some(State::Done(Some(prefix))) => {
                        Some(Some(dotted_order::child_order(prefix, start_us(i), id(i))))
                    }
                    Some(State::Done(None)) => Some(None),
                    // A cycle of parents: no position.
                    Some(State::InProgress) => Some(None),
                    _ => {
                        if let Some(slot) = state.get_mut(i) {
                            *slot = State::InProgress;
                        }
                        stack.push(p);
                        None
                    }
                },
            };
            if let Some(value) = resolved {
                if let Some(slot) = state.get_mut(i) {
                    *slot = State::Done(value);
                }
                stack.pop();
            }
        }
    }
    state
        .into_iter()
        .map(|s| match s {
            State::Done(value) => value,
            _ => None,
        })
        .collect()
}

/// Maps spans to run creates with their project names.
// Long: one mapping per attribute convention (GenAI, OpenInference, Traceloop, LangSmith's
// own) over the same span; it is split when the conventions become tables.
#[allow(clippy::too_many_lines)]
pub(super) fn to_ops(spans: &[SpanData], project: Option<&str>) -> Vec<(RunOp, Option<String>)> {
    let index: HashMap<([u8; 16], [u8; 8]), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id, s.span_id), i))
        .collect();
    let ids = run_ids(spans);
    let dotted = dotted_orders(spans, &ids, &index);

    spans
        .iter()
        .enumerate()
        .map(|(position, span)| {
            let attributes: HashMap<&str, &Value> =
                span.attributes.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let attr = |k: &str| attributes.get(k).copied();
            let id = ids.get(position).copied().unwrap_or_default();
            let mut op = RunOp::new(OpKind::Post, id);
            op.has_run_part = true;
            op.name = Some(
                attr("langsmith.trace.name")
                    .or(attr("traceloop.entity.name"))
                    .and_then(|v| v.as_str())
                    .unwrap_or(&span.name)
                    .to_owned(),
            );
            op.run_type = Some(run_type_of(&attributes));
            op.start_time_us = Some((span.start_ns / 1000) as i64);
            if span.end_ns > 0 {
                op.end_time_us = Some((span.end_ns / 1000) as i64);
            }
            let given_parent = attr("langsmith.span.parent_id")
                .and_then(|v| v.as_str())
                .and_then(|v| Uuid::try_parse(v).ok());
            op.parent_run_id = given_parent.or_else(|| {
                span.parent_span_id.map(|parent| {
                    index
                        .get(&(span.trace_id, parent))
                        .and_then(|&p| ids.get(p).copied())
                        .unwrap_or_else(|| span_uuid(&span.trace_id, &parent))
                })
            });
            op.trace_id = attr("langsmith.trace.id")
                .and_then(|v| v.as_str())
                .and_then(|v| Uuid::try_parse(v).ok())
                .or(Some(trace_uuid(span)));
            op.dotted_order = attr("langsmith.span.dotted_order")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or_else(|| dotted.get(position).cloned().flatten());
            if let Some(session) = attr("langsmith.trace.session_id")
                .and_then(|v| v.as_str())
                .and_then(|v| Uuid::try_parse(v).ok())
            {
                op.session_id = Some(session);
            }
            let session_name = attr("langsmith.trace.session_name")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or_else(|| op.session_id.is_none().then(|| project.map(str::to_owned)).flatten());

            let mut metadata = Map::new();
            let mut invocation = Map::new();
            let mut tags: Vec<String> = Vec::new();
            let mut inputs = Map::new();
            let mut outputs = Map::new();
            let mut usage = Map::new();
            for (key, value) in &span.resource.attributes {
                metadata.insert(key.clone(), value.clone());
            }
            for (key, value) in &span.attributes {
                let key = key.as_str();
                if let Some(k) = key.strip_prefix("langsmith.metadata.") {
                    metadata.insert(k.to_owned(), value.clone());
                } else if let Some(k) = key.strip_prefix("traceloop.association.properties.") {
                    metadata.insert(k.to_owned(), value.clone());
                } else if let Some(k) = key.strip_prefix("gen_ai.request.") {
                    let k = if k == "stop_sequences" { "stop" } else { k };
                    if k == "model" {
                        invocation.insert("model".into(), value.clone());
                    } else {
                        invocation.insert(k.to_owned(), value.clone());
                    }
                } else if key.starts_with("gen_ai.prompt.")
                    || key.starts_with("gen_ai.completion.")
                    || key.starts_with("llm.input_messages.")
                    || key.starts_with("llm.output_messages.")
                {
                    // Gathered as messages below.
                } else {
                    match key {
                        "langsmith.span.tags" => tags.extend(
                            value
                                .as_str()
                                .unwrap_or("")
                                .split(',')
                                .map(str::trim)
                                .filter(|t| !t.is_empty())
                                .map(str::to_owned),
                        ),
                        "tag.tags" => match value {
                            Value::Array(items) => tags.extend(items.iter().filter_map(text)),
                            Value::String(s) => {
                                if let Ok(items) = serde_json::from_str::<Vec<String>>(s) {
                                    tags.extend(items);
                                }
                            }
                            _ => {}
                        },
                        "gen_ai.system" | "gen_ai.provider.name" | "llm.system" | "llm.provider" => {
                            if let Some(p) = text(value) {
                                metadata.insert("ls_provider".into(), Value::String(p));
                            }
                        }
                        "gen_ai.response.model" | "llm.model_name" => {
                            if let Some(m) = text(value) {
                                invocation.entry("model").or_insert(Value::String(m.clone()));
                                metadata.insert("ls_model_name".into(), Value::String(m));
                            }
                        }
                        "gen_ai.tool.name" => {
                            invocation.insert("tool_name".into(), value.clone());
                        }
                        "llm.invocation_parameters" => {
                            if let Value::Object(params) = json_or(value, "parameters") {
                                invocation.extend(params);
                            }
                        }
                        "metadata" => {
                            if let Value::Object(extra) = json_or(value, "metadata") {
                                metadata.extend(extra);
                            }
                        }
                        "gen_ai.prompt" | "input.value" | "traceloop.entity.input" => {
                            if let Value::Object(o) = json_or(value, "input") {
                                inputs.extend(o);
                            }
                        }
                        "gen_ai.completion" | "output.value" | "traceloop.entity.output" => {
                            if let Value::Object(o) = json_or(value, "output") {
                                outputs.extend(o);
                            }
                        }
                        "gen_ai.input.messages" => {
                            inputs.insert("messages".into(), parse_messages(value));
                        }
                        "gen_ai.output.messages" => {
                            outputs.insert("messages".into(), parse_messages(value));
                        }
                        "gen_ai.usage.input_tokens" | "gen_ai.usage.prompt_tokens" | "llm.token_count.prompt" => {
                            usage.insert("input_tokens".into(), value.clone());
                        }
                        "gen_ai.usage.output_tokens" | "gen_ai.usage.completion_tokens" | "llm.token_count.completion" => {
                            usage.insert("output_tokens".into(), value.clone());
                        }
                        "gen_ai.usage.total_tokens" | "llm.token_count.total" => {
                            usage.insert("total_tokens".into(), value.clone());
                        }
                        k if k.starts_with("langsmith.") || k == "gen_ai.operation.name"
                            || k == "openinference.span.kind" || k == "traceloop.span.kind"
                            || k == "traceloop.entity.name" || k.ends_with(".mime_type") => {}
                        _ => {
                            metadata.insert(key.to_owned(), value.clone());
                        }
                    }
                }
            }
            if let Some(model) = invocation.get("model").and_then(text) {
                metadata.entry("ls_model_name").or_insert(Value::String(model));
            }
            let mut input_messages = indexed_messages(&span.attributes, "gen_ai.prompt");
            input_messages.extend(indexed_messages(&span.attributes, "llm.input_messages"));
            let mut output_messages = indexed_messages(&span.attributes, "gen_ai.completion");
            output_messages.extend(indexed_messages(&span.attributes, "llm.output_messages"));

            let mut events = Vec::new();
            let mut error = (span.status_code == STATUS_ERROR).then(|| {
                if span.status_message.is_empty() {
                    "error".to_owned()
                } else {
                    span.status_message.clone()
                }
            });
            for event in &span.events {
                let get = |k: &str| {
                    event.attributes.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
                };
                match event.name.as_str() {
                    "gen_ai.system.message" | "gen_ai.user.message" | "gen_ai.assistant.message"
                    | "gen_ai.tool.message" => {
                        let role = event.name.trim_start_matches("gen_ai.").trim_end_matches(".message");
                        input_messages.push(json!({
                            "role": get("role").unwrap_or(Value::String(role.to_owned())),
                            "content": get("content").unwrap_or(Value::Null),
                        }));
                    }
                    "gen_ai.choice" => {
                        let message = get("message").map(|m| json_or(&m, "content"));
                        output_messages.push(message.unwrap_or_else(|| {
                            json!({"role": "assistant", "content": get("content").unwrap_or(Value::Null)})
                        }));
                    }
                    "exception" => {
                        let message = get("exception.message").and_then(|v| text(&v)).unwrap_or_default();
                        let kind = get("exception.type").and_then(|v| text(&v)).unwrap_or_default();
                        let trace = get("exception.stacktrace").and_then(|v| text(&v)).unwrap_or_default();
                        let mut full = if kind.is_empty() { message } else { format!("{kind}: {message}") };
                        if !trace.is_empty() {
                            full = format!("{full}\n\n{trace}");
                        }
                        error = Some(full);
                    }
                    _ => {
                        let kwargs: Map<String, Value> = event.attributes.iter().cloned().collect();
                        events.push(json!({
                            "name": event.name,
                            "time": ironsmith_api_types::timestamp::format(
                                &ironsmith_api_types::timestamp::from_micros((event.time_ns / 1000) as i64)),
                            "kwargs": kwargs,
                        }));
                    }
                }
            }
            if !input_messages.is_empty() {
                inputs.insert("messages".into(), Value::Array(input_messages));
            }
            if !output_messages.is_empty() {
                outputs.insert("messages".into(), Value::Array(output_messages));
            }
            if !usage.is_empty() {
                outputs.insert("usage_metadata".into(), Value::Object(usage));
            }
            op.inputs = Some(Payload::Inline(raw(&Value::Object(inputs))));
            if !outputs.is_empty() || op.end_time_us.is_some() {
                op.outputs = Some(Payload::Inline(raw(&Value::Object(outputs))));
            }
            let mut extra = Map::new();
            extra.insert("metadata".into(), Value::Object(metadata));
            if !invocation.is_empty() {
                extra.insert("invocation_params".into(), Value::Object(invocation));
            }
            extra.insert("runtime".into(), json!({"sdk": "otel"}));
            op.extra = Some(raw(&Value::Object(extra)));
            if !events.is_empty() {
                op.events = Some(raw(&Value::Array(events)));
            }
            op.error = error;
            if !tags.is_empty() {
                op.tags = Some(tags);
            }
            (op, session_name)
        })
        .collect()
}

fn parse_messages(value: &Value) -> Value {
    match value {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        other => other.clone(),
    }
}

fn raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| {
        RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
    })
}
