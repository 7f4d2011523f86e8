//! The web UI in a real browser: Debian's Chromium, driven by Playwright from
//! `tests/js/ui_flow.mjs`, walks what a user does against a stack fed by the real JS SDK (sign
//! in, filter, trace, feedback, dataset, `evaluate()`, comparison, annotation review, API keys,
//! every link the SDK prints, the public pages), with axe-core on every page and the console
//! checked for errors. The assertions here check what the browser saw against what the API holds.
//! Screenshots of every page land in `$CARGO_TARGET_DIR/ui-screenshots` (or `UI_SCREENSHOTS`).

use std::time::Duration;

use ironsmith_auth::Role;
use ironsmith_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Stack, add_user, node, run_client_within};
use serde_json::{Value, json};

fn screenshots() -> String {
    std::env::var("UI_SCREENSHOTS").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{target}/ui-screenshots")
    })
}

#[tokio::test]
async fn a_user_walks_the_ui_in_chromium() -> anyhow::Result<()> {
    anyhow::ensure!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is missing: run scripts/stores install"
    );
    let stack = Stack::start().await?;
    // A second member, whose role the admin changes in Settings before removing them.
    add_user(
        &stack.admin(),
        "member@example.com",
        "member-password-1",
        Role::OrganizationUser,
        &[(stack.workspace_id, Role::WorkspaceViewer)],
    )
    .await?;
    // Another organisation that invited the admin, for the organisation switcher.
    ironsmith_e2e::second_organisation(&stack, "Second Org").await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let shots = screenshots();
    let out = run_client_within(
        &node(),
        "tests/js/ui_flow.mjs",
        &[
            ("UI", &stack.edge),
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("ADMIN_EMAIL", ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("SUFFIX", &suffix),
            ("SCREENSHOTS", &shots),
        ],
        Duration::from_secs(420),
    )
    .await?;
    eprintln!("{out:#}");
    let workspace = stack.workspace_id.to_string();

    assert_eq!(out["workspace"], workspace.as_str());
    assert!(
        out["bad_password"].as_str().is_some_and(|t| !t.is_empty()),
        "a wrong password is refused with the server's reason: {}",
        out["bad_password"]
    );
    assert!(
        out["live_first_row"]
            .as_str()
            .is_some_and(|r| r.contains("What is 5+5?")),
        "the streamed trace is on top: {}",
        out["live_first_row"]
    );
    assert_eq!(out["metadata_filter_rows"], 2, "two acme traces");
    assert_eq!(out["feedback_filter_rows"], 1, "one trace has correctness");
    let bad_filter = out["bad_filter"].as_str().unwrap_or_default();
    assert!(
        bad_filter.contains("refused") && bad_filter.contains("position"),
        "the server's 400 reason and position are shown: {bad_filter}"
    );
    assert_eq!(
        out["charts"], 7,
        "runs, errors, p50, p99, tokens, cost and feedback scores"
    );
    assert_eq!(out["trace_runs_api"], json!(["chat-model", "pipeline"]));
    assert_eq!(out["tree_items"], 2, "pipeline and its LLM call");
    assert_eq!(out["chat_roles"], json!(["system", "user", "assistant"]));
    assert_eq!(
        out["ui_feedback"],
        json!({"score": 0.5, "comment": "added in the browser"})
    );
    assert_eq!(out["examples_after_add"], 4);
    assert_eq!(
        out["uploaded"],
        json!([
            [{"country": "France"}, {"capital, city": "Paris"}],
            [{"country": "Japan"}, {"capital, city": "Tokyo"}],
        ]),
        "the CSV's columns as assigned in the upload form"
    );
    assert_eq!(
        out["examples_after_edits"],
        json!([{"country": "France", "continent": "Europe"}]),
        "one example edited in the table, the other deleted"
    );
    assert_eq!(
        out["attachment_preview"], "Rome has been the capital since 1871.",
        "a text attachment previewed in the examples table"
    );
    assert_eq!(
        out["example_attachments"],
        json!({"flag-SUFFIX.png": 70, "notes-SUFFIX.txt": 37}),
        "the files added in the UI, read back through the SDK byte for byte"
    );
    assert_eq!(
        out["ui_project"],
        json!({"name": format!("from-browser-{suffix}"), "description": "created from the browser"})
    );
    assert_eq!(out["added_example"], json!({"input": "What is 2+2?"}));
    assert!(
        out["regressions"].as_u64().is_some_and(|n| n >= 1),
        "3+3 got worse in the second experiment: {out}"
    );
    assert_eq!(out["regressed_rows"], 1, "only 3+3 regressed");
    assert_eq!(
        out["pairwise_preferred"], 7,
        "evaluate_comparative preferred every output but the wrong 3+3"
    );
    assert!(
        out["review_run"]
            .as_str()
            .is_some_and(|t| t.contains("pipeline")),
        "{}",
        out["review_run"]
    );
    assert_eq!(
        out["review_feedback"],
        json!({"score": 0, "source": "app"}),
        "the rubric form wrote feedback"
    );
    assert_eq!(out["key_works"], true, "the key made in Settings works");
    assert_eq!(
        out["member_roles"],
        json!(["ORGANIZATION_ADMIN", "gone"]),
        "the member's role changed in Settings, then the member removed"
    );
    assert!(
        out["member_workspace_role"]
            .as_str()
            .is_some_and(|r| r.to_lowercase().contains("editor")),
        "{}",
        out["member_workspace_role"]
    );
    assert_eq!(out["pending_after_revoke"], 0, "the invitation was revoked");
    assert_eq!(
        out["created_in_settings"],
        json!({"workspace": true, "feedback_config": true, "model_price": 1.5}),
        "the workspace, feedback configuration and model price forms in Settings"
    );
    let refused = out["key_refused"].as_str().unwrap_or_default();
    assert!(
        refused.contains("401") || refused.contains("403"),
        "the revoked key is refused: {refused}"
    );
    assert_eq!(out["second_org_workspace"], "Second Org workspace");
    assert_eq!(out["after_sign_out"], "/login");
    assert!(
        out["signed_out_redirect"]
            .as_str()
            .is_some_and(|q| q.starts_with("?next=")),
        "{}",
        out["signed_out_redirect"]
    );

    // Every link the SDK printed named this workspace and opened its page.
    let links = &out["links"];
    let run_link = links["run"].as_str().unwrap_or_default();
    assert!(
        run_link.starts_with(&format!("/o/{workspace}/projects/p/")) && run_link.contains("/r/"),
        "{run_link}"
    );
    assert_eq!(links["compare"].as_array().map(Vec::len), Some(2));
    for link in links["compare"].as_array().into_iter().flatten() {
        let link = link.as_str().unwrap_or_default();
        assert!(
            link.starts_with(&format!("/o/{workspace}/datasets/"))
                && link.contains("/compare?selectedSessions="),
            "{link}"
        );
    }
    assert!(
        links["prompt"]
            .as_str()
            .is_some_and(|l| l.starts_with("/prompts/ui-prompt-")),
        "{}",
        links["prompt"]
    );

    // Every page was visited, each with axe clean of serious violations and a quiet console.
    let pages = out["pages"].as_object().cloned().unwrap_or_default();
    for page in [
        "login",
        "projects",
        "project-runs",
        "project-live",
        "project-threads",
        "project-monitor",
        "project-setup",
        "trace",
        "trace-llm-run",
        "experiment",
        "compare",
        "datasets",
        "dataset",
        "dataset-examples",
        "dataset-versions",
        "dataset-schema",
        "datasets-upload",
        "queues",
        "queue-review",
        "prompts",
        "prompt",
        "settings-api-keys",
        "settings-members",
        "settings-audit-log",
        "deployment",
        "org-switched",
        "not-found",
        "public-run",
        "public-dataset",
        "link-run",
        "link-project",
    ] {
        assert!(
            pages.contains_key(page),
            "{page} was not visited: {pages:?}"
        );
    }
    assert_eq!(out["console_errors"], Value::Array(Vec::new()));
    stack.stop().await;
    Ok(())
}

