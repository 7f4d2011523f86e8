//! docker-compose.yml cannot be run here (no Docker engine), so it is validated: Debian's
//! `docker-compose config` must accept it, and every Ironsmith service in it must name a real
//! binary and subcommand, carry only environment keys the real configuration knows (checked by
//! running that binary's `check-config` with exactly that environment), and publish the port the
//! binary actually listens on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use ironsmith_test_support::repo_root;
use serde_yaml::Value;

pub(crate) const BINARIES: [&str; 5] = [
    "frontend",
    "backend",
    "platform-backend",
    "playground",
    "queue",
];

/// The directory holding the workspace's binaries (this test runs from `<target>/debug/deps`).
pub(crate) fn binaries_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("unexpected test binary location {}", exe.display()))?;
    for bin in BINARIES {
        anyhow::ensure!(
            dir.join(bin).is_file(),
            "{bin} is not built in {} (run cargo build --workspace)",
            dir.display()
        );
    }
    Ok(dir.to_path_buf())
}

pub(crate) fn compose_config() -> anyhow::Result<Value> {
    let output = Command::new("docker-compose")
        .current_dir(repo_root())
        .args(["-f", "docker-compose.yml", "config"])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "docker-compose config rejected the file: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_yaml::from_slice(&output.stdout)?)
}

pub(crate) fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Container ports published by a service, in either syntax.
fn container_ports(service: &Value) -> Vec<u16> {
    service["ports"]
        .as_sequence()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| match p {
                    Value::String(s) => s.rsplit(':').next().and_then(|t| t.parse().ok()),
                    Value::Mapping(_) => p["target"].as_u64().and_then(|t| u16::try_from(t).ok()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_ironsmith_service_matches_the_real_binaries() -> anyhow::Result<()> {
    let compose = compose_config()?;
    let bin_dir = binaries_dir()?;
    let services = compose["services"]
        .as_mapping()
        .ok_or_else(|| anyhow::anyhow!("no services"))?;
    let mut checked = Vec::new();
    for (name, service) in services {
        let name = name.as_str().unwrap_or_default();
        let command = strings(&service["command"]);
        let Some(binary) = command.first().filter(|b| BINARIES.contains(&b.as_str())) else {
            continue; // a store
        };
        let subcommand = command.get(1).map(String::as_str).unwrap_or("serve");
        anyhow::ensure!(
            ["serve", "migrate", "check-config"].contains(&subcommand),
            "{name}: unknown subcommand {subcommand}"
        );
        anyhow::ensure!(
            subcommand != "migrate" || binary == "backend",
            "{name}: only backend migrates"
        );
        let help = Command::new(bin_dir.join(binary)).arg("--help").output()?;
        anyhow::ensure!(
            String::from_utf8_lossy(&help.stdout).contains(subcommand),
            "{name}: {binary} has no {subcommand} subcommand"
        );

        let environment: BTreeMap<String, String> = service["environment"]
            .as_mapping()
            .map(|env| {
                env.iter()
                    .filter_map(|(k, v)| {
                        let value = match v {
                            Value::String(s) => s.clone(),
                            Value::Bool(b) => b.to_string(),
                            Value::Number(n) => n.to_string(),
                            _ => String::new(),
                        };
                        k.as_str().map(|k| (k.to_owned(), value))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let output = Command::new(bin_dir.join(binary))
            .arg("check-config")
            .env_clear()
            .envs(&environment)
            .env("IRONSMITH_CONFIG_DIR", repo_root().join("config"))
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "{name}: its environment is not a valid configuration: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if binary == "playground" {
            let leaked: Vec<&String> = environment
                .keys()
                .filter(|k| {
                    ["POSTGRES", "REDIS", "CLICKHOUSE", "OBJECT_STORAGE"]
                        .iter()
                        .any(|s| k.contains(s))
                })
                .collect();
            anyhow::ensure!(
                leaked.is_empty(),
                "the sandboxed playground receives store settings: {leaked:?}"
            );
        }

        if subcommand == "serve" {
            let text = String::from_utf8_lossy(&output.stdout);
            let config: toml::Value = toml::from_str(&text)?;
            let key = binary.replace('-', "_");
            let listen = config["services"][&key]["listen"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("{name}: no listen address"))?;
            let port: u16 = listen.rsplit(':').next().unwrap_or_default().parse()?;
            anyhow::ensure!(
                container_ports(service).contains(&port),
                "{name}: listens on {port} but publishes {:?}",
                container_ports(service)
            );
            let health = strings(&service["healthcheck"]["test"]).join(" ");
            anyhow::ensure!(
                health.contains(&format!(":{port}/health/ready")),
                "{name}: healthcheck {health:?} does not probe /health/ready on {port}"
            );
        }
        checked.push(name.to_owned());
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "backend",
            "frontend",
            "migrate",
            "platform-backend",
            "playground",
            "queue"
        ]
    );
    Ok(())
}
