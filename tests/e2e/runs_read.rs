//! The read path over HTTP through the edge: projects and their statistics, run queries with
//! every selection, the filter language against real ClickHouse, cursor pages, one run with its
//! children, statistics, thread groups, share links and public reads, attachment downloads, and
//! project deletion.

use std::time::Duration;

use ironsmith_api_types::runs::Project;
use ironsmith_e2e::{Client, Stack};
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

struct Run {
    id: Uuid,
    dotted: String,
}

fn run(parent: Option<&Run>, start: &str) -> Run {
    let id = Uuid::now_v7();
    let stamp = start.replace(['-', ':', '.'], "");
    let segment = format!("{stamp}Z{id}");
    Run {
        id,
        dotted: match parent {
            Some(parent) => format!("{}.{segment}", parent.dotted),
            None => segment,
        },
    }
}

/// Two traces in project `project`:
/// - `root` (chain, tags [a], metadata user=ada env=prod, thread t-1) with children `llm`
///   (tokens, cost) and `tool` (error), and `tool`'s child `leaf`;
/// - `other` (chain, metadata user=bob env=dev, thread t-2), alone.
struct Traces {
    root: Run,
    llm: Run,
    tool: Run,
    leaf: Run,
    other: Run,
}

async fn ingest(stack: &Stack, project: &str) -> anyhow::Result<Traces> {
    let root = run(None, "20250301T101500.000000");
    let llm = run(Some(&root), "20250301T101501.000000");
    let tool = run(Some(&root), "20250301T101502.000000");
    let leaf = run(Some(&tool), "20250301T101503.000000");
    let other = run(None, "20250301T111500.000000");
    let post = |r: &Run,
                trace: &Run,
                parent: Option<&Run>,
                name: &str,
                run_type: &str,
                start: &str,
                end: &str,
                extra: Value| {
        json!({
            "id": r.id, "trace_id": trace.id, "dotted_order": r.dotted,
            "parent_run_id": parent.map(|p| p.id), "name": name, "run_type": run_type,
            "session_name": project, "start_time": start, "end_time": end, "extra": extra,
        })
    };
    let mut root_post = post(
        &root,
        &root,
        None,
        "pipeline",
        "chain",
        "2025-03-01T10:15:00Z",
        "2025-03-01T10:15:04Z",
        json!({"metadata": {"user": "ada", "env": "prod", "thread_id": "t-1"}}),
    );
    root_post["tags"] = json!(["a"]);
    root_post["inputs"] = json!({"question": "what is six times seven", "n": 6});
    root_post["outputs"] = json!({"answer": "forty-two"});
    let mut llm_post = post(
        &llm,
        &root,
        Some(&root),
        "chat",
        "llm",
        "2025-03-01T10:15:01Z",
        "2025-03-01T10:15:02Z",
        json!({"metadata": {"user": "ada", "ls_model_name": "gpt-4o", "ls_provider": "openai"}}),
    );
    llm_post["outputs"] = json!({"text": "42", "usage_metadata": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120, "total_cost": 0.5}});
    let mut tool_post = post(
        &tool,
        &root,
        Some(&root),
        "calculator",
        "tool",
        "2025-03-01T10:15:02Z",
        "2025-03-01T10:15:03Z",
        json!({"metadata": {"user": "ada"}}),
    );
    tool_post["error"] = json!("ZeroDivisionError: boom");
    let leaf_post = post(
        &leaf,
        &root,
        Some(&tool),
        "lookup",
        "retriever",
        "2025-03-01T10:15:03Z",
        "2025-03-01T10:15:03.5Z",
        json!({}),
    );
    let mut other_post = post(
        &other,
        &other,
        None,
        "pipeline",
        "chain",
        "2025-03-01T11:15:00Z",
        "2025-03-01T11:15:10Z",
        json!({"metadata": {"user": "bob", "env": "dev", "thread_id": "t-2"}}),
    );
    other_post["inputs"] = json!({"question": "hello there"});
    stack
        .admin()
        .post(
            "/runs/batch",
            json!({"post": [root_post, llm_post, tool_post, leaf_post, other_post]}),
        )
        .await?
        .expect(202)?;
    let runs = stack.ingested_runs(project).await?;
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r.status != "pending"));
    Ok(Traces {
        root,
        llm,
        tool,
        leaf,
        other,
    })
}

