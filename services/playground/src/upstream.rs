//! The playground's calls into the stack, made with the caller's own credentials: backend
//! resolves what a call needs; platform-backend ingests the traced run, exactly as an SDK's
//! trace would arrive.

use ironsmith_api_types::playground::{ResolveRequest, ResolvedCall};
use ironsmith_http::ApiError;
use serde_json::Value;
use uuid::Uuid;

/// See backend's playground route.
const INTERNAL_TOKEN_HEADER: &str = "x-ironsmith-internal-token";

#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    backend: url::Url,
    platform: url::Url,
    internal_token: String,
}

pub use ironsmith_http::forward::Credentials;

fn with(
    credentials: &Credentials,
    mut request: reqwest::RequestBuilder,
) -> reqwest::RequestBuilder {
    for (name, value) in credentials.headers() {
        request = request.header(name, value);
    }
    request
}

fn within(
    credentials: &Credentials,
    tenant_id: Uuid,
    mut request: reqwest::RequestBuilder,
) -> reqwest::RequestBuilder {
    for (name, value) in credentials.headers_in(tenant_id) {
        request = request.header(name, value);
    }
    request
}

/// An answer of backend or platform-backend that was not a success, passed on as it came.
async fn passed_on(response: reqwest::Response) -> ApiError {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ironsmith_http::forward::passed_on(status, &body)
}

impl Upstream {
    pub fn new(config: &ironsmith_config::Config) -> anyhow::Result<Upstream> {
        Ok(Upstream {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .no_proxy()
                .build()?,
            backend: config.endpoints.backend.clone(),
            platform: config.endpoints.platform_backend.clone(),
            internal_token: config.playground.internal_token.expose().to_owned(),
        })
    }

    pub async fn resolve(
        &self,
        credentials: &Credentials,
        request: &ResolveRequest,
    ) -> Result<ResolvedCall, ApiError> {
        if self.internal_token.is_empty() {
            return Err(ApiError::ServiceUnavailable(
                "The playground is off: the operator has not set playground.internal_token".into(),
            ));
        }
        let url = self.backend.join("internal/playground/resolve")?;
        let response = with(credentials, self.http.post(url))
            .header(INTERNAL_TOKEN_HEADER, &self.internal_token)
            .json(request)
            .send()
            .await
            .map_err(|e| ApiError::ServiceUnavailable(format!("backend is unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(passed_on(response).await);
        }
        let body = response.bytes().await.map_err(|e| {
            ApiError::ServiceUnavailable(format!("backend's answer broke off: {e}"))
        })?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Sends a finished run to ingestion, into the workspace the call was resolved in.
    pub async fn trace(
        &self,
        credentials: &Credentials,
        tenant_id: Uuid,
        run: &Value,
    ) -> Result<(), ApiError> {
        let url = self.platform.join("runs/batch")?;
        let response = within(credentials, tenant_id, self.http.post(url))
            .json(&serde_json::json!({"post": [run]}))
            .send()
            .await
            .map_err(|e| ApiError::ServiceUnavailable(format!("ingestion is unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(passed_on(response).await);
        }
        Ok(())
    }
}
