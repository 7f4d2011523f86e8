//! The principal cache in Redis: entries by credential, dropped on change, with tombstones
//! that keep a racing loader from storing a stale entry.

use ironsmith_redis::keys;
use uuid::Uuid;

use crate::error::AuthError;
use crate::limits::unavailable;
use crate::principal::Principal;

use super::Authenticator;

/// How long a deletion's tombstone blocks re-caching: longer than any load takes.
const TOMBSTONE_SECS: u64 = 10;

/// Stores `ARGV[1]` at `KEYS[1]` for `ARGV[2]` seconds unless the tombstone `KEYS[2]` exists.
pub(super) const STORE_UNLESS_TOMBSTONED: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1";

impl Authenticator {
    pub(super) async fn cached(&self, cache_key: &str) -> Result<Option<Principal>, AuthError> {
        let mut conn = self.inner.redis.connection().await.map_err(unavailable)?;
        let value: Option<String> = redis::cmd("GET")
            .arg(self.inner.redis.key(cache_key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub(super) async fn store(
        &self,
        cache_key: &str,
        principal: &Principal,
    ) -> Result<(), AuthError> {
        let value = serde_json::to_string(principal).map_err(unavailable)?;
        let mut conn = self.inner.redis.connection().await.map_err(unavailable)?;
        let _stored: i64 = self
            .inner
            .store_script
            .key(self.inner.redis.key(cache_key))
            .key(self.inner.redis.key(&tombstone(cache_key)))
            .arg(value)
            .arg(self.inner.cache_secs)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Drops cached entries and blocks their re-caching briefly (see the module comment).
    pub(super) async fn forget(&self, cache_keys: &[String]) -> Result<(), AuthError> {
        if cache_keys.is_empty() {
            return Ok(());
        }
        // Each entry with its tombstone in one transaction (they share a slot on a cluster).
        let mut conn = self.inner.redis.connection().await.map_err(unavailable)?;
        for key in cache_keys {
            redis::pipe()
                .atomic()
                .set_ex(self.inner.redis.key(&tombstone(key)), 1, TOMBSTONE_SECS)
                .ignore()
                .del(self.inner.redis.key(key))
                .ignore()
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// After a key's revocation: it fails at its next use, in every service.
    pub async fn forget_key(&self, key_hash: &[u8]) -> Result<(), AuthError> {
        self.forget(&[key_cache_key(key_hash)]).await
    }

    pub async fn forget_session(&self, session_id: Uuid) -> Result<(), AuthError> {
        self.forget(&[session_cache_key(session_id)]).await
    }

    /// After a change to a user's memberships or roles: every key and session of theirs.
    pub async fn forget_user(&self, user_id: Uuid) -> Result<(), AuthError> {
        let pool = &self.inner.pool;
        let hashes = ironsmith_db::api_keys::hashes_of_user(pool, user_id).await;
        let sessions = ironsmith_db::login_sessions::live_ids(pool, user_id).await;
        self.forget_credentials(hashes, sessions).await
    }

    /// After an organisation-wide change (a workspace created or deleted, limits changed):
    /// every key of the organisation and every session of its members.
    pub async fn forget_organization(&self, organization_id: Uuid) -> Result<(), AuthError> {
        let pool = &self.inner.pool;
        let hashes = ironsmith_db::api_keys::hashes_of_organization(pool, organization_id).await;
        let sessions =
            ironsmith_db::login_sessions::live_ids_of_organization(pool, organization_id).await;
        self.forget_credentials(hashes, sessions).await
    }

    pub(super) async fn forget_credentials(
        &self,
        key_hashes: Result<Vec<Vec<u8>>, ironsmith_db::DbError>,
        session_ids: Result<Vec<Uuid>, ironsmith_db::DbError>,
    ) -> Result<(), AuthError> {
        let keys: Vec<String> = key_hashes
            .map_err(unavailable)?
            .iter()
            .map(|h| key_cache_key(h))
            .chain(
                session_ids
                    .map_err(unavailable)?
                    .into_iter()
                    .map(session_cache_key),
            )
            .collect();
        self.forget(&keys).await
    }
}

pub(super) fn key_cache_key(hash: &[u8]) -> String {
    keys::principal_of_key(&hex::encode(hash))
}

pub(super) fn session_cache_key(session_id: Uuid) -> String {
    keys::principal_of_session(session_id)
}

pub(super) fn tombstone(cache_key: &str) -> String {
    keys::revoked(cache_key)
}
