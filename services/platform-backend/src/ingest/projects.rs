//! Project look-ups for ingestion, cached briefly in-process: every run names its project,
//! and the database should not pay for that on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ironsmith_db::Pool;
use uuid::Uuid;

/// How long a resolved project is trusted. A deleted project's name may be reused by a new
/// project; within this window runs can still land in the old one.
const TTL: Duration = Duration::from_secs(30);

/// `(workspace, name) → (project, when resolved)`.
type Names = HashMap<(Uuid, String), (Uuid, Instant)>;
/// `(workspace, project) → when confirmed`.
type Ids = HashMap<(Uuid, Uuid), Instant>;

#[derive(Clone)]
pub struct ProjectCache {
    postgres: Pool,
    names: Arc<Mutex<Names>>,
    ids: Arc<Mutex<Ids>>,
}

impl ProjectCache {
    pub fn new(postgres: Pool) -> Self {
        ProjectCache {
            postgres,
            names: Arc::default(),
            ids: Arc::default(),
        }
    }

    /// The project called `name` in `tenant_id`, created if needed.
    pub async fn by_name(
        &self,
        tenant_id: Uuid,
        name: &str,
    ) -> Result<Uuid, ironsmith_db::DbError> {
        let key = (tenant_id, name.to_owned());
        if let Some((id, at)) = self.names.lock().ok().and_then(|m| m.get(&key).copied())
            && at.elapsed() < TTL
        {
            return Ok(id);
        }
        let id = ironsmith_db::projects::ensure_named(&self.postgres, tenant_id, name).await?;
        if let Ok(mut names) = self.names.lock() {
            if names.len() > 100_000 {
                names.clear();
            }
            names.insert(key, (id, Instant::now()));
        }
        Ok(id)
    }

    /// Whether `id` is a live project of `tenant_id`.
    pub async fn exists(&self, tenant_id: Uuid, id: Uuid) -> Result<bool, ironsmith_db::DbError> {
        let key = (tenant_id, id);
        if let Some(at) = self.ids.lock().ok().and_then(|m| m.get(&key).copied())
            && at.elapsed() < TTL
        {
            return Ok(true);
        }
        let exists = ironsmith_db::projects::exists(&self.postgres, tenant_id, id).await?;
        if exists && let Ok(mut ids) = self.ids.lock() {
            if ids.len() > 100_000 {
                ids.clear();
            }
            ids.insert(key, Instant::now());
        }
        Ok(exists)
    }
}
