//! An `LGP` as the Kubernetes objects that run it, following the public charts' recipe: the
//! API server (and queue) Deployments with probes on `/ok`, a Service, a Redis Deployment and
//! a Postgres StatefulSet unless the deployment brings its own, KEDA `ScaledObject`s scaling on
//! CPU, memory and pending runs, and one route (Gateway API `HTTPRoute`, or a shared
//! `Ingress`). Every object is owned by the `LGP`, so deleting it collects them all.

use ironsmith_dataplane::lgp::{self, Lgp};
use serde_json::{Value, json};

/// How the operator exposes deployments (exactly one mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    Gateway { name: String, namespace: String },
    SharedIngress { name: String, namespace: String },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub keda: bool,
    pub root_domain: String,
    pub base_path: String,
    pub tls: bool,
    pub routing: Routing,
}

impl Settings {
    /// Where a deployment is reached: `<scheme>://<root-domain>/<base-path>/<name>`.
    pub fn endpoint(&self, name: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let base = self.base_path.trim_matches('/');
        if base.is_empty() {
            format!("{scheme}://{}/{name}", self.root_domain)
        } else {
            format!("{scheme}://{}/{base}/{name}", self.root_domain)
        }
    }

    fn path_prefix(&self, name: &str) -> String {
        let base = self.base_path.trim_matches('/');
        if base.is_empty() {
            format!("/{name}")
        } else {
            format!("/{base}/{name}")
        }
    }
}

pub const PORT: u16 = 8000;

fn labels(lgp: &Lgp, component: &str) -> Value {
    let mut labels = json!({
        "app.kubernetes.io/name": "agent-server",
        "app.kubernetes.io/instance": lgp.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "ironsmith-operator",
        lgp::LABEL_DEPLOYMENT: lgp.name,
    });
    if let Some(map) = labels.as_object_mut() {
        for (k, v) in &lgp.spec.server_spec.labels {
            map.entry(k.clone()).or_insert_with(|| json!(v));
        }
    }
    labels
}

fn selector(lgp: &Lgp, component: &str) -> Value {
    json!({
        "app.kubernetes.io/instance": lgp.name,
        "app.kubernetes.io/component": component,
        lgp::LABEL_DEPLOYMENT: lgp.name,
    })
}

