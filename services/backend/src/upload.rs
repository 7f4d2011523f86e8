//! `POST /datasets/upload` forms: a file plus text fields, and the file's rows as examples.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use futures::TryStreamExt;
use ironsmith_http::ApiError;
use serde_json::{Map, Value};

use crate::runs::body::invalid;

pub struct UploadedFile {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

pub struct Form {
    pub file: Option<UploadedFile>,
    /// Text fields by name, repeated ones in order.
    pub fields: BTreeMap<String, Vec<String>>,
}

fn bad_form(message: String) -> ApiError {
    ApiError::BadRequest(format!("invalid multipart form: {message}"))
}

pub async fn read_form(headers: &HeaderMap, body: Body, cap: usize) -> Result<Form, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        bad_form("the Content-Type must be multipart/form-data with a boundary".into())
    })?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(cap as u64));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut form = Form {
        file: None,
        fields: BTreeMap::new(),
    };
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad_form(e.to_string()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(|m| m.to_string());
            let bytes = field.bytes().await.map_err(|e| bad_form(e.to_string()))?;
            form.file = Some(UploadedFile {
                filename,
                content_type,
                bytes,
            });
        } else {
            let text = field.text().await.map_err(|e| bad_form(e.to_string()))?;
            form.fields.entry(name).or_default().push(text);
        }
    }
    Ok(form)
}

/// One example's inputs, outputs (`None` when no output keys) and metadata.
pub type Row = (Value, Option<Value>, Option<Value>);

fn split_row(
    mut record: Map<String, Value>,
    input_keys: &[String],
    output_keys: &[String],
    line: usize,
) -> Result<Row, ApiError> {
    let mut take = |keys: &[String]| -> Result<Map<String, Value>, ApiError> {
        let mut out = Map::new();
        for key in keys {
            let value = record
                .remove(key)
                .ok_or_else(|| invalid("file", format!("row {line} has no column `{key}`")))?;
            out.insert(key.clone(), value);
        }
        Ok(out)
    };
    let inputs = take(input_keys)?;
    let outputs = take(output_keys)?;
    Ok((
        Value::Object(inputs),
        (!output_keys.is_empty()).then_some(Value::Object(outputs)),
        None,
    ))
}

pub fn csv_rows(
    bytes: &[u8],
    input_keys: &[String],
    output_keys: &[String],
) -> Result<Vec<Row>, ApiError> {
    if input_keys.is_empty() {
        return Err(invalid(
            "input_keys",
            "name at least one input column".into(),
        ));
    }
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| invalid("file", format!("is not valid CSV: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    for key in input_keys.iter().chain(output_keys) {
        if !header.contains(key) {
            return Err(invalid("file", format!("has no column `{key}`")));
        }
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| invalid("file", format!("row {} is not valid CSV: {e}", index + 1)))?;
        let map: Map<String, Value> = header
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.clone(), Value::String(v.to_owned())))
            .collect();
        rows.push(split_row(map, input_keys, output_keys, index + 1)?);
    }
    Ok(rows)
}

/// JSON Lines: each line an object, either `{inputs, outputs?, metadata?}` or flat columns
/// split by the keys.
pub fn jsonl_rows(
    bytes: &[u8],
    input_keys: &[String],
    output_keys: &[String],
) -> Result<Vec<Row>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("file", "is not UTF-8".into()))?;
    let mut rows = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let Ok(Value::Object(mut record)) = serde_json::from_str::<Value>(line) else {
            return Err(invalid(
                "file",
                format!("line {} is not a JSON object", index + 1),
            ));
        };
        if input_keys.is_empty() {
            let inputs = record
                .remove("inputs")
                .unwrap_or_else(|| Value::Object(Map::new()));
            if !inputs.is_object() {
                return Err(invalid(
                    "file",
                    format!("line {}: `inputs` must be an object", index + 1),
                ));
            }
            rows.push((
                inputs,
                record.remove("outputs").filter(|o| !o.is_null()),
                record.remove("metadata").filter(|m| !m.is_null()),
            ));
        } else {
            rows.push(split_row(record, input_keys, output_keys, index + 1)?);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_columns_split_into_inputs_and_outputs() {
        let rows = csv_rows(
            b"question,answer,note\nwhat?,that,x\n\"a, b\",c,y\n",
            &["question".into()],
            &["answer".into()],
        )
        .expect("csv");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].0, json!({"question": "a, b"}));
        assert_eq!(rows[1].1, Some(json!({"answer": "c"})));
        assert!(csv_rows(b"q\n1\n", &["missing".into()], &[]).is_err());
    }

    #[test]
    fn jsonl_lines_are_examples() {
        let rows = jsonl_rows(
            b"{\"inputs\": {\"q\": 1}, \"outputs\": {\"a\": 2}}\n\n{\"inputs\": {\"q\": 3}}\n",
            &[],
            &[],
        )
        .expect("jsonl");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1, Some(json!({"a": 2})));
        assert_eq!(rows[1].1, None);
        assert!(jsonl_rows(b"[1]\n", &[], &[]).is_err());
    }
}
