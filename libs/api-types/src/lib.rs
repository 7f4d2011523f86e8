//! Wire types shared by the services, their clients and the tests.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod health;
pub mod timestamp;
