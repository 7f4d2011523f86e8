//! The SDKs' run and feedback JSON, read leniently: unknown keys are ignored, `null` is "not
//! sent", timestamps take every form the SDKs send (`timestamp::parse`) and UUIDs come
//! hyphenated or not. A wrong type is a 422 naming the run and the field; a bad `dotted_order`
//! is a 400.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::dotted_order::{self, Claims};
use crate::feedback::{Anchor, FeedbackWire};
use crate::op::{FeedbackOp, OpKind, Payload, RunOp};

/// The seven run types; anything else is refused.
pub const RUN_TYPES: [&str; 7] = [
    "tool",
    "chain",
    "llm",
    "retriever",
    "embedding",
    "prompt",
    "parser",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// 400, wrapped as `Bad request: invalid 'dotted_order': <message>`.
    #[error("{0}")]
    DottedOrder(String),
    /// 400: a field the endpoint requires is absent.
    #[error("run {run}: '{field}' is required")]
    Missing { run: Uuid, field: &'static str },
    /// 422: a field has the wrong type or value.
    #[error("{}field '{field}': {message}", run.map(|r| format!("run {r}: ")).unwrap_or_default())]
    Invalid {
        run: Option<Uuid>,
        field: String,
        message: String,
    },
}

impl WireError {
    fn invalid(run: Option<Uuid>, field: &str, message: impl Into<String>) -> Self {
        WireError::Invalid {
            run,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A run as the SDKs send it. Times are RFC 3339 strings (with or without a zone) or
/// epoch milliseconds.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RunWire {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(tool|chain|llm|retriever|embedding|prompt|parser)$")]
    pub run_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    pub end_time: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<Box<RawValue>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<Box<RawValue>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Box<RawValue>>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub events: Option<Box<RawValue>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub serialized: Option<Box<RawValue>>,
    #[serde(default)]
    pub parent_run_id: Option<Uuid>,
    #[serde(default)]
    pub trace_id: Option<Uuid>,
    #[serde(default)]
    #[schema(
        pattern = "^[0-9]{8}T[0-9]{12}Z[0-9a-fA-F-]{36}(\\.[0-9]{8}T[0-9]{12}Z[0-9a-fA-F-]{36})*$"
    )]
    pub dotted_order: Option<String>,
    #[serde(default)]
    pub session_name: Option<String>,
    #[serde(default)]
    pub session_id: Option<Uuid>,
    #[serde(default)]
    pub reference_example_id: Option<Uuid>,
}

/// Parses one run object; `run` names it in errors when its id is known from elsewhere
/// (a part name, a path).
pub fn parse_run(bytes: &[u8], run: Option<Uuid>) -> Result<RunWire, WireError> {
    // Serde would also read the struct from an array of its fields in order.
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(WireError::invalid(
            run,
            "body",
            "a run must be a JSON object".to_owned(),
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let wire: RunWire = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." {
            "body".to_owned()
        } else {
            field
        };
        WireError::invalid(
            run.or_else(|| id_of(bytes)),
            &field,
            error.into_inner().to_string(),
        )
    })?;
    let run = wire.id.or(run);
    for (field, value) in [
        ("inputs", &wire.inputs),
        ("outputs", &wire.outputs),
        ("extra", &wire.extra),
        ("serialized", &wire.serialized),
    ] {
        if let Some(value) = value {
            expect_shape(run, field, value, b'{', "an object")?;
        }
    }
    if let Some(events) = &wire.events {
        expect_shape(run, "events", events, b'[', "an array")?;
    }
    Ok(wire)
}

/// The `id` of a run object that failed to parse, to name it in the error.
fn id_of(bytes: &[u8]) -> Option<Uuid> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<serde_json::Value>,
    }
    let id = serde_json::from_slice::<IdOnly>(bytes).ok()?.id?;
    Uuid::try_parse(id.as_str()?).ok()
}

fn expect_shape(
    run: Option<Uuid>,
    field: &str,
    value: &RawValue,
    opening: u8,
    what: &str,
) -> Result<(), WireError> {
    if value.get().trim_start().as_bytes().first() == Some(&opening) {
        Ok(())
    } else {
        Err(WireError::invalid(run, field, format!("must be {what}")))
    }
}

