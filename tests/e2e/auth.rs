//! Authentication end to end through the edge: login and sessions, API keys and their
//! revocation across services, how a request's workspace is chosen, roles, rate and
//! usage limits, bootstrap and the audit log.

use std::time::{Duration, Instant};

use ironsmith_auth::Role;
use ironsmith_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, Stack, add_user};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn password_login_sessions_logout_and_password_change() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let api = stack.anonymous();

    let wrong = api
        .post(
            "/auth/login",
            json!({"email": ADMIN_EMAIL, "password": "nope-nope"}),
        )
        .await?;
    assert_eq!(wrong.status, 401, "{:?}", wrong.body);
    let unknown = api
        .post(
            "/auth/login",
            json!({"email": "ghost@example.com", "password": "nope-nope"}),
        )
        .await?;
    assert_eq!(
        unknown.body, wrong.body,
        "unknown users look like wrong passwords"
    );

    let first = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let me = first.get("/me").await?.expect(200)?;
    assert_eq!(me["identity"]["email"], ADMIN_EMAIL);
    assert_eq!(me["credential"], "session");
    assert_eq!(me["organization_role"], "ORGANIZATION_ADMIN");
    // The session token works on backend routes too.
    let settings = first.get("/settings").await?.expect(200)?;
    assert_eq!(settings["id"], stack.workspace_id.to_string());

    // The UI's form post gets a redirect and an HttpOnly cookie that authenticates.
    let form = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("{}/api/v1/auth/login", stack.edge))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await?;
    assert_eq!(form.status(), 303);
    let cookie = form
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    let via_cookie = reqwest::Client::new()
        .get(format!("{}/api/v1/me", stack.edge))
        .header("cookie", &pair)
        .send()
        .await?;
    assert_eq!(via_cookie.status(), 200);
    // Writes signed in by the cookie alone must come from our own UI (no cross-site requests
    // riding on the browser's cookie), and send JSON.
    let write = |origin: Option<&str>, content_type: &str, body: &str| {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/v1/sessions", stack.edge))
            .header("cookie", &pair)
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let project = r#"{"name": "made-with-the-cookie"}"#;
    let cross_site = write(Some("https://evil.example"), "application/json", project).await?;
    assert_eq!(cross_site.status(), 403, "{}", cross_site.text().await?);
    let no_origin = write(None, "application/json", project).await?;
    assert_eq!(no_origin.status(), 403);
    let form_post = write(
        Some(&stack.edge),
        "application/x-www-form-urlencoded",
        "name=made-with-the-cookie",
    )
    .await?;
    assert_eq!(form_post.status(), 403);
    let same_origin = write(Some(&stack.edge), "application/json", project).await?;
    assert_eq!(same_origin.status(), 201, "{}", same_origin.text().await?);
    let fetch_metadata = reqwest::Client::new()
        .post(format!("{}/api/v1/sessions", stack.edge))
        .header("cookie", &pair)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"name": "made-with-fetch-metadata"}))
        .send()
        .await?;
    assert_eq!(fetch_metadata.status(), 201);

    // A second session, then a password change from the first: the second is signed out.
    let second = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let sessions = first.get("/auth/sessions").await?.expect(200)?;
    assert_eq!(sessions.as_array().map(Vec::len), Some(3));
    first
        .post(
            "/auth/password",
            json!({"current_password": "wrong-password", "new_password": "a-new-password"}),
        )
        .await?
        .expect(403)?;
    first
        .post(
            "/auth/password",
            json!({"current_password": ADMIN_PASSWORD, "new_password": "short"}),
        )
        .await?
        .expect(422)?;
    first
        .post(
            "/auth/password",
            json!({"current_password": ADMIN_PASSWORD, "new_password": "a-new-password"}),
        )
        .await?
        .expect(204)?;
    assert_eq!(second.get("/me").await?.status, 401);
    assert_eq!(
        first.get("/me").await?.status,
        200,
        "the changing session stays"
    );
    assert_eq!(
        api.post(
            "/auth/login",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        )
        .await?
        .status,
        401
    );
    let third = api.login(ADMIN_EMAIL, "a-new-password").await?;

    // Logout revokes the session server-side: the token no longer works anywhere.
    third.post("/auth/logout", json!({})).await?.expect(204)?;
    assert_eq!(third.get("/me").await?.status, 401);
    assert_eq!(third.get("/settings").await?.status, 401);

    // A forged or expired token is refused.
    let forged = Client::new(api.base()).bearer("eyJhbGciOiJIUzI1NiJ9.e30.bogus");
    assert_eq!(forged.get("/me").await?.status, 401);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_safely_and_revoked_everywhere_within_a_second()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();

    let created = admin
        .post("/api-key/current", json!({"description": "laptop"}))
        .await?
        .expect(200)?;
    let pat = created["key"].as_str().unwrap_or_default().to_owned();
    assert!(pat.starts_with("lsv2_pt_"), "{pat}");
    let service = admin
        .post("/api-key", json!({"description": "ci"}))
        .await?
        .expect(200)?;
    let service_key = service["key"].as_str().unwrap_or_default().to_owned();
    assert!(service_key.starts_with("lsv2_sk_"), "{service_key}");

    // Listings never carry the secret: prefix and last four characters only.
    let listed = admin.get("/api-key/current").await?.expect(200)?;
    let text = listed.to_string();
    assert!(!text.contains(&pat) && !text.contains(&stack.admin_key));
    let laptop = listed
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["description"] == "laptop"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        laptop["short_key"],
        format!("lsv2_pt_…{}", &pat[pat.len() - 4..])
    );
    assert_eq!(laptop["created_by"], ADMIN_EMAIL);
    let services = admin.get("/api-key").await?.expect(200)?;
    assert!(!services.to_string().contains(&service_key));

    // Both keys work on both API services, directly and through the edge.
    for key in [&pat, &service_key] {
        for base in [
            format!("{}/api/v1", stack.edge),
            stack.backend.clone(),
            stack.platform.clone(),
        ] {
            let client = Client::new(&base).key(key);
            let path = if base == stack.platform {
                "/me"
            } else {
                "/settings"
            };
            assert_eq!(client.get(path).await?.status, 200, "{base}{path}");
        }
    }
    // Last use is recorded.
    let listed = admin.get("/api-key/current").await?.expect(200)?;
    assert!(
        listed.to_string().contains("last_used_at\":\"20"),
        "{listed}"
    );

    // Revoke both; each fails at its next use in every service, well within a second.
    for (path, key) in [
        (
            format!(
                "/api-key/current/{}",
                created["id"].as_str().unwrap_or_default()
            ),
            &pat,
        ),
        (
            format!("/api-key/{}", service["id"].as_str().unwrap_or_default()),
            &service_key,
        ),
    ] {
        admin.delete(&path).await?.expect(204)?;
        let revoked_at = Instant::now();
        for base in [stack.backend.clone(), stack.platform.clone()] {
            let client = Client::new(&base).key(key);
            let path = if base == stack.platform {
                "/me"
            } else {
                "/settings"
            };
            let answer = client.get(path).await?;
            assert_eq!(answer.status, 401, "{base}: {:?}", answer.body);
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(1));
        // Revoking again is a 404: it is gone.
        admin.delete(&path).await?.expect(404)?;
    }
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn workspace_selection_follows_the_spec_table() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let other = admin
        .post("/workspaces", json!({"display_name": "Second"}))
        .await?
        .expect(200)?;
    let other_id: Uuid = other["id"].as_str().unwrap_or_default().parse()?;
    let unknown = Uuid::now_v7();

    // PAT without X-Tenant-Id: its default workspace; with one: any it may use.
    assert_eq!(
        admin.get("/settings").await?.expect(200)?["id"],
        stack.workspace_id.to_string()
    );
    let chosen = admin
        .clone()
        .tenant(other_id)
        .get("/settings")
        .await?
        .expect(200)?;
    assert_eq!(chosen["id"], other_id.to_string());

    // A user who belongs to the first workspace only.
    add_user(
        &admin,
        "editor@example.com",
        "editor-password",
        Role::OrganizationUser,
        &[(stack.workspace_id, Role::WorkspaceEditor)],
    )
    .await?;
    let editor = stack
        .anonymous()
        .login("editor@example.com", "editor-password")
        .await?;
    let editor_pat = editor
        .post("/api-key/current", json!({}))
        .await?
        .expect(200)?["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let editor = stack.anonymous().key(&editor_pat);
    assert_eq!(editor.get("/settings").await?.status, 200);
    let foreign = editor.clone().tenant(other_id).get("/settings").await?;
    let missing = editor.clone().tenant(unknown).get("/settings").await?;
    assert_eq!(foreign.status, 403);
    assert_eq!(
        (foreign.status, &foreign.body),
        (missing.status, &missing.body),
        "unknown and foreign workspaces answer alike"
    );

    // Workspace-scoped service key: its workspace only.
    let scoped = admin.post("/api-key", json!({})).await?.expect(200)?;
    let scoped = stack
        .anonymous()
        .key(scoped["key"].as_str().unwrap_or_default());
    assert_eq!(
        scoped.get("/settings").await?.expect(200)?["id"],
        stack.workspace_id.to_string()
    );
    assert_eq!(
        scoped
            .clone()
            .tenant(stack.workspace_id)
            .get("/settings")
            .await?
            .status,
        200
    );
    assert_eq!(
        scoped
            .clone()
            .tenant(other_id)
            .get("/settings")
            .await?
            .status,
        403
    );

    // Organisation-scoped service key: must name a workspace, with exactly this body.
    let org_key = admin
        .post("/api-key", json!({"scope": "organization"}))
        .await?
        .expect(200)?;
    assert_eq!(org_key["scope"], "organization");
    let org_key = stack
        .anonymous()
        .key(org_key["key"].as_str().unwrap_or_default());
    let refused = org_key.get("/settings").await?;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.body,
        json!({"error": "org_scoped_key_requires_workspace"})
    );
    assert_eq!(
        org_key
            .clone()
            .tenant(other_id)
            .get("/settings")
            .await?
            .expect(200)?["id"],
        other_id.to_string()
    );
    assert_eq!(
        org_key
            .clone()
            .tenant(unknown)
            .get("/settings")
            .await?
            .status,
        403
    );

    // Missing, malformed, legacy and unknown keys: 401.
    for key in [
        None,
        Some("not-a-key"),
        Some("ls__0123456789abcdef0123"),
        Some("lsv2_pt_00000000000000000000000000000000_0000000000"),
    ] {
        let client = match key {
            Some(key) => stack.anonymous().key(key),
            None => stack.anonymous(),
        };
        let answer = client.get("/settings").await?;
        assert_eq!(answer.status, 401, "{key:?}: {:?}", answer.body);
        assert!(answer.body["detail"].is_string());
    }
    // A malformed X-Tenant-Id names nothing anyone may use.
    assert_eq!(
        admin.clone().tenant("nope").get("/settings").await?.status,
        403
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn viewers_cannot_write_and_org_roles_gate_management() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let viewer_id = add_user(
        &admin,
        "viewer@example.com",
        "viewer-password",
        Role::OrganizationViewer,
        &[(stack.workspace_id, Role::WorkspaceViewer)],
    )
    .await?;
    let viewer = stack
        .anonymous()
        .login("viewer@example.com", "viewer-password")
        .await?;

    // Reading works.
    assert_eq!(viewer.get("/settings").await?.status, 200);
    assert_eq!(viewer.get("/workspaces/current/members").await?.status, 200);
    assert_eq!(viewer.get("/orgs/current/members").await?.status, 200);
    // Every write is refused with a message naming the permission.
    let writes = [
        viewer
            .post("/workspaces", json!({"display_name": "x"}))
            .await?,
        viewer
            .patch(
                &format!("/workspaces/{}", stack.workspace_id),
                json!({"display_name": "x"}),
            )
            .await?,
        viewer.post("/api-key", json!({})).await?,
        viewer.post("/api-key/current", json!({})).await?,
        viewer
            .post("/workspaces/current/members", json!({"user_id": viewer_id}))
            .await?,
        viewer
            .post("/orgs/current/members", json!({"email": "x@example.com"}))
            .await?,
        viewer.put("/orgs/current/limits", json!({})).await?,
        viewer.get("/orgs/current/audit-logs").await?,
    ];
    for answer in writes {
        assert_eq!(answer.status, 403, "{:?}", answer.body);
        assert!(answer.str("detail").contains('`'), "{:?}", answer.body);
    }
    // Promoted to Editor in the workspace, still not a workspace manager.
    let members = admin
        .get("/workspaces/current/members")
        .await?
        .expect(200)?;
    let identity = members
        .as_array()
        .and_then(|m| m.iter().find(|m| m["email"] == "viewer@example.com"))
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    admin
        .patch(
            &format!("/workspaces/current/members/{identity}"),
            json!({"role_id": Role::WorkspaceEditor.id()}),
        )
        .await?
        .expect(204)?;
    let me = viewer.get("/me").await?.expect(200)?;
    assert_eq!(
        me["current_workspace"]["role"], "WORKSPACE_EDITOR",
        "role change applies at once"
    );
    assert_eq!(viewer.post("/api-key", json!({})).await?.status, 403);
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn rate_and_usage_limits_answer_429_with_retry_after_and_survive_restarts()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let admin = stack.admin();
    let limits = admin
        .put(
            "/orgs/current/limits",
            json!({"default": {"requests": 5, "window_secs": 3600}, "events_per_hour": 10}),
        )
        .await?
        .expect(200)?;
    assert_eq!(limits["effective"]["default"]["requests"], 5);
    admin
        .put(
            "/orgs/current/limits",
            json!({"ingest": {"requests": 0, "window_secs": 10}}),
        )
        .await?
        .expect(422)?;
    admin
        .put("/orgs/current/limits", json!({"bogus": 1}))
        .await?
        .expect(422)?;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(admin.get("/settings").await?.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let throttled = admin.get("/settings").await?;
    assert_eq!(throttled.status, 429);
    let retry_after: u64 = throttled
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert!(
        throttled.str("detail").contains("Rate limit"),
        "{:?}",
        throttled.body
    );
    // The platform service counts against the same organisation budget.
    assert_eq!(admin.get("/me").await?.status, 429);

    // Counters live in Redis: a restart does not reset them.
    let stack = stack.restart().await?;
    assert_eq!(stack.admin().get("/settings").await?.status, 429);

    // Hourly plan limits on ingested events, as ingestion charges them.
    let auth = ironsmith_auth::Authenticator::new(
        &stack.config,
        stack.pool()?,
        ironsmith_queue::Redis::new(&stack.config.redis)?,
    )?;
    let org_limits = ironsmith_auth::OrgLimits {
        events_per_hour: Some(10),
        ..Default::default()
    };
    auth.limiter()
        .charge_usage(stack.organization_id, &org_limits, 8, 1000)
        .await?;
    let over = auth
        .limiter()
        .charge_usage(stack.organization_id, &org_limits, 3, 10)
        .await
        .expect_err("over the hourly event limit");
    match over {
        ironsmith_auth::AuthError::RateLimited {
            message,
            retry_after_secs,
        } => {
            assert!(message.contains("trace events per hour"), "{message}");
            assert!((1..=3600).contains(&retry_after_secs));
        }
        other => anyhow::bail!("unexpected {other:?}"),
    }
    // The refused charge was not counted; what fits still goes through.
    auth.limiter()
        .charge_usage(stack.organization_id, &org_limits, 2, 10)
        .await?;
    assert_eq!(
        auth.limiter()
            .usage_this_hour(stack.organization_id)
            .await?,
        (10, 1010)
    );
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn bootstrap_runs_once_and_the_audit_log_records_who_did_what() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let again =
        ironsmith_platform_backend::bootstrap::bootstrap(&stack.pool()?, &stack.config).await?;
    assert_eq!(
        again,
        ironsmith_platform_backend::bootstrap::Outcome::AlreadyBootstrapped
    );

    let admin = stack.admin();
    stack.anonymous().login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let key = admin
        .post("/api-key", json!({"description": "audited"}))
        .await?
        .expect(200)?;
    admin
        .delete(&format!(
            "/api-key/{}",
            key["id"].as_str().unwrap_or_default()
        ))
        .await?
        .expect(204)?;
    let user_id = add_user(
        &admin,
        "member@example.com",
        "member-password",
        Role::OrganizationUser,
        &[(stack.workspace_id, Role::WorkspaceViewer)],
    )
    .await?;
    let members = admin.get("/orgs/current/members").await?.expect(200)?;
    let identity = members
        .as_array()
        .and_then(|m| m.iter().find(|m| m["user_id"] == user_id.to_string()))
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    admin
        .patch(
            &format!("/orgs/current/members/{identity}"),
            json!({"role_id": Role::OrganizationAdmin.id()}),
        )
        .await?
        .expect(204)?;
    admin
        .delete(&format!("/orgs/current/members/{identity}"))
        .await?
        .expect(204)?;
    // The removed member can no longer sign in to anything of the organisation.
    let removed = stack
        .anonymous()
        .login("member@example.com", "member-password")
        .await?;
    assert_eq!(removed.get("/settings").await?.status, 403);

    let log = admin
        .get("/orgs/current/audit-logs?limit=100")
        .await?
        .expect(200)?;
    let actions: Vec<&str> = log
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect()
        })
        .unwrap_or_default();
    for expected in [
        "organization.bootstrapped",
        "user.login",
        "api_key.created",
        "api_key.revoked",
        "invitation.created",
        "invitation.accepted",
        "member.role_changed",
        "member.removed",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let revoked = log
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["action"] == "api_key.revoked"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(revoked["actor"]["email"], ADMIN_EMAIL);
    assert_eq!(revoked["target_id"], key["id"]);
    assert!(
        revoked["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20"))
    );
    // The last admin cannot leave.
    let admin_identity = members
        .as_array()
        .and_then(|m| m.iter().find(|m| m["email"] == ADMIN_EMAIL))
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    admin
        .delete(&format!("/orgs/current/members/{admin_identity}"))
        .await?
        .expect(409)?;
    stack.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_member_of_two_organisations_lists_and_switches_between_them() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let (b_workspace, _b_admin) = ironsmith_e2e::second_organisation(&stack, "Second Org").await?;
    let session = stack.anonymous().login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;

    let orgs = session.get("/orgs").await?.expect(200)?;
    let list = orgs.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2, "{orgs}");
    let current: Vec<_> = list.iter().filter(|o| o["is_current"] == true).collect();
    assert_eq!(current.len(), 1, "{orgs}");
    assert_eq!(current[0]["role_name"], "ORGANIZATION_ADMIN");
    assert_eq!(current[0]["workspace_id"], json!(stack.workspace_id));
    let second = list
        .iter()
        .find(|o| o["display_name"] == "Second Org")
        .cloned()
        .unwrap_or_default();
    assert_eq!(second["workspace_id"], json!(b_workspace));
    assert_eq!(second["role_name"], "ORGANIZATION_USER");
    assert_eq!(second["is_current"], false);

    // Naming the other organisation's workspace acts in it.
    let me = session
        .clone()
        .tenant(b_workspace)
        .get("/me")
        .await?
        .expect(200)?;
    assert_eq!(me["organization_id"], second["id"]);
    assert_eq!(me["workspaces"].as_array().map(Vec::len), Some(1), "{me}");
    let orgs_there = session
        .clone()
        .tenant(b_workspace)
        .get("/orgs")
        .await?
        .expect(200)?;
    assert!(
        orgs_there.as_array().is_some_and(|l| l
            .iter()
            .any(|o| o["id"] == second["id"] && o["is_current"] == true)),
        "{orgs_there}"
    );

    // A personal access token reaches its own organisation only.
    let by_token = stack.admin().get("/orgs").await?.expect(200)?;
    assert_eq!(by_token.as_array().map(Vec::len), Some(1), "{by_token}");
    stack.stop().await;
    Ok(())
}
