//! Trace ingestion end to end, through the edge, into ClickHouse: every endpoint and encoding,
//! the merge of split and out-of-order operations, validation, limits, and dead letters.

use std::io::Write;
use std::time::Duration;

use ironsmith_e2e::{OPERATOR_TOKEN, Stack};
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
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n{headers}\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

fn json_part(name: String, value: &Value) -> (String, &'static str, Vec<u8>) {
    (
        name,
        "Content-Type: application/json\r\n",
        value.to_string().into_bytes(),
    )
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
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn zstd_without_size(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("encoder");
    encoder.include_contentsize(false).expect("flag");
    encoder.write_all(bytes).expect("write");
    encoder.finish().expect("finish")
}

#[tokio::test]
async fn info_reports_the_configured_limits() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        config.ingest.sdk_batch_runs = 7;
        config.ingest.sdk_batch_bytes = 1_000_000;
        config.ingest.max_runs_per_request = 50;
        config.ingest.max_field_bytes = 123_456;
    })
    .await?;
    let info: Value = reqwest::get(format!("{}/api/v1/info", stack.edge))
        .await?
        .json()
        .await?;
    assert_eq!(info["batch_ingest_config"]["size_limit"], 7);
    assert_eq!(info["batch_ingest_config"]["size_limit_bytes"], 1_000_000);
    let limits = &info["ingest_limits"];
    assert_eq!(limits["max_runs_per_request"], 50);
    assert_eq!(limits["max_field_bytes"], 123_456);
    assert_eq!(
        limits["max_body_bytes"],
        stack
            .config
            .ingest
            .max_body_bytes
            .min(stack.config.http.max_body_bytes)
    );
    stack.stop().await;
    Ok(())
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
        json_part(
            format!("post.{child}.events"),
            &json!([{"name": "new_token", "time": "2025-03-01T10:15:00.500000"}]),
        ),
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

    let runs_done = stack.ingested_runs("ingest-e2e").await?;
    assert_eq!(runs_done.len(), 2);
    assert!(runs_done.iter().all(|r| r.status == "success"));
    let (root_row, child_row) = (&runs_done[0], &runs_done[1]);
    assert_eq!(root_row.id, root);
    assert_eq!(root_row.status, "success");
    assert_eq!(
        root_row.inputs, r#"{"question":"hi"}"#,
        "the patch kept the inputs"
    );
    assert_eq!(root_row.outputs, r#"{"answer":"done"}"#);
    assert_eq!(root_row.tags, ["a", "b"]);
    assert_eq!(root_row.thread_id, "t-1");
    assert!(
        root_row.extra.contains(r#""runtime":{"sdk":"test"}"#),
        "{}",
        root_row.extra
    );
    let metadata: Vec<(&str, &str)> = root_row
        .metadata_keys
        .iter()
        .zip(&root_row.metadata_values)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        metadata,
        [("n", "3"), ("thread_id", "t-1"), ("user", "ada")]
    );
    assert_eq!(root_row.depth, 0);
    assert_eq!(root_row.end_time_us, Some(1_740_824_102_000_000));

    assert_eq!(child_row.id, child);
    assert_eq!(child_row.parent_run_id, Some(root));
    assert_eq!(child_row.trace_id, root);
    assert_eq!(child_row.depth, 1);
    assert_eq!(child_row.run_type, "llm");
    assert_eq!(
        (
            child_row.prompt_tokens,
            child_row.completion_tokens,
            child_row.total_tokens
        ),
        (1000, 500, 1500)
    );
    assert_eq!(
        child_row.total_cost,
        Some(0.0075),
        "priced from the default table"
    );
    assert_eq!(child_row.ls_model_name, "gpt-4o");
    assert_eq!(child_row.first_token_time_us, Some(1_740_824_100_500_000));
    assert_eq!(child_row.end_time_us, Some(1_740_824_101_000_000));
    let attachments: Value = serde_json::from_str(&child_row.attachments)?;
    assert_eq!(attachments["diagram"]["mime_type"], "image/png");
    let key = attachments["diagram"]["key"].as_str().unwrap_or_default();
    let storage = ironsmith_storage::ObjectStorage::from_config(&stack.config.object_storage)?;
    assert_eq!(&storage.get(key).await?[..], b"\x89PNG");

    let feedback_rows = stack.ingested_feedback(root).await?;
    assert_eq!(feedback_rows.len(), 1);
    assert_eq!(feedback_rows[0].key, "correct");
    assert_eq!(feedback_rows[0].run_id, Some(child));
    assert_eq!(feedback_rows[0].score, Some(1.0));
    stack.stop().await;
    Ok(())
}

