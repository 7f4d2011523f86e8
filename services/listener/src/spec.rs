//! A deployment revision as an `LGP`: the image (or source tarball), the environment the Agent
//! Server needs to trace into the deployment's project, its secrets by reference to the
//! deployment's Kubernetes Secret, and its resources, scaling and stores.

use std::collections::BTreeMap;

use ironsmith_api_types::deployments::{Deployment, ResourceSpec, Revision, SecretEntry};
use ironsmith_dataplane::lgp::{
    ANNOTATION_DEPLOYMENT_ID, ANNOTATION_REVISION_ID, Autoscaling, Database, Ingress, Lgp, LgpSpec,
    Redis, ServerSpec, Source,
};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ResourceRequirements, SecretKeySelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Secrets that bring the deployment's own stores: nothing is provisioned for it then.
pub const POSTGRES_CUSTOM: &str = "POSTGRES_URI_CUSTOM";
pub const REDIS_CUSTOM: &str = "REDIS_URI_CUSTOM";

/// What the listener knows that the `LGP` needs beside the deployment and revision.
pub struct Context<'a> {
    pub langsmith_endpoint: &'a str,
    pub tenant_id: uuid::Uuid,
    pub namespace: &'a str,
    pub source_url: Option<String>,
}

fn plain(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

fn from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

fn cpu(cores: Option<f64>) -> Option<Quantity> {
    cores.map(|c| Quantity(format!("{}m", (c * 1000.0).round() as i64)))
}

fn memory(mb: Option<i64>) -> Option<Quantity> {
    mb.map(|m| Quantity(format!("{m}Mi")))
}

fn resources(
    cpu_req: Option<f64>,
    cpu_lim: Option<f64>,
    mem_req: Option<i64>,
    mem_lim: Option<i64>,
) -> Option<ResourceRequirements> {
    let pair = |c: Option<Quantity>, m: Option<Quantity>| {
        let mut map = BTreeMap::new();
        if let Some(c) = c {
            map.insert("cpu".to_owned(), c);
        }
        if let Some(m) = m {
            map.insert("memory".to_owned(), m);
        }
        (!map.is_empty()).then_some(map)
    };
    let requests = pair(cpu(cpu_req), memory(mem_req));
    let limits = pair(cpu(cpu_lim), memory(mem_lim));
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}

fn typed<T: serde::de::DeserializeOwned>(
    field: &str,
    values: &Option<Vec<serde_json::Value>>,
) -> anyhow::Result<Vec<T>> {
    values
        .iter()
        .flatten()
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                anyhow::anyhow!("resource_spec.{field} is not a valid Kubernetes object: {e}")
            })
        })
        .collect()
}

/// The Agent Server's environment: what it needs to trace into the deployment's project, and
/// every secret by reference to the deployment's Secret.
fn environment(
    deployment: &Deployment,
    revision: &Revision,
    secrets: &[SecretEntry],
    cx: &Context<'_>,
) -> Vec<EnvVar> {
    let name = &deployment.name;
    let mut env = vec![
        plain("LANGSMITH_ENDPOINT", cx.langsmith_endpoint),
        plain("LANGCHAIN_TRACING", "true"),
        plain("LANGSMITH_TRACING", "true"),
        plain("LANGSMITH_TENANT_ID", &cx.tenant_id.to_string()),
        plain("LANGSMITH_PROJECT", name),
        plain("LANGSMITH_HOST_PROJECT_ID", &deployment.id.to_string()),
        plain("LANGSMITH_HOST_PROJECT_NAME", name),
        plain("LANGSMITH_HOST_REVISION_ID", &revision.id.to_string()),
        plain("LANGSMITH_DEPLOYMENT_NAME", name),
        from_secret("LANGSMITH_API_KEY", name, "LANGSMITH_API_KEY"),
    ];
    for secret in secrets.iter().filter(|s| s.name != "LANGSMITH_API_KEY") {
        env.push(from_secret(&secret.name, name, &secret.name));
    }
    for reference in deployment.secret_references.iter().flatten() {
        env.push(from_secret(
            &reference.name,
            &reference.secret_name,
            &reference.secret_key,
        ));
    }
    env
}

