//! Rate limits per organisation and endpoint class, and hourly plan limits on ingested events
//! and bytes (CONTROL_PLANE.md §4.1–4.2), counted in Redis so they hold across replicas and
//! restarts.
//!
//! Windows are fixed and aligned to the clock (`INCR` on a key named by the window, expiring
//! after it): one round trip per request, and `Retry-After` is simply the time to the next
//! window. Plan limits use UTC clock hours, as the spec's "per UTC clock hour".

use http::Method;
use ironsmith_config::{LimitsConfig, RateLimit};
use ironsmith_queue::Redis;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;

/// The endpoint classes limits are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointClass {
    Ingest,
    Multipart,
    RunQuery,
    Default,
}

impl EndpointClass {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointClass::Ingest => "ingest",
            EndpointClass::Multipart => "multipart",
            EndpointClass::RunQuery => "run_query",
            EndpointClass::Default => "default",
        }
    }
}

/// The class of a request, from its method and canonical path.
pub fn classify(method: &Method, path: &str) -> EndpointClass {
    let path = path.trim_end_matches('/');
    let is_post = method == Method::POST;
    match path {
        "/runs/multipart" if is_post => EndpointClass::Multipart,
        "/runs" | "/runs/batch" if is_post => EndpointClass::Ingest,
        "/runs/query" | "/runs/stats" | "/runs/group" => EndpointClass::RunQuery,
        _ if path.starts_with("/otel") && is_post => EndpointClass::Ingest,
        _ if path.starts_with("/runs/") && method == Method::PATCH => EndpointClass::Ingest,
        _ if path.starts_with("/runs/")
            && method == Method::GET
            && uuid::Uuid::try_parse(&path["/runs/".len()..]).is_ok() =>
        {
            EndpointClass::RunQuery
        }
        _ => EndpointClass::Default,
    }
}

/// An organisation's overrides of the stack's limits; absent fields take the stack default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_query: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<RateLimit>,
    /// 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_per_hour: Option<u64>,
    /// 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_hour: Option<u64>,
}

impl OrgLimits {
    /// Parses the stored overrides; anything unreadable means "no overrides" (and is logged).
    pub fn from_stored(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_else(|error| {
            tracing::warn!(%error, "ignoring unreadable organisation limits");
            OrgLimits::default()
        })
    }

    /// Refuses limits that would lock an organisation out or mean nothing.
    pub fn validate(&self) -> Result<(), String> {
        for (name, limit) in [
            ("ingest", self.ingest),
            ("multipart", self.multipart),
            ("run_query", self.run_query),
            ("default", self.default),
        ] {
            if let Some(limit) = limit
                && (limit.requests == 0 || limit.window_secs == 0 || limit.window_secs > 86_400)
            {
                return Err(format!(
                    "{name}: requests must be positive and window_secs between 1 and 86400"
                ));
            }
        }
        Ok(())
    }

    pub fn rate(&self, class: EndpointClass, defaults: &LimitsConfig) -> RateLimit {
        match class {
            EndpointClass::Ingest => self.ingest.unwrap_or(defaults.ingest),
            EndpointClass::Multipart => self.multipart.unwrap_or(defaults.multipart),
            EndpointClass::RunQuery => self.run_query.unwrap_or(defaults.run_query),
            EndpointClass::Default => self.default.unwrap_or(defaults.default),
        }
    }

    /// The limits in force: these overrides over the stack's defaults.
    pub fn effective(&self, defaults: &LimitsConfig) -> OrgLimits {
        OrgLimits {
            ingest: Some(self.rate(EndpointClass::Ingest, defaults)),
            multipart: Some(self.rate(EndpointClass::Multipart, defaults)),
            run_query: Some(self.rate(EndpointClass::RunQuery, defaults)),
            default: Some(self.rate(EndpointClass::Default, defaults)),
            events_per_hour: Some(self.events_per_hour.unwrap_or(defaults.events_per_hour)),
            bytes_per_hour: Some(self.bytes_per_hour.unwrap_or(defaults.bytes_per_hour)),
        }
    }
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Counts requests in Redis.
#[derive(Debug, Clone)]
pub struct Limiter {
    redis: Redis,
    config: LimitsConfig,
}

impl Limiter {
    pub fn new(redis: Redis, config: LimitsConfig) -> Self {
        Limiter { redis, config }
    }

    pub fn defaults(&self) -> &LimitsConfig {
        &self.config
    }

    /// Counts one request against `bucket` and refuses it once `limit` is exceeded.
    pub async fn hit(&self, bucket: &str, limit: RateLimit, what: &str) -> Result<(), AuthError> {
        if !self.config.enabled {
            return Ok(());
        }
        let now = now_secs();
        let window = now / limit.window_secs;
        let key = self
            .redis
            .key(&format!("rl:{bucket}:{}:{window}", limit.window_secs));
        let count: u64 = self
            .incr_with_expiry(&key, 1, limit.window_secs + 1)
            .await?;
        if count > limit.requests {
            let retry_after_secs = (window + 1) * limit.window_secs - now;
            metrics::counter!("ironsmith_rate_limited_total", "class" => what.to_owned())
                .increment(1);
            return Err(AuthError::RateLimited {
                message: format!(
                    "Rate limit exceeded for {what} requests: {} per {} s. Retry after {retry_after_secs} s",
                    limit.requests, limit.window_secs
                ),
                retry_after_secs,
            });
        }
        Ok(())
    }

