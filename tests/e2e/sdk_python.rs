//! The real Python `langsmith` SDK against Ironsmith, configured only as users configure it
//! (`LANGSMITH_ENDPOINT`, `LANGSMITH_API_KEY`, `LANGSMITH_WORKSPACE_ID`): a personal token, an
//! organisation-scoped service key with and without a workspace, and a revoked key.

use ironsmith_e2e::{Stack, python};
use ironsmith_test_support::repo_root;
use serde_json::{Value, json};

async fn sdk(endpoint: &str, key: &str, workspace: Option<&str>) -> anyhow::Result<Value> {
    let python = python();
    anyhow::ensure!(
        python.exists(),
        "{} is missing: run scripts/stores install (it installs the langsmith SDK)",
        python.display()
    );
    let mut command = tokio::process::Command::new(python);
    command
        .arg(repo_root().join("tests/python/sdk_auth.py"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("LANGSMITH_ENDPOINT", endpoint)
        .env("LANGSMITH_API_KEY", key)
        .env("LANGSMITH_TRACING", "false");
    if let Some(workspace) = workspace {
        command.env("LANGSMITH_WORKSPACE_ID", workspace);
    }
    let output = command.output().await?;
    anyhow::ensure!(
        output.status.success(),
        "the SDK script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

#[tokio::test]
async fn python_sdk_authenticates_and_selects_workspaces() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let admin = stack.admin();
    let second = admin
        .post("/workspaces", json!({"display_name": "Second"}))
        .await?
        .expect(200)?;
    let second_id = second["id"].as_str().unwrap_or_default().to_owned();

    // A personal token: its default workspace, or the one the user names.
    let read = sdk(&endpoint, &stack.admin_key, None).await?;
    assert_eq!(
        read["settings"]["id"],
        stack.workspace_id.to_string(),
        "{read}"
    );
    assert_eq!(read["settings"]["display_name"], "Workspace 1");
    let read = sdk(&endpoint, &stack.admin_key, Some(&second_id)).await?;
    assert_eq!(read["settings"]["id"], second_id, "{read}");

    // An organisation-scoped service key: the SDK's own hint without a workspace, then the
    // named workspace with LANGSMITH_WORKSPACE_ID.
    let org_key = admin
        .post(
            "/api-key",
            json!({"scope": "organization", "description": "sdk"}),
        )
        .await?
        .expect(200)?;
    let org_key_secret = org_key["key"].as_str().unwrap_or_default();
    let refused = sdk(&endpoint, org_key_secret, None).await?;
    assert_eq!(refused["error"]["type"], "LangSmithUserError", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("org-scoped"),
        "{refused}"
    );
    let read = sdk(&endpoint, org_key_secret, Some(&second_id)).await?;
    assert_eq!(read["settings"]["id"], second_id, "{read}");

    // Revoked: the SDK raises its authentication error.
    admin
        .delete(&format!(
            "/api-key/{}",
            org_key["id"].as_str().unwrap_or_default()
        ))
        .await?
        .expect(204)?;
    let revoked = sdk(&endpoint, org_key_secret, Some(&second_id)).await?;
    assert_eq!(revoked["error"]["type"], "LangSmithAuthError", "{revoked}");
    stack.stop().await;
    Ok(())
}