/// The `LGP` as the owner of an object: deleting it collects the object.
fn owner_references(lgp: &Lgp, uid: &str) -> Value {
    json!([{
        "apiVersion": lgp::API_VERSION,
        "kind": lgp::KIND,
        "name": lgp.name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

fn metadata(lgp: &Lgp, name: &str, component: &str, uid: &str) -> Value {
    json!({
        "name": name,
        "namespace": lgp.namespace,
        "labels": labels(lgp, component),
        "ownerReferences": owner_references(lgp, uid),
    })
}

fn probe(path: &str) -> Value {
    json!({
        "httpGet": {"path": path, "port": PORT},
        "periodSeconds": 15,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    })
}

fn redis_name(lgp: &Lgp) -> String {
    format!("{}-redis", lgp.name)
}

fn postgres_name(lgp: &Lgp) -> String {
    format!("{}-postgres", lgp.name)
}

/// The stores' environment: provisioned ones by their Services, custom ones from the
/// deployment's Secret.
fn store_env(lgp: &Lgp) -> Vec<Value> {
    let mut env = Vec::new();
    let from_secret = |name: &str, secret: &str, key: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}});
    match &lgp.spec.database {
        Some(db) if db.enabled => {
            let secret = postgres_name(lgp);
            env.push(from_secret("POSTGRES_URI", &secret, "uri"));
            env.push(from_secret("DATABASE_URI", &secret, "uri"));
        }
        _ => {
            env.push(from_secret(
                "POSTGRES_URI",
                &lgp.name,
                "POSTGRES_URI_CUSTOM",
            ));
            env.push(from_secret(
                "DATABASE_URI",
                &lgp.name,
                "POSTGRES_URI_CUSTOM",
            ));
        }
    }
    match &lgp.spec.redis {
        Some(r) if r.enabled => env.push(json!({
            "name": "REDIS_URI",
            "value": format!("redis://{}:6379/0", redis_name(lgp)),
        })),
        _ => env.push(from_secret("REDIS_URI", &lgp.name, "REDIS_URI_CUSTOM")),
    }
    env
}

fn server_deployment(lgp: &Lgp, uid: &str, component: &str, queue: bool) -> Value {
    let spec = &lgp.spec.server_spec;
    let mut env: Vec<Value> = spec
        .env
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    env.push(json!({"name": "PORT", "value": PORT.to_string()}));
    env.push(json!({"name": "N_JOBS_PER_WORKER", "value": spec.num_jobs_per_worker.unwrap_or(10).to_string()}));
    if queue {
        env.push(json!({"name": "LANGGRAPH_RUNTIME_ROLE", "value": "queue"}));
    }
    env.extend(store_env(lgp));
    let resources = if queue {
        &spec.queue_resources
    } else {
        &spec.resources
    };
    let mut container = json!({
        "name": "api-server",
        "image": spec.image.clone().unwrap_or_default(),
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": env,
        "resources": resources.clone().map(|r| serde_json::to_value(r).unwrap_or_default()).unwrap_or_else(|| json!({})),
        "volumeMounts": spec.volume_mounts,
    });
    if !queue && let Some(c) = container.as_object_mut() {
        c.insert("startupProbe".into(), probe("/ok?check_db=1"));
        c.insert("readinessProbe".into(), probe("/ok"));
        c.insert("livenessProbe".into(), probe("/ok"));
    }
    let mut containers = vec![container];
    containers.extend(
        spec.sidecars
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok()),
    );
    let mut pod = json!({
        "enableServiceLinks": false,
        "containers": containers,
        "initContainers": spec.init_containers,
        "volumes": spec.volumes,
        "imagePullSecrets": spec.image_pull_secrets,
    });
    if let (Some(account), Some(p)) = (&spec.service_account_name, pod.as_object_mut()) {
        p.insert("serviceAccountName".into(), json!(account));
    }
    let name = format!("{}-{component}", lgp.name);
    let mut deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(lgp, &name, component, uid),
        "spec": {
            "selector": {"matchLabels": selector(lgp, component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(lgp, component), "annotations": spec.annotations},
                "spec": pod,
            },
        },
    });
    // With autoscaling on, the ScaledObject owns the replica count.
    if !lgp.spec.autoscaling.enabled
        && let Some(s) = deployment.get_mut("spec").and_then(Value::as_object_mut)
    {
        let replicas = if queue {
            lgp.spec.autoscaling.queue_min_replicas.or(spec.replicas)
        } else {
            spec.replicas
        };
        s.insert("replicas".into(), json!(replicas.unwrap_or(1)));
    }
    deployment
}

fn service(lgp: &Lgp, uid: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(lgp, &lgp.name, "api-server", uid),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(lgp, "api-server"),
            "ports": [{"name": "http", "port": PORT, "targetPort": PORT}],
        },
    })
}

fn redis(lgp: &Lgp, uid: &str) -> Vec<Value> {
    let name = redis_name(lgp);
    let resources = lgp
        .spec
        .redis
        .as_ref()
        .and_then(|r| r.resources.clone())
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .unwrap_or_else(|| json!({}));
    vec![
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(lgp, &name, "redis", uid),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector(lgp, "redis")},
                "template": {
                    "metadata": {"labels": labels(lgp, "redis")},
                    "spec": {"enableServiceLinks": false, "containers": [{
                        "name": "redis",
                        "image": "redis:7",
                        "ports": [{"containerPort": 6379}],
                        "resources": resources,
                        "readinessProbe": {"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 10},
                        "livenessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 10},
                    }]},
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(lgp, &name, "redis", uid),
            "spec": {"selector": selector(lgp, "redis"), "ports": [{"port": 6379, "targetPort": 6379}]},
        }),
    ]
}

