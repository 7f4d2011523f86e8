//! One pass over one deployment. Each pass moves a rollout at most one step, from what the
//! control plane and the cluster say now, so a restarted listener picks up where the last one
//! stopped and two replicas never both act (the control plane leases each rollout to one):
//!
//! - `QUEUED` with something to deploy: claim it (`AWAITING_DEPLOY`);
//! - `AWAITING_DEPLOY`: write the deployment's Secret and its `LGP`, report `DEPLOYING`;
//! - `DEPLOYING`: once the operator reports the `LGP` ready, call the deployment's `/ok` and
//!   report `DEPLOYED` with its endpoint; a degraded `LGP` or a rollout past the timeout is
//!   `DEPLOY_FAILED` with the reason; otherwise renew the lease;
//! - a deployment awaiting deletion: delete its `LGP`, Secret and volume claims, and confirm
//!   the teardown once the `LGP` is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use ironsmith_api_types::deployments::{
    Deployment, DeploymentSource, DeploymentStatus, Revision, RevisionStatus,
};
use ironsmith_dataplane::Cluster;
use ironsmith_dataplane::lgp::ANNOTATION_REVISION_ID;
use reqwest::StatusCode;

use crate::client::{ClientError, ControlPlane};
use crate::config::Config;
use crate::spec::{self, Context};

/// Lines of the workload's own output attached to a finished rollout's deploy logs.
const WORKLOAD_LOG_LINES: usize = 200;

pub struct Reconciler {
    pub config: Config,
    pub control: ControlPlane,
    pub cluster: Cluster,
    pub http: reqwest::Client,
    /// The listener as its path names it (a UUID or `default`).
    pub listener_path: String,
}

/// What a pass found: still in progress (counts as a pending job) or settled.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Settled,
}

fn namespace(deployment: &Deployment) -> Option<&str> {
    deployment
        .source_config
        .listener_config
        .as_ref()
        .and_then(|c| c.k8s_namespace.as_deref())
}

/// A 409 means another replica holds the rollout, or it moved on: not an error.
fn contested(error: &ClientError) -> bool {
    error.status() == Some(StatusCode::CONFLICT)
}

impl Reconciler {
    pub async fn pass(
        &self,
        deployment: &Deployment,
        watched: &[String],
    ) -> Result<Outcome, ClientError> {
        let Some(ns) = namespace(deployment) else {
            return Ok(Outcome::Settled);
        };
        if !watched.iter().any(|w| w == ns) {
            tracing::debug!(deployment = %deployment.name, ns, "namespace not watched by this listener");
            return Ok(Outcome::Settled);
        }
        if matches!(
            deployment.status,
            DeploymentStatus::AwaitingDelete | DeploymentStatus::AwaitingFinalDelete
        ) {
            return self.teardown(deployment, ns).await;
        }
        let Some(revision_id) = deployment.latest_revision_id else {
            return Ok(Outcome::Settled);
        };
        let revision = self.control.revision(deployment.id, revision_id).await?;
        let step = match revision.status {
            RevisionStatus::Queued => self.claim(deployment, &revision).await,
            RevisionStatus::AwaitingDeploy => self.apply(deployment, &revision, ns).await,
            RevisionStatus::Deploying => self.check(deployment, &revision, ns).await,
            _ => return Ok(Outcome::Settled),
        };
        match step {
            Err(e) if contested(&e) => {
                tracing::debug!(deployment = %deployment.name, error = %e, "rollout held elsewhere");
                Ok(Outcome::Settled)
            }
            other => other,
        }
    }

    fn deployable(revision: &Revision) -> bool {
        let config = &revision.source_revision_config;
        match revision.source {
            DeploymentSource::InternalSource => config.source_tarball_path.is_some(),
            _ => config.image_uri.is_some(),
        }
    }

    async fn claim(
        &self,
        deployment: &Deployment,
        revision: &Revision,
    ) -> Result<Outcome, ClientError> {
        if !Self::deployable(revision) {
            return Ok(Outcome::Settled);
        }
        self.control
            .report(
                deployment.id,
                revision.id,
                RevisionStatus::AwaitingDeploy,
                None,
                None,
            )
            .await?;
        self.control
            .log(
                deployment.id,
                revision.id,
                "INFO",
                vec![format!(
                    "Claimed by listener replica {}",
                    self.control.instance_id
                )],
            )
            .await;
        tracing::info!(deployment = %deployment.name, revision = %revision.id, "rollout claimed");
        Ok(Outcome::Pending)
    }

