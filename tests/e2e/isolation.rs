//! The tenant-isolation matrix: a caller of one workspace can neither read nor change anything
//! of another — in another organisation, or in its own — through any endpoint that exists.
//!
//! Every endpoint is one line of `MATRIX`. Each line is sent by every attacker twice: naming
//! the victim's workspace in `X-Tenant-Id`, and from the attacker's own workspace with the
//! victim's ids in the path. No answer may succeed or mention the victim, and afterwards the
//! victim's state, read by its own admin, must be exactly as before.

use ironsmith_auth::{Role, SecretHasher};
use ironsmith_e2e::{Client, Stack, add_user};
use ironsmith_platform_backend::bootstrap::{OrganizationSpec, Outcome, create_organization};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Which tenancy level an endpoint belongs to: organisation-level lines are skipped for an
/// attacker of the victim's own organisation (organisation resources are shared there).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Org,
    Workspace,
}

use Level::{Org, Workspace};

/// `(level, method, path, body)`. Placeholders: `{ws}` the victim's workspace, `{member}` an
/// organisation membership, `{ws_member}` a workspace membership, `{service_key}`, `{pat}`,
/// `{invite}`, `{session}`, `{project}` and `{project_name}` a tracing project, `{thread}` a conversation in it, `{run}` a run
/// (the root of its trace), `{dataset}` a dataset with the example `{example}`, `{feedback}`
/// feedback on the run, `{queue}` an annotation queue holding the run.
///
/// `POST /feedback` with only a run id and `POST /feedback/tokens` are not lines: feedback for a
/// run id the caller cannot see is accepted by design (the SDKs send feedback for runs still
/// being ingested) and lands in the caller's own workspace, echoing the id it was given; the
/// snapshot shows the victim's feedback unchanged. Ids that name a project or dataset in a body
/// are lines: they must be the caller's.
const MATRIX: &[(Level, &str, &str, &str)] = &[
    (Workspace, "GET", "/settings", ""),
    (
        Workspace,
        "POST",
        "/sessions",
        r#"{"name":"pwned-reference","reference_dataset_id":"{dataset}"}"#,
    ),
    (
        Workspace,
        "POST",
        "/feedback",
        r#"{"session_id":"{project}","key":"pwned","score":1}"#,
    ),
    (Workspace, "GET", "/examples?dataset={dataset}&as_of=v1", ""),
    (Workspace, "GET", "/model-price-map", ""),
    (Workspace, "DELETE", "/model-price-map/{price}", ""),
    // Ingestion naming the victim's project, or patching the victim's run: refused, or landing
    // in the caller's own workspace.
    (
        Workspace,
        "POST",
        "/runs/batch",
        r#"{"post":[{"id":"0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d99","trace_id":"0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d99","dotted_order":"20250101T000000000000Z0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d99","name":"pwned","run_type":"chain","start_time":"2025-01-01T00:00:00Z","session_id":"{project}"}]}"#,
    ),
    (
        Workspace,
        "POST",
        "/runs",
        r#"{"id":"0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d98","name":"pwned","run_type":"chain","start_time":"2025-01-01T00:00:00Z","session_name":"pwned-project"}"#,
    ),
    (
        Workspace,
        "PATCH",
        "/runs/{run}",
        r#"{"end_time":"2025-01-01T00:00:01Z","outputs":{"pwned":true},"error":"pwned"}"#,
    ),
    (
        Workspace,
        "POST",
        "/otel/v1/traces",
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0707070707070707070707070707070a","spanId":"0000000000000001","name":"pwned","startTimeUnixNano":"1700000000000000000","attributes":[{"key":"langsmith.trace.session_id","value":{"stringValue":"{project}"}}]}]}]}]}"#,
    ),
    (
        Org,
        "POST",
        "/auth/password",
        r#"{"current_password":"not-the-password","new_password":"pwned-password-1"}"#,
    ),
    (
        Workspace,
        "POST",
        "/model-price-map",
        r#"{"name":"pwned","match_pattern":".*","prompt_cost_per_million":9,"completion_cost_per_million":9}"#,
    ),
    (Workspace, "GET", "/sessions", ""),
    (Workspace, "GET", "/sessions?name={project_name}", ""),
    (
        Workspace,
        "GET",
        "/sessions/{project}?include_stats=true",
        "",
    ),
    (
        Workspace,
        "POST",
        "/sessions",
        r#"{"name":"pwned-project"}"#,
    ),
    (
        Workspace,
        "PATCH",
        "/sessions/{project}",
        r#"{"name":"pwned"}"#,
    ),
    (Workspace, "DELETE", "/sessions/{project}", ""),
    (Workspace, "GET", "/runs/{run}", ""),
    (
        Workspace,
        "POST",
        "/runs/query",
        r#"{"session":["{project}"]}"#,
    ),
    (Workspace, "POST", "/runs/query", r#"{"id":["{run}"]}"#),
    (Workspace, "POST", "/runs/query", r#"{"trace":"{run}"}"#),
    (
        Workspace,
        "POST",
        "/runs/query",
        r#"{"filter":"eq(id, '{run}')"}"#,
    ),
    (
        Workspace,
        "POST",
        "/runs/stats",
        r#"{"session":["{project}"]}"#,
    ),
    (
        Workspace,
        "POST",
        "/runs/timeseries",
        r#"{"session":["{project}"],"group_by":"name","start_time":"2020-01-01T00:00:00Z","stride_seconds":86400}"#,
    ),
    (Workspace, "GET", "/runs/stream?session={project}", ""),
    (Workspace, "GET", "/runs/{run}/trace", ""),
    (
        Workspace,
        "POST",
        "/runs/group",
        r#"{"session_id":"{project}","group_by":"conversation"}"#,
    ),
    (Workspace, "GET", "/runs/{run}/share", ""),
    (
        Workspace,
        "PUT",
        "/runs/{run}/share",
        r#"{"run_id":"{run}"}"#,
    ),
    (Workspace, "DELETE", "/runs/{run}/share", ""),
    (
        Workspace,
        "POST",
        "/v2/threads/{thread}/share",
        r#"{"project_id":"{project}"}"#,
    ),
    (
        Workspace,
        "GET",
        "/v2/threads/{thread}/share?project_id={project}",
        "",
    ),
    (
        Workspace,
        "DELETE",
        "/v2/threads/{thread}/share?project_id={project}",
        "",
    ),
    (
        Workspace,
        "POST",
        "/v2/threads/stats",
        r#"{"project_id":"{project}","select":["THREAD_COUNT","THREAD_FEEDBACK_STATS"]}"#,
    ),
    (Org, "GET", "/me", ""),
    (Org, "GET", "/orgs", ""),
    (Org, "GET", "/orgs/current", ""),
    (
        Org,
        "PATCH",
        "/orgs/current/info",
        r#"{"display_name":"pwned","pat_creation_disabled":true}"#,
    ),
    (Org, "GET", "/orgs/current/roles", ""),
    (Org, "GET", "/orgs/current/members", ""),
    (Org, "GET", "/orgs/current/members/active", ""),
    (Org, "GET", "/orgs/current/members/pending", ""),
    (
        Org,
        "POST",
        "/orgs/current/members",
        r#"{"email":"intruder@example.com"}"#,
    ),
    (
        Org,
        "POST",
        "/orgs/current/members/batch",
        r#"[{"email":"intruder2@example.com"}]"#,
    ),
    (
        Org,
        "PATCH",
        "/orgs/current/members/{member}",
        r#"{"role_id":"00000000-0000-4000-8000-5e1f00000003"}"#,
    ),
    (Org, "DELETE", "/orgs/current/members/{member}", ""),
    (Org, "DELETE", "/orgs/current/members/pending/{invite}", ""),
    (Org, "GET", "/orgs/current/audit-logs", ""),
    (Org, "GET", "/orgs/current/limits", ""),
    (
        Org,
        "PUT",
        "/orgs/current/limits",
        r#"{"default":{"requests":100000,"window_secs":10}}"#,
    ),
    (Org, "GET", "/workspaces", ""),
    (Org, "GET", "/tenants", ""),
    (Org, "POST", "/workspaces", r#"{"display_name":"intruder"}"#),
    (
        Workspace,
        "PATCH",
        "/workspaces/{ws}",
        r#"{"display_name":"pwned"}"#,
    ),
    (Workspace, "DELETE", "/workspaces/{ws}", ""),
    (Workspace, "GET", "/workspaces/current/members", ""),
    (
        Workspace,
        "POST",
        "/workspaces/current/members",
        r#"{"user_id":"{attacker_user}"}"#,
    ),
    (
        Workspace,
        "PATCH",
        "/workspaces/current/members/{ws_member}",
        r#"{"role_id":"00000000-0000-4000-8000-5e1f00000006"}"#,
    ),
    (
        Workspace,
        "DELETE",
        "/workspaces/current/members/{ws_member}",
        "",
    ),
    (Workspace, "GET", "/api-key", ""),
    (
        Workspace,
        "POST",
        "/api-key",
        r#"{"description":"intruder"}"#,
    ),
    (Workspace, "DELETE", "/api-key/{service_key}", ""),
    (Org, "GET", "/api-key/current", ""),
    (
        Workspace,
        "POST",
        "/api-key/current",
        r#"{"description":"intruder"}"#,
    ),
    (Org, "DELETE", "/api-key/current/{pat}", ""),
    (Org, "GET", "/auth/sessions", ""),
    (Org, "DELETE", "/auth/sessions/{session}", ""),
    (Workspace, "GET", "/datasets", ""),
    (Workspace, "GET", "/datasets?name=victim-dataset", ""),
    (Workspace, "GET", "/datasets/{dataset}", ""),
    (
        Workspace,
        "PATCH",
        "/datasets/{dataset}",
        r#"{"name":"pwned"}"#,
    ),
    (Workspace, "DELETE", "/datasets/{dataset}", ""),
    (Workspace, "GET", "/datasets/{dataset}/versions", ""),
    (
        Workspace,
        "GET",
        "/datasets/{dataset}/version?as_of=latest",
        "",
    ),
    (
        Workspace,
        "GET",
        "/datasets/{dataset}/versions/diff?from_version=v1&to_version=latest",
        "",
    ),
    (
        Workspace,
        "PUT",
        "/datasets/{dataset}/tags",
        r#"{"as_of":"latest","tag":"pwned"}"#,
    ),
    (Workspace, "GET", "/datasets/{dataset}/splits", ""),
    (
        Workspace,
        "PUT",
        "/datasets/{dataset}/splits",
        r#"{"split_name":"pwned","examples":["{example}"],"remove":false}"#,
    ),
    (Workspace, "GET", "/datasets/{dataset}/share", ""),
    (Workspace, "PUT", "/datasets/{dataset}/share", "{}"),
    (Workspace, "DELETE", "/datasets/{dataset}/share", ""),
    (
        Workspace,
        "POST",
        "/datasets/{dataset}/runs",
        r#"{"session_ids":["{project}"]}"#,
    ),
    (Workspace, "GET", "/datasets/{dataset}/comparative", ""),
    (
        Workspace,
        "DELETE",
        "/datasets/comparative/{comparative}",
        "",
    ),
    (
        Workspace,
        "POST",
        "/datasets/comparative",
        r#"{"experiment_ids":["{project}","{project}"],"reference_dataset_id":"{dataset}"}"#,
    ),
    (Workspace, "GET", "/examples?dataset={dataset}", ""),
    (Workspace, "GET", "/examples?id={example}", ""),
    (Workspace, "GET", "/examples/count?dataset={dataset}", ""),
    (Workspace, "GET", "/examples/{example}", ""),
    (
        Workspace,
        "PATCH",
        "/examples/{example}",
        r#"{"inputs":{"x":1}}"#,
    ),
    (
        Workspace,
        "PATCH",
        "/examples/bulk",
        r#"[{"id":"{example}","inputs":{"x":1}}]"#,
    ),
    (Workspace, "DELETE", "/examples/{example}", ""),
    (Workspace, "DELETE", "/examples?example_ids={example}", ""),
    (
        Workspace,
        "POST",
        "/examples",
        r#"{"dataset_id":"{dataset}","inputs":{"x":1}}"#,
    ),
    (
        Workspace,
        "POST",
        "/examples/bulk",
        r#"[{"dataset_id":"{dataset}","inputs":{"x":1}}]"#,
    ),
    (
        Workspace,
        "POST",
        "/platform/datasets/{dataset}/examples",
        "{}",
    ),
    (
        Workspace,
        "PATCH",
        "/platform/datasets/{dataset}/examples/metadata",
        r#"{"example_ids":["{example}"],"operations":[{"key":"dataset_split","operation":"ARRAY_ADD","values":["stolen"]}]}"#,
    ),
    (
        Workspace,
        "POST",
        "/platform/datasets/examples/delete",
        r#"{"example_ids":["{example}"],"hard_delete":true}"#,
    ),
    (Workspace, "GET", "/feedback?run={run}", ""),
    (Workspace, "GET", "/feedback/{feedback}", ""),
    (Workspace, "PATCH", "/feedback/{feedback}", r#"{"score":0}"#),
    (Workspace, "DELETE", "/feedback/{feedback}", ""),
    (Workspace, "GET", "/feedback/tokens?run_id={run}", ""),
    (Workspace, "GET", "/feedback-configs", ""),
    (
        Workspace,
        "PATCH",
        "/feedback-configs",
        r#"{"feedback_key":"victim-key","feedback_config":{"type":"freeform"}}"#,
    ),
    (
        Workspace,
        "DELETE",
        "/feedback-configs?feedback_key=victim-key",
        "",
    ),
    (Workspace, "GET", "/annotation-queues", ""),
    (Workspace, "GET", "/annotation-queues?ids={queue}", ""),
    (Workspace, "GET", "/annotation-queues/{queue}", ""),
    (
        Workspace,
        "PATCH",
        "/annotation-queues/{queue}",
        r#"{"name":"pwned"}"#,
    ),
    (Workspace, "DELETE", "/annotation-queues/{queue}", ""),
    (
        Workspace,
        "POST",
        "/annotation-queues/{queue}/runs",
        r#"["{run}"]"#,
    ),
    (
        Workspace,
        "POST",
        "/annotation-queues/{queue}/runs/by-key",
        r#"[{"run_id":"{run}"}]"#,
    ),
    (Workspace, "GET", "/annotation-queues/{queue}/runs", ""),
    (Workspace, "GET", "/annotation-queues/{queue}/run/0", ""),
    (Workspace, "GET", "/annotation-queues/{queue}/size", ""),
    (
        Workspace,
        "PATCH",
        "/annotation-queues/{queue}/runs/{run}",
        r#"{"status":"completed"}"#,
    ),
    (
        Workspace,
        "DELETE",
        "/annotation-queues/{queue}/runs/{run}",
        "",
    ),
    (Workspace, "GET", "/workspaces/current/secrets", ""),
    (
        Workspace,
        "POST",
        "/workspaces/current/secrets",
        r#"[{"key":"VICTIM_SECRET","value":null}]"#,
    ),
    (
        Workspace,
        "DELETE",
        "/workspaces/current/secrets/VICTIM_SECRET",
        "",
    ),
    (Workspace, "GET", "/model-configs", ""),
    (Workspace, "GET", "/model-configs/{model_config}", ""),
    (
        Workspace,
        "PUT",
        "/model-configs/{model_config}",
        r#"{"name":"hijacked","provider":"openai","model":"gpt-4o"}"#,
    ),
    (Workspace, "DELETE", "/model-configs/{model_config}", ""),
    (
        Workspace,
        "POST",
        "/playground/invoke",
        r#"{"messages":[{"role":"user","content":"hi"}],"model_config_id":"{model_config}","stream":false}"#,
    ),
    (
        Workspace,
        "POST",
        "/playground/experiment",
        r#"{"dataset_id":"{dataset}","invoke":{"messages":[{"role":"user","content":"hi"}],"model_config_id":"{model_config}"}}"#,
    ),
    // The deployment control plane and the listener protocol.
    (
        Workspace,
        "GET",
        "/api-host/v2/deployments/{deployment}",
        "",
    ),
    (
        Workspace,
        "PATCH",
        "/api-host/v2/deployments/{deployment}",
        r#"{"source_revision_config":{"image_uri":"registry.example.com/pwned@sha256:00"}}"#,
    ),
    (
        Workspace,
        "DELETE",
        "/api-host/v2/deployments/{deployment}",
        "",
    ),
    (
        Workspace,
        "GET",
        "/api-host/v2/deployments/{deployment}/revisions",
        "",
    ),
    (
        Workspace,
        "GET",
        "/api-host/v2/deployments/{deployment}/revisions/{revision}",
        "",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/deployments/{deployment}/revisions",
        "{}",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/deployments/{deployment}/revisions/{revision}/redeploy",
        "{}",
    ),
    (
        Workspace,
        "PATCH",
        "/api-host/v2/deployments/{deployment}/revisions/{revision}/status",
        r#"{"status":"AWAITING_DEPLOY","holder":"pwned"}"#,
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/deployments/{deployment}/revisions/{revision}/logs",
        r#"{"kind":"deploy","lines":[{"timestamp":"2026-01-01T00:00:00Z","level":"INFO","message":"pwned"}]}"#,
    ),
    (
        Workspace,
        "GET",
        "/api-host/v2/deployments/{deployment}/revisions/{revision}/logs?type=deploy",
        "",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v1/projects/{deployment}/deploy_logs",
        "{}",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v1/projects/{deployment}/revisions/{revision}/build_logs",
        "{}",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/deployments/{deployment}/upload-url",
        "{}",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/deployments/{deployment}/teardown-complete",
        "",
    ),
    (Workspace, "GET", "/api-host/v2/listeners/{listener}", ""),
    (
        Workspace,
        "PATCH",
        "/api-host/v2/listeners/{listener}",
        r#"{"version":"pwned"}"#,
    ),
    (Workspace, "DELETE", "/api-host/v2/listeners/{listener}", ""),
    (
        Workspace,
        "POST",
        "/api-host/v2/listeners/{listener}/heartbeat",
        r#"{"version":"pwned","cluster_uid":"pwned-cluster","watch_namespaces":["victim-ns"]}"#,
    ),
    (
        Workspace,
        "GET",
        "/api-host/v2/listeners/{listener}/deployments/{deployment}/secrets",
        "",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/listeners/{listener}/deployments/{deployment}/revisions/{revision}/source-url",
        "",
    ),
    (
        Workspace,
        "POST",
        "/api-host/v2/deployments",
        r#"{"name":"pwned-on-victim-listener","source":"external_docker","source_config":{"listener_id":"{listener}","listener_config":{"k8s_namespace":"victim-ns"}},"source_revision_config":{"image_uri":"registry.example.com/pwned@sha256:00"},"secrets":[]}"#,
    ),
];

/// The victim's resources, by placeholder.
struct Victim {
    workspace: Uuid,
    values: Vec<(&'static str, String)>,
    /// Strings that must never appear in an attacker's answer.
    secrets: Vec<String>,
    admin: Client,
    /// A member of the victim's workspace, signed in with a password (a login session).
    member_session: Client,
}

fn fill(template: &str, victim: &Victim, attacker_user: Uuid) -> String {
    let mut text = template.replace("{attacker_user}", &attacker_user.to_string());
    for (name, value) in &victim.values {
        text = text.replace(name, value);
    }
    text
}

/// What the victim's admin sees: compared before and after the attacks. A victim workspace in
/// the attacker's own organisation is compared on its workspace-level state only.
async fn snapshot(victim: &Victim, same_org: bool) -> anyhow::Result<Vec<(String, Value)>> {
    let admin = victim.admin.clone().tenant(victim.workspace);
    let mut state = Vec::new();
    let workspace_level = [
        "/settings",
        "/workspaces/current/members",
        "/api-key",
        "/sessions",
    ];
    for path in [
        "/settings",
        "/orgs/current",
        "/orgs/current/members",
        "/orgs/current/members/pending",
        "/orgs/current/limits",
        "/workspaces",
        "/workspaces/current/members",
        "/api-key",
        "/api-key/current",
        "/sessions",
    ] {
        if same_org && !workspace_level.contains(&path) {
            continue;
        }
        let mut body = admin.get(path).await?.expect(200)?;
        if path == "/orgs/current/limits" {
            body["usage_this_hour"] = Value::Null;
        }
        if path.starts_with("/api-key") {
            // Using the admin's key updates its last use; that is the victim's own doing.
            for key in body.as_array_mut().into_iter().flatten() {
                key["last_used_at"] = Value::Null;
            }
        }
        state.push((path.to_owned(), body));
    }
    for path in [
        "/model-price-map",
        "/runs/{run}",
        "/runs/{run}/share",
        "/datasets",
        "/datasets/{dataset}/versions",
        "/datasets/{dataset}/splits",
        "/datasets/{dataset}/share",
        "/datasets/{dataset}/comparative",
        "/examples?dataset={dataset}",
        "/feedback?run={run}",
        "/feedback-configs",
        "/workspaces/current/secrets",
        "/model-configs",
        "/annotation-queues",
        "/annotation-queues/{queue}/runs",
        "/api-host/v2/deployments",
        "/api-host/v2/deployments/{deployment}/revisions",
        "/api-host/v2/listeners",
    ] {
        let path = fill(path, victim, Uuid::nil());
        let body = admin.get(&path).await?.expect(200)?;
        state.push((path, body));
    }
    Ok(state)
}

/// Sets up a victim workspace with one of everything, owned by `admin`.
async fn furnish(
    stack: &Stack,
    admin: Client,
    workspace: Uuid,
    label: &str,
) -> anyhow::Result<Victim> {
    let admin_ws = admin.clone().tenant(workspace);
    let member_email = format!("{label}-member@example.com");
    let member_user = add_user(
        &admin,
        &member_email,
        "member-password",
        Role::OrganizationUser,
        &[(workspace, Role::WorkspaceEditor)],
    )
    .await?;
    let members = admin.get("/orgs/current/members").await?.expect(200)?;
    let member = members
        .as_array()
        .and_then(|m| m.iter().find(|m| m["user_id"] == member_user.to_string()))
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let ws_members = admin_ws
        .get("/workspaces/current/members")
        .await?
        .expect(200)?;
    let ws_member = ws_members
        .as_array()
        .and_then(|m| m.iter().find(|m| m["user_id"] == member_user.to_string()))
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let service = admin_ws
        .post("/api-key", json!({"description": "victim"}))
        .await?
        .expect(200)?;
    let member_session = stack
        .anonymous()
        .login(&member_email, "member-password")
        .await?;
    let pat = member_session
        .clone()
        .tenant(workspace)
        .post("/api-key/current", json!({"description": "victim pat"}))
        .await?
        .expect(200)?;
    let sessions = member_session.get("/auth/sessions").await?.expect(200)?;
    let invite = admin
        .post(
            "/orgs/current/members",
            json!({"email": format!("{label}-invitee@example.com")}),
        )
        .await?
        .expect(200)?;
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    // A traced run in a project of its own, visible to the victim's admin.
    let project_name = format!("victim-project-{label}");
    let run = Uuid::now_v7();
    admin_ws
        .post(
            "/runs/batch",
            json!({"post": [{"id": run, "trace_id": run, "name": "victim-run", "run_type": "chain",
                "dotted_order": format!("20250301T101500000000Z{run}"), "session_name": project_name,
                "start_time": "2025-03-01T10:15:00Z", "end_time": "2025-03-01T10:15:01Z",
                "extra": {"metadata": {"thread_id": format!("{label}-thread")}}}]}),
        )
        .await?
        .expect(202)?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while admin_ws.get(&format!("/runs/{run}")).await?.status != 200 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the victim's run never became readable"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let project = admin_ws
        .get(&format!("/sessions?name={project_name}"))
        .await?
        .expect(200)?;
    let project = id(&project[0]);
    let dataset = admin_ws
        .post(
            "/datasets",
            json!({"name": format!("victim-dataset-{label}"), "data_type": "kv"}),
        )
        .await?
        .expect(200)?;
    let dataset = id(&dataset);
    let example = admin_ws
        .post(
            "/examples",
            json!({"dataset_id": dataset, "inputs": {"secret": format!("{label}-input")}}),
        )
        .await?
        .expect(200)?;
    let example = id(&example);
    admin_ws
        .put(
            &format!("/datasets/{dataset}/tags"),
            json!({"as_of": "latest", "tag": "v1"}),
        )
        .await?
        .expect(200)?;
    admin_ws
        .put(&format!("/datasets/{dataset}/share"), json!({}))
        .await?
        .expect(200)?;
    let feedback = admin_ws
        .post(
            "/feedback",
            json!({"run_id": run, "key": "victim-key", "score": 1,
                   "feedback_config": {"type": "continuous", "min": 0, "max": 1}}),
        )
        .await?
        .expect(200)?;
    let feedback = id(&feedback);
    let queue = admin_ws
        .post(
            "/annotation-queues",
            json!({"name": format!("victim-queue-{label}"),
                   "rubric_items": [{"feedback_key": "victim-key"}]}),
        )
        .await?
        .expect(200)?;
    let queue = id(&queue);
    admin_ws
        .post(&format!("/annotation-queues/{queue}/runs"), json!([run]))
        .await?
        .expect(200)?;
    let price = admin_ws
        .post(
            "/model-price-map",
            json!({"name": format!("victim-price-{label}"), "match_pattern": "^victim-model$",
                   "prompt_cost_per_million": 1, "completion_cost_per_million": 2}),
        )
        .await?
        .expect(201)?;
    let price = id(&price);
    // Two experiments on the dataset, compared.
    let mut experiments = Vec::new();
    for n in 0..2 {
        let experiment = admin_ws
            .post(
                "/sessions",
                json!({"name": format!("victim-experiment-{label}-{n}"),
                       "reference_dataset_id": dataset}),
            )
            .await?
            .expect(201)?;
        experiments.push(id(&experiment));
    }
    let comparative = admin_ws
        .post(
            "/datasets/comparative",
            json!({"reference_dataset_id": dataset, "experiment_ids": experiments,
                   "name": format!("victim-comparison-{label}")}),
        )
        .await?
        .expect(200)?;
    let comparative = id(&comparative);
    // A provider key and a model configuration of the playground.
    admin_ws
        .post(
            "/workspaces/current/secrets",
            json!([{"key": "VICTIM_SECRET", "value": format!("victim-provider-key-{label}")}]),
        )
        .await?
        .expect(200)?;
    let model_config = admin_ws
        .post(
            "/model-configs",
            json!({"name": format!("victim-model-{label}"), "provider": "openai_compatible",
                   "model": "victim-model", "base_url": "http://10.9.9.9/v1", "secret_key": "VICTIM_SECRET"}),
        )
        .await?
        .expect(201)?;
    let model_config = id(&model_config);
    // A listener and a deployment on it, with a secret.
    let listener = admin_ws
        .post(
            "/api-host/v2/listeners",
            json!({"compute_type": "k8s", "compute_id": format!("victim-cluster-{label}"),
                   "compute_config": {"k8s_namespaces": ["victim-ns"]}}),
        )
        .await?
        .expect(201)?;
    let listener = id(&listener);
    let deployment = admin_ws
        .post(
            "/api-host/v2/deployments",
            json!({"name": format!("victim-agent-{label}"), "source": "external_docker",
                   "source_config": {"listener_id": listener, "listener_config": {"k8s_namespace": "victim-ns"}},
                   "source_revision_config": {"image_uri": "registry.example.com/victim@sha256:00"},
                   "secrets": [{"name": "VICTIM_DEPLOY_SECRET", "value": format!("victim-deploy-secret-{label}")}]}),
        )
        .await?
        .expect(201)?;
    let revision = deployment["latest_revision_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deployment = id(&deployment);
    Ok(Victim {
        workspace,
        values: vec![
            ("{ws}", workspace.to_string()),
            ("{member}", member.clone()),
            ("{ws_member}", ws_member),
            ("{service_key}", id(&service)),
            ("{pat}", id(&pat)),
            ("{invite}", id(&invite)),
            ("{session}", id(&sessions[0])),
            ("{project_name}", project_name.clone()),
            ("{project}", project.clone()),
            ("{run}", run.to_string()),
            ("{thread}", format!("{label}-thread")),
            ("{dataset}", dataset.clone()),
            ("{example}", example.clone()),
            ("{feedback}", feedback.clone()),
            ("{queue}", queue.clone()),
            ("{price}", price.clone()),
            ("{comparative}", comparative.clone()),
            ("{model_config}", model_config),
            ("{listener}", listener),
            ("{deployment}", deployment),
            ("{revision}", revision),
        ],
        secrets: vec![
            format!("victim-provider-key-{label}"),
            format!("victim-deploy-secret-{label}"),
            format!("victim-agent-{label}"),
            format!("victim-cluster-{label}"),
            format!("victim-model-{label}"),
            member_email,
            id(&service),
            id(&pat),
            id(&invite),
            member,
            format!("{label}-invitee@example.com"),
            project_name,
            project,
            run.to_string(),
            format!("{label}-thread"),
            dataset,
            example,
            feedback,
            queue,
            price,
            comparative,
            format!("victim-dataset-{label}"),
            format!("{label}-input"),
            format!("victim-queue-{label}"),
        ],
        admin,
        member_session,
    })
}

async fn attack(
    attacker: &Client,
    attacker_user: Uuid,
    victim: &Victim,
    same_org: bool,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for (level, method, path, body) in MATRIX {
        if same_org && *level == Org {
            continue;
        }
        let path = fill(path, victim, attacker_user);
        let body: Option<Value> = if body.is_empty() {
            None
        } else {
            Some(serde_json::from_str(&fill(body, victim, attacker_user))?)
        };
        let method: Method = method.parse()?;
        for named in [true, false] {
            let client = if named {
                attacker.clone().tenant(victim.workspace)
            } else {
                attacker.clone()
            };
            let answer = client.send(method.clone(), &path, body.as_ref()).await?;
            sent += 1;
            let text = answer.body.to_string();
            if named || path.contains(&victim.workspace.to_string()) {
                assert!(
                    matches!(answer.status, 403 | 404),
                    "{method} {path} (X-Tenant-Id: {named}) answered {}: {text}",
                    answer.status
                );
            } else {
                // From its own workspace the attacker may succeed on its own data, or be told
                // the victim's ids do not exist; either way nothing of the victim shows.
                assert!(
                    answer.status < 500,
                    "{method} {path}: {} {text}",
                    answer.status
                );
            }
            for secret in &victim.secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{method} {path} leaked {secret}: {text}"
                );
            }
            assert!(
                !text.contains(&victim.workspace.to_string()),
                "{method} {path} leaked the victim workspace id: {text}"
            );
        }
    }
    Ok(sent)
}

#[tokio::test]
async fn no_caller_reaches_another_workspace() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| {
        // The matrix sends hundreds of requests; rate limits are tested elsewhere.
        config.limits.default.requests = 100_000;
        config.limits.run_query.requests = 100_000;
        config.deployment.enabled = true;
    })
    .await?;

    // Organisation B, created the way bootstrap creates one.
    let b_key = format!("lsv2_pt_{}_{}", Uuid::new_v4().simple(), "victimb001");
    let pool = stack.pool()?;
    let mut tx = pool.begin().await?;
    let Outcome::Created {
        workspace_id: b_workspace,
        ..
    } = create_organization(
        &mut tx,
        &OrganizationSpec {
            organization_name: "Victim Org",
            workspace_name: "Victim Workspace",
            admin_email: "admin-b@example.com",
            admin_password_hash: None,
            admin_api_key: Some(&b_key),
        },
        &SecretHasher::new(stack.config.auth.api_key_salt.expose().as_bytes()),
    )
    .await?
    else {
        anyhow::bail!("expected a new organisation");
    };
    tx.commit().await?;
    let b_admin = stack.anonymous().key(&b_key);
    let victim_b = furnish(&stack, b_admin, b_workspace, "b").await?;

    // A second workspace inside organisation A, for an attacker of the first.
    let a_admin = stack.admin();
    let a2 = a_admin
        .post("/workspaces", json!({"display_name": "A2"}))
        .await?
        .expect(200)?;
    let a2_workspace: Uuid = a2["id"].as_str().unwrap_or_default().parse()?;
    let victim_a2 = furnish(&stack, a_admin.clone(), a2_workspace, "a2").await?;

    // Attackers: A's organisation admin, an organisation-wide service key of A, and a
    // workspace admin of A's first workspace who is only an Organization User.
    let a_me = a_admin.get("/me").await?.expect(200)?;
    let a_admin_user: Uuid = a_me["identity"]["user_id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let org_key = a_admin
        .post("/api-key", json!({"scope": "organization"}))
        .await?
        .expect(200)?;
    let a_org_key = stack
        .anonymous()
        .key(org_key["key"].as_str().unwrap_or_default());
    let local_admin_user = add_user(
        &a_admin,
        "a1-admin@example.com",
        "a1-admin-password",
        Role::OrganizationUser,
        &[(stack.workspace_id, Role::WorkspaceAdmin)],
    )
    .await?;
    let local_admin = stack
        .anonymous()
        .login("a1-admin@example.com", "a1-admin-password")
        .await?;

    let before_b = snapshot(&victim_b, false).await?;
    let before_a2 = snapshot(&victim_a2, true).await?;

    let mut sent = 0;
    sent += attack(&a_admin, a_admin_user, &victim_b, false).await?;
    sent += attack(
        &a_org_key.clone().tenant(stack.workspace_id),
        a_admin_user,
        &victim_b,
        false,
    )
    .await?;
    sent += attack(&local_admin, local_admin_user, &victim_b, false).await?;
    sent += attack(&local_admin, local_admin_user, &victim_a2, true).await?;
    assert!(sent > 150, "the matrix ran ({sent} requests)");

    assert_eq!(
        snapshot(&victim_b, false).await?,
        before_b,
        "organisation B changed"
    );
    assert_eq!(
        snapshot(&victim_a2, true).await?,
        before_a2,
        "workspace A2 changed"
    );

    // A tag of the victim's dataset cannot be told from a tag that does not exist.
    let probe = |tag: &'static str| {
        let path = fill(
            &format!("/examples?dataset={{dataset}}&as_of={tag}"),
            &victim_b,
            a_admin_user,
        );
        let client = a_admin.clone();
        async move { client.get(&path).await }
    };
    let (real, invented) = (probe("v1").await?, probe("no-such-tag").await?);
    assert_eq!(
        (real.status, real.body.to_string().replace("v1", "TAG")),
        (
            invented.status,
            invented.body.to_string().replace("no-such-tag", "TAG")
        ),
        "a victim's tag is visible"
    );

    // Signing out ends only the caller's own session, whatever the request names: the
    // attacker's session is over, the victim's sessions are as they were.
    let victim_sessions = victim_b
        .member_session
        .get("/auth/sessions")
        .await?
        .expect(200)?;
    let logout = local_admin
        .clone()
        .tenant(b_workspace)
        .send(
            Method::POST,
            "/auth/logout",
            Some(&json!({"session_id": fill("{session}", &victim_b, local_admin_user)})),
        )
        .await?;
    assert_eq!(logout.status, 204, "{}", logout.body);
    assert_eq!(local_admin.get("/me").await?.status, 401);
    assert_eq!(
        victim_b
            .member_session
            .get("/auth/sessions")
            .await?
            .expect(200)?,
        victim_sessions,
        "the victim's sessions changed"
    );
    victim_b
        .member_session
        .clone()
        .tenant(b_workspace)
        .get("/sessions")
        .await?
        .expect(200)?;

    // The matrix's paths are real: the victim's own admin reads every GET line.
    for (_, method, path, _) in MATRIX.iter().filter(|(_, m, _, _)| *m == "GET") {
        let path = fill(path, &victim_b, a_admin_user);
        let admin = victim_b.admin.clone().tenant(b_workspace);
        if path.starts_with("/runs/stream") {
            // An event stream never ends: its answer opens, and that is all to read.
            let (status, content_type) = admin.open(&path).await?;
            assert_eq!(
                (status, content_type.as_str()),
                (200, "text/event-stream"),
                "{path}"
            );
            continue;
        }
        let answer = admin.get(&path).await?;
        assert_eq!(answer.status, 200, "{method} {path}: {:?}", answer.body);
    }
    stack.stop().await;
    Ok(())
}
