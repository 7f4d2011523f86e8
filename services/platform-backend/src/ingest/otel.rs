//! OTLP/HTTP trace export at `/otel` and `/otel/v1/traces`, protobuf or JSON,
//! gzip allowed. Spans become ordinary run creates, validated and stored like any other run.
//! OTLP allows partial acceptance, so a span that fails validation is rejected alone and
//! counted in `partial_success`; the others are accepted.
//!
//! Ids: a span carrying `langsmith.span.id` (and friends) keeps those ids. Otherwise the trace
//! UUID is the 16-byte OTel trace id, a root span's run id is the trace UUID, and any other
//! span's run id is the first 8 bytes of the trace id followed by its 8-byte span id. A span's
//! `dotted_order` is built from its ancestors in the same export request (an exporter sends a
//! trace's spans together unless the trace outlives its batching window); a span whose
//! ancestors came in another request is stored without one.
//!
//! Work is linear in the body: spans are counted right after decoding and a request over the
//! per-request cap is refused before anything is built; each span's position is computed once
//! (memoised along the parent chain); resource attributes are shared by the spans of their
//! resource, and a request whose resource attributes, repeated into each of its runs, would
//! exceed the decompressed-body cap is refused.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ironsmith_auth::{RequirePermission, perm};
use ironsmith_runs::{OpKind, Payload, RunOp, dotted_order};
use prost::Message;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Request;
use super::error::IngestError;
use crate::AppState;

mod proto {
    //! The subset of the OTLP trace protos we read (opentelemetry-proto, `trace/v1`,
    //! `common/v1`, `resource/v1`, `collector/trace/v1`), field numbers as published.

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceResponse {
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportTracePartialSuccess>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTracePartialSuccess {
        #[prost(int64, tag = "1")]
        pub rejected_spans: i64,
        #[prost(string, tag = "2")]
        pub error_message: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub parent_span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(fixed64, tag = "7")]
        pub start_time_unix_nano: u64,
        #[prost(fixed64, tag = "8")]
        pub end_time_unix_nano: u64,
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        #[prost(message, repeated, tag = "11")]
        pub events: Vec<Event>,
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(message, repeated, tag = "3")]
        pub attributes: Vec<KeyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(int32, tag = "3")]
        pub code: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
        pub value: Option<any_value::Value>,
    }
    pub mod any_value {
        // The variant names are the proto's field names.
        #[allow(clippy::enum_variant_names)]
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(string, tag = "1")]
            StringValue(String),
            #[prost(bool, tag = "2")]
            BoolValue(bool),
            #[prost(int64, tag = "3")]
            IntValue(i64),
            #[prost(double, tag = "4")]
            DoubleValue(f64),
            #[prost(message, tag = "5")]
            ArrayValue(super::ArrayValue),
            #[prost(message, tag = "6")]
            KvlistValue(super::KeyValueList),
            #[prost(bytes = "vec", tag = "7")]
            BytesValue(Vec<u8>),
        }
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ArrayValue {
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<AnyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValueList {
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<KeyValue>,
    }
}

/// A span in a form both encodings convert to.
#[derive(Debug, Clone, Default)]
struct SpanData {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: Option<[u8; 8]>,
    name: String,
    start_ns: u64,
    end_ns: u64,
    attributes: Vec<(String, Value)>,
    events: Vec<EventData>,
    status_code: i32,
    status_message: String,
    /// The attributes of the span's resource, shared by every span of that resource.
    resource: Arc<Resource>,
}

/// A resource's attributes, and their size as JSON (what each run repeats).
#[derive(Debug, Default)]
struct Resource {
    attributes: Vec<(String, Value)>,
    json_bytes: usize,
}

impl Resource {
    fn new(attributes: Vec<(String, Value)>) -> Arc<Resource> {
        let json_bytes = attributes
            .iter()
            .map(|(k, v)| k.len() + v.to_string().len() + 4)
            .sum();
        Arc::new(Resource {
            attributes,
            json_bytes,
        })
    }
}

