//! The process edge every Ironsmith binary shares: the command line, loading the configuration,
//! telemetry, signals, and connecting to the stores with their readiness checks.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

mod cli;
mod stores;

pub use cli::{Binary, Cli, Command, main_with};
pub use stores::{StoreSet, Stores, migrate_all};
