//! The two OTLP encodings, protobuf and JSON, decoded into `SpanData`.

use std::sync::Arc;

use base64::Engine;
use prost::Message;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{EventData, Resource, STATUS_ERROR, SpanData, check_span_count, proto};
use crate::ingest::error::IngestError;

pub(super) fn decode_protobuf(bytes: &[u8], cap: usize) -> Result<Vec<SpanData>, IngestError> {
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

pub(super) fn decode_json(bytes: &[u8], cap: usize) -> Result<Vec<SpanData>, IngestError> {
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