/// Refuses a request of more spans than one request may carry, before any is converted.
fn check_span_count(count: usize, cap: usize) -> Result<(), IngestError> {
    if count > cap {
        return Err(IngestError::TooLarge(format!(
            "{count} spans in one request; at most {cap} are accepted"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
struct EventData {
    time_ns: u64,
    name: String,
    attributes: Vec<(String, Value)>,
}

const STATUS_ERROR: i32 = 2;

/// OTLP/HTTP trace export at the path OpenTelemetry exporters append by default.
#[utoipa::path(post, path = "/otel/v1/traces", tag = "ingestion",
    request_body(content = String, content_type = "application/x-protobuf",
        description = "An OTLP `ExportTraceServiceRequest`; an empty body is an empty request"),
    responses((status = 200, description = "An `ExportTraceServiceResponse`")))]
pub async fn export_traces(
    state: State<AppState>,
    auth: RequirePermission<perm::RunsCreate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    export(state, auth, headers, body).await
}

/// OTLP/HTTP trace export, protobuf or JSON, as OpenTelemetry exporters send it.
#[utoipa::path(post, path = "/otel", tag = "ingestion",
    request_body(content = String, content_type = "application/x-protobuf",
        description = "An OTLP `ExportTraceServiceRequest`; an empty body is an empty request"),
    responses((status = 200, description = "An `ExportTraceServiceResponse`")))]
pub async fn export(
    State(state): State<AppState>,
    auth: RequirePermission<perm::RunsCreate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let limits = &state.ingest.config().ingest;
    let bytes = state.ingest.read_body(&headers, body).await?;
    let cap = limits.max_runs_per_request;
    let spans = if json {
        decode_json(&bytes, cap)?
    } else {
        decode_protobuf(&bytes, cap)?
    };
    // Every run repeats its resource's attributes in its metadata: bound what that expands to.
    let repeated: usize = spans.iter().map(|s| s.resource.json_bytes).sum();
    if repeated > limits.max_decompressed_bytes {
        return Err(IngestError::TooLarge(format!(
            "resource attributes repeated into each of {} spans would take {repeated} bytes; at \
             most {} are accepted",
            spans.len(),
            limits.max_decompressed_bytes
        )));
    }
    let project = headers
        .get("langsmith-project")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|p| !p.is_empty());

    let mut request = Request::default();
    let mut rejected = Vec::new();
    for mut op in to_ops(&spans, project.as_deref()) {
        match ironsmith_runs::wire::validate(&mut op.0, false) {
            Ok(()) => request.ops.push(op),
            Err(error) => rejected.push(error.to_string()),
        }
    }
    state.ingest.accept(&auth, request, false).await?;
    Ok(respond(json, &rejected))
}

/// Decodes an export body and maps it to validated run operations, as `export` does; returns
/// how many passed validation (the fuzz targets' entry).
pub(super) fn fuzz(bytes: &[u8], json: bool, cap: usize) -> usize {
    let spans = if json {
        decode_json(bytes, cap)
    } else {
        decode_protobuf(bytes, cap)
    };
    let Ok(spans) = spans else {
        return 0;
    };
    to_ops(&spans, None)
        .into_iter()
        .filter_map(|(mut op, _)| ironsmith_runs::wire::validate(&mut op, false).ok())
        .count()
}

