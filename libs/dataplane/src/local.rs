//! A cluster in a local folder, for development and tests where no Kubernetes API server can
//! run: the listener writes `LGP`s and Secrets as files, and the operator's local runtime
//! reconciles them into processes and writes each `LGP`'s status beside it. The objects and
//! their lifecycle are those of the cluster: a changed spec bumps the generation, a deleted
//! `LGP` lingers (as a finalizer keeps it) until the operator has stopped its workload.
//!
//! Layout under the root: `<ns>/lgps/<name>.json` (metadata and spec, the listener's),
//! `<ns>/lgps/<name>.status.json` (the operator's), `<ns>/lgps/<name>.deleting` (deletion
//! requested), `<ns>/secrets/<name>.json`, `<ns>/logs/<name>.log` (the workload's output), and
//! `cluster-uid`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::lgp::{Lgp, LgpSpec, LgpStatus};

#[derive(Debug, Clone)]
pub struct LocalCluster {
    root: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredLgp {
    generation: i64,
    annotations: BTreeMap<String, String>,
    spec: LgpSpec,
}

/// Writes `bytes` to `path` atomically (a reader never sees half a file).
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("a path without a folder")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Names become file names: only what Kubernetes allows in a name.
fn checked(name: &str) -> anyhow::Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !name.starts_with('.');
    anyhow::ensure!(ok, "{name:?} is not a valid object name");
    Ok(name)
}

impl LocalCluster {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalCluster { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lgp_path(&self, ns: &str, name: &str, suffix: &str) -> anyhow::Result<PathBuf> {
        Ok(self
            .root
            .join(checked(ns)?)
            .join("lgps")
            .join(format!("{}{suffix}", checked(name)?)))
    }

    fn secret_path(&self, ns: &str, name: &str) -> anyhow::Result<PathBuf> {
        Ok(self
            .root
            .join(checked(ns)?)
            .join("secrets")
            .join(format!("{}.json", checked(name)?)))
    }

    pub fn log_path(&self, ns: &str, name: &str) -> anyhow::Result<PathBuf> {
        Ok(self
            .root
            .join(checked(ns)?)
            .join("logs")
            .join(format!("{}.log", checked(name)?)))
    }

    /// A folder the operator may use for the workload's files.
    pub fn work_dir(&self, ns: &str, name: &str) -> anyhow::Result<PathBuf> {
        Ok(self
            .root
            .join(checked(ns)?)
            .join("work")
            .join(checked(name)?))
    }

    /// This "cluster"'s identity, made on first use (as a cluster's `kube-system` uid).
    pub fn cluster_uid(&self) -> anyhow::Result<String> {
        let path = self.root.join("cluster-uid");
        if let Ok(uid) = std::fs::read_to_string(&path) {
            return Ok(uid.trim().to_owned());
        }
        let uid = format!(
            "local-{:016x}{:08x}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            std::process::id()
        );
        write_atomic(&path, uid.as_bytes())?;
        Ok(uid)
    }

    pub fn apply_secret(
        &self,
        ns: &str,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        write_atomic(&self.secret_path(ns, name)?, &serde_json::to_vec(data)?)
    }

    pub fn read_secret(
        &self,
        ns: &str,
        name: &str,
    ) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        match std::fs::read(self.secret_path(ns, name)?) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn delete_secret(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        remove_if_present(&self.secret_path(ns, name)?)
    }

