//! Datasets, examples, feedback and annotation queues over HTTP through the edge, for what the
//! SDK end-to-end tests do not reach: multipart attachments and their update rule, CSV and JSONL
//! uploads, cross-dataset refusals, versions and diffs, public dataset links, feedback CRUD,
//! feedback configurations and their validation, presigned tokens used without a key, trace
//! upgrades, and an annotation queue's review cycle.

use std::time::Duration;

use ironsmith_api_types::resources::Feedback;
use ironsmith_e2e::{Client, Stack};
use serde_json::{Value, json};
use uuid::Uuid;

/// A multipart/form-data body of `(name, content type, bytes)` parts.
fn multipart(boundary: &str, parts: &[(String, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content_type, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

async fn send_multipart(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    parts: &[(String, &str, Vec<u8>)],
) -> anyhow::Result<(u16, Value)> {
    let boundary = "ironsmith-boundary-7d1";
    let response = ironsmith_test_support::http()
        .request(method, format!("{}/api/v1{path}", stack.edge))
        .header("x-api-key", &stack.admin_key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart(boundary, parts))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn examples_attachments_uploads_versions_and_links() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let anonymous = Client::new(&format!("{}/api/v1", stack.edge));

    // Datasets: validation, duplicates.
    assert_eq!(
        admin
            .post("/datasets", json!({"name": "bad", "data_type": "tabular"}))
            .await?
            .status,
        422
    );
    assert_eq!(
        admin
            .post(
                "/datasets",
                json!({"name": "bad", "inputs_schema_definition": {"type": "nope"}})
            )
            .await?
            .status,
        422
    );
    let dataset = admin
        .create_dataset(json!({"name": "docs", "data_type": "kv"}))
        .await?;
    let dataset_id = dataset.id;
    assert_eq!(
        (dataset.data_type.as_str(), dataset.example_count),
        ("kv", 0)
    );
    assert_eq!(
        admin
            .post("/datasets", json!({"name": "docs"}))
            .await?
            .status,
        409
    );

    // Multipart create with an attachment: 201 {count, example_ids, as_of}.
    let example = Uuid::now_v7();
    let (status, created) = send_multipart(
        &stack,
        reqwest::Method::POST,
        &format!("/platform/datasets/{dataset_id}/examples"),
        &[
            (
                example.to_string(),
                "application/json",
                br#"{"metadata":{"kind":"doc"},"split":"train"}"#.to_vec(),
            ),
            (
                format!("{example}.inputs"),
                "application/json",
                br#"{"q":"what is in the file?"}"#.to_vec(),
            ),
            (
                format!("{example}.outputs"),
                "application/json",
                br#"{"a":"a report"}"#.to_vec(),
            ),
            (
                format!("{example}.attachment.report"),
                "text/plain; length=11",
                b"report body".to_vec(),
            ),
            (
                format!("{example}.attachments.notes"),
                "text/plain",
                b"notes body".to_vec(),
            ),
        ],
    )
    .await?;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["count"], 1);
    assert_eq!(created["example_ids"], json!([example]));
    assert!(created["as_of"].is_string());
    let read = admin
        .get(&format!("/examples/{example}"))
        .await?
        .expect(200)?;
    assert_eq!(read["metadata"]["dataset_split"], json!(["train"]));
    let urls = read["attachment_urls"]
        .as_object()
        .expect("attachment urls");
    assert_eq!(urls.len(), 2);
    assert_eq!(urls["attachment.report"]["mime_type"], "text/plain");
    let download = |url: &str| {
        let url = url.to_owned();
        async move {
            let response = ironsmith_test_support::http().get(url).send().await?;
            anyhow::Ok(response.text().await?)
        }
    };
    let report_url = urls["attachment.report"]["presigned_url"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(download(report_url).await?, "report body", "no key needed");

    // Update: rename one, keep none else, upload one: renamed ∪ retained ∪ new.
    let (status, updated) = send_multipart(
        &stack,
        reqwest::Method::PATCH,
        &format!("/platform/datasets/{dataset_id}/examples"),
        &[
            (
                format!("{example}.attachments_operations"),
                "application/json",
                br#"{"rename":{"report":"summary"},"retain":[]}"#.to_vec(),
            ),
            (
                format!("{example}.attachment.image"),
                "image/png",
                vec![0x89, b'P', b'N', b'G'],
            ),
        ],
    )
    .await?;
    assert_eq!(status, 200, "{updated}");
    let read = admin
        .get(&format!("/examples/{example}"))
        .await?
        .expect(200)?;
    let mut names: Vec<&String> = read["attachment_urls"]
        .as_object()
        .expect("urls")
        .keys()
        .collect();
    names.sort();
    assert_eq!(names, ["attachment.image", "attachment.summary"]);
    assert_eq!(read["inputs"], json!({"q": "what is in the file?"}), "kept");
    let summary_url = read["attachment_urls"]["attachment.summary"]["presigned_url"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(download(summary_url).await?, "report body");
    // An upload without operations replaces every attachment.
    send_multipart(
        &stack,
        reqwest::Method::PATCH,
        &format!("/platform/datasets/{dataset_id}/examples"),
        &[(
            format!("{example}.attachment.only"),
            "text/plain",
            b"x".to_vec(),
        )],
    )
    .await?;
    let read = admin
        .get(&format!("/examples/{example}"))
        .await?
        .expect(200)?;
    assert_eq!(
        read["attachment_urls"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["attachment.only".to_owned()])
    );

    // JSON examples: bulk create, null keeps, metadata replaces, cross-dataset bulk update 409.
    let bulk = admin
        .post(
            "/examples/bulk",
            json!([
                {"dataset_id": dataset_id, "inputs": {"q": "one"}, "outputs": {"a": 1}, "metadata": {"m": 1}},
                {"dataset_id": dataset_id, "inputs": {"q": "two"}},
            ]),
        )
        .await?
        .expect(200)?;
    let one = id(&bulk[0]);
    assert_eq!(bulk[1]["outputs"], Value::Null);
    let patched = admin
        .patch(
            &format!("/examples/{one}"),
            json!({"inputs": null, "outputs": {"a": 11}, "metadata": {"n": 2}}),
        )
        .await?
        .expect(200)?;
    assert_eq!(patched["inputs"], json!({"q": "one"}));
    assert_eq!(patched["metadata"], json!({"n": 2}));
    let other = admin.create_dataset(json!({"name": "other"})).await?;
    let stranger = admin
        .create_example(json!({"dataset_id": other.id, "inputs": {"x": 1}}))
        .await?;
    assert_eq!(
        admin.examples(other.id, "").await?,
        std::slice::from_ref(&stranger)
    );
    assert_eq!(
        admin
            .patch(
                "/examples/bulk",
                json!([{"id": one, "inputs": {"q": 1}}, {"id": stranger.id, "inputs": {"q": 2}}]),
            )
            .await?
            .status,
        409
    );
    let count = admin
        .get(&format!("/examples/count?dataset={dataset_id}"))
        .await?
        .expect(200)?;
    assert_eq!(count, 3);
    let filtered = admin
        .get(&format!(
            "/examples?dataset={dataset_id}&filter={}",
            urlencode(r#"has(metadata, '{"n": 2}')"#)
        ))
        .await?
        .expect(200)?;
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    let text = admin
        .get(&format!(
            "/examples?dataset={dataset_id}&full_text_contains=TWO"
        ))
        .await?
        .expect(200)?;
    assert_eq!(text[0]["inputs"]["q"], "two");

    // Versions: delete, then read as of the version before it; diff by time.
    let versions = admin
        .get(&format!("/datasets/{dataset_id}/versions"))
        .await?
        .expect(200)?;
    let before_delete = versions[0]["as_of"].as_str().unwrap_or_default().to_owned();
    admin
        .delete(&format!("/examples?example_ids={one}"))
        .await?
        .expect(200)?;
    assert_eq!(admin.get(&format!("/examples/{one}")).await?.status, 404);
    let old = admin
        .get(&format!(
            "/examples/{one}?as_of={}",
            urlencode(&before_delete)
        ))
        .await?
        .expect(200)?;
    assert_eq!(old["outputs"], json!({"a": 11}));
    let diff = admin
        .get(&format!(
            "/datasets/{dataset_id}/versions/diff?from_version={}&to_version=latest",
            urlencode(&before_delete)
        ))
        .await?
        .expect(200)?;
    assert_eq!(diff["examples_removed"], json!([one]));
    assert_eq!(diff["examples_added"], json!([]));
    let tagged = admin
        .put(
            &format!("/datasets/{dataset_id}/tags"),
            json!({"as_of": before_delete, "tag": "before"}),
        )
        .await?
        .expect(200)?;
    assert_eq!(tagged["tags"], json!(["before"]));
    let at_tag = admin
        .get(&format!("/examples?dataset={dataset_id}&as_of=before"))
        .await?
        .expect(200)?;
    assert_eq!(at_tag.as_array().map(Vec::len), Some(3));
    assert_eq!(
        admin
            .get(&format!("/examples?dataset={dataset_id}&as_of=no-such-tag"))
            .await?
            .status,
        404
    );

    // Public link: read without a key, then unshared.
    let share = admin
        .put(&format!("/datasets/{dataset_id}/share"), json!({}))
        .await?
        .expect(200)?;
    let token = share["share_token"].as_str().unwrap_or_default().to_owned();
    let public = anonymous
        .get(&format!("/public/{token}/datasets"))
        .await?
        .expect(200)?;
    assert_eq!(public["name"], "docs");
    let public_examples = anonymous
        .get(&format!("/public/{token}/examples"))
        .await?
        .expect(200)?;
    assert_eq!(public_examples.as_array().map(Vec::len), Some(2));
    admin
        .delete(&format!("/datasets/{dataset_id}/share"))
        .await?
        .expect(204)?;
    assert_eq!(
        anonymous
            .get(&format!("/public/{token}/datasets"))
            .await?
            .status,
        404
    );

    // CSV and JSONL uploads.
    let upload = |name: &'static str, filename: &'static str, file: &'static [u8]| {
        let stack = &stack;
        async move {
            let boundary = "upload-boundary";
            let mut body = Vec::new();
            for (field, value) in [
                ("name", name),
                ("data_type", "kv"),
                ("input_keys", "question"),
                ("output_keys", "answer"),
            ] {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(file);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let response = ironsmith_test_support::http()
                .post(format!("{}/api/v1/datasets/upload", stack.edge))
                .header("x-api-key", &stack.admin_key)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await?;
            let status = response.status().as_u16();
            anyhow::Ok((
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            ))
        }
    };
    let (status, csv) = upload(
        "from-csv",
        "qa.csv",
        b"question,answer,extra\nwhat?,that,1\n\"a, b\",c,2\n",
    )
    .await?;
    assert_eq!(status, 200, "{csv}");
    assert_eq!(csv["example_count"], 2);
    let (status, again) = upload("from-csv", "qa.csv", b"question,answer\nx,y\n").await?;
    assert_eq!(status, 409);
    assert!(
        again["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("already exists")
    );
    let (status, jsonl) = upload(
        "from-jsonl",
        "qa.jsonl",
        b"{\"question\": \"q1\", \"answer\": \"a1\"}\n{\"question\": \"q2\", \"answer\": \"a2\"}\n",
    )
    .await?;
    assert_eq!(status, 200, "{jsonl}");
    assert_eq!(jsonl["example_count"], 2);

    // Deleting a dataset deletes its examples and experiments.
    let experiment = admin
        .post(
            "/sessions",
            json!({"name": "exp-on-docs", "reference_dataset_id": dataset_id}),
        )
        .await?
        .expect(201)?;
    admin
        .delete(&format!("/datasets/{dataset_id}"))
        .await?
        .expect(204)?;
    assert_eq!(
        admin.get(&format!("/datasets/{dataset_id}")).await?.status,
        404
    );
    assert_eq!(
        admin.get(&format!("/examples/{example}")).await?.status,
        404
    );
    assert_eq!(
        admin
            .get(&format!("/sessions/{}", id(&experiment)))
            .await?
            .status,
        404
    );
    Ok(())
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn feedback_configs_tokens_upgrades_and_queues() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let anonymous = Client::new(&format!("{}/api/v1", stack.edge));
    let run = Uuid::now_v7();
    admin
        .post(
            "/runs/batch",
            json!({"post": [{"id": run, "trace_id": run, "name": "rated", "run_type": "chain",
                "dotted_order": format!("20250301T101500000000Z{run}"), "session_name": "fb",
                "start_time": "2025-03-01T10:15:00Z", "end_time": "2025-03-01T10:15:01Z"}]}),
        )
        .await?
        .expect(202)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while admin.get(&format!("/runs/{run}")).await?.status != 200 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the run never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Feedback CRUD; feedback for a run not ingested yet is accepted.
    let created = admin
        .create_feedback(
            json!({"run_id": run, "key": "quality", "score": true, "comment": "good",
                   "feedback_source": {"type": "model", "metadata": {"m": 1}}}),
        )
        .await?;
    let feedback = created.id;
    assert_eq!(created.trace_id, Some(run));
    let read: Feedback = admin
        .get(&format!("/feedback/{feedback}"))
        .await?
        .expect_as(200)?;
    assert_eq!(read.score, Some(1.0));
    assert_eq!(read.comment.as_deref(), Some("good"));
    let by_source: Vec<Feedback> = admin
        .get(&format!(
            "/feedback?run={run}&source=FeedbackSourceType.MODEL"
        ))
        .await?
        .expect_as(200)?;
    assert_eq!(by_source.len(), 1);
    let patched: Feedback = admin
        .patch(
            &format!("/feedback/{feedback}"),
            json!({"score": 0.5, "value": "meh"}),
        )
        .await?
        .expect_as(200)?;
    assert_eq!(patched.score, Some(0.5));
    let reread: Feedback = admin
        .get(&format!("/feedback/{feedback}"))
        .await?
        .expect_as(200)?;
    assert_eq!(reread.value, "meh");
    assert_eq!(admin.feedback_on(run).await?, [reread]);
    admin
        .delete(&format!("/feedback/{feedback}"))
        .await?
        .expect(204)?;
    assert_eq!(
        admin.get(&format!("/feedback/{feedback}")).await?.status,
        404
    );
    admin
        .create_feedback(json!({"run_id": Uuid::now_v7(), "key": "early", "score": 1}))
        .await?;
    assert_eq!(
        admin
            .post("/feedback", json!({"run_id": run}))
            .await?
            .status,
        422,
        "a key is required"
    );

    // Feedback upgrades the trace to the long retention tier.
    let upgraded: u64 = stack
        .clickhouse()
        .query("SELECT count() FROM trace_upgrades WHERE trace_id = ?")
        .bind(run)
        .fetch_one()
        .await?;
    assert!(upgraded >= 1);
    let read_run = admin.run(run).await?;
    assert!(read_run.trace_upgrade);
    assert_eq!(read_run.trace_tier.as_deref(), Some("longlived"));

    // Configurations: idempotent re-create, a changed one added next to the first (which
    // feedback is still checked against), validation, soft delete.
    let config = json!({"feedback_key": "rating", "feedback_config": {"type": "continuous", "min": 0, "max": 5}});
    let first = admin
        .post("/feedback-configs", config.clone())
        .await?
        .expect(200)?;
    assert_eq!(first["is_first"], true);
    let again = admin.post("/feedback-configs", config).await?.expect(200)?;
    assert_eq!(
        again["id"], first["id"],
        "an identical re-create returns the same one"
    );
    let second = admin
        .post(
            "/feedback-configs",
            json!({"feedback_key": "rating", "feedback_config": {"type": "freeform"}}),
        )
        .await?
        .expect(200)?;
    assert_eq!(
        (&second["is_first"], &second["feedback_config"]["type"]),
        (&json!(false), &json!("freeform"))
    );
    let listed = admin
        .get("/feedback-configs?key=rating")
        .await?
        .expect(200)?;
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "one per key by default"
    );
    assert_eq!(listed[0]["id"], first["id"]);
    let all = admin
        .get("/feedback-configs?key=rating&include_all_configs=true")
        .await?
        .expect(200)?;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    admin
        .delete(&format!(
            "/feedback-configs?id={}",
            second["id"].as_str().unwrap_or_default()
        ))
        .await?
        .expect(204)?;
    assert_eq!(
        admin
            .post(
                "/feedback-configs",
                json!({"feedback_key": "mood", "feedback_config": {"type": "categorical"}})
            )
            .await?
            .status,
        422
    );
    assert_eq!(
        admin
            .post(
                "/feedback",
                json!({"run_id": run, "key": "rating", "score": 9})
            )
            .await?
            .status,
        422,
        "out of range"
    );
    admin
        .post(
            "/feedback",
            json!({"run_id": run, "key": "rating", "score": 4}),
        )
        .await?
        .expect(200)?;
    let listed = admin
        .get("/feedback-configs?key=rating")
        .await?
        .expect(200)?;
    assert_eq!(listed[0]["feedback_config"]["max"], 5);
    admin
        .delete("/feedback-configs?feedback_key=rating")
        .await?
        .expect(204)?;
    assert_eq!(
        admin
            .get("/feedback-configs?key=rating")
            .await?
            .expect(200)?,
        json!([])
    );

    // Presigned tokens: created with a key, used without one, by GET and by POST.
    let token = admin
        .post(
            "/feedback/tokens",
            json!({"run_id": run, "feedback_key": "thumbs", "expires_in": {"hours": 1}}),
        )
        .await?
        .expect(200)?;
    let token_id = id(&token);
    let url = token["url"].as_str().unwrap_or_default().to_owned();
    assert!(
        url.ends_with(&format!("/feedback/tokens/{token_id}")),
        "{url}"
    );
    let by_get = ironsmith_test_support::http()
        .get(format!("{url}?score=1&comment=nice"))
        .send()
        .await?;
    assert_eq!(by_get.status().as_u16(), 200);
    anonymous
        .post(&format!("/feedback/tokens/{token_id}"), json!({"score": 0}))
        .await?
        .expect(200)?;
    // Keyless submissions go through the ingestion stream (the worker batches them): wait.
    let mut scores: Vec<f64> = Vec::new();
    for _ in 0..100 {
        let thumbs = admin
            .get(&format!("/feedback?run={run}&key=thumbs"))
            .await?
            .expect(200)?;
        scores = thumbs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["score"].as_f64())
            .collect();
        if scores.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    scores.sort_by(f64::total_cmp);
    assert_eq!(scores, [0.0, 1.0]);
    let tokens = admin
        .get(&format!("/feedback/tokens?run_id={run}"))
        .await?
        .expect(200)?;
    assert_eq!(tokens.as_array().map(Vec::len), Some(1));
    assert_eq!(
        anonymous
            .post(
                &format!("/feedback/tokens/{}", Uuid::new_v4()),
                json!({"score": 1})
            )
            .await?
            .status,
        404
    );
    sqlx::query(
        "UPDATE feedback_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(Uuid::parse_str(&token_id)?)
    .execute(&stack.pool()?)
    .await?;
    assert_eq!(
        anonymous
            .post(&format!("/feedback/tokens/{token_id}"), json!({"score": 1}))
            .await?
            .status,
        400,
        "expired"
    );

    // Annotation queue: add, next item for me, mark done, completed, remove by run id, delete.
    let queue = admin
        .create_annotation_queue(json!({"name": "review", "rubric_instructions": "be fair",
                   "rubric_items": [{"feedback_key": "quality", "description": "is it good"}]}))
        .await?;
    let queue_id = queue.id.to_string();
    assert_eq!(queue.name, "review");
    assert_eq!(
        admin
            .post(
                "/annotation-queues",
                json!({"name": "bad", "rubric_items": [{}]})
            )
            .await?
            .status,
        422
    );
    let items = admin
        .post(&format!("/annotation-queues/{queue_id}/runs"), json!([run]))
        .await?
        .expect(200)?;
    assert_eq!(items[0]["run_id"], json!(run));
    let read = admin
        .get(&format!("/annotation-queues/{queue_id}"))
        .await?
        .expect(200)?;
    assert_eq!(read["rubric_items"][0]["feedback_key"], "quality");
    assert_eq!(
        admin
            .get(&format!("/annotation-queues/{queue_id}/size"))
            .await?
            .expect(200)?,
        json!({"size": 1})
    );
    let next = admin
        .get(&format!("/annotation-queues/{queue_id}/run/0"))
        .await?
        .expect(200)?;
    assert_eq!(next["id"], json!(run));
    assert_eq!(next["name"], "rated");
    assert_eq!(next["queue_run_id"], items[0]["id"]);
    admin
        .patch(
            &format!("/annotation-queues/{queue_id}/runs/{run}"),
            json!({"status": "completed"}),
        )
        .await?
        .expect(200)?;
    assert_eq!(
        admin
            .get(&format!("/annotation-queues/{queue_id}/run/0"))
            .await?
            .status,
        404,
        "nothing left for me to review"
    );
    let done = admin
        .get(&format!(
            "/annotation-queues/{queue_id}/runs?status=completed"
        ))
        .await?
        .expect(200)?;
    assert_eq!(done.as_array().map(Vec::len), Some(1));
    admin
        .delete(&format!("/annotation-queues/{queue_id}/runs/{run}"))
        .await?
        .expect(204)?;
    assert_eq!(
        admin
            .get(&format!("/annotation-queues/{queue_id}/size"))
            .await?
            .expect(200)?,
        json!({"size": 0})
    );
    admin
        .delete(&format!("/annotation-queues/{queue_id}"))
        .await?
        .expect(204)?;
    assert_eq!(
        admin
            .get(&format!("/annotation-queues?ids={queue_id}"))
            .await?
            .expect(200)?,
        json!([])
    );
    Ok(())
}
