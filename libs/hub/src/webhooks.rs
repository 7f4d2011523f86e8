//! Prompt webhooks: a workspace's URLs that receive a JSON event when a prompt gets a commit
//! or a tag is created or moved. An event becomes one delivery per firing webhook, handed to
//! the queue worker (`Task::DeliverPromptWebhook`), which retries a failing delivery with
//! back-off and dead-letters it after the worker's `max_deliveries`; every attempt's outcome is
//! recorded on the delivery.
//!
//! A delivery is a `POST` of the event with `Content-Type: application/json`, the webhook's own
//! headers, and `X-Ironsmith-Event`, `X-Ironsmith-Delivery` and
//! `X-Ironsmith-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed by the
//! webhook's signing secret (returned when the webhook is created).

use std::time::Duration;

use hmac::{Hmac, Mac};
use ironsmith_db::prompt_webhooks::{self as store, Webhook};
use ironsmith_db::{DbError, Pool};
use ironsmith_http::ApiError;
use ironsmith_queue::tasks::Task;
use ironsmith_queue::{DEFAULT_QUEUE, Queue};
use ironsmith_redis::Redis;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

/// The events a webhook can fire on.
pub const TRIGGERS: [&str; 3] = ["commit", "tag:create", "tag:update"];

/// What happened to a prompt.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub event: &'a str,
    pub repo: &'a ironsmith_db::hub::Repo,
    pub commit_hash: &'a str,
    pub manifest: &'a serde_json::value::RawValue,
    pub tag_name: Option<&'a str>,
    /// The user or key that caused it.
    pub created_by: Option<Uuid>,
}

/// The JSON body of an event.
pub fn payload(event: &Event<'_>) -> Result<String, ApiError> {
    let manifest: Value = serde_json::from_str(event.manifest.get())?;
    let body = json!({
        "event": event.event,
        "prompt_id": event.repo.id,
        "prompt_name": event.repo.repo_handle,
        "commit_hash": event.commit_hash,
        "tag_name": event.tag_name,
        "manifest": manifest,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "created_by": event.created_by.map(|id| id.to_string()).unwrap_or_default(),
    });
    Ok(serde_json::to_string(&body)?)
}

/// Records a delivery for every webhook the event fires and queues them. A delivery that
/// cannot be queued stays recorded as pending (and is logged); the change itself stands.
pub async fn fire(pg: &Pool, redis: &Redis, event: &Event<'_>) -> Result<usize, ApiError> {
    let webhooks = store::firing(pg, event.repo.tenant_id, event.repo.id, event.event).await?;
    if webhooks.is_empty() {
        return Ok(0);
    }
    let body = payload(event)?;
    let queue = Queue::new(redis.clone(), DEFAULT_QUEUE);
    for webhook in &webhooks {
        let delivery_id = store::add_delivery(pg, webhook, event.event, &body).await?;
        let task = Task::DeliverPromptWebhook {
            tenant_id: webhook.tenant_id,
            delivery_id,
        };
        if let Err(error) = queue.enqueue(&task).await {
            tracing::error!(%error, %delivery_id, "could not queue a prompt webhook delivery");
        }
    }
    Ok(webhooks.len())
}

/// Checks a webhook URL: `http` or `https`, and (unless `allow_private`) a host that is not a
/// loopback, private, link-local or unspecified address, or one that resolves to such.
pub async fn check_target(url: &str, allow_private: bool) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let policy = if allow_private {
        ironsmith_outbound::Policy::allow_all()
    } else {
        ironsmith_outbound::Policy::default()
    };
    policy.check_url(&parsed).map_err(|e| e.0)?;
    if let Some(url::Host::Domain(host)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        policy.resolve(host, port).await.map_err(|e| e.0)?;
    }
    Ok(parsed)
}