impl RunWire {
    /// The operation this run describes, with its project still to resolve (`session_name`
    /// is returned beside it).
    pub fn into_op(self, kind: OpKind, id: Uuid) -> (RunOp, Option<String>) {
        let mut op = RunOp::new(kind, id);
        op.has_run_part = true;
        op.session_id = self.session_id;
        op.name = self.name;
        op.run_type = self.run_type;
        op.start_time_us = self.start_time;
        op.end_time_us = self.end_time;
        op.trace_id = self.trace_id;
        op.parent_run_id = self.parent_run_id;
        op.dotted_order = self.dotted_order.filter(|d| !d.is_empty());
        op.reference_example_id = self.reference_example_id;
        op.tags = self.tags;
        op.error = self.error;
        op.inputs = self.inputs.map(Payload::Inline);
        op.outputs = self.outputs.map(Payload::Inline);
        op.extra = self.extra;
        op.events = self.events;
        op.serialized = self.serialized;
        (op, self.session_name.filter(|n| !n.is_empty()))
    }
}

/// Validates an operation before it is accepted: run type, required fields, and the
/// `dotted_order` invariants. `require_trace` is true on batch and multipart, where
/// creates must carry `trace_id` and `dotted_order`. Fills `trace_id` and `start_time` from a
/// valid `dotted_order` when they are absent.
pub fn validate(op: &mut RunOp, require_trace: bool) -> Result<(), WireError> {
    let run = Some(op.id);
    if let Some(run_type) = &op.run_type
        && !RUN_TYPES.contains(&run_type.as_str())
    {
        return Err(WireError::invalid(
            run,
            "run_type",
            format!("'{run_type}' is not one of {}", RUN_TYPES.join(", ")),
        ));
    }
    if op.kind == OpKind::Post && op.has_run_part {
        if op.name.as_deref().is_none_or(str::is_empty) {
            return Err(WireError::invalid(run, "name", "a create needs a name"));
        }
        if op.run_type.is_none() {
            return Err(WireError::invalid(
                run,
                "run_type",
                "a create needs a run_type",
            ));
        }
        if require_trace {
            if op.trace_id.is_none() {
                return Err(WireError::Missing {
                    run: op.id,
                    field: "trace_id",
                });
            }
            if op.dotted_order.is_none() {
                return Err(WireError::Missing {
                    run: op.id,
                    field: "dotted_order",
                });
            }
        }
    }
    if let Some(dotted) = &op.dotted_order {
        let first = dotted_order::parse(dotted)
            .ok()
            .and_then(|segments| segments.first().map(|s| s.id));
        let trace_id = op.trace_id.or(first).unwrap_or(op.id);
        let segments = dotted_order::validate(&Claims {
            id: op.id,
            trace_id,
            parent_run_id: op.parent_run_id,
            dotted_order: dotted,
        })
        .map_err(WireError::DottedOrder)?;
        op.trace_id = Some(trace_id);
        if op.start_time_us.is_none() {
            op.start_time_us = segments.last().map(|s| s.time_us);
        }
    }
    check_nesting(op)?;
    // An end before the start is not refused: clients on skewed clocks send it, and JS puts
    // an execution counter into the microseconds of dotted_order, so a start taken from there
    // can pass an end in the same millisecond.
    Ok(())
}

/// Deepest nesting of objects and arrays accepted in a run's JSON fields. Every layer that
/// stores or serves a run (the worker, the readers, the SDKs' own parsers) nests the fields a
/// few levels deeper and parses them again with a recursion limit of 128, so anything deeper
/// than this could not be read back; it is refused up front instead.
pub const MAX_NESTING: usize = 64;

fn check_nesting(op: &RunOp) -> Result<(), WireError> {
    fn inline(p: &Option<Payload>) -> Option<&str> {
        match p {
            Some(Payload::Inline(json)) => Some(json.get()),
            _ => None,
        }
    }
    let fields = [
        ("inputs", inline(&op.inputs)),
        ("outputs", inline(&op.outputs)),
        ("extra", op.extra.as_deref().map(RawValue::get)),
        ("events", op.events.as_deref().map(RawValue::get)),
        ("serialized", op.serialized.as_deref().map(RawValue::get)),
    ];
    for (field, json) in fields {
        if let Some(json) = json
            && nesting_depth(json) > MAX_NESTING
        {
            return Err(WireError::invalid(
                Some(op.id),
                field,
                format!("nests deeper than {MAX_NESTING} levels of objects and arrays"),
            ));
        }
    }
    Ok(())
}

