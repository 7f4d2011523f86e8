//! The name of every Redis key Ironsmith uses, before the configured prefix ([`super::Redis::key`]
//! adds it). Keeping them in one place keeps them from colliding, and tells an operator what a
//! key in Redis belongs to.

use uuid::Uuid;

/// The entries of one shard of a sharded stream (the ingestion stream `ingest`).
pub fn stream_shard(stream: &str, shard: u16) -> String {
    format!("stream:{stream}:{shard}")
}

/// A sharded stream's dead letters.
pub fn stream_dead_letters(stream: &str) -> String {
    format!("stream:{stream}:dead")
}

/// Which worker holds a shard of a sharded stream, until when.
pub fn stream_lease(stream: &str, shard: u16) -> String {
    format!("stream:{stream}:{shard}:lease")
}

/// A task queue.
pub fn queue(name: &str) -> String {
    format!("queue:{name}")
}

/// A task queue's dead letters.
pub fn queue_dead_letters(name: &str) -> String {
    format!("queue:{name}:dead")
}

/// Set by the worker when it handles a ping task (readiness of the queue end to end).
pub fn worker_pong(id: Uuid) -> String {
    format!("worker:pong:{id}")
}

/// Held by the worker that starts the periodic object sweep.
pub fn sweep_lock() -> String {
    "worker:sweep-lock".into()
}

/// Runs an update (or a lone field part) touched before their create arrived.
pub fn ingest_touched(tenant_id: Uuid, run_id: Uuid) -> String {
    format!("ingest:touched:{tenant_id}:{run_id}")
}

/// How many runs a trace holds (the per-trace cap).
pub fn ingest_trace_runs(tenant_id: Uuid, trace_id: Uuid) -> String {
    format!("ingest:trace-runs:{tenant_id}:{trace_id}")
}

/// Where a run created without `dotted_order` sits in its trace, for its children.
pub fn ingest_position(tenant_id: Uuid, run_id: Uuid) -> String {
    format!("ingest:position:{tenant_id}:{run_id}")
}

/// A cached principal of an API key, by the key's hash (hex).
pub fn principal_of_key(key_hash_hex: &str) -> String {
    format!("auth:principal:key:{key_hash_hex}")
}

/// A cached principal of a login session.
pub fn principal_of_session(session_id: Uuid) -> String {
    format!("auth:principal:session:{session_id}")
}

/// Marks a cached principal as revoked, so no replica re-caches it.
pub fn revoked(principal_key: &str) -> String {
    format!("{principal_key}:gone")
}

/// When an API key was last recorded as used (last-use writes are throttled).
pub fn key_used(key_id: Uuid) -> String {
    format!("auth:used:{key_id}")
}

/// A rate-limit counter: one bucket, one window.
pub fn rate_limit(bucket: &str, window_secs: u64, window: u64) -> String {
    format!("rl:{bucket}:{window_secs}:{window}")
}

/// An organisation's usage counter (`events` or `bytes`) for one UTC hour.
pub fn usage(organization_id: Uuid, hour: u64, name: &str) -> String {
    format!("usage:{organization_id}:{hour}:{name}")
}

/// A pending single sign-on login, by its `state`.
pub fn oidc_state(state: &str) -> String {
    format!("oidc:state:{state}")
}
