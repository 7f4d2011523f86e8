//! The end-to-end tests: one binary (one link of the whole stack), one module per area.
//! Each test starts what it needs (a `Stack` of in-process services over private stores,
//! or spawned binaries for the fault drills) and stops it when done.

// Test code indexes, expects and casts freely: a panic there is a failing test.
#![allow(clippy::indexing_slicing, clippy::expect_used, clippy::too_many_lines)]

mod auth;
mod clickhouse_cluster;
mod clickhouse_migrations;
mod compose;
mod datasets_feedback;
mod deployments;
mod edge;
mod faults;
mod fuzz_corpus;
mod hardening;
mod hub;
mod ingest;
mod ingest_faults;
mod isolation;
mod k8s_data_plane;
mod k8s_overlays;
mod live;
mod oidc;
mod playground;
mod postgres_replica;
mod queue;
mod redis_cluster;
mod runs_read;
mod sdk_compat;
mod sdk_evaluate;
mod sdk_ingest;
mod sdk_python;
mod sdk_read;
mod sdk_v2;
mod services;
mod ui;
