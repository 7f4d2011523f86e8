//! Wire types shared by the services, their clients and the tests: each resource has one type,
//! used wherever it appears, and each type describes itself to the API document.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod bodies;
pub mod deployments;
pub mod error;
pub mod health;
pub mod hub;
pub mod info;
pub mod playground;
pub mod resources;
pub mod runs;
pub mod select;
pub mod timestamp;
