//! Wire types shared by the services, their clients and the tests.

pub mod health;
pub mod ids;
pub mod timestamp;
