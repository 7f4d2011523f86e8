//! The listener's client of the control plane. Every call carries the workspace key and
//! tenant; 429 and 5xx are retried with exponential back-off and jitter; 401 and 403 are
//! [`ClientError::Denied`], on which the listener stops reconciling.

use std::time::Duration;

use ironsmith_api_types::deployments::{
    Deployment, DeploymentPage, Heartbeat, HeartbeatAck, Listener, LogAppend, LogAppendLine,
    Revision, RevisionStatus, SecretEntry, SourceUrl, StatusReport,
};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::config::Config;

const ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the control plane refused the listener's key ({status}): {body}")]
    Denied { status: StatusCode, body: String },
    #[error("{status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("the control plane is unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected answer: {0}")]
    Decode(#[from] serde_json::Error),
}

impl ClientError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } | ClientError::Denied { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    base: url::Url,
    api_key: String,
    tenant_id: Uuid,
    pub instance_id: String,
    lease_seconds: i64,
}

impl ControlPlane {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(ControlPlane {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("ironsmith-listener/", env!("CARGO_PKG_VERSION")))
                .build()?,
            base: config.host_backend_endpoint.clone(),
            api_key: config.api_key.clone(),
            tenant_id: config.tenant_id,
            instance_id: config.instance_id.clone(),
            lease_seconds: config.lease_seconds,
        })
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, ClientError> {
        let url =
            self.base
                .join(path.trim_start_matches('/'))
                .map_err(|e| ClientError::Status {
                    status: StatusCode::BAD_REQUEST,
                    body: e.to_string(),
                })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("x-api-key", &self.api_key)
                .header("x-tenant-id", self.tenant_id.to_string());
            if let Some(body) = body {
                request = request.json(body);
            }
            let retry = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        let bytes = response.bytes().await?;
                        if bytes.is_empty() || status == StatusCode::NO_CONTENT {
                            return Ok(None);
                        }
                        return Ok(Some(serde_json::from_slice(&bytes)?));
                    }
                    let text = response.text().await.unwrap_or_default();
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        return Err(ClientError::Denied { status, body: text });
                    }
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                        return Err(ClientError::Status { status, body: text });
                    }
                    ClientError::Status { status, body: text }
                }
                Err(e) => ClientError::Transport(e),
            };
            if attempt >= ATTEMPTS {
                return Err(retry);
            }
            let backoff = 200u64 * 2u64.pow(attempt) + rand::random::<u64>() % 250;
            tracing::debug!(%url, attempt, error = %retry, backoff_ms = backoff, "retrying");
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<(), T>(Method::GET, path, None)
            .await?
            .ok_or_else(|| ClientError::Status {
                status: StatusCode::NO_CONTENT,
                body: format!("GET {path} answered no body"),
            })
    }

    pub async fn listener(&self, id: &str) -> Result<Listener, ClientError> {
        self.get(&format!("v2/listeners/{id}")).await
    }

    pub async fn heartbeat(&self, id: &str, beat: &Heartbeat) -> Result<HeartbeatAck, ClientError> {
        self.call(
            Method::POST,
            &format!("v2/listeners/{id}/heartbeat"),
            Some(beat),
        )
        .await?
        .ok_or_else(|| ClientError::Status {
            status: StatusCode::NO_CONTENT,
            body: "heartbeat answered no body".into(),
        })
    }

    /// Every deployment bound to the listener, paging to the end.
    pub async fn deployments(&self, listener: Uuid) -> Result<Vec<Deployment>, ClientError> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page: DeploymentPage = self
                .get(&format!(
                    "v2/deployments?remote_reconciled=true&listener_id={listener}&limit=100&offset={offset}"
                ))
                .await?;
            let full = page.resources.len() == 100;
            offset = page.offset;
            all.extend(page.resources);
            if !full {
                return Ok(all);
            }
        }
    }

    pub async fn revision(
        &self,
        deployment: Uuid,
        revision: Uuid,
    ) -> Result<Revision, ClientError> {
        self.get(&format!("v2/deployments/{deployment}/revisions/{revision}"))
            .await
    }

    pub async fn secrets(
        &self,
        listener: &str,
        deployment: Uuid,
    ) -> Result<Vec<SecretEntry>, ClientError> {
        self.get(&format!(
            "v2/listeners/{listener}/deployments/{deployment}/secrets"
        ))
        .await
    }

    pub async fn source_url(
        &self,
        listener: &str,
        deployment: Uuid,
        revision: Uuid,
    ) -> Result<String, ClientError> {
        let url: Option<SourceUrl> = self
            .call::<(), SourceUrl>(
                Method::POST,
                &format!("v2/listeners/{listener}/deployments/{deployment}/revisions/{revision}/source-url"),
                None,
            )
            .await?;
        url.map(|u| u.url).ok_or_else(|| ClientError::Status {
            status: StatusCode::NO_CONTENT,
            body: "source-url answered no body".into(),
        })
    }

    /// Reports a revision's status under this replica's lease.
    pub async fn report(
        &self,
        deployment: Uuid,
        revision: Uuid,
        status: RevisionStatus,
        message: Option<String>,
        endpoint: Option<String>,
    ) -> Result<(), ClientError> {
        let report = StatusReport {
            status,
            message,
            endpoint,
            holder: Some(self.instance_id.clone()),
            lease_seconds: Some(self.lease_seconds),
        };
        self.call::<_, serde_json::Value>(
            Method::PATCH,
            &format!("v2/deployments/{deployment}/revisions/{revision}/status"),
            Some(&report),
        )
        .await?;
        Ok(())
    }

    pub async fn log(&self, deployment: Uuid, revision: Uuid, level: &str, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let now = chrono::Utc::now();
        let body = LogAppend {
            kind: "deploy".into(),
            lines: lines
                .into_iter()
                .map(|message| LogAppendLine {
                    timestamp: now,
                    level: level.to_owned(),
                    message,
                })
                .collect(),
        };
        let sent = self
            .call::<_, serde_json::Value>(
                Method::POST,
                &format!("v2/deployments/{deployment}/revisions/{revision}/logs"),
                Some(&body),
            )
            .await;
        if let Err(error) = sent {
            tracing::warn!(%deployment, %revision, %error, "could not report deploy logs");
        }
    }

    pub async fn teardown_complete(&self, deployment: Uuid) -> Result<(), ClientError> {
        match self
            .call::<(), serde_json::Value>(
                Method::POST,
                &format!("v2/deployments/{deployment}/teardown-complete"),
                None,
            )
            .await
        {
            // Already gone (a retry after the row was removed).
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
