//! The deployment loop end to end on one machine: the real `langgraph deploy` (langgraph-cli
//! from PyPI) against the control plane, the listener polling it and writing `LGP`s, the
//! operator's local runtime running the real Agent Server (`langgraph dev`), and the deployed
//! graph answering through the deployment's URL and tracing into its project.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ironsmith_e2e::{Client, Stack, python};
use ironsmith_listener::config::{ClusterKind, Config as ListenerConfig};
use ironsmith_operator::local::{LocalConfig, Runtime};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The venv's `langgraph` (installed by `scripts/stores install` from requirements.txt).
fn langgraph_bin() -> PathBuf {
    python().with_file_name("langgraph")
}

const DIGEST: &str = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";

/// A data plane on a local cluster folder: the operator's local runtime and listener replicas.
struct DataPlane {
    dir: tempfile::TempDir,
    operator: CancellationToken,
    listeners: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
}

impl DataPlane {
    fn start(images: &[(&str, String)]) -> anyhow::Result<DataPlane> {
        let dir = tempfile::tempdir()?;
        let operator = CancellationToken::new();
        let config = LocalConfig {
            dir: dir.path().to_path_buf(),
            langgraph_bin: langgraph_bin(),
            image_commands: images
                .iter()
                .map(|(i, c)| ((*i).to_owned(), c.clone()))
                .collect(),
            startup_timeout: Duration::from_secs(90),
            poll: Duration::from_millis(200),
        };
        tokio::spawn(Runtime::new(config).run(operator.clone()));
        Ok(DataPlane {
            dir,
            operator,
            listeners: Vec::new(),
        })
    }

    fn listener_config(&self, stack: &Stack, instance: &str) -> anyhow::Result<ListenerConfig> {
        Ok(ListenerConfig {
            host_backend_endpoint: format!("{}/api-host/", stack.edge).parse()?,
            langsmith_endpoint: format!("{}/api/v1", stack.edge),
            api_key: stack.admin_key.clone(),
            tenant_id: stack.workspace_id,
            listener_id: "default".into(),
            watch_namespaces: Vec::new(),
            health_check: true,
            port: ironsmith_test_support::free_port()?,
            instance_id: instance.into(),
            cluster: ClusterKind::Local(self.dir.path().to_path_buf()),
            deploy_timeout: Duration::from_secs(120),
            poll_interval: Some(Duration::from_millis(300)),
            lease_seconds: 30,
        })
    }

    fn add_listener(&mut self, stack: &Stack, instance: &str) -> anyhow::Result<()> {
        let token = CancellationToken::new();
        let config = self.listener_config(stack, instance)?;
        let handle = tokio::spawn(ironsmith_listener::run(config, token.clone()));
        self.listeners.push((token, handle));
        Ok(())
    }

    async fn stop_listeners(&mut self) {
        for (token, handle) in self.listeners.drain(..) {
            token.cancel();
            let _ = handle.await;
        }
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        self.operator.cancel();
        for (token, _) in &self.listeners {
            token.cancel();
        }
    }
}

/// A one-node graph that answers with `reply`.
fn write_project(dir: &Path, reply: &str) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("langgraph.json"),
        json!({"dependencies": ["."], "graphs": {"agent": "./agent.py:graph"}, "env": ".env"})
            .to_string(),
    )?;
    std::fs::write(
        dir.join(".env"),
        "GREETING=hello from a deployment secret\n",
    )?;
    std::fs::write(
        dir.join("agent.py"),
        format!(
            r#"import os
from typing import TypedDict
from langgraph.graph import StateGraph, START, END

class State(TypedDict, total=False):
    question: str
    answer: str
    greeting: str

def answer(state: State) -> State:
    return {{"answer": "{reply}: " + state.get("question", ""), "greeting": os.environ.get("GREETING", "")}}

builder = StateGraph(State)
builder.add_node("answer", answer)
builder.add_edge(START, "answer")
builder.add_edge("answer", END)
graph = builder.compile()
"#
        ),
    )?;
    Ok(())
}