    async fn fail(
        &self,
        deployment: &Deployment,
        revision: &Revision,
        ns: &str,
        reason: String,
    ) -> Result<Outcome, ClientError> {
        tracing::warn!(deployment = %deployment.name, revision = %revision.id, %reason, "rollout failed");
        let mut lines = vec![format!("Rollout failed: {reason}")];
        lines.extend(self.workload_logs(ns, &deployment.name).await);
        self.control
            .log(deployment.id, revision.id, "ERROR", lines)
            .await;
        self.control
            .report(
                deployment.id,
                revision.id,
                RevisionStatus::DeployFailed,
                Some(reason),
                None,
            )
            .await?;
        Ok(Outcome::Settled)
    }

    /// Writes the Secret and the `LGP` of the revision.
    async fn apply(
        &self,
        deployment: &Deployment,
        revision: &Revision,
        ns: &str,
    ) -> Result<Outcome, ClientError> {
        // Renewing the claim first: a replica that does not hold the rollout stops here (409)
        // before touching the cluster.
        self.control
            .report(deployment.id, revision.id, revision.status, None, None)
            .await?;
        let secrets = self
            .control
            .secrets(&self.listener_path, deployment.id)
            .await?;
        let mut data: BTreeMap<String, String> = secrets
            .iter()
            .map(|s| (s.name.clone(), s.value.clone()))
            .collect();
        data.entry("LANGSMITH_API_KEY".into())
            .or_insert_with(|| self.config.api_key.clone());
        let source_url = match revision.source_revision_config.source_tarball_path {
            Some(_) => Some(
                self.control
                    .source_url(&self.listener_path, deployment.id, revision.id)
                    .await?,
            ),
            None => None,
        };
        let cx = Context {
            langsmith_endpoint: &self.config.langsmith_endpoint,
            tenant_id: self.config.tenant_id,
            namespace: ns,
            source_url,
        };
        let lgp = match spec::lgp(deployment, revision, &secrets, &cx) {
            Ok(lgp) => lgp,
            Err(e) => return self.fail(deployment, revision, ns, format!("{e:#}")).await,
        };
        if let Err(e) = self.cluster.apply_secret(ns, &deployment.name, &data).await {
            return self
                .fail(
                    deployment,
                    revision,
                    ns,
                    format!("writing Secret {ns}/{}: {e:#}", deployment.name),
                )
                .await;
        }
        let generation = match self.cluster.apply_lgp(&lgp).await {
            Ok(generation) => generation,
            Err(e) => {
                return self
                    .fail(
                        deployment,
                        revision,
                        ns,
                        format!("writing LGP {ns}/{}: {e:#}", deployment.name),
                    )
                    .await;
            }
        };
        let what = lgp
            .spec
            .server_spec
            .image
            .clone()
            .unwrap_or_else(|| "the uploaded source".into());
        self.control
            .log(
                deployment.id,
                revision.id,
                "INFO",
                vec![
                    format!(
                        "Secret {ns}/{} written ({} values)",
                        deployment.name,
                        data.len()
                    ),
                    format!(
                        "LGP {ns}/{} applied at generation {generation}: {what}",
                        deployment.name
                    ),
                ],
            )
            .await;
        self.control
            .report(
                deployment.id,
                revision.id,
                RevisionStatus::Deploying,
                None,
                None,
            )
            .await?;
        Ok(Outcome::Pending)
    }

