//! The name of every Redis key Ironsmith uses, before the configured prefix ([`super::Redis::key`]
//! adds it). Keeping them in one place keeps them from colliding, and tells an operator what a
//! key in Redis belongs to. The part in braces is the key's hash tag on a Redis Cluster: keys
//! with the same tag share a slot, so one command, script or transaction may use them together
//! (on a single server the braces are dropped).

use uuid::Uuid;

/// The entries of one shard of a sharded stream (the ingestion stream `ingest`); its lease
/// shares its slot.
pub fn stream_shard(stream: &str, shard: u16) -> String {
    format!("stream:{{{stream}:{shard}}}")
}

/// A sharded stream's dead letters (a slot of their own: on a cluster, moving an entry there is
/// a copy, then a delete).
pub fn stream_dead_letters(stream: &str) -> String {
    format!("stream:{stream}:dead")
}

/// Which worker holds a shard of a sharded stream, until when.
pub fn stream_lease(stream: &str, shard: u16) -> String {
    format!("stream:{{{stream}:{shard}}}:lease")
}

/// A task queue.
pub fn queue(name: &str) -> String {
    format!("queue:{{{name}}}")
}

/// A task queue's dead letters.
pub fn queue_dead_letters(name: &str) -> String {
    format!("queue:{{{name}}}:dead")
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
    format!("ingest:touched:{{{tenant_id}}}:{run_id}")
}

/// How many runs a trace holds (the per-trace cap).
pub fn ingest_trace_runs(tenant_id: Uuid, trace_id: Uuid) -> String {
    format!("ingest:trace-runs:{{{tenant_id}}}:{trace_id}")
}

/// Where a run created without `dotted_order` sits in its trace, for its children.
pub fn ingest_position(tenant_id: Uuid, run_id: Uuid) -> String {
    format!("ingest:position:{tenant_id}:{run_id}")
}

/// A cached principal of an API key, by the key's hash (hex).
pub fn principal_of_key(key_hash_hex: &str) -> String {
    format!("auth:principal:{{key:{key_hash_hex}}}")
}

/// A cached principal of a login session.
pub fn principal_of_session(session_id: Uuid) -> String {
    format!("auth:principal:{{session:{session_id}}}")
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
    format!("usage:{{{organization_id}:{hour}}}:{name}")
}

/// A pending single sign-on login, by its `state`.
pub fn oidc_state(state: &str) -> String {
    format!("oidc:state:{state}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of a key a Redis Cluster hashes: the first `{…}` with something inside.
    fn hash_tag(key: &str) -> &str {
        key.find('{')
            .and_then(|open| {
                let rest = key.get(open + 1..)?;
                rest.find('}')
                    .filter(|close| *close > 0)
                    .and_then(|close| rest.get(..close))
            })
            .unwrap_or(key)
    }

    #[test]
    fn keys_used_together_share_a_hash_tag() {
        let (tenant, other, id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            hash_tag(&stream_shard("ingest", 3)),
            hash_tag(&stream_lease("ingest", 3))
        );
        assert_ne!(
            hash_tag(&stream_shard("ingest", 3)),
            hash_tag(&stream_shard("ingest", 4))
        );
        assert_eq!(
            hash_tag(&queue("default")),
            hash_tag(&queue_dead_letters("default"))
        );
        let principal = principal_of_key("abcd");
        assert_eq!(hash_tag(&principal), hash_tag(&revoked(&principal)));
        assert_eq!(
            hash_tag(&ingest_touched(tenant, id)),
            hash_tag(&ingest_trace_runs(tenant, id))
        );
        assert_ne!(
            hash_tag(&ingest_touched(tenant, id)),
            hash_tag(&ingest_touched(other, id))
        );
        assert_eq!(
            hash_tag(&usage(tenant, 7, "events")),
            hash_tag(&usage(tenant, 7, "bytes"))
        );
    }
}