/// Runs `langgraph deploy …` in `dir` against the stack; its stdout, or its failure.
async fn cli(stack: &Stack, dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new(langgraph_bin());
    command
        .arg("deploy")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LANGSMITH_ENDPOINT", format!("{}/api/v1", stack.edge))
        .env("LANGSMITH_API_KEY", &stack.admin_key)
        .env("LANGGRAPH_CLI_NO_ANALYTICS", "1")
        // No Docker engine here: the CLI uploads the source for a remote build.
        .env("DOCKER_HOST", "unix:///nonexistent.sock");
    let output = tokio::time::timeout(Duration::from_secs(300), command.output()).await??;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    anyhow::ensure!(
        output.status.success(),
        "langgraph deploy {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    eprintln!("langgraph deploy {args:?}:\n{stdout}\n{stderr}");
    Ok(stdout)
}

async fn deployment_named(api: &Client, name: &str) -> anyhow::Result<Value> {
    let page = api
        .get(&format!("/api-host/v2/deployments?name={name}"))
        .await?
        .expect(200)?;
    page["resources"]
        .as_array()
        .and_then(|r| r.first())
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no deployment named {name}: {page}"))
}

/// Polls the deployment's latest revision until it reaches a final status.
async fn settle(api: &Client, id: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let deployment = api
            .get(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .expect(200)?;
        let revision = deployment["latest_revision_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let rev = api
            .get(&format!(
                "/api-host/v2/deployments/{id}/revisions/{revision}"
            ))
            .await?
            .expect(200)?;
        let status = rev["status"].as_str().unwrap_or_default();
        if ["DEPLOYED", "DEPLOY_FAILED", "SKIPPED", "INTERRUPTED"].contains(&status) {
            return Ok(rev);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "revision {revision} stuck in {status}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Asks the deployed graph a question through the deployment's URL.
async fn ask(url: &str, question: &str) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let thread: Value = http
        .post(format!("{url}/threads"))
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let thread_id = thread["thread_id"].as_str().unwrap_or_default();
    let answer: Value = http
        .post(format!("{url}/threads/{thread_id}/runs/wait"))
        .json(&json!({"assistant_id": "agent", "input": {"question": question}}))
        .timeout(Duration::from_secs(60))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(answer)
}

async fn deploy_logs(api: &Client, id: &str) -> anyhow::Result<Vec<String>> {
    let page = api
        .post(
            &format!("/api-host/v1/projects/{id}/deploy_logs"),
            json!({"limit": 1000, "order": "asc"}),
        )
        .await?
        .expect(200)?;
    Ok(page["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect())
}

/// The admin's key against the public origin (control-plane paths are not under `/api/v1`).
fn edge_client(stack: &Stack) -> Client {
    Client::new(&stack.edge).key(&stack.admin_key)
}

fn enable(config: &mut ironsmith_config::Config) {
    config.deployment.enabled = true;
}

#[tokio::test]
async fn langgraph_deploy_ships_a_graph_from_source_redeploys_it_and_deletes_it()
-> anyhow::Result<()> {
    let stack = Stack::start_with(enable).await?;
    let mut plane = DataPlane::start(&[])?;
    plane.add_listener(&stack, "replica-a")?;
    let api = edge_client(&stack);
    let project = tempfile::tempdir()?;
    write_project(project.path(), "first")?;

    cli(
        &stack,
        project.path(),
        &["--no-input", "--remote", "--name", "src-agent"],
    )
    .await?;
    let deployment = deployment_named(&api, "src-agent").await?;
    let id = deployment["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(deployment["status"], "READY", "{deployment}");
    assert_eq!(deployment["source"], "internal_source");
    assert_eq!(
        deployment["active_revision_id"],
        deployment["latest_revision_id"]
    );
    // The CLI's `.env` arrived as a secret, shown to its owner.
    assert_eq!(deployment["secrets"][0]["name"], "GREETING", "{deployment}");
    let url = deployment["source_config"]["custom_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{deployment}");

    let answer = ask(&url, "ping").await?;
    assert_eq!(answer["answer"], "first: ping", "{answer}");
    assert_eq!(answer["greeting"], "hello from a deployment secret");

    // The Agent Server traces into the deployment's project.
    let runs = stack
        .wait_for_runs("src-agent", 1, Duration::from_secs(60))
        .await?;
    assert!(!runs.is_empty());

    // The CLI lists it and reads its logs.
    let listed = cli(&stack, project.path(), &["list"]).await?;
    assert!(listed.contains("src-agent"), "{listed}");
    let logs = cli(&stack, project.path(), &["logs", "--deployment-id", &id]).await?;
    assert!(logs.contains("Ready at"), "{logs}");

    // A changed project redeploys through the same URL, replacing the process.
    write_project(project.path(), "second")?;
    cli(
        &stack,
        project.path(),
        &["--no-input", "--remote", "--name", "src-agent"],
    )
    .await?;
    let redeployed = api
        .get(&format!("/api-host/v2/deployments/{id}"))
        .await?
        .expect(200)?;
    assert_ne!(
        redeployed["latest_revision_id"],
        deployment["latest_revision_id"]
    );
    assert_eq!(
        redeployed["active_revision_id"],
        redeployed["latest_revision_id"]
    );
    assert_eq!(redeployed["source_config"]["custom_url"], url.as_str());
    assert_eq!(ask(&url, "pong").await?["answer"], "second: pong");
    let revisions = api
        .get(&format!("/api-host/v2/deployments/{id}/revisions"))
        .await?
        .expect(200)?;
    // Newest first: the two rollouts, and the empty revision the CLI's create made before it
    // uploaded the source, superseded.
    let statuses: Vec<&str> = revisions["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["DEPLOYED", "DEPLOYED", "SKIPPED"], "{revisions}");

    // Delete: 204 at once, then the data plane tears it down and the row goes.
    cli(&stack, project.path(), &["delete", &id, "--force"]).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = api.open(&format!("/api-host/v2/deployments/{id}")).await?;
        if status == 404 {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "deployment {id} never went away"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        ask(&url, "gone?").await.is_err(),
        "the Agent Server still answers after teardown"
    );
    // The tracing project is kept.
    assert!(stack.project_id("src-agent").await?.is_some());
    plane.stop_listeners().await;
    stack.stop().await;
    Ok(())
}

/// `registry.example.com/echo-agent` runs the project in `dir`; `…/crashing-agent` exits at once.
fn image_commands(dir: &Path) -> Vec<(&'static str, String)> {
    let config = dir.join("langgraph.json");
    vec![
        (
            "registry.example.com/echo-agent",
            format!(
                "cd {} && exec {} dev --no-browser --no-reload --host 127.0.0.1 --port \"$PORT\" --config {}",
                dir.display(),
                langgraph_bin().display(),
                config.display()
            ),
        ),
        (
            "registry.example.com/crashing-agent",
            "echo 'fatal: cannot load graph agent' >&2; exit 3".to_owned(),
        ),
    ]
}

#[tokio::test]
async fn an_image_deploys_a_failing_one_keeps_the_old_revision_serving_and_an_older_one_redeploys()
-> anyhow::Result<()> {
    let stack = Stack::start_with(enable).await?;
    let project = tempfile::tempdir()?;
    write_project(project.path(), "image")?;
    let mut plane = DataPlane::start(&image_commands(project.path()))?;
    plane.add_listener(&stack, "replica-a")?;
    let api = edge_client(&stack);

    // The CLI's image path: a digest-pinned reference, no build.
    let image = format!("registry.example.com/echo-agent@{DIGEST}");
    cli(
        &stack,
        project.path(),
        &["--no-input", "--name", "img-agent", "--image-uri", &image],
    )
    .await?;
    let deployment = deployment_named(&api, "img-agent").await?;
    let id = deployment["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(deployment["source"], "external_docker");
    assert_eq!(deployment["status"], "READY");
    assert_eq!(
        deployment["source_revision_config"]["image_uri"],
        image.as_str()
    );
    let first = deployment["active_revision_id"].clone();
    let url = deployment["source_config"]["custom_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ask(&url, "a").await?["answer"], "image: a");

    // An image that cannot start: the revision fails with the reason, the deployment stays
    // READY and the previous revision keeps serving.
    let crashing = format!("registry.example.com/crashing-agent@{DIGEST}");
    api.patch(
        &format!("/api-host/v2/deployments/{id}"),
        json!({"source_revision_config": {"image_uri": crashing}, "secrets": []}),
    )
    .await?
    .expect(200)?;
    let failed = settle(&api, &id).await?;
    assert_eq!(failed["status"], "DEPLOY_FAILED", "{failed}");
    let reason = failed["status_message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exited") && reason.contains("cannot load graph agent"),
        "{reason}"
    );
    let after = api
        .get(&format!("/api-host/v2/deployments/{id}"))
        .await?
        .expect(200)?;
    assert_eq!(after["status"], "READY");
    assert_eq!(after["active_revision_id"], first);
    assert_eq!(ask(&url, "b").await?["answer"], "image: b");
    let logs = deploy_logs(&api, &id).await?;
    assert!(
        logs.iter().any(|l| l.contains("Rollout failed")),
        "{logs:?}"
    );

    // An image the runtime has no command for fails too, saying so.
    api.patch(
        &format!("/api-host/v2/deployments/{id}"),
        json!({"source_revision_config": {"image_uri": format!("registry.example.com/unknown@{DIGEST}")}}),
    )
    .await?
    .expect(200)?;
    let unknown = settle(&api, &id).await?;
    assert_eq!(unknown["status"], "DEPLOY_FAILED");
    assert!(
        unknown["status_message"]
            .as_str()
            .unwrap_or_default()
            .contains("LOCAL_IMAGE_COMMANDS"),
        "{unknown}"
    );

    // Redeploying the first revision makes a new revision with its image.
    let first_id = first.as_str().unwrap_or_default();
    let redeployed = api
        .post(
            &format!("/api-host/v2/deployments/{id}/revisions/{first_id}/redeploy"),
            json!({}),
        )
        .await?
        .expect(200)?;
    assert_ne!(redeployed["latest_revision_id"], first);
    assert_eq!(
        redeployed["source_revision_config"]["image_uri"],
        image.as_str()
    );
    assert_eq!(settle(&api, &id).await?["status"], "DEPLOYED");
    assert_eq!(ask(&url, "c").await?["answer"], "image: c");

    // The newest clients call the main API host.
    let listed = api
        .get("/api/v2/deployments?name_contains=img")
        .await?
        .expect(200)?;
    assert_eq!(listed["resources"][0]["id"], id.as_str());
    let revisions = api
        .get(&format!(
            "/api/v2/deployments/{id}/revisions?status=DEPLOY_FAILED"
        ))
        .await?
        .expect(200)?;
    assert_eq!(revisions["resources"].as_array().map(Vec::len), Some(2));

    api.delete(&format!(
        "/api-host/v2/deployments/{id}?delete_tracing_project=true"
    ))
    .await?
    .expect(204)?;
    plane.stop_listeners().await;
    stack.stop().await;
    Ok(())
}

/// Waits until the deployment's latest revision is in `status`.
async fn wait_for_status(api: &Client, id: &str, status: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let deployment = api
            .get(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .expect(200)?;
        let revision = deployment["latest_revision_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let rev = api
            .get(&format!(
                "/api-host/v2/deployments/{id}/revisions/{revision}"
            ))
            .await?
            .expect(200)?;
        if rev["status"] == status {
            return Ok(rev);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "revision never reached {status}: {rev}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_listener_replicas_roll_out_once_and_a_restarted_listener_resumes_its_rollout()
-> anyhow::Result<()> {
    let stack = Stack::start_with(enable).await?;
    let project = tempfile::tempdir()?;
    write_project(project.path(), "raced")?;
    // Slow to start, so the rollout is caught in the middle.
    let mut commands = image_commands(project.path());
    commands.push((
        "registry.example.com/slow-agent",
        format!("sleep 8 && {}", commands[0].1),
    ));
    let mut plane = DataPlane::start(&commands)?;
    plane.add_listener(&stack, "replica-a")?;
    plane.add_listener(&stack, "replica-b")?;
    let api = edge_client(&stack);

    let created = api
        .post(
            "/api-host/v2/deployments",
            json!({"name": "raced", "source": "external_docker", "source_config": {},
                   "source_revision_config": {"image_uri": format!("registry.example.com/echo-agent@{DIGEST}")},
                   "secrets": []}),
        )
        .await?
        .expect(201)?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(settle(&api, &id).await?["status"], "DEPLOYED");
    let logs = deploy_logs(&api, &id).await?;
    let claims = logs.iter().filter(|l| l.starts_with("Claimed by")).count();
    assert_eq!(claims, 1, "both replicas rolled out: {logs:?}");
    let applied = logs
        .iter()
        .filter(|l| l.contains("LGP default/raced applied"))
        .count();
    assert_eq!(applied, 1, "{logs:?}");

    // One replica alone, stopped mid-rollout and started again under the same name: it
    // resumes the rollout it holds.
    plane.stop_listeners().await;
    plane.add_listener(&stack, "replica-a")?;
    api.patch(
        &format!("/api-host/v2/deployments/{id}"),
        json!({"source_revision_config": {"image_uri": format!("registry.example.com/slow-agent@{DIGEST}")}}),
    )
    .await?
    .expect(200)?;
    wait_for_status(&api, &id, "DEPLOYING").await?;
    plane.stop_listeners().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paused = wait_for_status(&api, &id, "DEPLOYING").await?;
    // Meanwhile another replica cannot take over the rollout leased to replica-a.
    let revision = paused["id"].as_str().unwrap_or_default();
    let other = api
        .patch(
            &format!("/api-host/v2/deployments/{id}/revisions/{revision}/status"),
            json!({"status": "DEPLOYING", "holder": "replica-z"}),
        )
        .await?;
    assert_eq!(other.status, 409, "{}", other.body);
    assert!(
        other.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("another listener replica")
    );
    plane.add_listener(&stack, "replica-a")?;
    assert_eq!(settle(&api, &id).await?["status"], "DEPLOYED");
    let url = api
        .get(&format!("/api-host/v2/deployments/{id}"))
        .await?
        .expect(200)?["source_config"]["custom_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ask(&url, "d").await?["answer"], "raced: d");

    plane.stop_listeners().await;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_control_plane_validates_places_and_guards_deployments_and_listeners()
-> anyhow::Result<()> {
    let stack = Stack::start_with(enable).await?;
    let api = edge_client(&stack);
    let image = format!("registry.example.com/agent@{DIGEST}");
    let create = |name: &str, extra: Value| {
        let mut body = json!({"name": name, "source": "external_docker", "source_config": {},
                              "source_revision_config": {"image_uri": image}, "secrets": []});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        body
    };

    // Bad input: a clear detail and the right status.
    for (body, status, detail) in [
        (
            create("Bad_Name", json!({})),
            400,
            "Invalid deployment name",
        ),
        (
            create("gh", json!({"source": "github"})),
            400,
            "github is not supported",
        ),
        (
            create("tpl", json!({"source": "internal_template"})),
            400,
            "internal_template is not supported",
        ),
        (
            create(
                "reserved",
                json!({"secrets": [{"name": "POSTGRES_URI", "value": "x"}]}),
            ),
            400,
            "reserved",
        ),
        (
            create(
                "cpu",
                json!({"source_config": {"resource_spec": {"cpu": 64}}}),
            ),
            400,
            "resource_spec.cpu",
        ),
        (
            create(
                "mixed",
                json!({"source_revision_config": {"image_uri": image, "source_tarball_path": "x"}}),
            ),
            400,
            "external_docker",
        ),
    ] {
        let answer = api.post("/api-host/v2/deployments", body).await?;
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(
            answer.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(detail),
            "{}",
            answer.body
        );
    }
    let unknown = api
        .post(
            "/api-host/v2/deployments",
            create("x", json!({"source": "ftp"})),
        )
        .await?;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body["detail"].is_array(), "{}", unknown.body);

    // Created without a listener: bound to the default in-cluster listener.
    let a = api
        .post(
            "/api-host/v2/deployments",
            create(
                "agent-a",
                json!({"secrets": [{"name": "OPENAI_API_KEY", "value": "sk-a"}]}),
            ),
        )
        .await?
        .expect(201)?;
    let id = a["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(a["status"], "AWAITING_DATABASE");
    assert!(a["active_revision_id"].is_null());
    assert_eq!(a["source_config"]["deployment_type"], "prod");
    assert_eq!(a["source_config"]["resource_spec"]["cpu_limit"], 4.0, "{a}");
    let default_listener = api
        .get("/api-host/v2/listeners/default")
        .await?
        .expect(200)?;
    assert_eq!(a["source_config"]["listener_id"], default_listener["id"]);
    assert_eq!(default_listener["connection"], "NEVER_CONNECTED");
    // The same name again, or a tracing project's name: 409.
    assert_eq!(
        api.post("/api-host/v2/deployments", create("agent-a", json!({})))
            .await?
            .status,
        409
    );
    stack
        .admin()
        .post("/sessions", json!({"name": "taken-by-a-project"}))
        .await?
        .expect(201)?;
    assert_eq!(
        api.post(
            "/api-host/v2/deployments",
            create("taken-by-a-project", json!({}))
        )
        .await?
        .status,
        409
    );

    // Without an image: created, its first revision waits; an image in a PATCH makes a revision.
    let waiting = api
        .post("/api-host/v2/deployments", json!({"name": "no-image", "source": "external_docker",
               "source_config": {"deployment_type": "dev"}, "source_revision_config": {}, "secrets": []}))
        .await?
        .expect(201)?;
    assert_eq!(waiting["source_config"]["deployment_type"], "dev");
    let wid = waiting["id"].as_str().unwrap_or_default();
    let patched = api
        .patch(
            &format!("/api-host/v2/deployments/{wid}"),
            json!({"source_revision_config": {"image_uri": image}}),
        )
        .await?
        .expect(200)?;
    assert_ne!(patched["latest_revision_id"], waiting["latest_revision_id"]);

    // PATCH rules: `[]` keeps the secrets; a URL change makes no revision; immutables refuse
    // another value and accept the same one; a masked value sent back keeps the stored one.
    let same = api
        .patch(&format!("/api-host/v2/deployments/{id}"), json!({"secrets": [], "source_config": {"custom_url": "https://agent-a.example.com"}, "name": "agent-a"}))
        .await?
        .expect(200)?;
    assert_eq!(same["latest_revision_id"], a["latest_revision_id"]);
    assert_eq!(
        same["secrets"],
        json!([{"name": "OPENAI_API_KEY", "value": "sk-a"}])
    );
    assert_eq!(
        same["source_config"]["custom_url"],
        "https://agent-a.example.com"
    );
    let renamed = api
        .patch(
            &format!("/api-host/v2/deployments/{id}"),
            json!({"name": "other"}),
        )
        .await?;
    assert_eq!(renamed.status, 400);
    let moved = api
        .patch(
            &format!("/api-host/v2/deployments/{id}"),
            json!({"source_config": {"listener_config": {"k8s_namespace": "elsewhere"}}}),
        )
        .await?;
    assert_eq!(moved.status, 400, "{}", moved.body);
    let masked = api
        .patch(&format!("/api-host/v2/deployments/{id}"), json!({"secrets": [{"name": "OPENAI_API_KEY", "value": "********"}, {"name": "B", "value": "b"}]}))
        .await?
        .expect(200)?;
    assert_ne!(masked["latest_revision_id"], a["latest_revision_id"]);
    assert_eq!(
        masked["secrets"],
        json!([{"name": "OPENAI_API_KEY", "value": "sk-a"}, {"name": "B", "value": "b"}])
    );

    // A viewer reads, masked, and cannot change anything.
    ironsmith_e2e::add_user(
        &stack.admin(),
        "viewer@example.com",
        "viewer-password-1",
        ironsmith_auth::Role::OrganizationUser,
        &[(stack.workspace_id, ironsmith_auth::Role::WorkspaceViewer)],
    )
    .await?;
    let viewer = stack
        .admin()
        .login("viewer@example.com", "viewer-password-1")
        .await?;
    let seen = viewer
        .get(&format!("/api-host/v2/deployments/{id}"))
        .await?
        .expect(200)?;
    assert_eq!(seen["secrets"][0]["value"], "********");
    assert_eq!(
        viewer
            .post("/api-host/v2/deployments", create("by-viewer", json!({})))
            .await?
            .status,
        403
    );
    assert_eq!(
        viewer
            .delete(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .status,
        403
    );
    assert_eq!(
        viewer.post("/api-host/v2/listeners", json!({"compute_type": "k8s", "compute_id": "v", "compute_config": {"k8s_namespaces": ["v"]}})).await?.status,
        403
    );

    // Listeners: unique compute_id, placement checked, namespaces of one cluster disjoint.
    let l1 = api
        .post("/api-host/v2/listeners", json!({"compute_type": "k8s", "compute_id": "prod-eu-01", "compute_config": {"k8s_namespaces": ["team-a", "team-b"]}, "version": "1.0.0"}))
        .await?
        .expect(201)?;
    let l1_id = l1["id"].as_str().unwrap_or_default().to_owned();
    let dup = api
        .post("/api-host/v2/listeners", json!({"compute_type": "k8s", "compute_id": "prod-eu-01", "compute_config": {"k8s_namespaces": ["x"]}}))
        .await?;
    assert_eq!(dup.status, 409);
    assert!(
        dup.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("prod-eu-01")
    );
    let outside = api
        .post("/api-host/v2/deployments", create("outside", json!({"source_config": {"listener_id": l1_id, "listener_config": {"k8s_namespace": "team-z"}}})))
        .await?;
    assert_eq!(outside.status, 400);
    let no_ns = api
        .post(
            "/api-host/v2/deployments",
            create("no-ns", json!({"source_config": {"listener_id": l1_id}})),
        )
        .await?;
    assert_eq!(no_ns.status, 400);
    let placed = api
        .post("/api-host/v2/deployments", create("placed", json!({"source_config": {"listener_id": l1_id, "listener_config": {"k8s_namespace": "team-b"}}})))
        .await?
        .expect(201)?;
    let placed_id = placed["id"].as_str().unwrap_or_default().to_owned();
    let l2 = api
        .post("/api-host/v2/listeners", json!({"compute_type": "k8s", "compute_id": "prod-eu-02", "compute_config": {"k8s_namespaces": ["team-b"]}}))
        .await?
        .expect(201)?;
    let l2_id = l2["id"].as_str().unwrap_or_default().to_owned();
    api.post(
        &format!("/api-host/v2/listeners/{l1_id}/heartbeat"),
        json!({"cluster_uid": "cluster-1", "watch_namespaces": ["team-a", "team-b"]}),
    )
    .await?
    .expect(200)?;
    let overlap = api
        .post(
            &format!("/api-host/v2/listeners/{l2_id}/heartbeat"),
            json!({"cluster_uid": "cluster-1", "watch_namespaces": ["team-b"]}),
        )
        .await?;
    assert_eq!(overlap.status, 409, "{}", overlap.body);
    let connected = api
        .get(&format!("/api-host/v2/listeners/{l1_id}"))
        .await?
        .expect(200)?;
    assert_eq!(connected["connection"], "CONNECTED");
    assert_eq!(connected["cluster_uid"], "cluster-1");
    let in_use = api
        .patch(
            &format!("/api-host/v2/listeners/{l1_id}"),
            json!({"compute_config": {"k8s_namespaces": ["team-a"]}}),
        )
        .await?;
    assert_eq!(in_use.status, 409);
    assert_eq!(
        api.patch(
            &format!("/api-host/v2/listeners/{l1_id}"),
            json!({"compute_id": "renamed"})
        )
        .await?
        .status,
        400
    );
    assert_eq!(
        api.patch(
            &format!("/api-host/v2/listeners/{l1_id}"),
            json!({"version": "1.1.0"})
        )
        .await?
        .expect(200)?["version"],
        "1.1.0"
    );
    assert_eq!(
        api.delete(&format!("/api-host/v2/listeners/{l1_id}"))
            .await?
            .status,
        409
    );
    let deployments_on_l1 = api
        .get(&format!("/api-host/v2/deployments?listener_id={l1_id}"))
        .await?
        .expect(200)?;
    assert_eq!(
        deployments_on_l1["resources"].as_array().map(Vec::len),
        Some(1)
    );

    // Lists page with the offset they return.
    let first = api
        .get("/api-host/v2/deployments?limit=2")
        .await?
        .expect(200)?;
    assert_eq!(first["resources"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["offset"], 2);
    let rest = api
        .get("/api-host/v2/deployments?limit=100&offset=2")
        .await?
        .expect(200)?;
    assert_eq!(rest["resources"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        api.get("/api-host/v2/deployments?limit=0").await?.status,
        422
    );
    let by_ids = api
        .get(&format!(
            "/api-host/v2/deployments?deployment_ids={id},{placed_id}"
        ))
        .await?
        .expect(200)?;
    assert_eq!(by_ids["resources"].as_array().map(Vec::len), Some(2));
    let missing = uuid::Uuid::new_v4();
    let not_found = api
        .get(&format!("/api-host/v2/deployments/{missing}"))
        .await?;
    assert_eq!(not_found.status, 404);
    assert_eq!(
        not_found.body["detail"],
        format!("Deployment ID {missing} not found.")
    );

    // Delete: force refuses a live deployment; a plain delete is 204 and idempotent; force then
    // drops the row; bulk answers 207 when some ids fail.
    assert_eq!(
        api.delete(&format!("/api-host/v2/deployments/{id}?force=true"))
            .await?
            .status,
        400
    );
    assert_eq!(
        api.delete(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .expect(200)?["status"],
        "AWAITING_DELETE"
    );
    assert_eq!(
        api.delete(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .status,
        204
    );
    assert_eq!(
        api.patch(
            &format!("/api-host/v2/deployments/{id}"),
            json!({"source_revision_config": {"image_uri": image}})
        )
        .await?
        .status,
        409
    );
    assert_eq!(
        api.delete(&format!("/api-host/v2/deployments/{id}?force=true"))
            .await?
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .status,
        404
    );
    let bulk = api
        .delete(&format!(
            "/api-host/v2/deployments?deployment_ids={placed_id}&deployment_ids={missing}"
        ))
        .await?;
    assert_eq!(bulk.status, 207, "{}", bulk.body);
    assert_eq!(bulk.body["results"][0]["status"], 204);
    assert_eq!(bulk.body["results"][1]["status"], 404);
    // What Cloud clients also call: no GitHub app here, no registry to push to.
    assert_eq!(
        api.get("/api-host/v1/integrations/github/install")
            .await?
            .expect(200)?,
        json!([])
    );
    let push = api
        .post(
            &format!("/api-host/v2/deployments/{placed_id}/push-token"),
            json!({}),
        )
        .await?;
    assert_eq!(push.status, 400);
    assert!(
        push.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("--image-uri")
    );
    // The control plane is off unless enabled.
    let off = Stack::start_with(|c| c.deployment.enabled = false).await?;
    assert_eq!(
        edge_client(&off)
            .get("/api-host/v2/deployments")
            .await?
            .status,
        404
    );
    assert_eq!(
        edge_client(&off).get("/api/v2/deployments").await?.status,
        404
    );
    off.stop().await;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_user_deploys_from_the_ui_in_chromium() -> anyhow::Result<()> {
    anyhow::ensure!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is missing: run scripts/stores install"
    );
    let stack = Stack::start_with(enable).await?;
    let project = tempfile::tempdir()?;
    write_project(project.path(), "ui")?;
    let mut plane = DataPlane::start(&image_commands(project.path()))?;
    plane.add_listener(&stack, "replica-a")?;
    let shots = std::env::var("UI_SCREENSHOTS").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{target}/ui-screenshots")
    });
    let image = format!("registry.example.com/echo-agent@{DIGEST}");
    let out = ironsmith_e2e::run_client_within(
        &ironsmith_e2e::node(),
        "tests/js/deployments_flow.mjs",
        &[
            ("UI", &stack.edge),
            ("ADMIN_EMAIL", ironsmith_e2e::ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ironsmith_e2e::ADMIN_PASSWORD),
            ("IMAGE", &image),
            ("SCREENSHOTS", &shots),
        ],
        Duration::from_secs(300),
    )
    .await?;
    eprintln!("{out:#}");
    assert_eq!(out["listener_connection"], "NEVER_CONNECTED");
    let values = out["install_values"].as_str().unwrap_or_default();
    assert!(
        values.contains(&format!("HOST_WORKER_TENANT_ID={}", stack.workspace_id)),
        "{values}"
    );
    assert!(
        values.contains("HOST_WORKER_LISTENER_ID=")
            && values.contains("WATCH_NAMESPACES=agents,agents-staging"),
        "{values}"
    );
    assert!(
        out["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("http://127.0.0.1:"),
        "{out}"
    );
    assert_eq!(out["revisions"], 3);
    assert_eq!(out["console_errors"], json!([]));
    // The deployment is gone, and so is its process.
    let id = out["deployment_id"].as_str().unwrap_or_default();
    assert_eq!(
        edge_client(&stack)
            .get(&format!("/api-host/v2/deployments/{id}"))
            .await?
            .status,
        404
    );
    assert!(
        ask(out["url"].as_str().unwrap_or_default(), "gone?")
            .await
            .is_err()
    );
    plane.stop_listeners().await;
    stack.stop().await;
    Ok(())
}