    /// Charges `events` trace events and `bytes` ingested bytes to the organisation's current
    /// UTC hour, refusing (and not counting) what would exceed its plan limits.
    pub async fn charge_usage(
        &self,
        organization_id: uuid::Uuid,
        limits: &OrgLimits,
        events: u64,
        bytes: u64,
    ) -> Result<(), AuthError> {
        let now = now_secs();
        let hour = now / 3600;
        let reset_in = (hour + 1) * 3600 - now;
        let checks = [
            (
                "events",
                events,
                limits
                    .events_per_hour
                    .unwrap_or(self.config.events_per_hour),
                "trace events per hour",
            ),
            (
                "bytes",
                bytes,
                limits.bytes_per_hour.unwrap_or(self.config.bytes_per_hour),
                "ingested bytes per hour",
            ),
        ];
        let mut charged: Vec<(String, u64)> = Vec::new();
        for (name, amount, limit, label) in checks {
            if amount == 0 {
                continue;
            }
            let key = self
                .redis
                .key(&format!("usage:{organization_id}:{hour}:{name}"));
            let total = self.incr_with_expiry(&key, amount, 7200).await?;
            charged.push((key, amount));
            if self.config.enabled && limit > 0 && total > limit {
                for (key, amount) in &charged {
                    self.decr(key, *amount).await?;
                }
                let reset = chrono::DateTime::from_timestamp(((hour + 1) * 3600) as i64, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                return Err(AuthError::RateLimited {
                    message: format!(
                        "Usage limit exceeded: {limit} {label} for this organisation. It resets at {reset}"
                    ),
                    retry_after_secs: reset_in,
                });
            }
        }
        Ok(())
    }

    /// The organisation's usage in the current UTC hour: `(events, bytes)`.
    pub async fn usage_this_hour(
        &self,
        organization_id: uuid::Uuid,
    ) -> Result<(u64, u64), AuthError> {
        let hour = now_secs() / 3600;
        let mut conn = self.redis.connection().await.map_err(unavailable)?;
        let (events, bytes): (Option<u64>, Option<u64>) = redis::cmd("MGET")
            .arg(
                self.redis
                    .key(&format!("usage:{organization_id}:{hour}:events")),
            )
            .arg(
                self.redis
                    .key(&format!("usage:{organization_id}:{hour}:bytes")),
            )
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok((events.unwrap_or(0), bytes.unwrap_or(0)))
    }

    async fn incr_with_expiry(
        &self,
        key: &str,
        by: u64,
        expiry_secs: u64,
    ) -> Result<u64, AuthError> {
        let mut conn = self.redis.connection().await.map_err(unavailable)?;
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(key, by)
            .expire(key, expiry_secs as i64)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    async fn decr(&self, key: &str, by: u64) -> Result<(), AuthError> {
        let mut conn = self.redis.connection().await.map_err(unavailable)?;
        redis::cmd("DECRBY")
            .arg(key)
            .arg(by)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

pub(crate) fn unavailable(error: impl std::fmt::Display) -> AuthError {
    tracing::error!(%error, "a store authentication needs failed");
    AuthError::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_spec_table() {
        let run = "/runs/0190f3a5-7c1e-7a00-8000-000000000001";
        assert_eq!(
            classify(&Method::POST, "/runs/multipart"),
            EndpointClass::Multipart
        );
        assert_eq!(classify(&Method::POST, "/runs"), EndpointClass::Ingest);
        assert_eq!(
            classify(&Method::POST, "/runs/batch"),
            EndpointClass::Ingest
        );
        assert_eq!(classify(&Method::PATCH, run), EndpointClass::Ingest);
        assert_eq!(
            classify(&Method::POST, "/otel/v1/traces"),
            EndpointClass::Ingest
        );
        assert_eq!(
            classify(&Method::POST, "/runs/query"),
            EndpointClass::RunQuery
        );
        assert_eq!(
            classify(&Method::POST, "/runs/stats"),
            EndpointClass::RunQuery
        );
        assert_eq!(classify(&Method::GET, run), EndpointClass::RunQuery);
        assert_eq!(
            classify(&Method::GET, "/runs/not-a-uuid"),
            EndpointClass::Default
        );
        assert_eq!(classify(&Method::GET, "/sessions"), EndpointClass::Default);
        assert_eq!(
            classify(&Method::GET, "/runs/multipart"),
            EndpointClass::Default
        );
    }

    #[test]
    fn overrides_fall_back_to_the_stack_defaults() {
        let defaults = LimitsConfig {
            enabled: true,
            ingest: RateLimit {
                requests: 2000,
                window_secs: 10,
            },
            multipart: RateLimit {
                requests: 6000,
                window_secs: 10,
            },
            run_query: RateLimit {
                requests: 300,
                window_secs: 10,
            },
            default: RateLimit {
                requests: 1000,
                window_secs: 10,
            },
            unauthenticated: RateLimit {
                requests: 100,
                window_secs: 60,
            },
            events_per_hour: 0,
            bytes_per_hour: 0,
        };
        let overrides: OrgLimits = serde_json::from_value(
            serde_json::json!({"default": {"requests": 5, "window_secs": 60}}),
        )
        .expect("parse");
        assert_eq!(
            overrides.rate(EndpointClass::Default, &defaults),
            RateLimit {
                requests: 5,
                window_secs: 60
            }
        );
        assert_eq!(
            overrides.rate(EndpointClass::Ingest, &defaults),
            defaults.ingest
        );
        assert!(serde_json::from_value::<OrgLimits>(serde_json::json!({"bogus": 1})).is_err());
        let zero: OrgLimits = serde_json::from_value(
            serde_json::json!({"ingest": {"requests": 0, "window_secs": 10}}),
        )
        .expect("parse");
        assert!(zero.validate().is_err());
    }
}
