//! The Kubernetes path of the data plane, without a cluster: every manifest of `k8s/` and every
//! object the listener and the operator would write is validated against the official
//! Kubernetes schemas (and LGPs against the CRD's), and their Kubernetes API calls are made
//! against a stand-in API server that checks each request: method, path, field manager, patch
//! type and body.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ironsmith_api_types::deployments::{Deployment, Revision};
use ironsmith_dataplane::KubeCluster;
use ironsmith_dataplane::lgp::{LISTENER_FIELD_MANAGER, Lgp, OPERATOR_FIELD_MANAGER};
use ironsmith_e2e::{python, run_client};
use ironsmith_listener::spec::{self, Context};
use ironsmith_operator::kube::KubeOperator;
use ironsmith_operator::render::{self, Routing, Settings};
use serde_json::{Value, json};

const DIGEST: &str = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";

/// A deployment and its revision as the control plane serves them to the listener.
fn sample(
    resource_spec: Value,
    secrets: &[&str],
) -> anyhow::Result<(
    Deployment,
    Revision,
    Vec<ironsmith_api_types::deployments::SecretEntry>,
)> {
    let now = "2026-12-01T00:00:00Z";
    let deployment: Deployment = serde_json::from_value(json!({
        "id": "0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d99", "tenant_id": "0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d98",
        "name": "agent", "display_name": "agent", "source": "external_docker",
        "source_config": {"resource_spec": resource_spec, "listener_config": {"k8s_namespace": "agents"}},
        "source_revision_config": {"image_uri": format!("registry.example.com/agent@{DIGEST}")},
        "secrets": [], "secret_references": [{"name": "DB_PASSWORD", "secret_name": "existing", "secret_key": "password"}],
        "status": "READY", "latest_revision_id": null, "active_revision_id": null, "image_version": null,
        "tracer_session_id": null, "created_at": now, "updated_at": now,
    }))?;
    let revision: Revision = serde_json::from_value(json!({
        "id": "0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d97", "deployment_id": deployment.id, "source": "external_docker",
        "source_revision_config": {"image_uri": format!("registry.example.com/agent@{DIGEST}")},
        "status": "AWAITING_DEPLOY", "status_message": null, "endpoint": null, "created_at": now, "updated_at": now,
    }))?;
    let secrets = secrets
        .iter()
        .map(|name| ironsmith_api_types::deployments::SecretEntry {
            name: (*name).into(),
            value: "v".into(),
        })
        .collect();
    Ok((deployment, revision, secrets))
}

fn lgp_of(resource_spec: Value, secrets: &[&str]) -> anyhow::Result<Lgp> {
    let (deployment, revision, secrets) = sample(resource_spec, secrets)?;
    spec::lgp(
        &deployment,
        &revision,
        &secrets,
        &Context {
            langsmith_endpoint: "https://ironsmith.example.com/api/v1",
            tenant_id: deployment.tenant_id,
            namespace: "agents",
            source_url: None,
        },
    )
}

fn gateway() -> Settings {
    Settings {
        keda: true,
        root_domain: "agents.example.com".into(),
        base_path: "lgp".into(),
        tls: true,
        routing: Routing::Gateway {
            name: "gw".into(),
            namespace: "gateway".into(),
        },
    }
}

async fn validate(objects: Option<&std::path::Path>) -> anyhow::Result<Value> {
    let dir = objects.map(|p| p.display().to_string()).unwrap_or_default();
    run_client(
        &python(),
        "tests/python/validate_k8s.py",
        &[("OBJECTS", &dir), ("K8S_VERSION", "1.33")],
    )
    .await
}

#[tokio::test]
async fn every_manifest_and_every_object_the_data_plane_writes_validates() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let full = json!({
        "min_scale": 1, "max_scale": 5, "cpu": 1.5, "memory_mb": 2048, "cpu_limit": 3.0, "memory_limit_mb": 4096,
        "labels": {"team": "a"}, "annotations": {"owner": "a"}, "service_account_name": "agent",
        "image_pull_secrets": [{"name": "registry"}],
        "volumes": [{"name": "config", "configMap": {"name": "agent-config"}}],
        "volume_mounts": [{"name": "config", "mountPath": "/etc/agent"}],
        "init_containers": [{"name": "init", "image": "busybox:1.36", "command": ["true"]}],
        "sidecars": [{"name": "proxy", "image": "envoyproxy/envoy:v1.31", "ports": [{"containerPort": 9901}]}],
    });
    let cases = [
        (
            "autoscaled",
            lgp_of(full.clone(), &["OPENAI_API_KEY"])?,
            gateway(),
        ),
        (
            "custom-stores",
            lgp_of(json!({}), &["POSTGRES_URI_CUSTOM", "REDIS_URI_CUSTOM"])?,
            gateway(),
        ),
        (
            "shared-ingress",
            lgp_of(json!({"min_scale": 2, "max_scale": 2}), &[])?,
            Settings {
                keda: false,
                routing: Routing::SharedIngress {
                    name: "shared".into(),
                    namespace: "ingress".into(),
                },
                ..gateway()
            },
        ),
    ];
    for (name, lgp, settings) in &cases {
        let mut objects = vec![lgp.manifest()];
        objects.extend(render::objects(
            lgp,
            "6c1b5f0e-2f4e-4c1e-9a53-1f1c2d3e4f50",
            settings,
            "password",
        ));
        std::fs::write(
            dir.path().join(format!("{name}.json")),
            serde_json::to_vec_pretty(&objects)?,
        )?;
    }
    let summary = validate(Some(dir.path())).await?;
    eprintln!("{summary}");
    assert!(
        summary["kubernetes"].as_u64().unwrap_or(0) > 15,
        "{summary}"
    );
    assert_eq!(summary["lgp"], 3);
    // The operator's two ScaledObjects and HTTPRoute, and the other case's HTTPRoute.
    assert_eq!(summary["foreign"], 4, "{summary}");

    // The check can fail: a Deployment with a field Kubernetes does not have is refused.
    let mut broken = render::objects(&cases[0].1, "uid", &gateway(), "pw");
    broken[0]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    let bad = tempfile::tempdir()?;
    std::fs::write(bad.path().join("broken.json"), serde_json::to_vec(&broken)?)?;
    let refused = validate(Some(bad.path())).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("imagePullPolicyy")));
    Ok(())
}

