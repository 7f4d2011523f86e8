//! The body of `GET /health/ready`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyState {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyStatus {
    pub status: DependencyState,
    pub latency_ms: u64,
    /// Why the dependency is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadinessState {
    Ready,
    Unready,
}

/// `{"status": "ready", "service": "backend", "region": "us", "dependencies": {"postgres": {...}}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessReport {
    pub status: ReadinessState,
    pub service: String,
    pub region: String,
    pub dependencies: BTreeMap<String, DependencyStatus>,
}

impl ReadinessReport {
    pub fn is_ready(&self) -> bool {
        self.status == ReadinessState::Ready
    }

    /// Names of the dependencies that are down.
    pub fn down(&self) -> Vec<&str> {
        self.dependencies
            .iter()
            .filter(|(_, d)| d.status == DependencyState::Down)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}