/// The Postgres StatefulSet, its Service, and the Secret with its password and URI
/// (`password` is generated once by the caller and kept).
fn postgres(lgp: &Lgp, uid: &str, password: &str) -> Vec<Value> {
    let name = postgres_name(lgp);
    let db = lgp.spec.database.clone().unwrap_or_default();
    let resources = db
        .resources
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .unwrap_or_else(|| json!({}));
    let uri = format!("postgres://postgres:{password}@{name}:5432/postgres?sslmode=disable");
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(lgp, &name, "postgres", uid),
            "type": "Opaque",
            "stringData": {"password": password, "uri": uri},
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": metadata(lgp, &name, "postgres", uid),
            "spec": {
                "serviceName": name,
                "replicas": 1,
                "selector": {"matchLabels": selector(lgp, "postgres")},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                "template": {
                    "metadata": {"labels": labels(lgp, "postgres")},
                    "spec": {"enableServiceLinks": false, "containers": [{
                        "name": "postgres",
                        "image": "pgvector/pgvector:pg15",
                        "args": ["-c", format!("max_connections={}", db.max_connections.unwrap_or(100))],
                        "ports": [{"containerPort": 5432}],
                        "env": [
                            {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": name, "key": "password"}}},
                            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                        ],
                        "resources": resources,
                        "volumeMounts": [{"name": "postgres-data", "mountPath": "/var/lib/postgresql/data"}],
                        "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "postgres"]}, "periodSeconds": 10},
                    }]},
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "postgres-data", "labels": {lgp::LABEL_DEPLOYMENT: lgp.name}},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": format!("{}Gi", db.storage_size_gi.unwrap_or(10))}},
                    },
                }],
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(lgp, &name, "postgres", uid),
            "spec": {"selector": selector(lgp, "postgres"), "ports": [{"port": 5432, "targetPort": 5432}]},
        }),
    ]
}

fn scaled_object(lgp: &Lgp, uid: &str, component: &str, min: i32, max: i32) -> Value {
    let target = format!("{}-{component}", lgp.name);
    json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": target,
            "namespace": lgp.namespace,
            "labels": labels(lgp, component),
            "annotations": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"},
            "ownerReferences": owner_references(lgp, uid),
        },
        "spec": {
            "scaleTargetRef": {"name": target},
            "minReplicaCount": min,
            "maxReplicaCount": max,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 1800, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 300}]},
                "scaleUp": {"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
            }}},
            "triggers": [
                {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "75"}},
                {"type": "memory", "metricType": "Utilization", "metadata": {"value": "75"}},
                {"type": "postgresql", "metadata": {
                    "connectionFromEnv": "POSTGRES_URI",
                    "query": "SELECT COUNT(*) FROM run WHERE status = 'pending'",
                    "targetQueryValue": "10",
                }},
            ],
        },
    })
}

fn route(lgp: &Lgp, uid: &str, settings: &Settings) -> Value {
    let prefix = settings.path_prefix(&lgp.name);
    match &settings.routing {
        Routing::Gateway { name, namespace } => json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": metadata(lgp, &lgp.name, "api-server", uid),
            "spec": {
                "parentRefs": [{"name": name, "namespace": namespace}],
                "hostnames": [settings.root_domain],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                    "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                    "backendRefs": [{"name": lgp.name, "port": PORT}],
                }],
            },
        }),
        Routing::SharedIngress { name, .. } => json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": lgp.name,
                "namespace": lgp.namespace,
                "labels": labels(lgp, "api-server"),
                "annotations": {"lgp-operator.io/shared-ingress": "true", "lgp-operator.io/shared-ingress-name": name},
                "ownerReferences": owner_references(lgp, uid),
            },
            "spec": {"rules": [{"host": settings.root_domain, "http": {"paths": [{
                "path": prefix,
                "pathType": "Prefix",
                "backend": {"service": {"name": lgp.name, "port": {"number": PORT}}},
            }]}}]},
        }),
    }
}

