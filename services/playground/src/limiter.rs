//! Provider calls in flight per workspace, capped (`playground.max_concurrent_per_workspace`,
//! per replica): one workspace's burst cannot take every connection the playground has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ironsmith_http::ApiError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

#[derive(Clone)]
pub struct Limiter {
    per_workspace: usize,
    slots: Arc<Mutex<HashMap<Uuid, Arc<Semaphore>>>>,
}

impl Limiter {
    pub fn new(per_workspace: usize) -> Limiter {
        Limiter {
            per_workspace,
            slots: Arc::default(),
        }
    }

    /// A slot for one call of `tenant_id`, or 429 when all are taken.
    pub fn acquire(&self, tenant_id: Uuid) -> Result<OwnedSemaphorePermit, ApiError> {
        let semaphore = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Workspaces with nothing in flight are forgotten, so the map stays small.
            slots.retain(|_, s| {
                Arc::strong_count(s) > 1 || s.available_permits() < self.per_workspace
            });
            slots
                .entry(tenant_id)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_workspace)))
                .clone()
        };
        semaphore.try_acquire_owned().map_err(|_| ApiError::TooManyRequests {
            message: format!(
                "This workspace already has {} playground calls in flight; wait for one to finish",
                self.per_workspace
            ),
            retry_after_secs: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_gets_its_share_and_others_are_unaffected() {
        let limiter = Limiter::new(2);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = limiter.acquire(a).expect("a slot");
        let _second = limiter.acquire(a).expect("a slot");
        assert!(limiter.acquire(a).is_err());
        assert!(limiter.acquire(b).is_ok());
        drop(first);
        assert!(limiter.acquire(a).is_ok());
    }
}