/// The `LGP` that deploys `revision` of `deployment` with `secrets` (names only are used:
/// values go in the Secret named after the deployment).
pub fn lgp(
    deployment: &Deployment,
    revision: &Revision,
    secrets: &[SecretEntry],
    cx: &Context<'_>,
) -> anyhow::Result<Lgp> {
    let name = &deployment.name;
    let env = environment(deployment, revision, secrets, cx);
    let spec: ResourceSpec = deployment
        .source_config
        .resource_spec
        .clone()
        .unwrap_or_default();
    let has = |key: &str| secrets.iter().any(|s| s.name == key);
    let config = &revision.source_revision_config;
    let source = match (&cx.source_url, &config.source_tarball_path) {
        (Some(url), Some(_)) => Some(Source {
            tarball_url: url.clone(),
            langgraph_config_path: config
                .langgraph_config_path
                .clone()
                .unwrap_or_else(|| "langgraph.json".into()),
        }),
        _ => None,
    };
    let min = spec.min_scale.unwrap_or(1) as i32;
    let max = spec.max_scale.unwrap_or(1) as i32;
    Ok(Lgp {
        name: name.clone(),
        namespace: cx.namespace.to_owned(),
        generation: 0,
        annotations: BTreeMap::from([
            (
                ANNOTATION_DEPLOYMENT_ID.to_owned(),
                deployment.id.to_string(),
            ),
            (ANNOTATION_REVISION_ID.to_owned(), revision.id.to_string()),
        ]),
        spec: LgpSpec {
            server_spec: ServerSpec {
                image: config.image_uri.clone(),
                replicas: Some(min),
                env,
                resources: resources(
                    spec.cpu,
                    spec.cpu_limit,
                    spec.memory_mb,
                    spec.memory_limit_mb,
                ),
                queue_enabled: true,
                queue_resources: resources(
                    spec.queue_cpu,
                    spec.queue_cpu_limit,
                    spec.queue_memory_mb,
                    spec.queue_memory_limit_mb,
                ),
                num_jobs_per_worker: Some(10),
                image_pull_secrets: typed("image_pull_secrets", &spec.image_pull_secrets)?,
                service_account_name: spec.service_account_name.clone(),
                volumes: typed("volumes", &spec.volumes)?,
                volume_mounts: typed("volume_mounts", &spec.volume_mounts)?,
                init_containers: typed("init_containers", &spec.init_containers)?,
                sidecars: typed("sidecars", &spec.sidecars)?,
                labels: spec.labels.clone().unwrap_or_default(),
                annotations: spec.annotations.clone().unwrap_or_default(),
            },
            autoscaling: Autoscaling {
                enabled: max > min,
                autoscaler_type: Some("KEDA".into()),
                min_replicas: Some(min),
                max_replicas: Some(max),
                queue_min_replicas: spec.queue_min_scale.map(|v| v as i32),
                queue_max_replicas: spec.queue_max_scale.map(|v| v as i32),
            },
            database: Some(Database {
                enabled: !has(POSTGRES_CUSTOM),
                secret_name: Some("postgres-credentials".into()),
                storage_size_gi: spec.db_storage_gi.or(Some(10)),
                max_connections: spec.db_max_connections.or(Some(100)),
                resources: resources(
                    spec.db_cpu,
                    spec.db_cpu_limit,
                    spec.db_memory_mb,
                    spec.db_memory_limit_mb,
                ),
            }),
            redis: Some(Redis {
                enabled: !has(REDIS_CUSTOM),
                resources: resources(
                    spec.redis_cpu,
                    spec.redis_cpu_limit,
                    spec.redis_memory_mb,
                    spec.redis_memory_limit_mb,
                ),
            }),
            ingress: Ingress { enabled: true },
            source,
        },
        status: None,
        deleting: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_what_kubernetes_takes() {
        assert_eq!(cpu(Some(1.5)).map(|q| q.0), Some("1500m".into()));
        assert_eq!(memory(Some(2048)).map(|q| q.0), Some("2048Mi".into()));
        assert!(resources(None, None, None, None).is_none());
    }
}
