//! The regional stacks of `k8s/` (base, the GKE and EKS overlays, the dev overlay), checked
//! offline: no Kubernetes API server runs here. Each is rendered with kubectl's kustomize
//! (kubectl 1.33, installed by `scripts/stores install`), validated against the official
//! schemas and the CRDs' requirements, scanned by checkov with every finding fixed or
//! justified, and run through the real binaries: each container's exact environment must be
//! a valid configuration for its region, its ports and probes must be the binary's, and no
//! secret value may appear in a manifest. docker-compose.yml is held to the same image,
//! commands, environment keys and health checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ironsmith_e2e::{python, run_client};
use ironsmith_test_support::repo_root;
use serde::Deserialize;
use serde_json::json;
use serde_yaml::Value;

use crate::compose::{BINARIES, binaries_dir, compose_config, strings};

/// Every overlay with the region it configures: (folder, `IRONSMITH_REGION`, cloud region,
/// object storage engine).
const OVERLAYS: [(&str, &str, &str, &str); 5] = [
    ("gke-us", "us", "us-central1", "gcs"),
    ("gke-eu", "eu", "europe-west4", "gcs"),
    ("gke-apac", "apac", "australia-southeast1", "gcs"),
    ("eks-aws", "aws", "us-east-2", "s3"),
    ("dev", "us", "dev", "s3"),
];

fn tools_bin(name: &str) -> PathBuf {
    let tools = std::env::var_os("IRONSMITH_TOOLS_DIR").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/ironsmith/tools")
        },
        PathBuf::from,
    );
    tools.join("bin").join(name)
}

fn kubectl() -> PathBuf {
    tools_bin("kubectl")
}