/// One request the stand-in API server received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: BTreeMap<String, String>,
    content_type: String,
    body: Value,
}

#[derive(Default)]
struct ApiServer {
    seen: Mutex<Vec<Seen>>,
    /// Objects by path, as applied.
    objects: Mutex<BTreeMap<String, Value>>,
}

fn status(code: u16, reason: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": reason, "code": code})),
    )
        .into_response()
}

/// Speaks the Kubernetes API for what the data plane calls; records every request.
async fn kube_api(State(server): State<Arc<ApiServer>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    server.seen.lock().expect("lock").push(Seen {
        method: method.clone(),
        path: path.clone(),
        query,
        content_type,
        body: body.clone(),
    });
    let mut objects = server.objects.lock().expect("lock");
    match method {
        Method::GET if path == "/api/v1/namespaces/kube-system" => {
            axum::Json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "cluster-uid-1"}})).into_response()
        }
        Method::GET if path.starts_with("/apis/apps/v1/namespaces/agents/deployments/") => axum::Json(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": path.rsplit('/').next(), "namespace": "agents", "generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
        }))
        .into_response(),
        Method::GET => match objects.get(&path) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => status(404, "NotFound"),
        },
        Method::PATCH if path.ends_with("/status") => axum::Json(json!({
            "apiVersion": "apps.langchain.ai/v1alpha1", "kind": "LGP", "metadata": {"name": "agent", "namespace": "agents"},
            "status": body["status"],
        }))
        .into_response(),
        Method::PATCH => {
            let mut object = objects.get(&path).cloned().unwrap_or_else(|| json!({}));
            merge(&mut object, &body);
            let generation = object["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            object["metadata"]["generation"] = json!(generation);
            object["metadata"]["uid"] = json!("6c1b5f0e-2f4e-4c1e-9a53-1f1c2d3e4f50");
            objects.insert(path, object.clone());
            axum::Json(object).into_response()
        }
        Method::DELETE if path.ends_with("/persistentvolumeclaims") => {
            axum::Json(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaimList", "metadata": {}, "items": []})).into_response()
        }
        Method::DELETE => match objects.remove(&path) {
            Some(_) => axum::Json(json!({"apiVersion": "v1", "kind": "Status", "status": "Success", "code": 200})).into_response(),
            None => status(404, "NotFound"),
        },
        _ => status(405, "MethodNotAllowed"),
    }
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

async fn stand_in() -> anyhow::Result<(Arc<ApiServer>, kube::Client)> {
    let server = Arc::new(ApiServer::default());
    let app = axum::Router::new()
        .fallback(kube_api)
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    ironsmith_dataplane::install_crypto();
    let client = kube::Client::try_from(kube::Config::new(url.parse()?))?;
    Ok((server, client))
}

fn applies(seen: &[Seen], manager: &str) -> Vec<String> {
    seen.iter()
        .filter(|s| s.method == Method::PATCH && s.content_type == "application/apply-patch+yaml")
        .inspect(|s| {
            assert_eq!(
                s.query.get("fieldManager").map(String::as_str),
                Some(manager),
                "{} {}",
                s.method,
                s.path
            );
            assert_eq!(
                s.query.get("force").map(String::as_str),
                Some("true"),
                "{}",
                s.path
            );
            // The object names itself as the path does.
            assert_eq!(
                s.body["metadata"]["name"].as_str(),
                s.path.rsplit('/').next(),
                "{}",
                s.path
            );
            assert_eq!(s.body["metadata"]["namespace"], "agents", "{}", s.path);
        })
        .map(|s| s.path.clone())
        .collect()
}

#[tokio::test]
async fn the_listener_and_operator_call_the_kubernetes_api_as_a_cluster_expects()
-> anyhow::Result<()> {
    let (server, client) = stand_in().await?;
    // The listener's calls: cluster identity, the Secret and the LGP by server-side apply, the
    // LGP read back, then a teardown.
    let cluster = KubeCluster::new(client.clone(), LISTENER_FIELD_MANAGER);
    assert_eq!(cluster.cluster_uid().await?, "cluster-uid-1");
    let lgp = lgp_of(json!({"min_scale": 1, "max_scale": 3}), &["OPENAI_API_KEY"])?;
    cluster
        .apply_secret(
            "agents",
            "agent",
            &BTreeMap::from([("OPENAI_API_KEY".to_owned(), "sk".to_owned())]),
        )
        .await?;
    assert_eq!(cluster.apply_lgp(&lgp).await?, 1);
    let read = cluster
        .get_lgp("agents", "agent")
        .await?
        .expect("the LGP reads back");
    assert_eq!(read.spec, lgp.spec);
    {
        let seen = server.seen.lock().expect("lock").clone();
        assert_eq!(
            applies(&seen, LISTENER_FIELD_MANAGER),
            [
                "/api/v1/namespaces/agents/secrets/agent",
                "/apis/apps.langchain.ai/v1alpha1/namespaces/agents/lgps/agent"
            ]
        );
        let secret = &seen[1].body;
        assert_eq!(secret["kind"], "Secret");
        assert_eq!(secret["stringData"]["OPENAI_API_KEY"], "sk");
        assert_eq!(
            seen[2].body["spec"]["serverSpec"]["image"],
            format!("registry.example.com/agent@{DIGEST}")
        );
    }

    // The operator on that LGP: its finalizer, every object by server-side apply under its own
    // field manager and owned by the LGP, then the status.
    let operator = KubeOperator {
        client: client.clone(),
        settings: gateway(),
        namespaces: vec!["agents".into()],
        identity: "operator-0".into(),
        lease_namespace: "ironsmith-data-plane".into(),
        leader_election: false,
    };
    let before = server.seen.lock().expect("lock").len();
    operator
        .reconcile(&read, "6c1b5f0e-2f4e-4c1e-9a53-1f1c2d3e4f50", vec![])
        .await?;
    let seen: Vec<Seen> = server.seen.lock().expect("lock")[before..].to_vec();
    let finalizer = &seen[0];
    assert_eq!(
        (finalizer.method.clone(), finalizer.content_type.as_str()),
        (Method::PATCH, "application/merge-patch+json")
    );
    assert_eq!(
        finalizer.body["metadata"]["finalizers"],
        json!(["ironsmith.dev/operator"])
    );
    let applied = applies(&seen, OPERATOR_FIELD_MANAGER);
    for expected in [
        "/apis/apps/v1/namespaces/agents/deployments/agent-api-server",
        "/apis/apps/v1/namespaces/agents/deployments/agent-queue",
        "/api/v1/namespaces/agents/services/agent",
        "/apis/apps/v1/namespaces/agents/deployments/agent-redis",
        "/apis/apps/v1/namespaces/agents/statefulsets/agent-postgres",
        "/api/v1/namespaces/agents/secrets/agent-postgres",
        "/apis/keda.sh/v1alpha1/namespaces/agents/scaledobjects/agent-api-server",
        "/apis/gateway.networking.k8s.io/v1/namespaces/agents/httproutes/agent",
    ] {
        assert!(
            applied.iter().any(|p| p == expected),
            "{expected} not applied: {applied:?}"
        );
    }
    for s in seen
        .iter()
        .filter(|s| s.content_type == "application/apply-patch+yaml")
    {
        assert_eq!(
            s.body["metadata"]["ownerReferences"][0]["kind"], "LGP",
            "{}",
            s.path
        );
    }
    let status = seen.last().expect("a status patch");
    assert_eq!(
        status.path,
        "/apis/apps.langchain.ai/v1alpha1/namespaces/agents/lgps/agent/status"
    );
    let conditions = &status.body["status"]["conditions"];
    assert!(
        conditions.as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")),
        "{conditions}"
    );
    assert_eq!(
        status.body["status"]["endpoint"],
        "https://agents.example.com/lgp/agent"
    );

    // Teardown by the listener.
    cluster.delete_lgp("agents", "agent").await?;
    cluster.delete_secret("agents", "agent").await?;
    cluster.delete_pvcs("agents", "agent").await?;
    assert!(cluster.get_lgp("agents", "agent").await?.is_none());
    let seen = server.seen.lock().expect("lock").clone();
    let pvcs = seen
        .iter()
        .find(|s| s.path.ends_with("/persistentvolumeclaims"))
        .expect("a PVC deletion");
    assert_eq!(pvcs.method, Method::DELETE);
    assert_eq!(
        pvcs.query.get("labelSelector").map(String::as_str),
        Some("ironsmith.dev/deployment=agent")
    );
    Ok(())
}