fn root_run(id: Uuid, project: &str) -> Value {
    json!({"id": id, "trace_id": id, "dotted_order": segment("20250301T101500123456Z", id),
           "name": "root", "run_type": "chain", "session_name": project,
           "start_time": "2025-03-01T10:15:00.123456Z", "inputs": {"x": 1}})
}

#[tokio::test]
async fn bad_requests_are_refused_whole_with_clear_answers() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        config.ingest.max_decompressed_bytes = 1 << 20;
        config.ingest.max_runs_per_request = 3;
    })
    .await?;
    let good = Uuid::now_v7();
    let bad = Uuid::now_v7();
    let boundary = "b0";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let with_good = |bad_part: (String, &'static str, Vec<u8>)| {
        multipart(
            boundary,
            &[
                json_part(format!("post.{good}"), &root_run(good, "refused")),
                bad_part,
            ],
        )
    };
    // Sends a good run and `bad_run` in one multipart request; the status and error message.
    let beside_good = |bad_run: Value| {
        let body = with_good(json_part(format!("post.{bad}"), &bad_run));
        let (stack, content_type) = (&stack, &content_type);
        async move {
            let (status, answer) = send(stack, "/runs/multipart", content_type, None, body).await?;
            let message = answer["error"].as_str().unwrap_or_default().to_owned();
            Ok::<_, anyhow::Error>((status, message))
        }
    };

    // A root whose dotted_order has two parts: 400 with the upstream wording.
    let mut two_parts = root_run(bad, "refused");
    two_parts["dotted_order"] = json!(format!(
        "{}.{}",
        segment("20250301T101500123456Z", bad),
        segment("20250301T101500123457Z", Uuid::now_v7())
    ));
    let (status, message) = beside_good(two_parts).await?;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.starts_with("Bad request: invalid 'dotted_order': dotted_order must contain a single part for root runs"),
        "{message}"
    );

    // run_type outside the seven: 422 naming the run and field.
    let mut agent = root_run(bad, "refused");
    agent["run_type"] = json!("agent");
    let (status, message) = beside_good(agent).await?;
    assert_eq!(status, 422, "{message}");
    assert!(
        message.contains(&bad.to_string()) && message.contains("'run_type'"),
        "{message}"
    );

    // A wrong type: 422 naming the field.
    let mut wrong = root_run(bad, "refused");
    wrong["tags"] = json!("not-a-list");
    let (status, message) = beside_good(wrong).await?;
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("'tags'"), "{message}");

    // Missing trace_id on a batch create: 400.
    let mut untraced = root_run(bad, "refused");
    untraced.as_object_mut().map(|o| o.remove("trace_id"));
    let (status, answer) = send(
        &stack,
        "/runs/batch",
        "application/json",
        None,
        serde_json::to_vec(&json!({"post": [root_run(good, "refused"), untraced]}))?,
    )
    .await?;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("'trace_id' is required"),
        "{answer}"
    );

    // Malformed multipart: 422 with the upstream prefix.
    let (status, answer) = send(
        &stack,
        "/runs/multipart",
        &content_type,
        None,
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"post.{good}\"\r\n\r\n{{")
            .into_bytes(),
    )
    .await?;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Unprocessable entity: error reading multipart data"),
        "{answer}"
    );

    // A zstd bomb: 64 MiB of zeros in a few KiB, refused at the 1 MiB cap.
    let zeros = vec![0u8; 64 << 20];
    let bomb = zstd_without_size(&zeros);
    assert!(bomb.len() < 64 << 10);
    let (status, answer) =
        send(&stack, "/runs/multipart", &content_type, Some("zstd"), bomb).await?;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("decompressed"),
        "{answer}"
    );

    // Too many operations in one request.
    let many: Vec<Value> = (0..4)
        .map(|_| root_run(Uuid::now_v7(), "refused"))
        .collect();
    let (status, answer) = send(
        &stack,
        "/runs/batch",
        "application/json",
        None,
        serde_json::to_vec(&json!({"post": many}))?,
    )
    .await?;
    assert_eq!(status, 413, "{answer}");

    // No key: 401. A viewer-style failure is covered by the auth tests.
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/runs/multipart", stack.edge))
        .header("content-type", &content_type)
        .body(with_good(json_part(
            format!("post.{bad}"),
            &root_run(bad, "refused"),
        )))
        .send()
        .await?;
    assert_eq!(response.status(), 401);

    // Nothing of any refused request was written: not even the good run beside the bad one.
    let depth: Value = reqwest::get(format!("{}/metrics/queue/ingest", stack.backend))
        .await?
        .json()
        .await?;
    assert_eq!(
        depth["queued"].as_u64().unwrap_or(0) + depth["pending"].as_u64().unwrap_or(0),
        0,
        "{depth}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(project) = stack.project_id("refused").await? {
        let count =
            ironsmith_analytics::runs::count_runs(&stack.clickhouse(), stack.workspace_id, project)
                .await?;
        assert_eq!(count, 0);
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn batch_single_and_patch_endpoints_merge_in_any_order() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    // The async Py client's path: POST /runs without trace_id or dotted_order; the server
    // derives them, for the child from its parent.
    let root = Uuid::now_v7();
    let child = Uuid::now_v7();
    admin
        .post(
            "/runs",
            json!({"id": root, "name": "agent", "run_type": "chain", "session_name": "single",
                               "start_time": "2025-03-01T10:15:00.000001Z", "inputs": {"q": "?"}}),
        )
        .await?
        .expect(202)?;
    admin
        .post(
            "/runs",
            json!({"id": child.simple().to_string(), "name": "tool", "run_type": "tool",
                               "session_name": "single", "parent_run_id": root,
                               "start_time": 1740824100.5, "inputs": {"arg": 1}}),
        )
        .await?
        .expect(202)?;
    // The child's end overtakes nothing, but arrives as a PATCH through the edge.
    admin
        .patch(
            &format!("/runs/{child}"),
            json!({"end_time": "2025-03-01T10:15:01Z", "outputs": {"r": 2},
                                                  "extra": {"metadata": {"k": "v"}}}),
        )
        .await?
        .expect(202)?;
    // A patch before its create, in the batch endpoint, gzip-compressed.
    let late = Uuid::now_v7();
    let dotted = segment("20250301T101500123456Z", late);
    let patch = json!({"patch": [{"id": late, "trace_id": late, "dotted_order": dotted,
                                  "end_time": "2025-03-01T10:15:03Z", "outputs": {"final": true}}]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&serde_json::to_vec(&patch)?)?;
    let (status, _) = send(
        &stack,
        "/runs/batch",
        "application/json",
        Some("gzip"),
        gz.finish()?,
    )
    .await?;
    assert_eq!(status, 202);
    let runs = stack.ingested_runs("default").await?;
    // The partial row of a patch without a project is in no project yet.
    assert!(runs.is_empty(), "{runs:?}");
    let create = json!({"post": [{"id": late, "trace_id": late, "dotted_order": dotted, "name": "late",
                                  "run_type": "chain", "session_name": "single",
                                  "end_time": "2025-03-01T10:15:02Z", "outputs": {"final": false},
                                  "inputs": {"started": true}}]});
    let (status, _) = send(
        &stack,
        "/runs/batch",
        "application/json",
        None,
        serde_json::to_vec(&create)?,
    )
    .await?;
    assert_eq!(status, 202);

    let runs = stack.ingested_runs("single").await?;
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.status == "success" || r.id == root));
    let by_id = |id: Uuid| {
        runs.iter()
            .find(|r| r.id == id)
            .cloned()
            .unwrap_or_default()
    };
    let root_row = by_id(root);
    assert_eq!(root_row.trace_id, root);
    assert_eq!(
        root_row.dotted_order,
        segment("20250301T101500000001Z", root)
    );
    assert_eq!(root_row.status, "pending");
    let child_row = by_id(child);
    assert_eq!(child_row.trace_id, root);
    assert_eq!(
        child_row.dotted_order,
        format!(
            "{}.{}",
            root_row.dotted_order,
            segment("20250301T101500500000Z", child)
        )
    );
    assert_eq!(child_row.status, "success");
    assert_eq!(child_row.inputs, r#"{"arg":1}"#);
    assert_eq!(child_row.outputs, r#"{"r":2}"#);
    assert_eq!(child_row.metadata_keys, ["k"]);
    let late_row = by_id(late);
    assert_eq!(late_row.name, "late");
    assert_eq!(late_row.inputs, r#"{"started":true}"#);
    assert_eq!(
        late_row.outputs, r#"{"final":true}"#,
        "the late create did not erase the patch"
    );
    assert_eq!(late_row.end_time_us, Some(1_740_824_103_000_000));
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn otlp_json_spans_become_runs_with_their_genai_fields() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let trace = "5b8efff798038103d269b633813fc60c";
    let attr = |key: &str, value: Value| json!({"key": key, "value": value});
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", json!({"stringValue": "svc"}))]},
        "scopeSpans": [{"spans": [
            {"traceId": trace, "spanId": "eee19b7ec3c1b174", "name": "workflow",
             "startTimeUnixNano": "1740824100000000000", "endTimeUnixNano": "1740824103000000000",
             "attributes": [attr("langsmith.metadata.user", json!({"stringValue": "ada"})),
                            attr("langsmith.span.tags", json!({"stringValue": "x, y"}))]},
            {"traceId": trace, "spanId": "eee19b7ec3c1b173", "parentSpanId": "eee19b7ec3c1b174",
             "name": "chat gpt-4o", "startTimeUnixNano": "1740824101000000000",
             "endTimeUnixNano": "1740824102000000000",
             "attributes": [attr("gen_ai.operation.name", json!({"stringValue": "chat"})),
                            attr("gen_ai.system", json!({"stringValue": "openai"})),
                            attr("gen_ai.request.model", json!({"stringValue": "gpt-4o"})),
                            attr("gen_ai.request.temperature", json!({"doubleValue": 0.2})),
                            attr("gen_ai.prompt.0.role", json!({"stringValue": "user"})),
                            attr("gen_ai.prompt.0.content", json!({"stringValue": "hi"})),
                            attr("gen_ai.completion.0.role", json!({"stringValue": "assistant"})),
                            attr("gen_ai.completion.0.content", json!({"stringValue": "hello"})),
                            attr("gen_ai.usage.input_tokens", json!({"intValue": "10"})),
                            attr("gen_ai.usage.output_tokens", json!({"intValue": 4}))]},
            {"traceId": trace, "spanId": "eee19b7ec3c1b172", "parentSpanId": "eee19b7ec3c1b174",
             "name": "tool", "startTimeUnixNano": "1740824102500000000",
             "endTimeUnixNano": "1740824102600000000", "status": {"code": 2, "message": "tool broke"},
             "attributes": [attr("gen_ai.tool.name", json!({"stringValue": "search"}))]}
        ]}]
    }]});
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/otel/v1/traces", stack.edge))
        .header("x-api-key", &stack.admin_key)
        .header("Langsmith-Project", "otel-json")
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await?, json!({}));

    let runs = stack.wait_for_runs("otel-json", 3, WAIT).await?;
    let root_id = Uuid::parse_str(trace)?;
    let root = &runs[0];
    assert_eq!(
        (root.id, root.trace_id, root.parent_run_id),
        (root_id, root_id, None)
    );
    assert_eq!(root.tags, ["x", "y"]);
    assert!(
        root.metadata_keys.contains(&"user".to_owned())
            && root.metadata_keys.contains(&"service.name".to_owned())
    );
    let llm = &runs[1];
    assert_eq!(llm.run_type, "llm");
    assert_eq!(llm.parent_run_id, Some(root_id));
    assert_eq!(llm.trace_id, root_id);
    assert_eq!(llm.depth, 1);
    assert_eq!(
        (llm.prompt_tokens, llm.completion_tokens, llm.total_tokens),
        (10, 4, 14)
    );
    assert_eq!(
        (llm.ls_provider.as_str(), llm.ls_model_name.as_str()),
        ("openai", "gpt-4o")
    );
    assert!(llm.inputs.contains(r#""content":"hi""#), "{}", llm.inputs);
    assert!(
        llm.outputs.contains(r#""content":"hello""#),
        "{}",
        llm.outputs
    );
    assert!(llm.extra.contains(r#""temperature":0.2"#), "{}", llm.extra);
    let tool = &runs[2];
    assert_eq!(
        (
            tool.run_type.as_str(),
            tool.status.as_str(),
            tool.error.as_str()
        ),
        ("tool", "error", "tool broke")
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn usage_is_metered_and_trace_sizes_are_capped() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.ingest.max_runs_per_trace = 3).await?;
    let admin = stack.admin();
    let root = Uuid::now_v7();
    let root_dotted = segment("20250301T101500123456Z", root);
    let child = |id: Uuid| {
        json!({"id": id, "trace_id": root, "parent_run_id": root, "name": "c", "run_type": "tool",
               "dotted_order": format!("{root_dotted}.{}", segment("20250301T101501000000Z", id)),
               "session_name": "capped", "inputs": {"i": 1}})
    };
    admin
        .post("/runs/batch", json!({"post": [root_run(root, "capped"), child(Uuid::now_v7()), child(Uuid::now_v7())]}))
        .await?
        .expect(202)?;
    let refused = admin
        .post("/runs/batch", json!({"post": [child(Uuid::now_v7())]}))
        .await?;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 3"),
        "{:?}",
        refused.body
    );

    // Three events were charged to the organisation this hour, and their bytes.
    let limiter = ironsmith_auth::limits::Limiter::new(
        ironsmith_queue::Redis::new(&stack.config.redis)?,
        stack.config.limits.clone(),
    );
    let (events, bytes) = limiter.usage_this_hour(stack.organization_id).await?;
    assert_eq!(events, 3);
    assert!(bytes > 0);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn poison_entries_are_dead_lettered_and_can_be_redriven() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let stream = ironsmith_queue::ShardedStream::new(
        ironsmith_queue::Redis::new(&stack.config.redis)?,
        ironsmith_queue::INGEST_STREAM,
        stack.config.ingest.shards,
    );
    stream.append(&[(0, b"{not json".to_vec())]).await?;
    let http = reqwest::Client::new();
    // Dead letters are the operator's: no credential, or a tenant's key, is refused.
    let anonymous = http
        .get(format!("{}/dead-letters/ingest", stack.worker))
        .send()
        .await?;
    assert_eq!(anonymous.status(), 401);
    let tenant = http
        .post(format!("{}/dead-letters/ingest/redrive", stack.worker))
        .header("x-api-key", &stack.admin_key)
        .bearer_auth(&stack.admin_key)
        .send()
        .await?;
    assert_eq!(tenant.status(), 401);
    let mut letters = Value::Null;
    for _ in 0..100 {
        letters = http
            .get(format!("{}/dead-letters/ingest", stack.worker))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await?
            .json()
            .await?;
        if letters.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(letters.as_array().map(Vec::len), Some(1), "{letters}");
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("undecodable"),
        "{letters}"
    );

    // Good runs on the same shard keep flowing past it.
    let run = Uuid::now_v7();
    stack
        .admin()
        .post(
            "/runs/batch",
            json!({"post": [root_run(run, "after-poison")]}),
        )
        .await?
        .expect(202)?;
    stack.wait_for_runs("after-poison", 1, WAIT).await?;

    let redriven: Value = http
        .post(format!("{}/dead-letters/ingest/redrive", stack.worker))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(redriven["redriven"], 1);
    // Still poison: it comes back to the dead letters, not lost and not looping.
    let mut count = 0;
    for _ in 0..100 {
        let letters: Value = http
            .get(format!("{}/dead-letters/ingest", stack.worker))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await?
            .json()
            .await?;
        count = letters.as_array().map_or(0, Vec::len);
        if count == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count, 1);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn runs_stay_in_the_callers_workspace() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let other = admin
        .post("/workspaces", json!({"display_name": "Other"}))
        .await?
        .expect(200)?;
    let other_id = other["id"].as_str().unwrap_or_default().to_owned();
    // A project made by tracing into the other workspace.
    let there = Uuid::now_v7();
    admin
        .clone()
        .tenant(&other_id)
        .post("/runs/batch", json!({"post": [root_run(there, "theirs")]}))
        .await?
        .expect(202)?;
    let pool = stack.pool()?;
    let mut theirs = None;
    for _ in 0..50 {
        theirs = sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM tracer_sessions WHERE tenant_id = $1::uuid AND name = 'theirs'",
        )
        .bind(&other_id)
        .fetch_optional(&pool)
        .await?;
        if theirs.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let theirs = theirs.ok_or_else(|| anyhow::anyhow!("the other workspace's project"))?;

    // Naming that project by id from the first workspace is refused like an unknown one.
    let mut run = root_run(Uuid::now_v7(), "ignored");
    run.as_object_mut().map(|o| o.remove("session_name"));
    run["session_id"] = json!(theirs);
    let refused = admin.post("/runs/batch", json!({"post": [run]})).await?;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let message = refused.body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("no such project in this workspace"),
        "{message}"
    );
    assert!(
        !message.contains(&theirs.to_string()),
        "the id is not echoed: {message}"
    );

    // The same project name in the first workspace is a different project.
    let here = Uuid::now_v7();
    admin
        .post("/runs/batch", json!({"post": [root_run(here, "theirs")]}))
        .await?
        .expect(202)?;
    let runs = stack.wait_for_runs("theirs", 1, WAIT).await?;
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [here]);
    assert!(
        runs.iter()
            .all(|r| r.tenant_id == stack.workspace_id && r.session_id != theirs)
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_workspace_prices_its_own_models() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.ingest.price_refresh_secs = 1).await?;
    let admin = stack.admin();
    let refused = admin
        .post("/model-price-map", json!({"name": "bad", "match_pattern": "([", "prompt_cost_per_million": 1, "completion_cost_per_million": 1}))
        .await?;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let price = admin
        .post("/model-price-map", json!({"name": "house", "match_pattern": "^house-model$",
                                          "prompt_cost_per_million": 1_000_000, "completion_cost_per_million": 2_000_000}))
        .await?
        .expect(201)?;
    let listed = admin.get("/model-price-map").await?.expect(200)?;
    let names: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names.first(),
        Some(&"house"),
        "the workspace's own first: {names:?}"
    );
    assert!(names.contains(&"gpt-4o"), "and the defaults: {names:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let id = Uuid::now_v7();
    let mut run = root_run(id, "priced");
    run["run_type"] = json!("llm");
    run["extra"] = json!({"metadata": {"ls_model_name": "house-model"}});
    run["outputs"] = json!({"usage_metadata": {"input_tokens": 3, "output_tokens": 4}});
    admin
        .post("/runs/batch", json!({"post": [run]}))
        .await?
        .expect(202)?;
    let runs = stack.wait_for_runs("priced", 1, WAIT).await?;
    assert_eq!(runs[0].total_cost, Some(11.0), "3 × $1 + 4 × $2");
    assert_eq!(
        runs[0].price_model_id.map(|p| p.to_string()),
        price["id"].as_str().map(str::to_owned)
    );

    let path = format!(
        "/model-price-map/{}",
        price["id"].as_str().unwrap_or_default()
    );
    assert_eq!(admin.delete(&path).await?.status, 204);
    assert_eq!(admin.delete(&path).await?.status, 404);
    let default = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["tenant_id"].is_null())
        .cloned()
        .unwrap_or_default();
    let path = format!(
        "/model-price-map/{}",
        default["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        admin.delete(&path).await?.status,
        404,
        "defaults are not the workspace's to delete"
    );
    stack.stop().await;
    Ok(())
}

/// Multipart feedback answers to its key's configuration as `POST /feedback` does: a part that
/// breaks the configuration refuses the whole request (the runs beside it are not half taken),
/// a key without one takes the configuration a part carries, and feedback that fits lands.
#[tokio::test]
async fn multipart_feedback_answers_to_its_keys_configuration() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    admin
        .post(
            "/feedback-configs",
            json!({"feedback_key": "accuracy",
                   "feedback_config": {"type": "continuous", "min": 0, "max": 1}}),
        )
        .await?
        .expect(200)?;
    let boundary = Uuid::new_v4().simple().to_string();
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let trace = |project: &str| {
        let root = Uuid::now_v7();
        let dotted = segment("20250301T101500123456Z", root);
        let part = json_part(
            format!("post.{root}"),
            &json!({"id": root, "trace_id": root, "dotted_order": dotted, "name": "answer",
                    "run_type": "chain", "session_name": project,
                    "start_time": "2025-03-01T10:15:00.123456Z"}),
        );
        (root, part)
    };
    let feedback = |trace: Uuid, key: &str, extra: Value| {
        let id = Uuid::now_v7();
        let mut body = json!({"id": id, "trace_id": trace, "run_id": trace, "key": key});
        for (field, value) in extra.as_object().into_iter().flatten() {
            body[field] = value.clone();
        }
        (id, json_part(format!("feedback.{id}"), &body))
    };

    // Out of the configured range: 422 naming the feedback and the field; its run is not kept.
    let (refused_root, run_part) = trace("feedback-configs-e2e");
    let (bad, bad_part) = feedback(refused_root, "accuracy", json!({"score": 7}));
    let (status, answer) = send(
        &stack,
        "/runs/multipart",
        &content_type,
        None,
        multipart(&boundary, &[run_part, bad_part]),
    )
    .await?;
    assert_eq!(status, 422, "{answer}");
    let message = answer["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(&bad.to_string()) && message.contains("outside the range"),
        "{message}"
    );

    // A key without a configuration takes the one its part carries; a second part of that
    // key in the same request is held to it.
    let (root, run_part) = trace("feedback-configs-e2e");
    let grade = json!({"type": "categorical",
        "categories": [{"value": 1, "label": "pass"}, {"value": 0, "label": "fail"}]});
    let (_, carried) = feedback(root, "grade", json!({"score": 1, "feedback_config": grade}));
    let (_, off_scale) = feedback(root, "grade", json!({"score": 0.5}));
    let (status, answer) = send(
        &stack,
        "/runs/multipart",
        &content_type,
        None,
        multipart(&boundary, &[run_part.clone(), carried.clone(), off_scale]),
    )
    .await?;
    assert_eq!(status, 422, "{answer}");
    let configs = admin
        .get("/feedback-configs?key=grade")
        .await?
        .expect(200)?;
    assert_eq!(
        configs,
        json!([]),
        "nothing is created by a refused request"
    );

    let (fits, fitting) = feedback(root, "accuracy", json!({"score": 0.75}));
    let (status, answer) = send(
        &stack,
        "/runs/multipart",
        &content_type,
        None,
        multipart(&boundary, &[run_part, carried, fitting]),
    )
    .await?;
    assert_eq!(status, 202, "{answer}");
    let configs = admin
        .get("/feedback-configs?key=grade")
        .await?
        .expect(200)?;
    assert_eq!(
        configs[0]["feedback_config"]["type"], "categorical",
        "{configs}"
    );

    // Feedback through `POST /feedback` is now held to the carried configuration too.
    let refused = admin
        .post(
            "/feedback",
            json!({"run_id": root, "key": "grade", "score": 0.5}),
        )
        .await?;
    assert_eq!(refused.status, 422, "{}", refused.body);

    let stored = stack.ingested_feedback(root).await?;
    let mut keys: Vec<(&str, Option<f64>)> =
        stored.iter().map(|f| (f.key.as_str(), f.score)).collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(keys, [("accuracy", Some(0.75)), ("grade", Some(1.0))]);
    assert!(stored.iter().any(|f| f.id == fits));
    assert!(
        stack.ingested_feedback(refused_root).await?.is_empty(),
        "the refused request's feedback was not stored"
    );
    let runs = stack.ingested_runs("feedback-configs-e2e").await?;
    assert_eq!(runs.len(), 1, "only the accepted request's run is stored");
    assert_eq!(runs[0].id, root);
    stack.stop().await;
    Ok(())
}