fn respond(json: bool, rejected: &[String]) -> Response {
    let partial = (!rejected.is_empty()).then(|| proto::ExportTracePartialSuccess {
        rejected_spans: rejected.len() as i64,
        error_message: rejected.join("; "),
    });
    let mut response = if json {
        let body = match &partial {
            Some(p) => {
                json!({"partialSuccess": {"rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message}})
            }
            None => json!({}),
        };
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        let body = proto::ExportTraceServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec();
        (StatusCode::OK, body).into_response()
    };
    if !json {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
    }
    response
}

fn decode_protobuf(bytes: &[u8], cap: usize) -> Result<Vec<SpanData>, IngestError> {
    let request = proto::ExportTraceServiceRequest::decode(bytes).map_err(|e| {
        IngestError::BadRequest(format!(
            "the body is not an OTLP ExportTraceServiceRequest: {e}"
        ))
    })?;
    let count = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    check_span_count(count, cap)?;
    let mut spans = Vec::with_capacity(count);
    for resource_spans in request.resource_spans {
        let resource = Resource::new(
            resource_spans
                .resource
                .map(|r| r.attributes.into_iter().map(kv_proto).collect())
                .unwrap_or_default(),
        );
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let (trace_id, span_id) = (fixed(&span.trace_id), fixed(&span.span_id));
                let (Some(trace_id), Some(span_id)) = (trace_id, span_id) else {
                    return Err(IngestError::BadRequest(format!(
                        "span '{}' has a trace id or span id of the wrong length",
                        span.name
                    )));
                };
                let status = span.status.unwrap_or_default();
                spans.push(SpanData {
                    trace_id,
                    span_id,
                    parent_span_id: fixed(&span.parent_span_id).filter(|p| *p != [0; 8]),
                    name: span.name,
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    attributes: span.attributes.into_iter().map(kv_proto).collect(),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| EventData {
                            time_ns: e.time_unix_nano,
                            name: e.name,
                            attributes: e.attributes.into_iter().map(kv_proto).collect(),
                        })
                        .collect(),
                    status_code: status.code,
                    status_message: status.message,
                    resource: Arc::clone(&resource),
                });
            }
        }
    }
    Ok(spans)
}

fn fixed<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

fn kv_proto(kv: proto::KeyValue) -> (String, Value) {
    (kv.key, kv.value.map(any_proto).unwrap_or(Value::Null))
}

fn any_proto(value: proto::AnyValue) -> Value {
    use proto::any_value::Value as V;
    match value.value {
        Some(V::StringValue(s)) => Value::String(s),
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => json!(i),
        Some(V::DoubleValue(d)) => json!(d),
        Some(V::ArrayValue(a)) => Value::Array(a.values.into_iter().map(any_proto).collect()),
        Some(V::KvlistValue(l)) => Value::Object(l.values.into_iter().map(kv_proto).collect()),
        Some(V::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        None => Value::Null,
    }
}

// OTLP/JSON: camelCase keys, hex ids, 64-bit integers as strings or numbers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRequest {
    #[serde(default)]
    resource_spans: Vec<JsonResourceSpans>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonResourceSpans {
    #[serde(default)]
    resource: Option<JsonResource>,
    #[serde(default)]
    scope_spans: Vec<JsonScopeSpans>,
}
#[derive(Deserialize)]
struct JsonResource {
    #[serde(default)]
    attributes: Vec<JsonKeyValue>,
}
#[derive(Deserialize)]
struct JsonScopeSpans {
    #[serde(default)]
    spans: Vec<JsonSpan>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    start_time_unix_nano: Option<Value>,
    #[serde(default)]
    end_time_unix_nano: Option<Value>,
    #[serde(default)]
    attributes: Vec<JsonKeyValue>,
    #[serde(default)]
    events: Vec<JsonEvent>,
    #[serde(default)]
    status: Option<JsonStatus>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEvent {
    #[serde(default)]
    time_unix_nano: Option<Value>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    attributes: Vec<JsonKeyValue>,
}
#[derive(Deserialize)]
struct JsonStatus {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
}
#[derive(Deserialize)]
struct JsonKeyValue {
    key: String,
    #[serde(default)]
    value: Option<Map<String, Value>>,
}

fn decode_json(bytes: &[u8], cap: usize) -> Result<Vec<SpanData>, IngestError> {
    let request: JsonRequest = serde_json::from_slice(bytes).map_err(|e| {
        IngestError::BadRequest(format!(
            "the body is not an OTLP/JSON ExportTraceServiceRequest: {e}"
        ))
    })?;
    let count = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    check_span_count(count, cap)?;
    let mut spans = Vec::with_capacity(count);
    for resource_spans in request.resource_spans {
        let resource = Resource::new(
            resource_spans
                .resource
                .map(|r| r.attributes.into_iter().map(kv_json).collect())
                .unwrap_or_default(),
        );
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let bad = |what: &str| {
                    IngestError::BadRequest(format!("span '{}': {what} is not a hex id", span.name))
                };
                let trace_id = hex_id::<16>(&span.trace_id).ok_or_else(|| bad("traceId"))?;
                let span_id = hex_id::<8>(&span.span_id).ok_or_else(|| bad("spanId"))?;
                let parent_span_id = match span.parent_span_id.as_deref() {
                    None | Some("") => None,
                    Some(p) => Some(hex_id::<8>(p).ok_or_else(|| bad("parentSpanId"))?),
                };
                let (code, message) = span
                    .status
                    .map(|s| (status_code(s.code.as_ref()), s.message.unwrap_or_default()))
                    .unwrap_or_default();
                spans.push(SpanData {
                    trace_id,
                    span_id,
                    parent_span_id: parent_span_id.filter(|p| *p != [0; 8]),
                    start_ns: nanos(span.start_time_unix_nano.as_ref()),
                    end_ns: nanos(span.end_time_unix_nano.as_ref()),
                    attributes: span.attributes.into_iter().map(kv_json).collect(),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| EventData {
                            time_ns: nanos(e.time_unix_nano.as_ref()),
                            name: e.name,
                            attributes: e.attributes.into_iter().map(kv_json).collect(),
                        })
                        .collect(),
                    status_code: code,
                    status_message: message,
                    resource: Arc::clone(&resource),
                    name: span.name,
                });
            }
        }
    }
    Ok(spans)
}

fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())?;
    bytes.try_into().ok()
}

fn nanos(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn status_code(value: Option<&Value>) -> i32 {
    match value {
        Some(Value::Number(n)) => n.as_i64().map_or(0, |n| n as i32),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("STATUS_CODE_ERROR") => STATUS_ERROR,
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn kv_json(kv: JsonKeyValue) -> (String, Value) {
    (kv.key, kv.value.map(any_json).unwrap_or(Value::Null))
}

fn any_json(value: Map<String, Value>) -> Value {
    let Some((kind, inner)) = value.into_iter().next() else {
        return Value::Null;
    };
    match (kind.as_str(), inner) {
        ("intValue", Value::String(s)) => s.parse::<i64>().map_or(Value::String(s), |i| json!(i)),
        ("arrayValue", Value::Object(mut a)) => match a.remove("values") {
            Some(Value::Array(values)) => Value::Array(
                values
                    .into_iter()
                    .map(|v| match v {
                        Value::Object(m) => any_json(m),
                        other => other,
                    })
                    .collect(),
            ),
            _ => Value::Array(Vec::new()),
        },
        ("kvlistValue", Value::Object(mut l)) => match l.remove("values") {
            Some(Value::Array(values)) => Value::Object(
                values
                    .into_iter()
                    .filter_map(|v| serde_json::from_value::<JsonKeyValue>(v).ok())
                    .map(kv_json)
                    .collect(),
            ),
            _ => Value::Object(Map::new()),
        },
        (_, inner) => inner,
    }
}

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
    let segment = |i: usize| {
        let start_us = spans.get(i).map_or(0, |s| (s.start_ns / 1000) as i64);
        dotted_order::segment(start_us, ids.get(i).copied().unwrap_or_default())
    };
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
                None => Some(Some(segment(i))),
                // The parent is not in this request: the position cannot be known here.
                Some(None) => Some(None),
                Some(Some(p)) => match state.get(p) {
                    Some(State::Done(Some(prefix))) => {
                        Some(Some(format!("{prefix}.{}", segment(i))))
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
fn to_ops(spans: &[SpanData], project: Option<&str>) -> Vec<(RunOp, Option<String>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` spans in one trace, each the parent of the next, in reverse order (an
    /// exporter sends children first).
    fn chain(n: usize) -> proto::ExportTraceServiceRequest {
        let trace_id = vec![7u8; 16];
        let span_id = |i: usize| (i as u64 + 1).to_be_bytes().to_vec();
        let spans = (0..n)
            .rev()
            .map(|i| proto::Span {
                trace_id: trace_id.clone(),
                span_id: span_id(i),
                parent_span_id: if i == 0 { Vec::new() } else { span_id(i - 1) },
                name: format!("span-{i}"),
                start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1000,
                end_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1000 + 500,
                ..Default::default()
            })
            .collect();
        proto::ExportTraceServiceRequest {
            resource_spans: vec![proto::ResourceSpans {
                resource: Some(proto::Resource {
                    attributes: vec![proto::KeyValue {
                        key: "service.name".into(),
                        value: Some(proto::AnyValue {
                            value: Some(proto::any_value::Value::StringValue("svc".into())),
                        }),
                    }],
                }),
                scope_spans: vec![proto::ScopeSpans { spans }],
            }],
        }
    }

    #[test]
    fn an_over_cap_request_is_refused_before_any_span_is_built() {
        let body = chain(2_000).encode_to_vec();
        let error = decode_protobuf(&body, 1_000).expect_err("over the cap");
        assert!(matches!(error, IngestError::TooLarge(_)), "{error:?}");
    }

    #[test]
    fn a_deep_chain_gets_every_position_once() {
        let body = chain(1_000).encode_to_vec();
        let spans = decode_protobuf(&body, 1_000).expect("within the cap");
        // Every span of one resource shares its attributes.
        assert!(spans.windows(2).all(|w| match w {
            [a, b] => Arc::ptr_eq(&a.resource, &b.resource),
            _ => true,
        }));
        let ops = to_ops(&spans, None);
        let deepest = ops
            .iter()
            .find(|(op, _)| op.name.as_deref() == Some("span-999"))
            .and_then(|(op, _)| op.dotted_order.clone())
            .expect("the deepest span has a position");
        assert_eq!(deepest.split('.').count(), 1_000);
        let root = ops
            .iter()
            .find(|(op, _)| op.name.as_deref() == Some("span-0"))
            .and_then(|(op, _)| op.dotted_order.clone())
            .expect("the root has a position");
        assert!(deepest.starts_with(&root), "{deepest} / {root}");
        // Every position is its parent's plus one segment.
        for (op, _) in &ops {
            let dotted = op.dotted_order.as_deref().expect("position");
            ironsmith_runs::dotted_order::parse(dotted).expect("well formed");
        }
    }

    #[test]
    fn a_missing_parent_or_a_cycle_leaves_no_position() {
        let mut request = chain(3);
        let spans = &mut request.resource_spans[0].scope_spans[0].spans;
        // span-0 (last in the list) now names span-2 as its parent: a cycle of three.
        if let Some(root) = spans.last_mut() {
            root.parent_span_id = 3u64.to_be_bytes().to_vec();
        }
        spans.push(proto::Span {
            trace_id: vec![7u8; 16],
            span_id: 99u64.to_be_bytes().to_vec(),
            parent_span_id: 98u64.to_be_bytes().to_vec(),
            name: "orphan".into(),
            ..Default::default()
        });
        let decoded = decode_protobuf(&request.encode_to_vec(), 10).expect("decodes");
        for (op, _) in to_ops(&decoded, None) {
            assert_eq!(op.dotted_order, None, "{:?}", op.name);
        }
    }

    #[test]
    fn resource_attributes_are_sized_once_per_resource() {
        let resource = Resource::new(vec![("k".into(), Value::String("x".repeat(100)))]);
        assert!(resource.json_bytes >= 100);
    }
}