    async fn healthy(&self, endpoint: &str) -> Result<(), String> {
        let url = format!("{}/ok", endpoint.trim_end_matches('/'));
        match self
            .http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("GET {url} answered {}", r.status())),
            Err(e) => Err(format!("GET {url} failed: {e}")),
        }
    }

    async fn check(
        &self,
        deployment: &Deployment,
        revision: &Revision,
        ns: &str,
    ) -> Result<Outcome, ClientError> {
        // Only the replica holding the rollout goes on (409 for any other).
        self.control
            .report(
                deployment.id,
                revision.id,
                RevisionStatus::Deploying,
                None,
                None,
            )
            .await?;
        let lgp = match self.cluster.get_lgp(ns, &deployment.name).await {
            Ok(lgp) => lgp,
            Err(e) => {
                tracing::warn!(deployment = %deployment.name, error = %format!("{e:#}"), "reading the LGP");
                return self.renew(deployment, revision).await;
            }
        };
        let current = lgp.as_ref().is_some_and(|l| {
            l.annotations.get(ANNOTATION_REVISION_ID) == Some(&revision.id.to_string())
        });
        let Some(lgp) = lgp.filter(|_| current) else {
            // The LGP is missing or declares another revision (a restart between two steps):
            // write it again.
            return self.apply(deployment, revision, ns).await;
        };
        let elapsed = (Utc::now() - revision.updated_at)
            .to_std()
            .unwrap_or_default();
        if let Some(status) = lgp.status.as_ref().filter(|_| lgp.observed()) {
            if status.is_true("Degraded") {
                let reason = status
                    .condition("Degraded")
                    .map(|c| format!("{}: {}", c.reason, c.message))
                    .unwrap_or_default();
                return self.fail(deployment, revision, ns, reason).await;
            }
            if status.is_true("Ready") {
                let endpoint = status.endpoint.clone();
                if self.config.health_check {
                    let Some(url) = endpoint.as_deref() else {
                        return self
                            .fail(
                                deployment,
                                revision,
                                ns,
                                "the LGP is ready but reports no endpoint to check".into(),
                            )
                            .await;
                    };
                    if let Err(reason) = self.healthy(url).await {
                        if elapsed > self.config.deploy_timeout {
                            return self
                                .fail(deployment, revision, ns, format!("health check: {reason}"))
                                .await;
                        }
                        tracing::debug!(deployment = %deployment.name, %reason, "not healthy yet");
                        return self.renew(deployment, revision).await;
                    }
                }
                let mut lines = vec![format!(
                    "Ready at {}{}",
                    endpoint.as_deref().unwrap_or("(no endpoint)"),
                    if self.config.health_check {
                        "; GET /ok answered 200"
                    } else {
                        ""
                    }
                )];
                lines.extend(self.workload_logs(ns, &deployment.name).await);
                self.control
                    .log(deployment.id, revision.id, "INFO", lines)
                    .await;
                self.control
                    .report(
                        deployment.id,
                        revision.id,
                        RevisionStatus::Deployed,
                        None,
                        endpoint,
                    )
                    .await?;
                tracing::info!(deployment = %deployment.name, revision = %revision.id, "deployed");
                return Ok(Outcome::Settled);
            }
        }
        if elapsed > self.config.deploy_timeout {
            return self
                .fail(
                    deployment,
                    revision,
                    ns,
                    format!("not ready after {} s", self.config.deploy_timeout.as_secs()),
                )
                .await;
        }
        self.renew(deployment, revision).await
    }

    /// The workload's last lines, without terminal colour codes and blank lines.
    async fn workload_logs(&self, ns: &str, name: &str) -> Vec<String> {
        self.cluster
            .workload_logs(ns, name, WORKLOAD_LOG_LINES)
            .await
            .unwrap_or_default()
            .iter()
            .map(|l| strip_ansi(l))
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Keeps the rollout's lease while waiting.
    async fn renew(
        &self,
        deployment: &Deployment,
        revision: &Revision,
    ) -> Result<Outcome, ClientError> {
        self.control
            .report(
                deployment.id,
                revision.id,
                RevisionStatus::Deploying,
                None,
                None,
            )
            .await?;
        Ok(Outcome::Pending)
    }

    async fn teardown(&self, deployment: &Deployment, ns: &str) -> Result<Outcome, ClientError> {
        let name = &deployment.name;
        let cleaned = async {
            self.cluster.delete_lgp(ns, name).await?;
            self.cluster.delete_secret(ns, name).await?;
            self.cluster.delete_pvcs(ns, name).await?;
            self.cluster.get_lgp(ns, name).await
        }
        .await;
        match cleaned {
            Ok(None) => {
                self.control.teardown_complete(deployment.id).await?;
                tracing::info!(deployment = %name, "torn down");
                Ok(Outcome::Settled)
            }
            Ok(Some(_)) => Ok(Outcome::Pending),
            Err(e) => {
                tracing::warn!(deployment = %name, error = %format!("{e:#}"), "teardown");
                Ok(Outcome::Pending)
            }
        }
    }
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m [\u{1b}[32minfo\u{1b}[0m] ok"),
            "2026 [info] ok"
        );
    }
}
