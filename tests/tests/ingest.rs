//! Trace ingestion end to end, through the edge, into ClickHouse: every endpoint and encoding,
//! the merge of split and out-of-order operations, validation, limits, and dead letters.

use std::io::Write;
use std::time::Duration;

use ironsmith_e2e::Stack;
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn segment(time: &str, id: Uuid) -> String {
    format!("{time}{id}")
}

/// A multipart body: `(part name, extra headers, bytes)`.
fn multipart(boundary: &str, parts: &[(String, &str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, headers, bytes) in parts {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n{headers}\r\n")
                .as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

fn json_part(name: String, value: &Value) -> (String, &'static str, Vec<u8>) {
    (name, "Content-Type: application/json\r\n", value.to_string().into_bytes())
}

async fn send(
    stack: &Stack,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1{path}", stack.edge))
        .header("x-api-key", &stack.admin_key)
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

fn zstd_without_size(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("encoder");
    encoder.include_contentsize(false).expect("flag");
    encoder.write_all(bytes).expect("write");
    encoder.finish().expect("finish")
}

#[tokio::test]
async fn info_answers_without_a_key_under_every_prefix() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    for path in ["/api/v1/info", "/api/info", "/api/v1/info/"] {
        let response = reqwest::get(format!("{}{path}", stack.edge)).await?;
        assert_eq!(response.status(), 200, "{path}");
        let info: Value = response.json().await?;
        assert_eq!(info["version"], "0.16.0");
        assert_eq!(info["batch_ingest_config"]["use_multipart_endpoint"], true);
        assert_eq!(info["instance_flags"]["zstd_compression_enabled"], true);
        assert_eq!(info["instance_flags"]["ch_query_enabled"], true);
        assert_eq!(info["instance_flags"]["sdb_query_enabled"], false);
        assert_eq!(info["region"], "us");
    }
    // Straight to platform-backend, under each prefix it normalises.
    for path in ["/info", "/v1/info", "/api/v1/info"] {
        let response = reqwest::get(format!("{}{path}", stack.platform)).await?;
        assert_eq!(response.status(), 200, "{path}");
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_zstd_multipart_trace_lands_complete_and_merged() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let root = Uuid::now_v7();
    let child = Uuid::now_v7();
    let feedback = Uuid::now_v7();
    let root_dotted = segment("20250301T101500123456Z", root);
    let child_dotted = format!("{root_dotted}.{}", segment("20250301T101500130002Z", child));
    let boundary = Uuid::new_v4().simple().to_string();
    let parts = vec![
        json_part(
            format!("post.{root}"),
            &json!({"id": root, "trace_id": root, "dotted_order": root_dotted, "name": "pipeline",
                    "run_type": "chain", "session_name": "ingest-e2e",
                    "start_time": "2025-03-01T10:15:00.123456+00:00", "tags": ["a", "b"], "replicas": []}),
        ),
        json_part(format!("post.{root}.inputs"), &json!({"question": "hi"})),
        json_part(
            format!("post.{root}.extra"),
            &json!({"metadata": {"thread_id": "t-1", "user": "ada", "n": 3}, "runtime": {"sdk": "test"}}),
        ),
        // The child's field parts arrive before its run part.
        json_part(
            format!("post.{child}.outputs"),
            &json!({"answer": "yo", "usage_metadata": {"input_tokens": 1000, "output_tokens": 500}}),
        ),
        json_part(
            format!("post.{child}"),
            &json!({"id": child, "trace_id": root, "dotted_order": child_dotted, "parent_run_id": root,
                    "name": "chat", "run_type": "llm", "session_name": "ingest-e2e",
                    "start_time": "2025-03-01T10:15:00.130002Z", "end_time": 1740824101000_i64}),
        ),
        json_part(
            format!("post.{child}.extra"),
            &json!({"metadata": {"ls_provider": "openai", "ls_model_name": "gpt-4o"}}),
        ),
        json_part(format!("post.{child}.events"), &json!([{"name": "new_token", "time": "2025-03-01T10:15:00.500000"}])),
        (
            format!("attachment.{child}.diagram"),
            "Content-Type: image/png; length=4\r\n",
            b"\x89PNG".to_vec(),
        ),
        json_part(
            format!("feedback.{feedback}"),
            &json!({"id": feedback, "trace_id": root, "run_id": child, "key": "correct", "score": 1}),
        ),
    ];
    let body = zstd_without_size(&multipart(&boundary, &parts));
    let (status, answer) = send(
        &stack,
        "/runs/multipart",
        &format!("multipart/form-data; boundary={boundary}"),
        Some("zstd"),
        body,
    )
    .await?;
    assert_eq!((status, &answer), (202, &json!({})));

    // The root ends in a later request, as a patch with an empty `extra` and no inputs.
    let patch = vec![
        json_part(
            format!("patch.{root}"),
            &json!({"id": root, "trace_id": root, "dotted_order": root_dotted,
                    "end_time": "2025-03-01T10:15:02.000000Z", "extra": {}}),
        ),
        json_part(format!("patch.{root}.outputs"), &json!({"answer": "done"})),
    ];
    let (status, _) = send(
        &stack,
        "/runs/multipart",
        &format!("multipart/form-data; boundary={boundary}"),
        None,
        multipart(&boundary, &patch),
    )
    .await?;
    assert_eq!(status, 202);

    let runs = stack.wait_for_runs("ingest-e2e", 2, WAIT).await?;
    let mut runs_done = runs.clone();
    for _ in 0..100 {
        if runs_done.iter().all(|r| r.status == "success") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        runs_done = stack.wait_for_runs("ingest-e2e", 2, WAIT).await?;
    }
    let (root_row, child_row) = (&runs_done[0], &runs_done[1]);
    assert_eq!(root_row.id, root);
    assert_eq!(root_row.status, "success");
    assert_eq!(root_row.inputs, r#"{"question":"hi"}"#, "the patch kept the inputs");
    assert_eq!(root_row.outputs, r#"{"answer":"done"}"#);
    assert_eq!(root_row.tags, ["a", "b"]);
    assert_eq!(root_row.thread_id, "t-1");
    assert!(root_row.extra.contains(r#""runtime":{"sdk":"test"}"#), "{}", root_row.extra);
    let metadata: Vec<(&str, &str)> = root_row
        .metadata_keys
        .iter()
        .zip(&root_row.metadata_values)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(metadata, [("n", "3"), ("thread_id", "t-1"), ("user", "ada")]);
    assert_eq!(root_row.depth, 0);
    assert_eq!(root_row.end_time_us, Some(1_740_824_102_000_000));

    assert_eq!(child_row.id, child);
    assert_eq!(child_row.parent_run_id, Some(root));
    assert_eq!(child_row.trace_id, root);
    assert_eq!(child_row.depth, 1);
    assert_eq!(child_row.run_type, "llm");
    assert_eq!((child_row.prompt_tokens, child_row.completion_tokens, child_row.total_tokens), (1000, 500, 1500));
    assert_eq!(child_row.total_cost, Some(0.0075), "priced from the default table");
    assert_eq!(child_row.ls_model_name, "gpt-4o");
    assert_eq!(child_row.first_token_time_us, Some(1_740_824_100_500_000));
    assert_eq!(child_row.end_time_us, Some(1_740_824_101_000_000));
    let attachments: Value = serde_json::from_str(&child_row.attachments)?;
    assert_eq!(attachments["diagram"]["mime_type"], "image/png");
    let key = attachments["diagram"]["key"].as_str().unwrap_or_default();
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    assert_eq!(&storage.get(key).await?[..], b"\x89PNG");

    let mut feedback_rows = Vec::new();
    for _ in 0..100 {
        feedback_rows =
            ironsmith_analytics::runs::trace_feedback(&stack.clickhouse(), stack.workspace_id, root)
                .await?;
        if !feedback_rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(feedback_rows.len(), 1);
    assert_eq!(feedback_rows[0].key, "correct");
    assert_eq!(feedback_rows[0].run_id, Some(child));
    assert_eq!(feedback_rows[0].score, Some(1.0));
    stack.stop().await;
    Ok(())
}
