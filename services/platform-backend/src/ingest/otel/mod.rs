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

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ironsmith_auth::{RequirePermission, perm};
use prost::Message;
use serde_json::{Value, json};

use super::Request;
use super::error::IngestError;
use crate::AppState;

mod convert;
mod decode;
mod proto;
#[cfg(test)]
mod tests;

use convert::to_ops;
use decode::{decode_json, decode_protobuf};

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
