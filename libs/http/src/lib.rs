//! The HTTP layer every Ironsmith service shares: the standard middleware stack, the API error
//! type, health and readiness, Prometheus metrics, path normalisation and graceful serving.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod client_ip;
pub mod connection;
pub mod error;
pub mod extract;
pub mod forward;
pub mod health;
mod internal_errors;
pub mod metrics;
pub mod normalize;
pub mod operator;
mod replica;
mod rule_errors;
pub mod server;
pub mod stack;
mod store_errors;

pub use client_ip::client_address;
pub use error::{ApiError, ErrorStyle, ValidationIssue, is_body_too_large};
pub use extract::{Json, Path, PathUuid, Query, QueryPairs, is_json_object};
pub use health::{DependencyCheck, Readiness};
pub use replica::replica_first;
pub use server::{PathStyle, Served, serve, shutdown_signal};
pub use stack::{ServiceInfo, edge_router, not_found, panic_message, service_router};
