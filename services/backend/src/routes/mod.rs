pub mod control_plane;
pub mod queue_metrics;
