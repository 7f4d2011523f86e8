//! The local runtime: reconciles the `LGP`s of a local cluster folder into Agent Server
//! processes on this machine, for development and tests where no Kubernetes cluster runs.
//!
//! A source deployment is unpacked and served by the real Agent Server from PyPI
//! (`langgraph dev` of `langgraph-cli[inmem]`); an image deployment runs the command configured
//! for its image (`LOCAL_IMAGE_COMMANDS`), since images cannot run without a container
//! runtime. Each rollout starts the new process beside the old one on a free port, waits for
//! `GET /ok`, then moves the deployment's stable address to it and stops the old one; a
//! process that exits or never answers leaves the old one serving and the `LGP` `Degraded`
//! with the reason. Status conditions are those of the Kubernetes operator: `Ready`,
//! `Progressing`, `Degraded`.

mod forward;
mod process;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ironsmith_dataplane::LocalCluster;
use ironsmith_dataplane::lgp::{Lgp, LgpStatus};
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::forward::Forwarder;
use self::process::Started;

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub dir: PathBuf,
    /// The `langgraph` command of `langgraph-cli[inmem]` (`LANGGRAPH_BIN`).
    pub langgraph_bin: PathBuf,
    /// Image (without tag or digest) → shell command serving on `$PORT`.
    pub image_commands: BTreeMap<String, String>,
    /// How long a new process has to answer `GET /ok`.
    pub startup_timeout: Duration,
    pub poll: Duration,
}

struct Workload {
    forwarder: Forwarder,
    current: Option<Child>,
    served: Option<i64>,
    failed: Option<i64>,
    rollout: Option<(i64, JoinHandle<Result<Started, String>>)>,
}

fn key(lgp: &Lgp) -> String {
    format!("{}/{}", lgp.namespace, lgp.name)
}

/// The port of an endpoint the `LGP` reported before (kept across operator restarts).
fn previous_port(lgp: &Lgp) -> u16 {
    lgp.status
        .as_ref()
        .and_then(|s| s.endpoint.as_deref())
        .and_then(|e| e.rsplit(':').next())
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(0)
}

/// Writes the `LGP`'s status as `update` changes it.
fn write_status(
    cluster: &LocalCluster,
    lgp: &Lgp,
    update: impl FnOnce(&mut LgpStatus),
) -> anyhow::Result<()> {
    let mut status = lgp.status.clone().unwrap_or_default();
    update(&mut status);
    cluster.write_status(&lgp.namespace, &lgp.name, &status)
}

/// A finished rollout: the new process serves (the old one stops), or the old one keeps
/// serving and the `LGP` is `Degraded` with the reason.
async fn settle(
    cluster: &LocalCluster,
    w: &mut Workload,
    lgp: &Lgp,
    generation: i64,
    outcome: Result<Started, String>,
    endpoint: String,
) -> anyhow::Result<()> {
    let serving_before = w.current.is_some();
    match outcome {
        Ok(started) => {
            w.forwarder.point_at(started.port);
            if let Some(mut old) = w.current.replace(started.child) {
                let _ = old.kill().await;
            }
            w.served = Some(generation);
            w.failed = None;
            tracing::info!(lgp = %key(lgp), generation, port = started.port, "rolled out");
            write_status(cluster, lgp, |s| {
                s.observed_generation = generation;
                s.endpoint = Some(endpoint);
                s.set(
                    "Ready",
                    true,
                    "Running",
                    "The Agent Server answers GET /ok",
                    generation,
                );
                s.set("Progressing", false, "RolledOut", "", generation);
                s.set("Degraded", false, "Running", "", generation);
                s.deployment_status = Some(
                    serde_json::json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}),
                );
            })
        }
        Err(reason) => {
            w.failed = Some(generation);
            tracing::warn!(lgp = %key(lgp), generation, %reason, "rollout failed");
            let ready_reason = if serving_before {
                "ServingPreviousGeneration"
            } else {
                "RolloutFailed"
            };
            write_status(cluster, lgp, |s| {
                s.observed_generation = generation;
                s.set("Degraded", true, "RolloutFailed", &reason, generation);
                s.set("Progressing", false, "RolloutFailed", "", generation);
                s.set("Ready", serving_before, ready_reason, "", generation);
            })
        }
    }
}