/// The client webhooks are sent with: no redirects, and (unless `allow_private`) no connection
/// to an internal address, checked on the address actually connected to.
pub fn client(allow_private: bool, timeout: Duration) -> reqwest::Client {
    let policy = if allow_private {
        ironsmith_outbound::Policy::allow_all()
    } else {
        ironsmith_outbound::Policy::default()
    };
    ironsmith_outbound::client(
        policy,
        ironsmith_outbound::Limits {
            connect: timeout,
            read: timeout,
            total: timeout,
            redirects: 0,
        },
    )
    .unwrap_or_default()
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, unix: i64, body: &str) -> String {
    // HMAC accepts a key of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{unix}.{body}").as_bytes());
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// One request to a webhook.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub url: &'a url::Url,
    pub headers: &'a Value,
    /// The signing secret; a test send (of a webhook not yet saved) is unsigned.
    pub secret: Option<&'a str>,
    pub event: &'a str,
    pub delivery_id: Uuid,
    pub body: &'a str,
}

/// Sends one event; the answer's status, or why there was none.
pub async fn send(
    client: &reqwest::Client,
    outgoing: &Outgoing<'_>,
    timeout: Duration,
) -> Result<u16, String> {
    let Outgoing {
        url,
        headers,
        secret,
        event,
        delivery_id,
        body,
    } = outgoing;
    let mut request = client
        .post((*url).clone())
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("x-ironsmith-event", *event)
        .header("x-ironsmith-delivery", delivery_id.to_string());
    if let Some(secret) = secret {
        request = request.header(
            "x-ironsmith-signature",
            signature(secret, chrono::Utc::now().timestamp(), body),
        );
    }
    for (name, value) in headers.as_object().into_iter().flatten() {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        request = request.header(name.as_str(), value);
    }
    let response = request
        .body((*body).to_owned())
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    Ok(response.status().as_u16())
}

/// Delivers one recorded delivery (the worker's task). `Err` when it must be tried again.
pub async fn deliver(
    pg: &Pool,
    client: &reqwest::Client,
    tenant_id: Uuid,
    delivery_id: Uuid,
    allow_private: bool,
    timeout: Duration,
    max_attempts: u64,
) -> Result<(), String> {
    let db = |e: DbError| e.to_string();
    let Some(delivery) = store::get_delivery(pg, tenant_id, delivery_id)
        .await
        .map_err(db)?
    else {
        return Ok(());
    };
    let Some(webhook): Option<Webhook> = store::get(pg, tenant_id, delivery.webhook_id)
        .await
        .map_err(db)?
    else {
        return Ok(());
    };
    if delivery.status == "delivered" {
        return Ok(());
    }
    let outcome = match check_target(&webhook.url, allow_private).await {
        Ok(url) => {
            let outgoing = Outgoing {
                url: &url,
                headers: &webhook.headers,
                secret: Some(&webhook.signing_secret),
                event: &delivery.event,
                delivery_id: delivery.id,
                body: &delivery.payload,
            };
            send(client, &outgoing, timeout).await
        }
        Err(refused) => Err(refused),
    };
    let (code, error) = match &outcome {
        Ok(code) if (200..300).contains(code) => {
            store::record_attempt(pg, delivery.id, "delivered", Some(i32::from(*code)), None)
                .await
                .map_err(db)?;
            return Ok(());
        }
        Ok(code) => (Some(i32::from(*code)), format!("answered {code}")),
        Err(error) => (None, error.clone()),
    };
    let attempts = i64::from(delivery.attempts) + 1;
    let status = if attempts >= i64::try_from(max_attempts).unwrap_or(i64::MAX) {
        "failed"
    } else {
        "pending"
    };
    store::record_attempt(pg, delivery.id, status, code, Some(&error))
        .await
        .map_err(db)?;
    Err(format!("prompt webhook delivery {delivery_id}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_time_and_the_body() {
        let a = signature("s", 1, "{}");
        assert!(a.starts_with("t=1,v1="));
        assert_ne!(a, signature("s", 2, "{}"));
        assert_ne!(a, signature("s", 1, "{ }"));
        assert_ne!(a, signature("t", 1, "{}"));
    }
}