    fn read_stored(&self, ns: &str, name: &str) -> anyhow::Result<Option<StoredLgp>> {
        match std::fs::read(self.lgp_path(ns, name, ".json")?) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates or updates an `LGP`; the generation moves when the spec or annotations change.
    pub fn apply_lgp(&self, lgp: &Lgp) -> anyhow::Result<i64> {
        let previous = self.read_stored(&lgp.namespace, &lgp.name)?;
        if self
            .lgp_path(&lgp.namespace, &lgp.name, ".deleting")?
            .exists()
        {
            anyhow::bail!("LGP {}/{} is being deleted", lgp.namespace, lgp.name);
        }
        let generation = match &previous {
            Some(p) if p.spec == lgp.spec && p.annotations == lgp.annotations => {
                return Ok(p.generation);
            }
            Some(p) => p.generation + 1,
            None => 1,
        };
        let stored = StoredLgp {
            generation,
            annotations: lgp.annotations.clone(),
            spec: lgp.spec.clone(),
        };
        write_atomic(
            &self.lgp_path(&lgp.namespace, &lgp.name, ".json")?,
            &serde_json::to_vec_pretty(&stored)?,
        )?;
        Ok(generation)
    }

    pub fn get_lgp(&self, ns: &str, name: &str) -> anyhow::Result<Option<Lgp>> {
        let Some(stored) = self.read_stored(ns, name)? else {
            return Ok(None);
        };
        let status = match std::fs::read(self.lgp_path(ns, name, ".status.json")?) {
            Ok(bytes) => Some(serde_json::from_slice::<LgpStatus>(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Lgp {
            name: name.to_owned(),
            namespace: ns.to_owned(),
            generation: stored.generation,
            annotations: stored.annotations,
            spec: stored.spec,
            status,
            deleting: self.lgp_path(ns, name, ".deleting")?.exists(),
        }))
    }

    /// Asks for the `LGP`'s deletion; it goes once the operator has stopped its workload.
    pub fn delete_lgp(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        if self.read_stored(ns, name)?.is_some() {
            write_atomic(&self.lgp_path(ns, name, ".deleting")?, b"")?;
        }
        Ok(())
    }

    /// Every `LGP` in every namespace (what the operator watches).
    pub fn list_lgps(&self) -> anyhow::Result<Vec<Lgp>> {
        let mut found = Vec::new();
        let Ok(namespaces) = std::fs::read_dir(&self.root) else {
            return Ok(found);
        };
        for ns in namespaces.flatten() {
            let Ok(entries) = std::fs::read_dir(ns.path().join("lgps")) else {
                continue;
            };
            let ns_name = ns.file_name().to_string_lossy().into_owned();
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some(name) = file
                    .strip_suffix(".json")
                    .filter(|n| !n.ends_with(".status") && !n.starts_with('.'))
                else {
                    continue;
                };
                if let Some(lgp) = self.get_lgp(&ns_name, name)? {
                    found.push(lgp);
                }
            }
        }
        Ok(found)
    }

    /// The operator's report on an `LGP`.
    pub fn write_status(&self, ns: &str, name: &str, status: &LgpStatus) -> anyhow::Result<()> {
        if self.read_stored(ns, name)?.is_none() {
            return Ok(());
        }
        write_atomic(
            &self.lgp_path(ns, name, ".status.json")?,
            &serde_json::to_vec_pretty(status)?,
        )
    }

    /// The operator has cleaned up after a deleted `LGP`: it is gone.
    pub fn finish_delete(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        remove_if_present(&self.lgp_path(ns, name, ".json")?)?;
        remove_if_present(&self.lgp_path(ns, name, ".status.json")?)?;
        remove_if_present(&self.lgp_path(ns, name, ".deleting")?)?;
        let work = self.work_dir(ns, name)?;
        if work.exists() {
            std::fs::remove_dir_all(work)?;
        }
        Ok(())
    }

    /// The last `lines` lines the workload wrote.
    pub fn workload_logs(&self, ns: &str, name: &str, lines: usize) -> anyhow::Result<Vec<String>> {
        let text = match std::fs::read(self.log_path(ns, name)?) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let all: Vec<&str> = text.lines().collect();
        Ok(all
            .iter()
            .skip(all.len().saturating_sub(lines))
            .map(|l| (*l).to_owned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lgp::ServerSpec;

    fn lgp(image: &str) -> Lgp {
        Lgp {
            name: "agent".into(),
            namespace: "default".into(),
            spec: LgpSpec {
                server_spec: ServerSpec {
                    image: Some(image.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_generation_moves_only_when_the_spec_changes() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let cluster = LocalCluster::new(dir.path());
        assert_eq!(cluster.apply_lgp(&lgp("a"))?, 1);
        assert_eq!(cluster.apply_lgp(&lgp("a"))?, 1);
        assert_eq!(cluster.apply_lgp(&lgp("b"))?, 2);
        assert_eq!(cluster.list_lgps()?.len(), 1);
        Ok(())
    }

    #[test]
    fn a_deleted_lgp_lingers_until_the_operator_finishes() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let cluster = LocalCluster::new(dir.path());
        cluster.apply_lgp(&lgp("a"))?;
        cluster.delete_lgp("default", "agent")?;
        let seen = cluster.get_lgp("default", "agent")?;
        assert!(seen.is_some_and(|l| l.deleting));
        assert!(cluster.apply_lgp(&lgp("b")).is_err());
        cluster.finish_delete("default", "agent")?;
        assert!(cluster.get_lgp("default", "agent")?.is_none());
        assert!(checked("../etc").is_err());
        Ok(())
    }
}