/// `kubectl kustomize <dir>`: the rendered text.
fn render_text(dir: &Path) -> anyhow::Result<String> {
    let output = Command::new(kubectl()).arg("kustomize").arg(dir).output()?;
    anyhow::ensure!(
        output.status.success(),
        "{} does not render: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

fn render(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let text = render_text(dir)?;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = Value::deserialize(doc)?;
        if !doc.is_null() {
            docs.push(doc);
        }
    }
    Ok(docs)
}

fn name_of(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn config_maps(docs: &[Value]) -> BTreeMap<String, BTreeMap<String, String>> {
    of_kind(docs, "ConfigMap")
        .into_iter()
        .map(|doc| {
            let data = doc["data"]
                .as_mapping()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            (name_of(doc).to_owned(), data)
        })
        .collect()
}

/// What a Secret of the contract holds, for `check-config`: values of the right shape (the
/// manifests carry none).
fn placeholder(secret: &str, key: &str) -> String {
    match (secret, key) {
        ("ironsmith-postgres", _) => "postgres://ironsmith:pw@postgres:5432/ironsmith".into(),
        ("ironsmith-redis", _) => "redis://redis:6379/0".into(),
        (_, "encryption_key") => "k1:Y29tcG9zZS1sb2NhbC1vbmx5LWNoYW5nZS1tZS0wMDA=".into(),
        _ => "placeholder-secret-value-of-forty-characters-0".into(),
    }
}

/// One container of an Ironsmith workload with the environment it would start with.
struct Workload {
    name: String,
    container: Value,
    binary: String,
    subcommand: String,
    env: BTreeMap<String, String>,
}

/// The keys each Secret synced by an ExternalSecret will hold.
fn synced_secrets(docs: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    of_kind(docs, "ExternalSecret")
        .into_iter()
        .map(|e| {
            let keys = e["spec"]["data"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|d| d["secretKey"].as_str().map(str::to_owned))
                .collect();
            (
                e["spec"]["target"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                keys,
            )
        })
        .collect()
}

fn workloads(docs: &[Value]) -> anyhow::Result<Vec<Workload>> {
    let maps = config_maps(docs);
    let synced = synced_secrets(docs);
    let mut found = Vec::new();
    for doc in docs.iter().filter(|d| {
        matches!(
            d["kind"].as_str(),
            Some("Deployment" | "Job" | "StatefulSet")
        )
    }) {
        let container = &doc["spec"]["template"]["spec"]["containers"][0];
        let command = strings(&container["command"]);
        let Some(binary) = command.first().filter(|b| BINARIES.contains(&b.as_str())) else {
            continue; // a dev store
        };
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_sequence().into_iter().flatten() {
            let map = source["configMapRef"]["name"].as_str().unwrap_or_default();
            let data = maps
                .get(map)
                .ok_or_else(|| anyhow::anyhow!("{}: no ConfigMap {map}", name_of(doc)))?;
            env.extend(data.clone());
        }
        let mut names = BTreeSet::new();
        for var in container["env"].as_sequence().into_iter().flatten() {
            let key = var["name"].as_str().unwrap_or_default().to_owned();
            anyhow::ensure!(
                names.insert(key.clone()),
                "{}: {key} set twice",
                name_of(doc)
            );
            let reference = &var["valueFrom"]["secretKeyRef"];
            let value = match (&var["value"], reference) {
                (Value::String(v), _) => v.clone(),
                (_, Value::Mapping(_)) => {
                    let secret = reference["name"].as_str().unwrap_or_default();
                    let secret_key = reference["key"].as_str().unwrap_or_default();
                    // A Secret synced from the cloud's secret manager holds only the keys its
                    // ExternalSecret lists: a missing optional key is no variable at all (the
                    // object storage keys under workload identity), a missing required one a
                    // pod that never starts.
                    if let Some(keys) = synced.get(secret).filter(|k| !k.contains(secret_key)) {
                        anyhow::ensure!(
                            reference["optional"] == true,
                            "{}: {secret} will not hold {secret_key} (its keys: {keys:?})",
                            name_of(doc)
                        );
                        continue;
                    }
                    placeholder(secret, secret_key)
                }
                _ => String::new(),
            };
            env.insert(key, value);
        }
        found.push(Workload {
            name: name_of(doc).to_owned(),
            container: container.clone(),
            binary: binary.clone(),
            subcommand: command.get(1).cloned().unwrap_or_default(),
            env,
        });
    }
    Ok(found)
}

/// Runs the binary's `check-config` with exactly this environment: the effective
/// configuration, or why it is refused.
fn check_config(
    bin_dir: &Path,
    binary: &str,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<toml::Value> {
    let output = Command::new(bin_dir.join(binary))
        .arg("check-config")
        .env_clear()
        .envs(env)
        .env("IRONSMITH_CONFIG_DIR", repo_root().join("config"))
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(toml::from_str(&String::from_utf8_lossy(&output.stdout))?)
}

/// Checks what every workload of one rendered stack runs; answers `binary subcommand` of
/// each, sorted.
fn check_workloads(
    label: &str,
    docs: &[Value],
    region: &str,
    cloud_region: &str,
    engine: &str,
) -> anyhow::Result<Vec<String>> {
    let bin_dir = binaries_dir()?;
    let mut checked = Vec::new();
    for w in workloads(docs)? {
        let config = check_config(&bin_dir, &w.binary, &w.env)
            .map_err(|e| anyhow::anyhow!("{label} {}: not a valid configuration: {e}", w.name))?;
        assert_eq!(
            config["stack"]["region"].as_str(),
            Some(region),
            "{label} {}",
            w.name
        );
        assert_eq!(
            config["cloud"]["region"].as_str(),
            Some(cloud_region),
            "{label} {}",
            w.name
        );
        if w.binary == "playground" {
            let leaked: Vec<&String> = w
                .env
                .keys()
                .filter(|k| {
                    ["POSTGRES", "REDIS", "CLICKHOUSE", "OBJECT_STORAGE"]
                        .iter()
                        .any(|s| k.contains(s))
                })
                .collect();
            assert!(
                leaked.is_empty(),
                "{label}: the playground receives store settings: {leaked:?}"
            );
        } else if w.env.contains_key("IRONSMITH_POSTGRES__URL") {
            let storage = &config["object_storage"];
            assert_eq!(
                storage["engine"].as_str(),
                Some(engine),
                "{label} {}",
                w.name
            );
            if engine == "gcs" || label == "eks-aws" {
                // Workload identity or IRSA: the pods hold no storage keys.
                assert_eq!(
                    storage["access_key_id"].as_str(),
                    Some(""),
                    "{label} {}",
                    w.name
                );
            }
        }
        if w.subcommand == "serve" {
            let listen = config["services"][&w.binary.replace('-', "_")]["listen"]
                .as_str()
                .unwrap_or_default();
            let port: u64 = listen.rsplit(':').next().unwrap_or_default().parse()?;
            let c = &w.container;
            assert_eq!(
                c["ports"][0]["containerPort"].as_u64(),
                Some(port),
                "{label} {}",
                w.name
            );
            assert_eq!(
                c["readinessProbe"]["httpGet"]["path"].as_str(),
                Some("/health/ready")
            );
            assert_eq!(
                c["livenessProbe"]["httpGet"]["path"].as_str(),
                Some("/health/live")
            );
            assert_eq!(
                c["startupProbe"]["httpGet"]["path"].as_str(),
                Some("/health/ready")
            );
            assert_eq!(
                c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
                Some(true)
            );
        }
        checked.push(format!("{} {}", w.binary, w.subcommand));
    }
    checked.sort();
    Ok(checked)
}

#[test]
fn every_overlay_runs_the_real_binaries_with_its_regions_configuration() -> anyhow::Result<()> {
    let k8s = repo_root().join("k8s");
    let every = [
        "backend migrate",
        "backend serve",
        "frontend serve",
        "platform-backend serve",
        "playground serve",
        "queue serve",
    ];
    let base = render(&k8s.join("base"))?;
    assert_eq!(
        check_workloads("base", &base, "us", "us-central1", "s3")?,
        every
    );
    for (overlay, region, cloud_region, engine) in OVERLAYS {
        let docs = render(&k8s.join("overlays").join(overlay))?;
        assert_eq!(
            check_workloads(overlay, &docs, region, cloud_region, engine)?,
            every,
            "{overlay}"
        );
        // Everything lands in one namespace, created by the overlay.
        assert!(
            docs.iter()
                .all(|d| d["kind"] == "Namespace" || d["metadata"]["namespace"] == "ironsmith")
        );
        // The public hostnames the services print are the ones the edge routes.
        let config = &config_maps(&docs)
            .into_iter()
            .find(|(name, _)| name.starts_with("ironsmith-config-"))
            .ok_or_else(|| anyhow::anyhow!("{overlay}: no generated ironsmith-config"))?
            .1;
        let host = |key: &str| {
            url::Url::parse(&config[key])
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let routed: Vec<String> = match overlay {
            "dev" => vec!["localhost".into(), "localhost".into()],
            "eks-aws" => of_kind(&docs, "Ingress")[0]["spec"]["rules"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|r| r["host"].as_str().map(str::to_owned))
                .collect(),
            _ => strings(&of_kind(&docs, "HTTPRoute")[0]["spec"]["hostnames"]),
        };
        assert_eq!(
            routed,
            [
                host("IRONSMITH_PUBLIC__UI_URL"),
                host("IRONSMITH_PUBLIC__CONTROL_PLANE_URL")
            ],
            "{overlay}"
        );
        assert_eq!(host("IRONSMITH_PUBLIC__API_URL"), routed[0], "{overlay}");
        // Autoscaling: an HPA or a KEDA ScaledObject per component, never both.
        let mut scaled = BTreeSet::new();
        for doc in of_kind(&docs, "HorizontalPodAutoscaler")
            .into_iter()
            .chain(of_kind(&docs, "ScaledObject"))
        {
            let target = doc["spec"]["scaleTargetRef"]["name"]
                .as_str()
                .unwrap_or_default();
            assert!(
                scaled.insert(target.to_owned()),
                "{overlay}: {target} has two autoscalers"
            );
        }
        assert_eq!(scaled.len(), 5, "{overlay}: {scaled:?}");
        // Identity for object storage on the clouds' own terms.
        let annotation = match overlay {
            "eks-aws" => Some("eks.amazonaws.com/role-arn"),
            "dev" => None,
            _ => Some("iam.gke.io/gcp-service-account"),
        };
        for sa in of_kind(&docs, "ServiceAccount") {
            let bound = annotation.and_then(|a| sa["metadata"]["annotations"][a].as_str());
            let uses_stores = [
                "ironsmith-backend",
                "ironsmith-platform-backend",
                "ironsmith-queue",
            ]
            .contains(&name_of(sa));
            assert_eq!(
                bound.is_some(),
                uses_stores && annotation.is_some(),
                "{overlay}: {}",
                name_of(sa)
            );
        }
    }
    Ok(())
}

/// The edge limits each region's policy carries, by rule description: (count, interval).
fn armor_limit(docs: &[Value], class: &str) -> (u64, u64) {
    let policy = of_kind(docs, "ComputeSecurityPolicy")[0];
    let rule = policy["spec"]["rule"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|r| {
            r["description"]
                .as_str()
                .is_some_and(|d| d.starts_with(class))
        })
        .expect("rule");
    let t = &rule["rateLimitOptions"]["rateLimitThreshold"];
    (
        t["count"].as_u64().unwrap_or(0),
        t["intervalSec"].as_u64().unwrap_or(0),
    )
}

#[test]
fn each_gke_region_carries_its_own_rate_limits() -> anyhow::Result<()> {
    let overlays = repo_root().join("k8s/overlays");
    let us = render(&overlays.join("gke-us"))?;
    let eu = render(&overlays.join("gke-eu"))?;
    let apac = render(&overlays.join("gke-apac"))?;
    assert_eq!(armor_limit(&us, "stats"), (1, 10));
    assert_eq!(armor_limit(&eu, "stats"), (20, 10));
    assert_eq!(armor_limit(&us, "commits"), (10_000, 60));
    assert_eq!(armor_limit(&eu, "commits"), (2000, 60));
    assert_eq!(armor_limit(&apac, "commits"), (10_000, 60));
    for docs in [&us, &eu, &apac] {
        assert_eq!(armor_limit(docs, "multipart ingest"), (6000, 10));
        assert_eq!(armor_limit(docs, "run query (API)"), (15, 10));
        assert_eq!(armor_limit(docs, "unauthenticated catch-all"), (100, 60));
        // The policy the backend policy attaches is the one that exists.
        let attached =
            of_kind(docs, "GCPBackendPolicy")[0]["spec"]["default"]["securityPolicy"].clone();
        assert_eq!(
            attached.as_str(),
            Some(name_of(of_kind(docs, "ComputeSecurityPolicy")[0]))
        );
    }
    Ok(())
}

/// Environment names whose values are secrets.
fn is_secret_name(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "SALT",
        "ENCRYPTION_KEY",
        "API_KEY",
        "POSTGRES__URL",
        "REDIS__URL",
    ]
    .iter()
    .any(|s| key.contains(s))
}

/// Whether some `scheme://user:password@host` appears in the text.
fn has_url_password(text: &str) -> bool {
    text.split("://").skip(1).any(|rest| {
        let authority: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && !['/', '"', '\''].contains(c))
            .collect();
        authority
            .split_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
}

#[test]
fn no_secret_value_appears_in_a_rendered_manifest() -> anyhow::Result<()> {
    let k8s = repo_root().join("k8s");
    let mut dirs = vec![k8s.join("base"), k8s.join("data-plane")];
    dirs.extend(OVERLAYS.iter().map(|(o, ..)| k8s.join("overlays").join(o)));
    assert!(has_url_password("url: postgres://ironsmith:pw@db:5432/x"));
    assert!(!has_url_password(
        "url: https://clickhouse:8443 and http://a@b"
    ));
    for dir in dirs {
        let label = dir.display().to_string();
        let text = render_text(&dir)?;
        assert!(!has_url_password(&text), "{label}: a URL with a password");
        let docs = render(&dir)?;
        assert!(
            of_kind(&docs, "Secret").is_empty(),
            "{label}: a Secret with its values"
        );
        for (map, data) in config_maps(&docs) {
            for key in data.keys() {
                assert!(!is_secret_name(key), "{label}: ConfigMap {map} holds {key}");
            }
        }
        for doc in &docs {
            let spec = &doc["spec"]["template"]["spec"];
            let containers = spec["containers"].as_sequence().into_iter().flatten();
            for container in
                containers.chain(spec["initContainers"].as_sequence().into_iter().flatten())
            {
                for var in container["env"].as_sequence().into_iter().flatten() {
                    let key = var["name"].as_str().unwrap_or_default();
                    if is_secret_name(key) {
                        assert!(
                            var["value"].is_null() && var["valueFrom"]["secretKeyRef"].is_mapping(),
                            "{label}: {} sets {key} inline",
                            name_of(doc)
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn config_refs(docs: &[Value], deployment: &str) -> Vec<String> {
    of_kind(docs, "Deployment")
        .into_iter()
        .filter(|d| name_of(d) == deployment)
        .flat_map(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["envFrom"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|s| s["configMapRef"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// ConfigMap names carry a hash of their content, so any configuration change (in the base or
/// in an overlay's values) is a new pod template: the pods roll.
#[test]
fn a_configuration_change_rolls_the_pods() -> anyhow::Result<()> {
    let copy = tempfile::tempdir()?;
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("k8s"))
        .arg(copy.path())
        .status()?;
    assert!(status.success());
    let overlay = copy.path().join("k8s/overlays/gke-us");
    let before = config_refs(&render(&overlay)?, "ironsmith-backend");
    assert_eq!(before.len(), 2, "{before:?}");

    let env = copy.path().join("k8s/base/config.env");
    let text = std::fs::read_to_string(&env)?.replace("LOG_FORMAT=json", "LOG_FORMAT=text");
    std::fs::write(&env, text)?;
    let after_config = config_refs(&render(&overlay)?, "ironsmith-backend");
    assert_ne!(before[0], after_config[0]);
    assert_eq!(before[1], after_config[1]);

    let values = overlay.join("values.yaml");
    let text = std::fs::read_to_string(&values)?
        .replace("bucket: ironsmith-us-payloads", "bucket: another-bucket");
    std::fs::write(&values, text)?;
    let after_values = config_refs(&render(&overlay)?, "ironsmith-backend");
    assert_ne!(after_config[1], after_values[1]);
    Ok(())
}

#[tokio::test]
async fn every_overlay_validates_and_passes_the_policy_scan() -> anyhow::Result<()> {
    let summary = run_client(
        &python(),
        "tests/python/validate_k8s.py",
        &[
            ("K8S_VERSION", "1.33"),
            ("KUBECTL", &kubectl().display().to_string()),
        ],
    )
    .await?;
    eprintln!("{summary}");
    let rendered = &summary["rendered"];
    for (overlay, foreign) in [
        ("gke-us", 12),
        ("gke-eu", 12),
        ("gke-apac", 12),
        ("eks-aws", 7),
        ("dev", 1),
    ] {
        let counts = &rendered[format!("k8s/overlays/{overlay}")];
        assert!(
            counts["kubernetes"].as_u64().unwrap_or(0) >= 30,
            "{overlay}: {counts}"
        );
        assert_eq!(counts["foreign"], json!(foreign), "{overlay}: {counts}");
    }
    assert!(
        rendered["k8s/data-plane"]["kubernetes"]
            .as_u64()
            .unwrap_or(0)
            >= 10
    );

    // checkov over every rendered stack: zero findings (exceptions are justified in
    // k8s/.checkov.yaml or on the object).
    let dir = tempfile::tempdir()?;
    let k8s = repo_root().join("k8s");
    let mut stacks = vec![("data-plane".to_owned(), k8s.join("data-plane"))];
    stacks.extend(
        OVERLAYS
            .iter()
            .map(|(o, ..)| ((*o).to_owned(), k8s.join("overlays").join(o))),
    );
    for (name, path) in &stacks {
        std::fs::write(dir.path().join(format!("{name}.yaml")), render_text(path)?)?;
    }
    let report = checkov(dir.path())?;
    assert_eq!(
        report["summary"]["failed"], 0,
        "{}",
        report["results"]["failed_checks"]
    );
    assert_eq!(report["summary"]["parsing_errors"], 0);
    assert!(
        report["summary"]["resource_count"].as_u64().unwrap_or(0) > 200,
        "{}",
        report["summary"]
    );

    // The scan can fail: a privileged container is a finding.
    let bad = tempfile::tempdir()?;
    let mut text = render_text(&k8s.join("overlays/dev"))?;
    text = text.replacen(
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: false\n          privileged: true",
        1,
    );
    std::fs::write(bad.path().join("bad.yaml"), text)?;
    let report = checkov(bad.path())?;
    assert!(
        report["summary"]["failed"].as_u64().unwrap_or(0) > 0,
        "{}",
        report["summary"]
    );
    Ok(())
}

fn checkov(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let tools = tools_bin("kubectl");
    let checkov = tools
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("checkov/bin/checkov"))
        .ok_or_else(|| anyhow::anyhow!("no tools folder"))?;
    // Files by name: checkov skips folders whose names start with a dot, as temporary ones do.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        files.push("-f".into());
        files.push(entry?.path().into_os_string());
    }
    let output = Command::new(&checkov)
        .arg("--config-file")
        .arg(repo_root().join("k8s/.checkov.yaml"))
        .args(files)
        .args(["-o", "json"])
        .output()?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        anyhow::anyhow!("checkov: {e}: {}", String::from_utf8_lossy(&output.stderr))
    })?;
    Ok(match report {
        serde_json::Value::Array(mut reports) if !reports.is_empty() => reports.remove(0),
        other => other,
    })
}

/// docker-compose.yml runs what k8s runs: the same image, the same binaries and subcommands,
/// the same environment keys (compose hands its shared block to every store-using service,
/// k8s narrows each service to what it reads, so k8s's keys are compose's, and compose has no
/// key k8s lacks everywhere), the same health checks, and the same store images (the dev
/// overlay).
#[test]
fn compose_and_k8s_run_the_same_image_commands_environment_and_health_checks() -> anyhow::Result<()>
{
    let compose = compose_config()?;
    let dev = render(&repo_root().join("k8s/overlays/dev"))?;
    let k8s: BTreeMap<String, Workload> = workloads(&dev)?
        .into_iter()
        .map(|w| (format!("{} {}", w.binary, w.subcommand), w))
        .collect();
    let all_k8s_keys: BTreeSet<&String> = k8s.values().flat_map(|w| w.env.keys()).collect();
    // A fixed bootstrap API key is a local convenience (scripted first use); clusters create
    // keys through the API.
    let compose_only = ["IRONSMITH_BOOTSTRAP__API_KEY"];
    let services = compose["services"]
        .as_mapping()
        .ok_or_else(|| anyhow::anyhow!("no services"))?;
    let mut seen = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().unwrap_or_default();
        let command = strings(&service["command"]).join(" ");
        let Some(workload) = k8s.get(&command) else {
            // A store: the dev overlay runs the same image.
            let image = service["image"].as_str().unwrap_or_default();
            if name != "minio-bucket" {
                let stateful = of_kind(&dev, "StatefulSet")
                    .into_iter()
                    .find(|s| name_of(s) == format!("ironsmith-{name}"))
                    .ok_or_else(|| anyhow::anyhow!("the dev overlay has no {name}"))?;
                let container = &stateful["spec"]["template"]["spec"]["containers"][0];
                assert_eq!(container["image"].as_str(), Some(image), "{name}");
                let probe = &container["readinessProbe"];
                let health = strings(&service["healthcheck"]["test"]).join(" ");
                let same = probe["exec"]["command"].is_sequence()
                    && health.ends_with(&strings(&probe["exec"]["command"]).join(" "))
                    || probe["httpGet"]["path"]
                        .as_str()
                        .is_some_and(|p| health.contains(p));
                assert!(same, "{name}: compose checks {health:?}, k8s {probe:?}");
            }
            continue;
        };
        seen.insert(command.clone());
        assert_eq!(service["image"], workload.container["image"], "{name}");
        let keys: BTreeSet<String> = service["environment"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str().map(str::to_owned))
            .collect();
        for key in &keys {
            assert!(
                all_k8s_keys.contains(key) || compose_only.contains(&key.as_str()),
                "{name}: compose sets {key}, which no k8s workload has"
            );
        }
        for key in workload.env.keys() {
            assert!(
                keys.contains(key),
                "{name}: k8s sets {key}, compose does not"
            );
        }
        if workload.subcommand == "serve" {
            let port = workload.container["ports"][0]["containerPort"]
                .as_u64()
                .unwrap_or(0);
            let path = workload.container["readinessProbe"]["httpGet"]["path"]
                .as_str()
                .unwrap_or_default();
            let health = strings(&service["healthcheck"]["test"]).join(" ");
            assert!(
                health.contains(&format!(":{port}{path}")),
                "{name}: {health:?} vs :{port}{path}"
            );
        }
    }
    assert_eq!(
        seen.len(),
        k8s.len(),
        "k8s runs {:?}, compose {seen:?}",
        k8s.keys()
    );
    Ok(())
}

/// `scripts/deploy --dry-run` renders exactly the overlay these tests check, with `--image`
/// pinning every Ironsmith container (and nothing else) to the given reference, and refuses
/// an overlay that does not exist.
#[test]
fn the_deploy_script_renders_the_checked_overlays() -> anyhow::Result<()> {
    let deploy = |args: &[&str]| {
        Command::new(repo_root().join("scripts/deploy"))
            .args(args)
            .env(
                "IRONSMITH_TOOLS_DIR",
                kubectl()
                    .parent()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new("")),
            )
            .output()
    };
    for (overlay, ..) in OVERLAYS {
        let output = deploy(&["--dry-run", overlay])?;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8(output.stdout)?,
            render_text(&repo_root().join("k8s/overlays").join(overlay))?,
            "{overlay}"
        );
    }
    let digest = "ghcr.io/acme/ironsmith@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let output = deploy(&["--dry-run", "--image", digest, "gke-eu"])?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout)?;
    let images: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .collect();
    assert_eq!(images, BTreeSet::from([digest]));

    let refused = deploy(&["--dry-run", "gke-mars"])?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("usage"));
    Ok(())
}