/// The deepest nesting of objects and arrays in well-formed JSON text, in one pass.
pub fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses a multipart field part (`post.<id>.<field>`) into `op`.
pub fn apply_field(op: &mut RunOp, field: &str, bytes: &[u8]) -> Result<(), WireError> {
    let run = Some(op.id);
    let raw = || -> Result<Box<RawValue>, WireError> {
        serde_json::from_slice::<Box<RawValue>>(bytes)
            .map_err(|e| WireError::invalid(run, field, format!("is not valid JSON: {e}")))
    };
    match field {
        "inputs" | "outputs" | "extra" | "serialized" => {
            let value = raw()?;
            if value.get() == "null" {
                return Ok(());
            }
            expect_shape(run, field, &value, b'{', "an object")?;
            match field {
                "inputs" => op.inputs = Some(Payload::Inline(value)),
                "outputs" => op.outputs = Some(Payload::Inline(value)),
                "extra" => op.extra = Some(value),
                _ => op.serialized = Some(value),
            }
        }
        "events" => {
            let value = raw()?;
            if value.get() == "null" {
                return Ok(());
            }
            expect_shape(run, field, &value, b'[', "an array")?;
            op.events = Some(value);
        }
        "error" => {
            let value: Option<String> = serde_json::from_slice(bytes).map_err(|e| {
                WireError::invalid(run, field, format!("must be a JSON string: {e}"))
            })?;
            if value.is_some() {
                op.error = value;
            }
        }
        other => {
            return Err(WireError::invalid(
                run,
                other,
                "is not a run field part (inputs, outputs, events, extra, error, serialized)",
            ));
        }
    }
    Ok(())
}

/// Parses a `feedback.<id>` part. `now_us` dates feedback that carries no time.
pub fn parse_feedback(bytes: &[u8], id: Uuid, now_us: i64) -> Result<FeedbackOp, WireError> {
    let invalid = |field: &str, message: String| WireError::Invalid {
        run: None,
        field: format!("feedback {id}: {field}"),
        message,
    };
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let wire: FeedbackWire = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| invalid(&e.path().to_string(), e.into_inner().to_string()))?;
    wire.into_op(id, now_us, Anchor::Trace)
        .map_err(|rule| invalid(rule.field, rule.message))
}

/// A timestamp in any form the SDKs send, as µs since the epoch.
pub fn lenient_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Time {
        Text(String),
        Number(f64),
    }
    let Some(time) = Option::<Time>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let parsed = match &time {
        Time::Text(text) => ironsmith_api_types::timestamp::parse(text),
        Time::Number(n) => ironsmith_api_types::timestamp::from_epoch(*n),
    };
    match parsed {
        Some(t) => Ok(Some(t.timestamp_micros())),
        None => Err(serde::de::Error::custom(match time {
            Time::Text(text) => format!("'{text}' is not a timestamp"),
            Time::Number(n) => format!("{n} is not an epoch timestamp"),
        })),
    }
}

