//! `POST /runs/multipart` bodies: parts named `<kind>.<id>[.<field or name>]`,
//! split at the first two dots. Run parts, field parts and attachments of one run are gathered
//! into one operation per (kind, run); feedback parts become feedback. A part's declared length
//! (`Content-Length`, or a `length=` parameter of its Content-Type) must match its body; a part
//! with neither is read to the next boundary.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use bytes::Bytes;
use ironsmith_runs::wire::{apply_field, parse_feedback, parse_run};
use ironsmith_runs::{FeedbackOp, OpKind, RunOp};
use uuid::Uuid;

use super::error::IngestError;

/// An attachment still in memory, for the run operation at `op`.
pub struct PendingAttachment {
    pub op: usize,
    pub name: String,
    pub mime_type: String,
    pub bytes: Bytes,
}

/// A parsed multipart request.
#[derive(Default)]
pub struct Parsed {
    /// Operations in order of first appearance, each with its project name if it gave one.
    pub ops: Vec<(RunOp, Option<String>)>,
    pub attachments: Vec<PendingAttachment>,
    pub feedback: Vec<FeedbackOp>,
}

enum PartName<'a> {
    Run(OpKind, Uuid, Option<&'a str>),
    Attachment(Uuid, &'a str),
    Feedback(Uuid),
}

fn part_name(name: &str) -> Result<PartName<'_>, IngestError> {
    let mut pieces = name.splitn(3, '.');
    let kind = pieces.next().unwrap_or("");
    let id = pieces.next().ok_or_else(|| {
        IngestError::multipart(format!(
            "part name '{name}' must be <post|patch|attachment|feedback>.<id>[.<field>]"
        ))
    })?;
    let id = Uuid::try_parse(id)
        .map_err(|_| IngestError::multipart(format!("part name '{name}': '{id}' is not a UUID")))?;
    let rest = pieces.next();
    match (kind, rest) {
        ("post", field) => Ok(PartName::Run(OpKind::Post, id, field)),
        ("patch", field) => Ok(PartName::Run(OpKind::Patch, id, field)),
        ("attachment" | "attachments", Some(file)) if !file.is_empty() => {
            Ok(PartName::Attachment(id, file))
        }
        ("attachment" | "attachments", _) => Err(IngestError::multipart(format!(
            "part name '{name}': an attachment part is attachment.<run id>.<name>"
        ))),
        ("feedback", None) => Ok(PartName::Feedback(id)),
        _ => Err(IngestError::multipart(format!(
            "part name '{name}': unknown kind '{kind}' (post, patch, attachment, feedback)"
        ))),
    }
}

/// The length a part declares, if any.
fn declared_length(headers: &HeaderMap) -> Result<Option<usize>, IngestError> {
    if let Some(value) = headers.get(header::CONTENT_LENGTH) {
        let length = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| IngestError::multipart("a part's Content-Length is not a number"))?;
        return Ok(Some(length));
    }
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    for parameter in content_type.split(';').skip(1) {
        if let Some((key, value)) = parameter.split_once('=')
            && key.trim().eq_ignore_ascii_case("length")
        {
            let length = value.trim().trim_matches('"').parse().map_err(|_| {
                IngestError::multipart("a part's Content-Type length parameter is not a number")
            })?;
            return Ok(Some(length));
        }
    }
    Ok(None)
}

/// The MIME type of a part without its parameters.
fn mime_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Parses a decoded body with the boundary of `content_type`.
pub async fn parse(content_type: &str, body: Bytes, now_us: i64) -> Result<Parsed, IngestError> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| {
        IngestError::multipart(format!(
            "Content-Type must be multipart/form-data with a boundary: {e}"
        ))
    })?;
    if body.is_empty() {
        return Err(IngestError::multipart("the body is empty"));
    }
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parsed = Parsed::default();
    let mut index: HashMap<(OpKind, Uuid), usize> = HashMap::new();
    /// Where the operation `kind` of run `id` is in `parsed.ops`, made on first mention.
    fn op_index(
        parsed: &mut Parsed,
        index: &mut HashMap<(OpKind, Uuid), usize>,
        kind: OpKind,
        id: Uuid,
    ) -> usize {
        *index.entry((kind, id)).or_insert_with(|| {
            parsed.ops.push((RunOp::new(kind, id), None));
            parsed.ops.len() - 1
        })
    }
    /// The operation `kind` of run `id`, made on first mention.
    fn op_for<'p>(
        parsed: &'p mut Parsed,
        index: &mut HashMap<(OpKind, Uuid), usize>,
        kind: OpKind,
        id: Uuid,
    ) -> &'p mut (RunOp, Option<String>) {
        let at = op_index(parsed, index, kind, id);
        // `at` came from a push onto `parsed.ops`, which only grows.
        parsed
            .ops
            .get_mut(at)
            .unwrap_or_else(|| unreachable!("index {at} of a pushed op"))
    }
    let mut parts = 0usize;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(IngestError::multipart)?
    {
        parts += 1;
        let name = field
            .name()
            .ok_or_else(|| IngestError::multipart("a part has no name"))?
            .to_owned();
        let headers = field.headers().clone();
        let declared = declared_length(&headers)?;
        let bytes = field.bytes().await.map_err(IngestError::multipart)?;
        if let Some(declared) = declared
            && declared != bytes.len()
        {
            return Err(IngestError::BadRequest(format!(
                "part '{name}' declares {declared} bytes but holds {}",
                bytes.len()
            )));
        }
        match part_name(&name)? {
            PartName::Run(kind, id, None) => {
                let wire = parse_run(&bytes, Some(id))?;
                if let Some(inner) = wire.id
                    && inner != id
                {
                    return Err(IngestError::Unprocessable(format!(
                        "part '{name}' holds run {inner}, not {id}"
                    )));
                }
                let (op, session) = wire.into_op(kind, id);
                let slot = op_for(&mut parsed, &mut index, kind, id);
                merge_run_part(&mut slot.0, op);
                slot.1 = session;
            }
            PartName::Run(kind, id, Some(field)) => {
                let slot = op_for(&mut parsed, &mut index, kind, id);
                apply_field(&mut slot.0, field, &bytes)?;
            }
            PartName::Attachment(id, file) => {
                // Attachments belong to the run, whichever operation carries it.
                let at = index
                    .get(&(OpKind::Post, id))
                    .or_else(|| index.get(&(OpKind::Patch, id)))
                    .copied()
                    .unwrap_or_else(|| op_index(&mut parsed, &mut index, OpKind::Post, id));
                parsed.attachments.push(PendingAttachment {
                    op: at,
                    name: file.to_owned(),
                    mime_type: mime_type(&headers),
                    bytes,
                });
            }
            PartName::Feedback(id) => {
                parsed.feedback.push(parse_feedback(&bytes, id, now_us)?);
            }
        }
    }
    if parts == 0 {
        return Err(IngestError::multipart("the body holds no parts"));
    }
    Ok(parsed)
}

