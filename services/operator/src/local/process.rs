//! Starting one Agent Server process for one `LGP` generation: its files (an unpacked source
//! tarball), its command, its environment (secrets resolved from the deployment's Secret) and
//! the wait for `GET /ok`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ironsmith_dataplane::LocalCluster;
use ironsmith_dataplane::lgp::Lgp;
use tokio::process::{Child, Command};

use super::LocalConfig;

pub struct Plan {
    pub lgp: Lgp,
    pub cluster: LocalCluster,
    pub config: LocalConfig,
    pub work: PathBuf,
}

pub struct Started {
    pub child: Child,
    pub port: u16,
}

/// Lines of the process's output quoted in a failure.
const TAIL_LINES: usize = 15;
/// The largest source tarball unpacked, bytes.
const MAX_TARBALL_BYTES: usize = 100 * 1024 * 1024;

fn pid_dir(work: &Path) -> PathBuf {
    work.join("pids")
}

/// Stops processes an earlier operator started for this workload and left running.
pub fn kill_orphans(work: &Path) {
    let Ok(entries) = std::fs::read_dir(pid_dir(work)) else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid.chars().all(|c| c.is_ascii_digit()) && !pid.is_empty() {
            let _ = std::process::Command::new("kill")
                .arg(&pid)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The image's name without its tag or digest: what `LOCAL_IMAGE_COMMANDS` is keyed by.
pub fn image_repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        // A colon after the last slash is a tag; before it, a registry port.
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// The deployment's environment with secret references resolved.
fn environment(plan: &Plan) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    let mut secrets: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for var in &plan.lgp.spec.server_spec.env {
        if let Some(value) = &var.value {
            env.insert(var.name.clone(), value.clone());
            continue;
        }
        let Some(selector) = var
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
        else {
            continue;
        };
        if !secrets.contains_key(&selector.name) {
            let data = plan
                .cluster
                .read_secret(&plan.lgp.namespace, &selector.name)
                .map_err(|e| format!("reading Secret {}: {e:#}", selector.name))?
                .unwrap_or_default();
            secrets.insert(selector.name.clone(), data);
        }
        match secrets
            .get(&selector.name)
            .and_then(|d| d.get(&selector.key))
        {
            Some(value) => {
                env.insert(var.name.clone(), value.clone());
            }
            None if selector.optional == Some(true) => {}
            None => {
                return Err(format!(
                    "env {} refers to key {} of Secret {}/{}, which does not exist",
                    var.name, selector.key, plan.lgp.namespace, selector.name
                ));
            }
        }
    }
    // The local runtime provisions no database or Redis: `langgraph dev` keeps its state in
    // memory. A deployment that brings its own stores gets them as the cluster operator
    // would pass them.
    if let Some(uri) = env.get("POSTGRES_URI_CUSTOM").cloned() {
        env.insert("DATABASE_URI".into(), uri.clone());
        env.insert("POSTGRES_URI".into(), uri);
    }
    if let Some(uri) = env.get("REDIS_URI_CUSTOM").cloned() {
        env.insert("REDIS_URI".into(), uri);
    }
    env.insert("LANGGRAPH_CLI_NO_ANALYTICS".into(), "1".into());
    env.insert("LANGGRAPH_NO_VERSION_CHECK".into(), "true".into());
    Ok(env)
}

/// Downloads and unpacks the source tarball; returns the project folder.
async fn unpack(plan: &Plan, url: &str) -> Result<PathBuf, String> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .map_err(|e| format!("downloading the source: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "downloading the source answered {}",
            response.status()
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("downloading the source: {e}"))?;
    if bytes.len() > MAX_TARBALL_BYTES {
        return Err(format!(
            "the source tarball is larger than {MAX_TARBALL_BYTES} bytes"
        ));
    }
    let dir = plan
        .work
        .join(format!("g{}", plan.lgp.generation))
        .join("src");
    let target = dir.clone();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
        let decoder = flate2::read::GzDecoder::new(std::io::Cursor::new(bytes));
        let mut archive = tar::Archive::new(decoder);
        archive.set_preserve_permissions(false);
        // `unpack` refuses entries that would land outside `target`.
        archive
            .unpack(&target)
            .map_err(|e| format!("unpacking the source: {e}"))
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(dir)
}

/// The command and folder the generation runs with.
async fn command(plan: &Plan, port: u16) -> Result<Command, String> {
    if let Some(source) = &plan.lgp.spec.source {
        let project = unpack(plan, &source.tarball_url).await?;
        let config = project.join(&source.langgraph_config_path);
        if !config.starts_with(&project) || !config.exists() {
            return Err(format!(
                "the source has no {} (langgraph_config_path)",
                source.langgraph_config_path
            ));
        }
        let folder = config.parent().unwrap_or(&project).to_path_buf();
        let mut cmd = Command::new(&plan.config.langgraph_bin);
        cmd.args([
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--config")
        .arg(&config)
        .current_dir(folder);
        return Ok(cmd);
    }
    let image = plan
        .lgp
        .spec
        .server_spec
        .image
        .as_deref()
        .ok_or("the LGP names neither an image nor a source")?;
    let repository = image_repository(image);
    let template = plan.config.image_commands.get(repository).ok_or_else(|| {
        format!(
            "image {image} cannot run here: the local runtime has no command for {repository} (set one in LOCAL_IMAGE_COMMANDS)"
        )
    })?;
    let folder = plan.work.join(format!("g{}", plan.lgp.generation));
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(template).current_dir(folder);
    Ok(cmd)
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .skip(lines.len().saturating_sub(TAIL_LINES))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts the generation and waits until it answers `GET /ok`.
pub async fn roll_out(plan: Plan) -> Result<Started, String> {
    let port = free_port()?;
    let env = environment(&plan)?;
    let mut cmd = command(&plan, port).await?;
    let log_path = plan
        .cluster
        .log_path(&plan.lgp.namespace, &plan.lgp.name)
        .map_err(|e| e.to_string())?;
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let started_at = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
    cmd.envs(&env)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting the Agent Server: {e}"))?;
    if let Some(pid) = child.id() {
        let pids = pid_dir(&plan.work);
        let _ = std::fs::create_dir_all(&pids);
        let _ = std::fs::write(pids.join(pid.to_string()), b"");
    }
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/ok");
    let deadline = tokio::time::Instant::now() + plan.config.startup_timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let output = tail_since(&log_path, started_at);
            return Err(format!(
                "the Agent Server exited ({status}) before answering GET /ok:\n{output}"
            ));
        }
        if let Ok(r) = client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            && r.status().is_success()
        {
            return Ok(Started { child, port });
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(format!(
                "the Agent Server did not answer GET /ok within {} s:\n{}",
                plan.config.startup_timeout.as_secs(),
                tail(&log_path)
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The log's lines written since byte `offset` (this generation's), at most the last few.
fn tail_since(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(bytes.get(start..).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .skip(lines.len().saturating_sub(TAIL_LINES))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories_drop_tags_and_digests_but_keep_registry_ports() {
        assert_eq!(
            image_repository("registry:5000/team/agent:1.2@sha256:abc"),
            "registry:5000/team/agent"
        );
        assert_eq!(
            image_repository("registry:5000/team/agent"),
            "registry:5000/team/agent"
        );
        assert_eq!(image_repository("agent@sha256:abc"), "agent");
        assert_eq!(image_repository("agent:latest"), "agent");
    }
}
