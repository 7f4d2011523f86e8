//! Rate limits per organisation and endpoint class, and hourly plan limits on ingested events
//! and bytes, counted in Redis so they hold across replicas and
//! restarts.
//!
//! Windows are fixed and aligned to the clock (`INCR` on a key named by the window, expiring
//! after it): one round trip per request, and `Retry-After` is simply the time to the next
//! window. Plan limits count per UTC clock hour, as LangSmith's plans do.

use http::Method;
use ironsmith_config::{LimitsConfig, RateLimit};
use ironsmith_redis::{Redis, keys};
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

    /// The limits in force for an organisation: its operator-set `plan` over the stack's
    /// defaults, lowered wherever the organisation's own `tenant` limits are lower. A tenant
    /// value above the plan (the plan was lowered after the tenant set it) is ignored.
    pub fn in_force(plan: &OrgLimits, tenant: &OrgLimits, defaults: &LimitsConfig) -> OrgLimits {
        let plan = plan.effective(defaults);
        let rate = |plan: Option<RateLimit>, tenant: Option<RateLimit>| match (plan, tenant) {
            (Some(p), Some(t)) if rate_within(t, p) => Some(t),
            (p, _) => p,
        };
        let hourly = |plan: Option<u64>, tenant: Option<u64>| match (plan, tenant) {
            (Some(p), Some(t)) if hourly_within(t, p) => Some(t),
            (p, _) => p,
        };
        OrgLimits {
            ingest: rate(plan.ingest, tenant.ingest),
            multipart: rate(plan.multipart, tenant.multipart),
            run_query: rate(plan.run_query, tenant.run_query),
            default: rate(plan.default, tenant.default),
            events_per_hour: hourly(plan.events_per_hour, tenant.events_per_hour),
            bytes_per_hour: hourly(plan.bytes_per_hour, tenant.bytes_per_hour),
        }
    }

    /// Refuses tenant limits that would raise anything above `in_plan` (the plan in force):
    /// organisations may only lower their own limits.
    pub fn validate_within(&self, in_plan: &OrgLimits) -> Result<(), String> {
        for (name, tenant, plan) in [
            ("ingest", self.ingest, in_plan.ingest),
            ("multipart", self.multipart, in_plan.multipart),
            ("run_query", self.run_query, in_plan.run_query),
            ("default", self.default, in_plan.default),
        ] {
            if let (Some(t), Some(p)) = (tenant, plan)
                && !rate_within(t, p)
            {
                return Err(format!(
                    "{name}: {} per {} s is above the plan's {} per {} s; an organisation may \
                     only lower its limits (the installation's operator sets the plan)",
                    t.requests, t.window_secs, p.requests, p.window_secs
                ));
            }
        }
        for (name, tenant, plan) in [
            (
                "events_per_hour",
                self.events_per_hour,
                in_plan.events_per_hour,
            ),
            (
                "bytes_per_hour",
                self.bytes_per_hour,
                in_plan.bytes_per_hour,
            ),
        ] {
            if let (Some(t), Some(p)) = (tenant, plan)
                && !hourly_within(t, p)
            {
                let plan = if p == 0 {
                    "unlimited".to_owned()
                } else {
                    p.to_string()
                };
                return Err(format!(
                    "{name}: {} is above the plan's {plan}; an organisation may only lower its \
                     limits (the installation's operator sets the plan)",
                    if t == 0 {
                        "unlimited".to_owned()
                    } else {
                        t.to_string()
                    }
                ));
            }
        }
        Ok(())
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

/// Whether `tenant` allows no more than `plan`: no larger burst and no higher rate.
fn rate_within(tenant: RateLimit, plan: RateLimit) -> bool {
    tenant.requests <= plan.requests
        && u128::from(tenant.requests) * u128::from(plan.window_secs)
            <= u128::from(plan.requests) * u128::from(tenant.window_secs)
}

/// Whether an hourly limit `tenant` allows no more than `plan` (0 is unlimited).
fn hourly_within(tenant: u64, plan: u64) -> bool {
    plan == 0 || (tenant != 0 && tenant <= plan)
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Usage charged to one organisation's hour.
#[derive(Debug, Clone, Copy)]
pub struct UsageCharge {
    organization_id: uuid::Uuid,
    hour: u64,
    events: u64,
    bytes: u64,
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
            .key(&keys::rate_limit(bucket, limit.window_secs, window));
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
    /// UTC hour, refusing (and not counting) what would exceed its plan limits. Returns the
    /// charge, for `refund_usage` should the request not be stored after all.
    pub async fn charge_usage(
        &self,
        organization_id: uuid::Uuid,
        limits: &OrgLimits,
        events: u64,
        bytes: u64,
    ) -> Result<UsageCharge, AuthError> {
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
            let key = self.redis.key(&keys::usage(organization_id, hour, name));
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
        Ok(UsageCharge {
            organization_id,
            hour,
            events,
            bytes,
        })
    }

    /// Takes back a charge for a request that was then not stored, from the hour it was made
    /// in. Best effort: a refund that cannot be made is logged (the hour's count then stays
    /// high until the hour ends, which errs toward the organisation's limit, never past it).
    pub async fn refund_usage(&self, charge: &UsageCharge) {
        let UsageCharge {
            organization_id,
            hour,
            events,
            bytes,
        } = *charge;
        for (name, amount) in [("events", events), ("bytes", bytes)] {
            if amount == 0 {
                continue;
            }
            let key = self.redis.key(&keys::usage(organization_id, hour, name));
            if let Err(error) = self.decr(&key, amount).await {
                tracing::warn!(%error, "best effort: could not refund the usage of a refused request");
            }
        }
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
                    .key(&keys::usage(organization_id, hour, "events")),
            )
            .arg(self.redis.key(&keys::usage(organization_id, hour, "bytes")))
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
            public: RateLimit {
                requests: 600,
                window_secs: 60,
            },
            feedback_token_submissions: 100,
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