/// A run part arriving after some of its field parts: the run part's fields fill in, the field
/// parts already read stay.
fn merge_run_part(slot: &mut RunOp, part: RunOp) {
    let fields = std::mem::replace(slot, part);
    slot.inputs = fields.inputs.or(slot.inputs.take());
    slot.outputs = fields.outputs.or(slot.outputs.take());
    slot.extra = fields.extra.or(slot.extra.take());
    slot.events = fields.events.or(slot.events.take());
    slot.error = fields.error.or(slot.error.take());
    slot.serialized = fields.serialized.or(slot.serialized.take());
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d11";

    fn body(parts: &[(&str, &str, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (name, headers, bytes) in parts {
            out.extend_from_slice(
                format!("--b0\r\nContent-Disposition: form-data; name=\"{name}\"\r\n{headers}\r\n")
                    .as_bytes(),
            );
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--b0--\r\n");
        Bytes::from(out)
    }

    #[tokio::test]
    async fn field_parts_before_their_run_part_and_attachments() {
        let run = format!(
            r#"{{"id":"{ID}","name":"a","run_type":"chain","trace_id":"{ID}","dotted_order":"20250301T101500123456Z{ID}"}}"#
        );
        let parts = body(&[
            (
                &format!("post.{ID}.inputs"),
                "Content-Type: application/json; length=9\r\n",
                br#"{"q":"x"}"#,
            ),
            (
                &format!("post.{ID}"),
                "Content-Type: application/json\r\n",
                run.as_bytes(),
            ),
            (
                &format!("post.{ID}.error"),
                "Content-Type: application/json\r\n",
                br#""boom""#,
            ),
            (
                &format!("attachment.{ID}.my_file"),
                "Content-Type: image/png\r\nContent-Length: 3\r\n",
                b"PNG",
            ),
        ]);
        let parsed = parse("multipart/form-data; boundary=b0", parts, 1)
            .await
            .expect("parsed");
        assert_eq!(parsed.ops.len(), 1);
        let op = &parsed.ops[0].0;
        assert!(op.has_run_part);
        assert_eq!(op.name.as_deref(), Some("a"));
        assert!(op.inputs.is_some());
        assert_eq!(op.error.as_deref(), Some("boom"));
        assert_eq!(parsed.attachments[0].mime_type, "image/png");
        assert_eq!(parsed.attachments[0].name, "my_file");
    }

    #[tokio::test]
    async fn malformed_bodies_are_named() {
        let wrong_length = body(&[(
            &format!("post.{ID}.inputs"),
            "Content-Length: 99\r\n",
            b"{}",
        )]);
        let error = parse("multipart/form-data; boundary=b0", wrong_length, 1)
            .await
            .err()
            .expect("length mismatch");
        assert!(error.to_string().contains("declares 99 bytes"), "{error}");

        for (name, fragment) in [
            ("post", "must be"),
            ("post.nope", "is not a UUID"),
            (&*format!("delete.{ID}"), "unknown kind"),
        ] {
            let error = parse(
                "multipart/form-data; boundary=b0",
                body(&[(name, "", b"{}")]),
                1,
            )
            .await
            .err()
            .expect(name);
            assert!(error.to_string().contains(fragment), "{name}: {error}");
        }
        let error = parse(
            "multipart/form-data; boundary=b0",
            Bytes::from_static(b"--b0\r\ngarbage"),
            1,
        )
        .await
        .err()
        .expect("truncated");
        assert!(
            error.to_string().contains("error reading multipart data"),
            "{error}"
        );
        let error = parse("application/json", Bytes::from_static(b"{}"), 1)
            .await
            .err()
            .expect("not multipart");
        assert!(matches!(error, IngestError::Unprocessable(_)));
    }
}