/// A process that exited since its rollout: said once, as `Degraded` (the listener reports a
/// rollout that never got ready).
fn check_exit(cluster: &LocalCluster, w: &mut Workload, lgp: &Lgp) -> anyhow::Result<()> {
    let exited = match w.current.as_mut().map(Child::try_wait) {
        Some(Ok(Some(status))) => status.to_string(),
        _ => return Ok(()),
    };
    w.current = None;
    w.served = None;
    w.failed = Some(lgp.generation);
    let generation = lgp.generation;
    let message = format!("The Agent Server exited ({exited})");
    write_status(cluster, lgp, |s| {
        s.set("Ready", false, "ProcessExited", &message, generation);
        s.set("Degraded", true, "ProcessExited", &message, generation);
    })
}

pub struct Runtime {
    config: LocalConfig,
    cluster: LocalCluster,
    workloads: BTreeMap<String, Workload>,
}

impl Runtime {
    pub fn new(config: LocalConfig) -> Self {
        Runtime {
            cluster: LocalCluster::new(&config.dir),
            config,
            workloads: BTreeMap::new(),
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(dir = %self.config.dir.display(), "local runtime reconciling");
        while !shutdown.is_cancelled() {
            if let Err(error) = self.pass().await {
                tracing::warn!(error = format!("{error:#}"), "reconcile pass failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
        // Children are killed when dropped.
        self.workloads.clear();
        Ok(())
    }

    async fn pass(&mut self) -> anyhow::Result<()> {
        let lgps = self.cluster.list_lgps()?;
        let live: Vec<String> = lgps.iter().map(key).collect();
        // Workloads whose LGP vanished without a deletion (the folder was cleared).
        self.workloads.retain(|k, _| live.contains(k));
        for lgp in lgps {
            if let Err(error) = self.reconcile(&lgp).await {
                tracing::warn!(lgp = %key(&lgp), error = format!("{error:#}"), "reconcile failed");
            }
        }
        Ok(())
    }

    async fn reconcile(&mut self, lgp: &Lgp) -> anyhow::Result<()> {
        let k = key(lgp);
        let work = self.cluster.work_dir(&lgp.namespace, &lgp.name)?;
        if lgp.deleting {
            if let Some(mut w) = self.workloads.remove(&k) {
                if let Some((_, handle)) = w.rollout.take() {
                    handle.abort();
                }
                if let Some(mut child) = w.current.take() {
                    let _ = child.kill().await;
                }
            }
            process::kill_orphans(&work);
            self.cluster.finish_delete(&lgp.namespace, &lgp.name)?;
            tracing::info!(lgp = %k, "workload removed");
            return Ok(());
        }
        if !self.workloads.contains_key(&k) {
            // First sight since this operator started: stop what an earlier one left running.
            process::kill_orphans(&work);
            let forwarder = match Forwarder::start(previous_port(lgp)).await {
                Ok(f) => f,
                Err(_) => Forwarder::start(0).await?,
            };
            self.workloads.insert(
                k.clone(),
                Workload {
                    forwarder,
                    current: None,
                    served: None,
                    failed: None,
                    rollout: None,
                },
            );
        }
        let Some(w) = self.workloads.get_mut(&k) else {
            return Ok(());
        };
        let endpoint = format!("http://127.0.0.1:{}", w.forwarder.port);
        let finished = w.rollout.as_ref().is_some_and(|(_, h)| h.is_finished());
        if finished && let Some((generation, handle)) = w.rollout.take() {
            let outcome = handle
                .await
                .unwrap_or_else(|e| Err(format!("the rollout task failed: {e}")));
            return settle(&self.cluster, w, lgp, generation, outcome, endpoint).await;
        }
        if w.rollout.is_some() {
            return Ok(());
        }
        if w.served == Some(lgp.generation) || w.failed == Some(lgp.generation) {
            return check_exit(&self.cluster, w, lgp);
        }
        let generation = lgp.generation;
        let serving = w.current.is_some();
        tracing::info!(lgp = %k, generation, "rolling out");
        let plan = process::Plan {
            lgp: lgp.clone(),
            cluster: self.cluster.clone(),
            config: self.config.clone(),
            work,
        };
        w.rollout = Some((generation, tokio::spawn(process::roll_out(plan))));
        let ep = endpoint;
        write_status(&self.cluster, lgp, |s| {
            s.observed_generation = generation;
            s.endpoint = Some(ep);
            s.set(
                "Progressing",
                true,
                "RollingOut",
                "Starting the Agent Server",
                generation,
            );
            s.set(
                "Ready",
                false,
                if serving { "RollingOut" } else { "Starting" },
                "",
                generation,
            );
            s.set("Degraded", false, "RollingOut", "", generation);
        })
    }
}