fn ids(page: &Value) -> Vec<Uuid> {
    page["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .filter_map(|r| r["id"].as_str().and_then(|id| Uuid::try_parse(id).ok()))
                .collect()
        })
        .unwrap_or_default()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

async fn query(client: &Client, body: Value) -> anyhow::Result<Value> {
    client.post("/runs/query", body).await?.expect(200)
}

#[tokio::test]
async fn projects_runs_filters_stats_and_sharing() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let t = ingest(&stack, "reads").await?;
    let project = stack.project_id("reads").await?.expect("project exists");

    // Projects: by name (an array), by id with statistics over traces.
    let by_name = admin
        .get("/sessions?name=reads&limit=1")
        .await?
        .expect(200)?;
    assert_eq!(by_name[0]["id"], json!(project));
    assert_eq!(by_name[0]["tenant_id"], json!(stack.workspace_id));
    assert_eq!(
        admin.get("/sessions?name=nope").await?.expect(200)?,
        json!([])
    );
    let read = admin
        .get(&format!("/sessions/{project}?include_stats=true&limit=1"))
        .await?
        .expect(200)?;
    assert_eq!(read["run_count"], 2, "{read}");
    assert_eq!(read["total_tokens"], 120);
    assert_eq!(read["total_cost"], 0.5);
    assert_eq!(read["error_rate"], 0.0);
    assert_eq!(
        read["latency_p50"].as_f64().map(|l| l.round()),
        Some(7.0),
        "{read}"
    );
    assert_eq!(read["last_run_start_time"], "2025-03-01T11:15:00.000000");
    assert_eq!(read["first_run_start_time"], "2025-03-01T10:15:00.000000");

    // Listing: newest first, is_root, selected fields always carrying the essentials.
    let roots = query(
        &admin,
        json!({"session": [project], "is_root": true, "select": ["inputs"]}),
    )
    .await?;
    assert_eq!(ids(&roots), vec![t.other.id, t.root.id]);
    let first = &roots["runs"][1];
    assert_eq!(first["inputs"]["question"], "what is six times seven");
    for field in ["name", "run_type", "start_time", "trace_id", "dotted_order"] {
        assert!(!first[field].is_null(), "{field} always returned: {first}");
    }
    assert!(
        first.get("outputs").is_none(),
        "unselected fields are left out"
    );

    // Every body selection.
    let cases: Vec<(Value, Vec<Uuid>)> = vec![
        (
            json!({"trace": t.root.id, "is_root": false}),
            vec![t.llm.id, t.tool.id, t.leaf.id],
        ),
        (json!({"parent_run": t.root.id}), vec![t.llm.id, t.tool.id]),
        (json!({"run_type": "llm"}), vec![t.llm.id]),
        (json!({"error": true}), vec![t.tool.id]),
        (
            json!({"id": [t.leaf.id, t.other.id]}),
            vec![t.leaf.id, t.other.id],
        ),
        (
            json!({"start_time": "2025-03-01T10:15:02Z", "end_time": "2025-03-01T10:15:03Z"}),
            vec![t.tool.id, t.leaf.id],
        ),
        (json!({"filter": "eq(name, 'chat')"}), vec![t.llm.id]),
        (
            json!({"filter": "and(eq(metadata_key, 'user'), eq(metadata_value, 'bob'))"}),
            vec![t.other.id],
        ),
        // One and the same entry: no run has user=prod.
        (
            json!({"filter": "and(eq(metadata_key, 'user'), eq(metadata_value, 'prod'))"}),
            vec![],
        ),
        (
            json!({"filter": "has(metadata, '{\"env\": \"prod\"}')"}),
            vec![t.root.id],
        ),
        (
            json!({"filter": "exists(metadata, 'env')"}),
            vec![t.root.id, t.other.id],
        ),
        (json!({"filter": "has(tags, 'a')"}), vec![t.root.id]),
        (json!({"filter": "neq(error, null)"}), vec![t.tool.id]),
        (json!({"filter": "gt(latency, '5s')"}), vec![t.other.id]),
        (
            json!({"filter": "and(gte(total_tokens, 100), lt(total_cost, 1))"}),
            vec![t.llm.id],
        ),
        (json!({"filter": "eq(thread_id, 't-2')"}), vec![t.other.id]),
        (
            json!({"filter": "in(run_type, ['tool', 'retriever'])"}),
            vec![t.tool.id, t.leaf.id],
        ),
        (
            json!({"filter": "and(eq(input_key, 'question'), eq(input_value, 'hello there'))"}),
            vec![t.other.id],
        ),
        (json!({"filter": "search('forty')"}), vec![t.root.id]),
        (json!({"query": "hello"}), vec![t.other.id]),
        (
            json!({"filter": "not(eq(run_type, 'chain'))", "is_root": false}),
            vec![t.llm.id, t.tool.id, t.leaf.id],
        ),
        (
            json!({"filter": "gt(start_time, '2025-03-01T11:00:00Z')"}),
            vec![t.other.id],
        ),
        // Runs whose trace's root matches; runs of traces where any run matches.
        (
            json!({"trace_filter": "eq(metadata_value, 'prod')", "is_root": false}),
            vec![t.llm.id, t.tool.id, t.leaf.id],
        ),
        (
            json!({"tree_filter": "eq(run_type, 'retriever')", "is_root": true}),
            vec![t.root.id],
        ),
    ];
    for (mut body, expected) in cases {
        body["session"] = json!([project]);
        let page = query(&admin, body.clone()).await?;
        assert_eq!(sorted(ids(&page)), sorted(expected), "{body}");
    }

    // An invalid filter: 400 with the position and the reason.
    let bad = admin
        .post(
            "/runs/query",
            json!({"session": [project], "filter": "and(eq(name, 'x'), gt(nme, 1))"}),
        )
        .await?;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["detail"],
        "Invalid filter: invalid filter at position 22: unknown field `nme`; fields are id, trace_id, parent_run_id, reference_example_id, session_id, name, run_type, status, thread_id, start_time, end_time, latency, first_token_time, total_tokens, prompt_tokens, completion_tokens, total_cost, prompt_cost, completion_cost, error, tags, is_root, metadata_key, metadata_value, input_key, input_value, output_key, output_value, feedback_key, feedback_score, feedback_value, metadata, inputs, outputs"
    );

    // Cursor pages: two runs a page, every run once, in order, then a null cursor.
    let mut seen = Vec::new();
    let mut body = json!({"session": [project], "limit": 2});
    loop {
        let page = query(&admin, body.clone()).await?;
        seen.extend(ids(&page));
        match page["cursors"]["next"].as_str() {
            Some(next) => body["cursor"] = json!(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![t.other.id, t.leaf.id, t.tool.id, t.llm.id, t.root.id]
    );
    let ascending = query(
        &admin,
        json!({"session": [project], "order": "asc", "limit": 3}),
    )
    .await?;
    assert_eq!(ids(&ascending), vec![t.root.id, t.llm.id, t.tool.id]);

    // One run: children, ancestors, derived fields.
    let root = admin.run(t.root.id).await?;
    assert_eq!(
        root.child_run_ids,
        Some(vec![t.llm.id, t.tool.id, t.leaf.id])
    );
    assert_eq!(root.direct_child_run_ids, Some(vec![t.llm.id, t.tool.id]));
    assert_eq!(root.thread_id.as_deref(), Some("t-1"));
    assert_eq!(root.status, "success");
    assert_eq!(root.outputs.expect("outputs")["answer"], "forty-two");
    let leaf = admin.run(t.leaf.id).await?;
    assert_eq!(leaf.parent_run_ids, [t.root.id, t.tool.id]);
    let llm = admin.run(t.llm.id).await?;
    assert_eq!(
        (llm.prompt_tokens, llm.completion_tokens, llm.total_cost),
        (100, 20, Some(0.5))
    );
    assert_eq!(
        admin
            .get(&format!("/runs/{}", Uuid::now_v7()))
            .await?
            .status,
        404
    );

    // Statistics of a selection.
    let stats = admin
        .post(
            "/runs/stats",
            json!({"session": [project], "trace": t.root.id}),
        )
        .await?
        .expect(200)?;
    assert_eq!(stats["run_count"], 4, "{stats}");
    assert_eq!(stats["total_tokens"], 120);
    assert_eq!(stats["error_rate"], 0.25);

    // Threads, as the JS SDK groups them.
    let groups = admin
        .post(
            "/runs/group",
            json!({"session_id": project, "group_by": "conversation", "limit": 10, "offset": 0}),
        )
        .await?
        .expect(200)?;
    assert_eq!(groups["total"], 2, "{groups}");
    assert_eq!(groups["groups"][0]["group_key"], "t-2");
    assert_eq!(groups["groups"][1]["count"], 1);

    // Sharing: a token opens exactly the shared trace, without a key.
    assert_eq!(
        admin
            .get(&format!("/runs/{}/share", t.root.id))
            .await?
            .expect(200)?,
        Value::Null
    );
    // The server mints the token: a proposed one is not used (a capability must be
    // unguessable, and a proposal must not reveal which tokens exist).
    let proposed = Uuid::new_v4();
    let shared = admin
        .put(
            &format!("/runs/{}/share", t.root.id),
            json!({"run_id": t.root.id, "share_token": proposed}),
        )
        .await?
        .expect(200)?;
    let token: Uuid = serde_json::from_value(shared["share_token"].clone())?;
    assert_ne!(token, proposed);
    assert_eq!(
        admin
            .get(&format!("/runs/{}/share", t.root.id))
            .await?
            .expect(200)?["share_token"],
        json!(token)
    );
    let public = stack.anonymous();
    let run = public
        .get(&format!("/public/{token}/run"))
        .await?
        .expect(200)?;
    assert_eq!(run["id"], json!(t.root.id));
    let child = public
        .get(&format!("/public/{token}/run/{}", t.leaf.id))
        .await?
        .expect(200)?;
    assert_eq!(child["name"], "lookup");
    assert_eq!(
        public
            .get(&format!("/public/{token}/run/{}", t.other.id))
            .await?
            .status,
        404,
        "another trace stays private"
    );
    let listed = public
        .post(
            &format!("/public/{token}/runs/query"),
            json!({"id": [t.llm.id, t.other.id]}),
        )
        .await?
        .expect(200)?;
    assert_eq!(ids(&listed), vec![t.llm.id]);
    let whole = public
        .post(&format!("/public/{token}/runs/query"), json!({}))
        .await?
        .expect(200)?;
    assert_eq!(ids(&whole).len(), 4);
    admin
        .delete(&format!("/runs/{}/share", t.root.id))
        .await?
        .expect(204)?;
    assert_eq!(
        public.get(&format!("/public/{token}/run")).await?.status,
        404
    );

    // Deleting the project: unreachable at once, removed from ClickHouse by the worker.
    let answer = admin.delete(&format!("/sessions/{project}")).await?;
    assert_eq!(answer.status, 202);
    assert_eq!(
        admin.get(&format!("/sessions/{project}")).await?.status,
        404
    );
    assert_eq!(
        admin.get(&format!("/runs/{}", t.root.id)).await?.status,
        404
    );
    assert_eq!(
        ids(&query(&admin, json!({"session": [project]})).await?),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        ids(&query(&admin, json!({"trace": t.root.id})).await?),
        Vec::<Uuid>::new()
    );
    let clickhouse = stack.clickhouse();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left =
            ironsmith_analytics::runs::count_runs(&clickhouse, stack.workspace_id, project).await?;
        if left == 0 {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{left} runs left in ClickHouse"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The name is free again.
    admin
        .post("/sessions", json!({"name": "reads"}))
        .await?
        .expect(201)?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn project_crud_follows_the_spec() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    // Every workspace starts with `default`, so the Python SDK finds its workspace id.
    let first = admin.get("/sessions?limit=1").await?.expect(200)?;
    assert_eq!(first[0]["tenant_id"], json!(stack.workspace_id));

    let created: Project = admin
        .post("/sessions", json!({"name": "exp-1", "description": "first", "extra": {"metadata": {"model": "a", "k": 1}}}))
        .await?
        .expect_as(201)?;
    assert_eq!(created.description.as_deref(), Some("first"));
    let id = created.id.to_string();
    let duplicate = admin.post("/sessions", json!({"name": "exp-1"})).await?;
    assert_eq!(duplicate.status, 409);
    assert!(
        duplicate.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already exists"))
    );
    let upserted: Project = admin
        .post(
            "/sessions?upsert=true",
            json!({"name": "exp-1", "description": "again"}),
        )
        .await?
        .expect_as(200)?;
    assert_eq!(
        (upserted.id.to_string(), upserted.description.as_deref()),
        (id.clone(), Some("again"))
    );
    let other = admin.create_project("other-thing").await?;
    assert_eq!(admin.project(other.id).await?.name, "other-thing");
    assert_eq!(
        admin.post("/sessions", json!({"name": "  "})).await?.status,
        422
    );

    let contains = admin
        .get("/sessions?name_contains=EXP")
        .await?
        .expect(200)?;
    assert_eq!(contains.as_array().map(Vec::len), Some(1));
    let by_metadata = admin
        .get(&format!(
            "/sessions?metadata={}",
            urlencode(r#"{"model":"a"}"#)
        ))
        .await?
        .expect(200)?;
    assert_eq!(by_metadata[0]["id"].as_str(), Some(id.as_str()));
    let by_ids = admin
        .get(&format!("/sessions?id={id}&id={}", Uuid::now_v7()))
        .await?
        .expect(200)?;
    assert_eq!(by_ids.as_array().map(Vec::len), Some(1));
    let page = admin
        .get("/sessions?sort_by=name&limit=1&offset=1")
        .await?
        .expect(200)?;
    assert_eq!(
        page[0]["name"], "exp-1",
        "default, exp-1, other-thing by name"
    );
    assert_eq!(admin.get("/sessions?limit=101").await?.status, 422);
    assert_eq!(
        admin
            .get("/sessions?reference_free=True")
            .await?
            .expect(200)?
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // PATCH merges metadata and sets the end time; a taken name is a 409.
    let patched = admin
        .patch(&format!("/sessions/{id}"), json!({"extra": {"metadata": {"k": 2, "done": true}}, "end_time": "2025-03-01T10:00:00Z"}))
        .await?
        .expect(200)?;
    assert_eq!(
        patched["extra"]["metadata"],
        json!({"model": "a", "k": 2, "done": true})
    );
    assert_eq!(patched["end_time"], "2025-03-01T10:00:00.000000");
    assert_eq!(
        admin
            .patch(&format!("/sessions/{id}"), json!({"name": "other-thing"}))
            .await?
            .status,
        409
    );
    let renamed = admin
        .patch(&format!("/sessions/{id}"), json!({"name": "exp-renamed"}))
        .await?
        .expect(200)?;
    assert_eq!(renamed["name"], "exp-renamed");
    assert_eq!(
        admin
            .get(&format!("/sessions/{}", Uuid::now_v7()))
            .await?
            .status,
        404
    );
    assert_eq!(admin.get("/sessions/not-a-uuid").await?.status, 422);
    stack.stop().await;
    Ok(())
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Pages over hundreds of runs spread unevenly in time, with and without a sparse filter, in
/// both orders: every run exactly once, in order (the page windows grow as they probe).
#[tokio::test]
async fn cursor_pages_cover_large_projects_exactly_once() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let base = chrono::DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z")?.timestamp_micros();
    let mut runs = Vec::new();
    let mut offset = 0_i64;
    for i in 0..400_i64 {
        // Bursts of runs microseconds apart, then gaps of up to days.
        offset += if i % 50 == 0 {
            86_400_000_000
        } else {
            1 + (i * 7919) % 3_000_000
        };
        let start = base + offset;
        let id = Uuid::now_v7();
        runs.push((start, id, i % 7));
    }
    let posts: Vec<Value> = runs
        .iter()
        .map(|(start, id, k)| {
            let stamp = chrono::DateTime::from_timestamp_micros(*start).expect("time");
            json!({"id": id, "trace_id": id, "dotted_order": format!("{}Z{id}", stamp.format("%Y%m%dT%H%M%S%6f")),
                "name": format!("run-{k}"), "run_type": "chain", "session_name": "paged",
                "start_time": stamp.to_rfc3339(), "end_time": stamp.to_rfc3339(),
                "extra": {"metadata": {"k": k}}})
        })
        .collect();
    admin
        .post("/runs/batch", json!({"post": posts}))
        .await?
        .expect(202)?;
    stack.wait_for_runs("paged", 400, WAIT).await?;
    let project = stack.project_id("paged").await?.expect("project");

    let mut newest_first = runs.clone();
    newest_first.sort_by_key(|(start, id, _)| std::cmp::Reverse((*start, *id)));
    for (order, filter, limit) in [
        ("desc", None, 25),
        ("asc", None, 60),
        (
            "desc",
            Some("and(eq(metadata_key, 'k'), eq(metadata_value, '3'))"),
            7,
        ),
        ("asc", Some("eq(name, 'run-5')"), 9),
    ] {
        let mut expected: Vec<Uuid> = newest_first
            .iter()
            .filter(|(_, _, k)| match filter {
                Some(f) if f.contains("'3'") => *k == 3,
                Some(_) => *k == 5,
                None => true,
            })
            .map(|(_, id, _)| *id)
            .collect();
        if order == "asc" {
            expected.reverse();
        }
        let mut seen = Vec::new();
        let mut body =
            json!({"session": [project], "order": order, "limit": limit, "select": ["name"]});
        if let Some(filter) = filter {
            body["filter"] = json!(filter);
        }
        loop {
            let page = query(&admin, body.clone()).await?;
            let got = ids(&page);
            assert!(
                got.len() <= limit,
                "{order} {filter:?}: page of {}",
                got.len()
            );
            seen.extend(got);
            match page["cursors"]["next"].as_str() {
                Some(next) => body["cursor"] = json!(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), expected.len(), "{order} {filter:?}");
        assert!(
            seen == expected,
            "{order} {filter:?}: pages out of order or repeated"
        );
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn timeseries_buckets_runs_and_splits_them_by_group() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let t = ingest(&stack, "series").await?;
    let project = stack.project_id("series").await?.expect("project exists");
    for (run, score) in [(&t.root, 1.0), (&t.llm, 0.5), (&t.other, 0.0)] {
        admin
            .post(
                "/feedback",
                json!({"run_id": run.id, "key": "correctness", "score": score}),
            )
            .await?
            .expect(200)?;
    }
    for (trace, records) in [(&t.root, 2), (&t.other, 1)] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while stack.wait_for_feedback(trace.id, WAIT).await?.len() < records {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "feedback not stored"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let series = |extra: Value| {
        let mut body = json!({
            "session": [project],
            "start_time": "2025-03-01T10:00:00Z",
            "end_time": "2025-03-01T12:00:00Z",
            "stride_seconds": 3600,
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let admin = admin.clone();
        async move { admin.post("/runs/timeseries", body).await }
    };

    // Traces per hour: the 10:00 one took 4 s, the 11:00 one 10 s.
    let traces = series(json!({"is_root": true})).await?.expect(200)?;
    assert_eq!(traces["stride_seconds"], 3600);
    assert_eq!(traces["start_time"], "2025-03-01T10:00:00.000000");
    assert_eq!(traces["groups_left_out"], 0);
    let only = &traces["series"][0];
    assert_eq!(
        traces["series"].as_array().map(Vec::len),
        Some(1),
        "{traces}"
    );
    assert_eq!(only["group"], Value::Null);
    assert_eq!(only["run_count"], 2);
    let points = only["points"].as_array().cloned().unwrap_or_default();
    assert_eq!(points.len(), 2, "{traces}");
    assert_eq!(points[0]["start_time"], "2025-03-01T10:00:00.000000");
    assert_eq!(points[0]["run_count"], 1);
    assert_eq!(points[0]["latency_p50"].as_f64().map(f64::round), Some(4.0));
    assert_eq!(points[1]["start_time"], "2025-03-01T11:00:00.000000");
    assert_eq!(
        points[1]["latency_p99"].as_f64().map(f64::round),
        Some(10.0)
    );
    assert_eq!(
        points[0]["total_cost"],
        Value::Null,
        "no root run has a price"
    );

    // Every run, by run type: the LLM call's tokens and cost, the tool's error.
    let by_type = series(json!({"group_by": "run_type"})).await?.expect(200)?;
    let group = |answer: &Value, name: &str| {
        answer["series"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["group"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        by_type["series"][0]["group"], "chain",
        "busiest first: {by_type}"
    );
    assert_eq!(group(&by_type, "chain")["run_count"], 2);
    let llm = &group(&by_type, "llm")["points"][0];
    assert_eq!(llm["total_tokens"], 120);
    assert_eq!(llm["total_cost"], 0.5);
    let tool = &group(&by_type, "tool")["points"][0];
    assert_eq!(
        (tool["error_count"].clone(), tool["error_rate"].clone()),
        (json!(1), json!(1.0))
    );
    assert_eq!(group(&by_type, "retriever")["run_count"], 1);
    assert_eq!(
        by_type["feedback"][0]["points"][0],
        json!({"start_time": "2025-03-01T10:00:00.000000", "n": 2, "avg": 0.75}),
        "every run's feedback, not split by group"
    );

    // By a metadata key (runs without it in ""), by tag, by name with a filter.
    let by_user = series(json!({"group_by": "metadata", "metadata_key": "user"}))
        .await?
        .expect(200)?;
    assert_eq!(
        by_user["series"].as_array().map(Vec::len),
        Some(3),
        "{by_user}"
    );
    assert_eq!(group(&by_user, "ada")["run_count"], 3);
    assert_eq!(group(&by_user, "bob")["run_count"], 1);
    assert_eq!(group(&by_user, "")["run_count"], 1);
    let by_tag = series(json!({"group_by": "tag"})).await?.expect(200)?;
    assert_eq!(group(&by_tag, "a")["run_count"], 1);
    assert_eq!(group(&by_tag, "")["run_count"], 4);
    let filtered = series(json!({"filter": "eq(name, \"pipeline\")", "group_by": "name"}))
        .await?
        .expect(200)?;
    assert_eq!(filtered["series"].as_array().map(Vec::len), Some(1));
    assert_eq!(group(&filtered, "pipeline")["run_count"], 2);

    // Without a stride, a two-hour range gets one-minute buckets (at most 120 of them).
    let default = series(json!({"stride_seconds": null})).await?.expect(200)?;
    assert_eq!(default["stride_seconds"], 60);

    // Bad input is refused with the field named.
    for (body, field) in [
        (json!({"stride_seconds": 30}), "stride_seconds"),
        (
            json!({"stride_seconds": 60, "start_time": "2024-01-01T00:00:00Z"}),
            "stride_seconds",
        ),
        (json!({"start_time": "2025-03-01T13:00:00Z"}), "start_time"),
        (json!({"group_by": "colour"}), "group_by"),
        (json!({"group_by": "metadata"}), "metadata_key"),
        (json!({"session": []}), "session"),
    ] {
        let answer = series(body.clone()).await?.expect(422)?;
        assert_eq!(answer["detail"][0]["loc"][1], field, "{body}: {answer}");
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_whole_trace_reads_in_one_answer() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let t = ingest(&stack, "whole").await?;
    let project = stack.project_id("whole").await?.expect("project exists");
    let read = |path: String| {
        let admin = admin.clone();
        async move { admin.get(&path).await }
    };
    for path in [
        format!("/runs/{}/trace?select=name&select=parent_run_id", t.root.id),
        format!("/runs/{}/trace?session={project}&select=name", t.root.id),
    ] {
        let page = read(path.clone()).await?.expect(200)?;
        let names: Vec<&str> = page["runs"]
            .as_array()
            .map(|runs| runs.iter().filter_map(|r| r["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            names,
            ["pipeline", "chat", "calculator", "lookup"],
            "{path}: {page}"
        );
        assert_eq!(page["cursors"]["next"], Value::Null);
    }
    let page = read(format!("/runs/{}/trace?select=parent_run_id", t.root.id))
        .await?
        .expect(200)?;
    assert_eq!(page["runs"][3]["parent_run_id"], json!(t.tool.id));
    assert_eq!(
        page["runs"][0]["inputs"],
        Value::Null,
        "only what was selected"
    );
    read(format!("/runs/{}/trace", Uuid::now_v7()))
        .await?
        .expect(404)?;
    read(format!(
        "/runs/{}/trace?session={}",
        t.root.id,
        Uuid::now_v7()
    ))
    .await?
    .expect(404)?;
    read(format!("/runs/{}/trace?session=nope", t.root.id))
        .await?
        .expect(422)?;
    stack.stop().await;
    Ok(())
}
