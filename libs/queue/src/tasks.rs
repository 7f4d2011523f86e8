//! Every asynchronous task, as one versioned, tagged enum. A variant's tag carries its version
//! (`v1.ping`); changing a payload's shape means a new tag, and the worker keeps handling old
//! tags until no producer sends them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Task {
    /// Proves the producer → stream → worker path end to end: the worker records the id under
    /// `worker:pong:<id>` (expiring after a minute) for whoever sent it.
    #[serde(rename = "v1.ping")]
    Ping { id: Uuid },
    /// Removes a deleted project's runs, their look-up rows and their feedback from ClickHouse,
    /// then forgets the project. Reads skip the project from the moment it is deleted.
    #[serde(rename = "v1.delete_project_runs")]
    DeleteProjectRuns { tenant_id: Uuid, session_id: Uuid },
    /// Removes a workspace's example attachments whose example no longer exists in any
    /// revision (its dataset was deleted, or it was hard-deleted). Only objects older than
    /// `object_storage.orphan_grace_secs` are considered, so an example being written right
    /// now keeps its uploads.
    #[serde(rename = "v1.sweep_example_objects")]
    SweepExampleObjects { tenant_id: Uuid },
    /// Removes a workspace's run payloads and attachments whose run exists nowhere (older than
    /// the grace period), while the ingestion stream holds nothing that could still name them.
    #[serde(rename = "v1.sweep_run_objects")]
    SweepRunObjects { tenant_id: Uuid },
    /// Sends one prompt webhook delivery; a failure is retried with back-off, and the delivery
    /// records every attempt.
    #[serde(rename = "v1.deliver_prompt_webhook")]
    DeliverPromptWebhook { tenant_id: Uuid, delivery_id: Uuid },
}

/// The Redis key the worker sets when it handles `Task::Ping { id }` (before the key prefix).
pub fn pong_key(id: Uuid) -> String {
    ironsmith_redis::keys::worker_pong(id)
}
