//! One router per resource.

pub mod control_plane;
pub mod queue_metrics;
pub mod settings;