/// A feedback score: a number or a boolean (true = 1).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert_eq!(nesting_depth(r#"{"a": 1}"#), 1);
        assert_eq!(nesting_depth(r#"{"a": [{"b": []}]}"#), 4);
        assert_eq!(nesting_depth(r#"{"a": "[[[[{{{{\"]]]"}"#), 1);
        assert_eq!(nesting_depth("[]"), 1);
        assert_eq!(nesting_depth("1"), 0);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(nesting_depth(&deep), 200);
    }

    const ID: &str = "0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d11";

    fn post(json: &str) -> Result<RunOp, WireError> {
        let wire = parse_run(json.as_bytes(), None)?;
        let id = wire.id.unwrap_or_default();
        let (mut op, _) = wire.into_op(OpKind::Post, id);
        validate(&mut op, true)?;
        Ok(op)
    }

    #[test]
    fn a_py_style_create_is_read_leniently() {
        let op = post(&format!(
            r#"{{"id":"{}","name":"pipeline","run_type":"chain","start_time":"2025-03-01T10:15:00.123456",
               "end_time":1740824101002,"trace_id":"{ID}","dotted_order":"20250301T101500123456Z{ID}",
               "inputs":{{"q":"hi"}},"replicas":[],"child_runs":[],"attachments":null,"tags":null,
               "session_name":"my-app"}}"#,
            ID.replace('-', "").to_uppercase()
        ))
        .expect("valid");
        assert_eq!(op.id.to_string(), ID);
        assert_eq!(op.start_time_us, Some(1_740_824_100_123_456));
        assert_eq!(op.end_time_us, Some(1_740_824_101_002_000));
        assert!(op.tags.is_none());
    }

    #[test]
    fn wrong_types_name_the_run_and_field() {
        let error = post(&format!(
            r#"{{"id":"{ID}","name":5,"run_type":"chain","trace_id":"{ID}","dotted_order":"x"}}"#
        ))
        .expect_err("name is a number");
        assert!(
            matches!(&error, WireError::Invalid { field, .. } if field == "name"),
            "{error:?}"
        );
        assert!(error.to_string().contains(ID), "{error}");

        let error = post(&format!(
            r#"{{"id":"{ID}","name":"a","run_type":"agent","trace_id":"{ID}","dotted_order":"20250301T101500123456Z{ID}"}}"#
        ))
        .expect_err("agent");
        assert!(
            error.to_string().contains("'agent' is not one of"),
            "{error}"
        );

        let error = post(&format!(
            r#"{{"id":"{ID}","name":"a","run_type":"chain","inputs":"text","trace_id":"{ID}","dotted_order":"20250301T101500123456Z{ID}"}}"#
        ))
        .expect_err("inputs must be an object");
        assert!(
            error.to_string().contains("'inputs': must be an object"),
            "{error}"
        );

        let error = post(&format!(
            r#"{{"id":"{ID}","name":"a","run_type":"chain","start_time":"soon","trace_id":"{ID}"}}"#
        ))
        .expect_err("bad time");
        assert!(error.to_string().contains("start_time"), "{error}");
    }

    #[test]
    fn batch_creates_need_trace_and_dotted_order() {
        let error = post(&format!(r#"{{"id":"{ID}","name":"a","run_type":"chain"}}"#))
            .expect_err("no trace");
        assert_eq!(
            error,
            WireError::Missing {
                run: Uuid::parse_str(ID).expect("uuid"),
                field: "trace_id"
            }
        );
    }

    #[test]
    fn a_patch_takes_its_trace_and_start_from_dotted_order() {
        let wire = parse_run(
            format!(r#"{{"dotted_order":"20250301T101500123456Z{ID}","outputs":{{}}}}"#).as_bytes(),
            None,
        )
        .expect("parse");
        let (mut op, _) = wire.into_op(OpKind::Patch, Uuid::parse_str(ID).expect("uuid"));
        validate(&mut op, true).expect("valid");
        assert_eq!(op.trace_id.map(|t| t.to_string()).as_deref(), Some(ID));
        assert_eq!(op.start_time_us, Some(1_740_824_100_123_456));
    }

    #[test]
    fn field_parts() {
        let mut op = RunOp::new(OpKind::Post, Uuid::nil());
        apply_field(&mut op, "error", br#""boom""#).expect("error part");
        assert_eq!(op.error.as_deref(), Some("boom"));
        assert!(apply_field(&mut op, "error", br#"{"x":1}"#).is_err());
        assert!(apply_field(&mut op, "events", br#"{"x":1}"#).is_err());
        apply_field(&mut op, "events", br#"[{"name":"new_token"}]"#).expect("events");
        assert!(apply_field(&mut op, "outputs", b"{not json").is_err());
        assert!(apply_field(&mut op, "colour", b"{}").is_err());
    }

    #[test]
    fn feedback_parts() {
        let id = Uuid::now_v7();
        let op = parse_feedback(
            format!(r#"{{"trace_id":"{ID}","run_id":"{ID}","key":"correct","score":true,"feedbackConfig":{{"type":"continuous"}}}}"#).as_bytes(),
            id,
            7,
        )
        .expect("feedback");
        assert_eq!(op.score, Some(1.0));
        assert_eq!(op.created_at_us, 7);
        assert!(op.feedback_config.is_some());
        assert!(parse_feedback(br#"{"key":"k"}"#, id, 7).is_err());
    }
}