/// Every object of the `LGP` whose uid is `uid`.
pub fn objects(lgp: &Lgp, uid: &str, settings: &Settings, postgres_password: &str) -> Vec<Value> {
    let mut out = vec![
        server_deployment(lgp, uid, "api-server", false),
        service(lgp, uid),
    ];
    let auto = &lgp.spec.autoscaling;
    if lgp.spec.server_spec.queue_enabled {
        out.push(server_deployment(lgp, uid, "queue", true));
    }
    if lgp.spec.redis.as_ref().is_some_and(|r| r.enabled) {
        out.extend(redis(lgp, uid));
    }
    if lgp.spec.database.as_ref().is_some_and(|d| d.enabled) {
        out.extend(postgres(lgp, uid, postgres_password));
    }
    if auto.enabled && settings.keda {
        let (min, max) = (
            auto.min_replicas.unwrap_or(1),
            auto.max_replicas.unwrap_or(1),
        );
        out.push(scaled_object(lgp, uid, "api-server", min, max));
        if lgp.spec.server_spec.queue_enabled {
            out.push(scaled_object(
                lgp,
                uid,
                "queue",
                auto.queue_min_replicas.unwrap_or(min),
                auto.queue_max_replicas.unwrap_or(max),
            ));
        }
    }
    if lgp.spec.ingress.enabled {
        out.push(route(lgp, uid, settings));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironsmith_dataplane::lgp::{Autoscaling, Database, Ingress, LgpSpec, Redis, ServerSpec};

    pub fn sample() -> Lgp {
        Lgp {
            name: "agent".into(),
            namespace: "team-a".into(),
            generation: 1,
            spec: LgpSpec {
                server_spec: ServerSpec {
                    image: Some("registry.example.com/agent@sha256:00".into()),
                    queue_enabled: true,
                    ..Default::default()
                },
                autoscaling: Autoscaling {
                    enabled: true,
                    min_replicas: Some(1),
                    max_replicas: Some(5),
                    ..Default::default()
                },
                database: Some(Database {
                    enabled: true,
                    ..Default::default()
                }),
                redis: Some(Redis {
                    enabled: true,
                    resources: None,
                }),
                ingress: Ingress { enabled: true },
                source: None,
            },
            ..Default::default()
        }
    }

    fn settings() -> Settings {
        Settings {
            keda: true,
            root_domain: "agents.example.com".into(),
            base_path: "lgp".into(),
            tls: true,
            routing: Routing::Gateway {
                name: "gw".into(),
                namespace: "infra".into(),
            },
        }
    }

    #[test]
    fn an_autoscaled_lgp_renders_every_object_owned_by_it() {
        let objects = objects(&sample(), "uid-1", &settings(), "pw");
        let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Deployment",
                "Service",
                "Deployment",
                "Deployment",
                "Service",
                "Secret",
                "StatefulSet",
                "Service",
                "ScaledObject",
                "ScaledObject",
                "HTTPRoute"
            ]
        );
        for o in &objects {
            assert_eq!(
                o["metadata"]["ownerReferences"][0]["uid"], "uid-1",
                "{}",
                o["kind"]
            );
        }
        // KEDA owns the replica count.
        assert!(objects[0]["spec"].get("replicas").is_none());
        let container = &objects[0]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["startupProbe"]["httpGet"]["path"],
            "/ok?check_db=1"
        );
        let env: Vec<&str> = container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str())
            .collect();
        for name in ["DATABASE_URI", "POSTGRES_URI", "REDIS_URI", "PORT"] {
            assert!(env.contains(&name), "{name}");
        }
        assert_eq!(
            settings().endpoint("agent"),
            "https://agents.example.com/lgp/agent"
        );
    }
}