/// The playground in Chromium: a hub prompt opened, a key and a model configuration stored, the
/// answer streamed from a provider stand-in, the traced run, two configurations side by side, a
/// new commit, a run over a dataset, and an LLM run of a trace opened in the playground.
#[tokio::test]
async fn a_user_tries_a_prompt_in_the_playground_in_chromium() -> anyhow::Result<()> {
    anyhow::ensure!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is missing: run scripts/stores install"
    );
    let stack = Stack::start().await?;
    add_user(
        &stack.admin(),
        "viewer@example.com",
        "viewer-password-1",
        Role::OrganizationUser,
        &[(stack.workspace_id, Role::WorkspaceViewer)],
    )
    .await?;
    let provider = ironsmith_e2e::providers::StandIn::start().await?;
    provider.script((0..8).map(|_| crate::playground::openai_stream(&["Par", "is"], 20, 2)));
    let endpoint = format!("{}/api/v1", stack.edge);
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let shots = screenshots();
    let out = run_client_within(
        &node(),
        "tests/js/playground_flow.mjs",
        &[
            ("UI", &stack.edge),
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("ADMIN_EMAIL", ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("SUFFIX", &suffix),
            ("SCREENSHOTS", &shots),
            ("PROVIDER_URL", &provider.url),
            ("VIEWER_EMAIL", "viewer@example.com"),
            ("VIEWER_PASSWORD", "viewer-password-1"),
        ],
        Duration::from_secs(300),
    )
    .await?;
    eprintln!("{out:#}");
    assert_eq!(
        out["loaded_messages"],
        json!(["Answer with the city only.", "Capital of {country}?"])
    );
    assert!(
        out["answer"].as_str().is_some_and(|a| a.contains("Paris")),
        "{}",
        out["answer"]
    );
    let stats = out["stats"].as_str().unwrap_or_default();
    assert!(
        stats.contains("20 in") && stats.contains("2 out"),
        "tokens shown: {stats}"
    );
    assert!(
        out["trace_title"]
            .as_str()
            .is_some_and(|t| t.contains("ChatOpenAI")),
        "{}",
        out["trace_title"]
    );
    assert!(
        out["saved"]
            .as_str()
            .is_some_and(|s| s.starts_with("Saved")),
        "{}",
        out["saved"]
    );
    assert_eq!(
        out["commits"],
        json!([
            "Answer with the capital city only.",
            "Answer with the city only."
        ]),
        "the new commit is the latest, its parent the pulled one"
    );
    assert!(
        out["experiment_progress"]
            .as_str()
            .is_some_and(|p| p.starts_with("2 of 2 examples")),
        "{}",
        out["experiment_progress"]
    );
    assert_eq!(
        out["from_run"],
        json!(["Answer with the city only.", "Capital of France?"])
    );
    // What the provider received: the filled prompt, the key stored in the browser, the
    // temperature set in the pane.
    let received = provider.take();
    assert_eq!(
        received.len(),
        5,
        "one run, two compared, two examples: {received:?}"
    );
    let first = &received[0];
    assert_eq!(
        first.header("authorization"),
        Some("Bearer sk-from-the-browser-0000WXYZ")
    );
    assert_eq!(
        first.body["messages"],
        json!([{"role": "system", "content": "Answer with the city only."}, {"role": "user", "content": "Capital of France?"}])
    );
    assert_eq!(first.body["temperature"], 0.3);
    let mut experiment_calls: Vec<&str> = received[3..]
        .iter()
        .filter_map(|r| r.body["messages"][1]["content"].as_str())
        .collect();
    experiment_calls.sort_unstable();
    assert_eq!(
        experiment_calls,
        ["Capital of France?", "Capital of Italy?"],
        "the saved prompt over each example"
    );
    for axe in out["axe"].as_object().into_iter().flatten() {
        eprintln!("axe {}: {}", axe.0, axe.1);
    }
    assert_eq!(
        out["viewer"],
        json!({"key_form": 0, "config_form": 0, "save_commit": 0, "run_enabled": false,
               "run_actions": 0, "open_in_playground": 0, "new_project": 0, "delete_project": 0}),
        "a viewer sees no write action"
    );
    assert_eq!(out["console_errors"], json!([]));
    stack.stop().await;
    Ok(())
}
