//! The prompt hub through the real clients: the Python SDK (`push_prompt`, `pull_prompt` with
//! and without the model, `list_prompts`, `get_prompt`, `update_prompt`, `delete_prompt`,
//! `like_prompt`, `create_commit`, `list_prompt_commits`) and LangChain's `hub.push` /
//! `hub.pull`; the JS SDK (`pushPrompt`, `pullPromptCommit`, `listCommits`, `listPrompts`,
//! `likePrompt`, `createCommit`) and LangChain.js's `langchain/hub`. A prompt pushed from one
//! language is pulled from the other; manifests come back byte for byte; a public prompt is
//! pulled with no key; a stale parent is the SDKs' conflict; another workspace sees only what
//! is public and changes nothing.

use ironsmith_e2e::{Stack, node, python, run_client};
use serde_json::{Value, json};
use uuid::Uuid;

/// A second workspace of the same organisation and a key scoped to it.
async fn other_workspace(stack: &Stack) -> anyhow::Result<String> {
    let admin = stack.admin();
    let workspace = admin
        .post("/workspaces", json!({"display_name": "Other team"}))
        .await?
        .expect(200)?;
    let key = admin
        .clone()
        .tenant(workspace["id"].as_str().unwrap_or_default())
        .post("/api-key", json!({}))
        .await?
        .expect(200)?;
    Ok(key["key"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn prompts_pushed_and_pulled_through_both_sdks_and_langchain() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let other_key = other_workspace(&stack).await?;
    let env = [
        ("LANGSMITH_ENDPOINT", endpoint.as_str()),
        ("LANGSMITH_API_KEY", stack.admin_key.as_str()),
    ];

    let js = run_client(&node(), "tests/js/sdk_hub.mjs", &env).await?;
    let mut py_env = env.to_vec();
    py_env.extend([
        ("IRONSMITH_HANDLE", "alpha-team"),
        ("IRONSMITH_OTHER_KEY", other_key.as_str()),
        ("IRONSMITH_PULL_JS", "js-colour"),
    ]);
    let py = run_client(&python(), "tests/python/sdk_hub.py", &py_env).await?;
    let mut pull_env = env.to_vec();
    pull_env.push(("IRONSMITH_PROMPT", "py-greeting"));
    let js_pull = run_client(&node(), "tests/js/hub_pull.mjs", &pull_env).await?;

    // Python.
    assert_eq!(py["claimed"], json!([200, "alpha-team"]));
    assert_eq!(
        py["latest_messages"],
        json!([
            "You are a cheerful assistant.",
            "Say hello to Ada in French."
        ])
    );
    assert_eq!(py["tagged_vars"], json!(["language", "name"]), "by tag");
    assert_eq!(py["prefix_vars"], json!(["name"]), "by 8-character prefix");
    let prompt = &py["prompt"];
    assert_eq!(prompt["owner"], "alpha-team");
    assert_eq!(prompt["full_name"], "alpha-team/py-greeting");
    assert_eq!(prompt["description"], "Greets people");
    assert_eq!(prompt["tags"], json!(["greeting"]));
    assert_eq!(prompt["num_commits"], 2);
    assert_eq!(prompt["downloads"], 3, "three pulls so far");
    let commits = py["commits"].as_array().expect("commits");
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[1]["hash"], py["first_hash"], "newest first");
    assert_eq!(commits[0]["parent"], py["first_hash"]);
    assert_eq!(commits[1]["parent"], Value::Null);
    assert_eq!(py["listed"], json!(["py-greeting"]));
    assert_eq!((&py["like"], &py["liked_by_me"]), (&json!(1), &json!(true)));
    assert_eq!(py["unlike"], 0);
    assert_eq!(py["stale_push"], "conflict", "{}", py["stale_message"]);
    assert_eq!(py["same_push"], "conflict", "nothing to commit");
    assert_eq!(
        py["with_model"],
        json!(["ChatPromptTemplate", "ChatOpenAI"])
    );
    assert_eq!(py["with_model_name"], "gpt-4o-mini");
    assert_eq!(py["without_model"], "ChatPromptTemplate");
    assert_eq!(py["anonymous_pull"][0], 200, "public: no key needed");
    assert_eq!(py["anonymous_pull"][1], commits[0]["hash"]);
    assert_eq!(py["other_workspace_vars"], json!(["language", "name"]));
    assert_eq!(py["other_private"], "not found");
    assert_eq!(py["lc_hub_vars"], json!(["name"]));
    assert_eq!(py["deleted"], true);
    assert_eq!(
        py["agent_files"],
        json!({
            "AGENTS.md": {"type": "file", "content": "You help, briefly."},
            "skills/search": {"type": "skill", "repo_handle": "py-search"},
        }),
        "changed, deleted and carried-over paths"
    );
    assert_eq!(
        py["agent_first_files"],
        json!(["AGENTS.md", "skills/search", "tools/notes.txt"])
    );
    assert_eq!(py["skill_files"], json!(["SKILL.md"]));
    assert_eq!(
        py["agents_listed"],
        json!(["py-helper", "js-agent"]),
        "agents only, the most recently updated first"
    );
    assert_eq!(py["agent_stale_push"], "conflict");
    assert_eq!(py["skill_deleted"], json!([]));
    assert_eq!(
        js["agent_files"],
        json!({"AGENTS.md": {"type": "file", "content": "Be quick."}})
    );
    for link in [&py["push_url"], &js["push_url"]] {
        let (status, page) =
            crate::sdk_compat::open_link(&stack, link.as_str().unwrap_or_default()).await?;
        assert_eq!(status, 200, "{link}");
        // The web UI's page (the browser test follows these links in Chromium).
        assert!(page.contains(r#"<div id="root">"#), "{page}");
    }

    // JS.
    assert_eq!(js["latest_vars"], json!(["thing", "time"]));
    assert_eq!(js["prefix_vars"], json!(["thing"]));
    assert_eq!(js["commits"].as_array().map(Vec::len), Some(2));
    assert_eq!(js["commits"][1], js["first_hash"]);
    assert_eq!(js["tagged_hash"], js["commits"][0]);
    assert_eq!(js["listed"], json!(["js-colour"]));
    assert_eq!(js["like"], 1);
    assert_eq!(
        (&js["exists"], &js["missing"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(js["stale_push"], "conflict");
    assert_eq!(js["lc_hub_vars"], json!(["thing"]));
    assert_eq!(
        js["lc_hub_messages"],
        json!(["You answer in one word.", "What colour is the sky?"])
    );
    assert_eq!(js["deleted"], true);

    // Across languages: what one pushed, the other pulls.
    assert_eq!(py["js_manifest"], js["pushed_manifest"]);
    assert_eq!(js_pull["manifest"], py["pushed_manifest"]);
    assert_eq!(js_pull["commit_hash"], commits[0]["hash"]);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn manifests_are_stored_verbatim_and_repositories_stay_in_their_workspace()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let other = stack.anonymous().key(&other_workspace(&stack).await?);
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1", stack.edge);

    admin
        .post(
            "/repos/",
            json!({"repo_handle": "verbatim", "is_public": false}),
        )
        .await?
        .expect(200)?;
    // Odd spacing, key order, a float written as 1.0, an escaped and a literal non-ASCII
    // character, and a large number: all must come back byte for byte.
    let manifest = "{ \"z\" : 1.0,\"a\":[ \"\\u00e9\", \"é\" ], \"n\": 12345678901234567890 }";
    let body = format!("{{\"parent_commit\": null, \"manifest\": {manifest}}}");
    let pushed = http
        .post(format!("{base}/commits/-/verbatim"))
        .header("x-api-key", &stack.admin_key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    assert_eq!(pushed.status(), 201);
    let pulled = http
        .get(format!("{base}/commits/-/verbatim/latest"))
        .header("x-api-key", &stack.admin_key)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        pulled.contains(&format!("\"manifest\":{manifest}")),
        "{pulled}"
    );

    // A second push naming a parent that is not the latest (an unknown hash) is a conflict.
    let stale = admin
        .post(
            "/commits/-/verbatim",
            json!({"parent_commit": "0123456789abcdef", "manifest": {"x": 1}}),
        )
        .await?;
    assert_eq!(stale.status, 409, "{}", stale.body);

    // Another workspace: the private repository does not exist for it, and it cannot write.
    assert_eq!(
        admin
            .post("/settings/handle", json!({"tenant_handle": "home"}))
            .await?
            .status,
        200
    );
    assert_eq!(other.get("/repos/home/verbatim").await?.status, 404);
    assert_eq!(
        other.get("/commits/home/verbatim/latest").await?.status,
        404
    );
    assert_eq!(
        stack
            .anonymous()
            .get("/commits/home/verbatim/latest")
            .await?
            .status,
        404
    );
    admin
        .patch("/repos/-/verbatim", json!({"is_public": true}))
        .await?
        .expect(200)?;
    assert_eq!(other.get("/repos/home/verbatim").await?.status, 200);
    let listed = stack
        .anonymous()
        .get("/repos?tenant_handle=home")
        .await?
        .expect(200)?;
    assert_eq!(listed["total"], 1);
    for (method, path, body) in [
        (
            "PATCH",
            "/repos/home/verbatim",
            json!({"description": "mine now"}),
        ),
        (
            "POST",
            "/commits/home/verbatim",
            json!({"manifest": {"y": 2}}),
        ),
        (
            "POST",
            "/repos/home/verbatim/tags",
            json!({"tag_name": "t", "commit_id": pushed_id(&admin).await?}),
        ),
    ] {
        let answer = other.send(method.parse()?, path, Some(&body)).await?;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
    }
    assert_eq!(other.delete("/repos/home/verbatim").await?.status, 403);

    // Clear errors for bad input.
    for (body, status) in [
        (json!({"repo_handle": "Bad Name"}), 422),
        (json!({"repo_handle": "verbatim"}), 409),
        (json!({"repo_handle": "x", "repo_type": "nope"}), 422),
    ] {
        let answer = admin.post("/repos", body.clone()).await?;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
    }
    assert_eq!(admin.get("/repos?sort_field=stars").await?.status, 422);
    assert_eq!(
        admin
            .get("/commits/-/verbatim/deadbeefdeadbeef")
            .await?
            .status,
        404
    );
    assert_eq!(
        admin.get("/commits/-/nothing-here/latest").await?.status,
        404
    );
    assert_eq!(
        admin
            .post("/settings/handle", json!({"tenant_handle": "another"}))
            .await?
            .status,
        409,
        "a handle is claimed once"
    );
    stack.stop().await;
    Ok(())
}

async fn pushed_id(admin: &ironsmith_e2e::Client) -> anyhow::Result<String> {
    let commits = admin.get("/commits/-/verbatim/").await?.expect(200)?;
    Ok(commits["commits"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// A local stand-in for a webhook target: records every request it gets and answers `status`.
async fn receiver(
    status: u16,
) -> anyhow::Result<(
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
)> {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let record = record.clone();
            async move {
                record.lock().expect("lock").push((headers, body));
                axum::http::StatusCode::from_u16(status).expect("status")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, seen))
}

#[tokio::test]
async fn prompt_webhooks_deliver_signed_events_and_record_every_attempt() -> anyhow::Result<()> {
    use hmac::Mac;
    let stack = Stack::start_with(|config| {
        config.hub.allow_private_webhook_targets = true;
        config.services.queue.max_deliveries = 3;
    })
    .await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let (good, received) = receiver(200).await?;
    let (bad, refused) = receiver(500).await?;
    let out = run_client(
        &python(),
        "tests/python/sdk_hub_webhooks.py",
        &[
            ("LANGSMITH_ENDPOINT", endpoint.as_str()),
            ("LANGSMITH_API_KEY", stack.admin_key.as_str()),
            ("IRONSMITH_RECEIVER", good.as_str()),
            ("IRONSMITH_FAILING", bad.as_str()),
        ],
    )
    .await?;
    let mut listed = vec![good.clone(), bad.clone()];
    listed.sort();
    assert_eq!(out["listed"], json!(listed));
    assert_eq!(out["read_triggers"], json!(["commit", "tag:create"]));
    assert_eq!(out["updated_triggers"], json!(["commit", "tag:update"]));
    let secret = out["signing_secret"]
        .as_str()
        .expect("the secret is shown on creation");

    // Two commits and a new tag reach the receiver, signed, with its own header.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while received.lock().expect("lock").len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = received.lock().expect("lock").clone();
    let events: Vec<String> = got
        .iter()
        .map(|(h, _)| {
            h["x-ironsmith-event"]
                .to_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "commit").count(), 2);
    assert_eq!(events.iter().filter(|e| *e == "tag:create").count(), 1);
    for (headers, body) in &got {
        assert_eq!(headers["authorization"], "Bearer hook-token");
        let signature = headers["x-ironsmith-signature"].to_str()?;
        let (t, v1) = signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
            .expect("t=…,v1=…");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())?;
        mac.update(format!("{t}.{body}").as_bytes());
        assert_eq!(
            v1,
            hex::encode(mac.finalize().into_bytes()),
            "signature of {body}"
        );
        let event: Value = serde_json::from_str(body)?;
        assert_eq!(event["prompt_name"], "hooked");
        assert_eq!(event["prompt_id"], out["prompt_id"]);
        assert!(event["manifest"]["kwargs"].is_object(), "{event}");
    }
    let tag: Value = serde_json::from_str(
        &got.iter()
            .find(|(h, _)| h["x-ironsmith-event"] == "tag:create")
            .expect("tag event")
            .1,
    )?;
    assert_eq!(tag["tag_name"], "prod");
    assert_eq!(tag["commit_hash"], out["commits"][0]);

    // The refusing target: each commit is tried max_deliveries times, then marked failed and
    // dead-lettered; every attempt is on the delivery.
    let admin = stack.admin();
    let failing = out["failing_id"].as_str().unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let deliveries = loop {
        let deliveries = admin
            .get(&format!("/prompt-webhooks/{failing}/deliveries"))
            .await?
            .expect(200)?;
        let done = deliveries
            .as_array()
            .is_some_and(|d| d.len() == 2 && d.iter().all(|x| x["status"] == "failed"));
        if done || std::time::Instant::now() > deadline {
            break deliveries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for delivery in deliveries.as_array().expect("list") {
        assert_eq!(delivery["status"], "failed", "{delivery}");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["last_status_code"], 500);
    }
    assert_eq!(
        refused.lock().expect("lock").len(),
        6,
        "2 commits x 3 attempts"
    );
    let good_id = out["webhook_id"].as_str().unwrap_or_default();
    let delivered = admin
        .get(&format!("/prompt-webhooks/{good_id}/deliveries"))
        .await?
        .expect(200)?;
    assert_eq!(delivered.as_array().map(Vec::len), Some(3));
    assert!(
        delivered
            .as_array()
            .expect("list")
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1)
    );

    // Internal targets are refused unless the operator allows them; bad triggers too.
    let refused_target = stack
        .admin()
        .post("/prompt-webhooks", json!({"url": "ftp://x"}))
        .await?;
    assert_eq!(refused_target.status, 422);
    let bad_trigger = admin
        .post(
            "/prompt-webhooks",
            json!({"url": good, "triggers": ["push"]}),
        )
        .await?;
    assert_eq!(bad_trigger.status, 422);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn webhook_targets_inside_the_stack_are_refused_by_default() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://10.0.0.1/x",
    ] {
        let answer = admin.post("/prompt-webhooks", json!({"url": url})).await?;
        assert_eq!(answer.status, 422, "{url}: {}", answer.body);
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_delivery_left_pending_without_a_task_is_queued_again() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        config.hub.allow_private_webhook_targets = true;
        config.hub.webhook_redelivery_interval_secs = 1;
        config.hub.webhook_stale_secs = 2;
    })
    .await?;
    let admin = stack.admin();
    let (url, received) = receiver(200).await?;
    let webhook = admin
        .post("/prompt-webhooks", json!({"url": url}))
        .await?
        .expect(200)?;
    let webhook_id: Uuid = webhook["id"].as_str().unwrap_or_default().parse()?;
    // A commit's delivery saved while its task could not be queued (Redis was down then).
    let delivery = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO prompt_webhook_deliveries (id, webhook_id, tenant_id, event, payload, created_at, updated_at)
         VALUES ($1, $2, $3, 'commit', '{\"event\":\"commit\",\"left\":\"behind\"}', now() - interval '1 hour', now() - interval '1 hour')",
    )
    .bind(delivery)
    .bind(webhook_id)
    .bind(stack.workspace_id)
    .execute(&stack.pool()?)
    .await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let deliveries = admin
            .get(&format!("/prompt-webhooks/{webhook_id}/deliveries"))
            .await?
            .expect(200)?;
        if deliveries[0]["status"] == "delivered" {
            assert_eq!(deliveries[0]["attempts"], 1, "{deliveries}");
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "never delivered: {deliveries}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let seen = received.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 1, "delivered once");
    assert_eq!(seen[0].1, r#"{"event":"commit","left":"behind"}"#);
    stack.stop().await;
    Ok(())
}
