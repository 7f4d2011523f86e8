//! One router per resource.

pub mod annotation_queues;
pub mod control_plane;
pub mod datasets;
pub mod examples;
pub mod feedback;
pub mod hub;
pub mod insights;
pub mod live;
pub mod model_configs;
pub mod model_prices;
pub mod playground;
pub mod projects;
pub mod public;
pub mod queue_metrics;
pub mod runs;
pub mod secrets;
pub mod settings;
pub mod v2_datasets;
pub mod v2_runs;
pub mod v2_thread_stats;
pub mod v2_threads;
pub mod v2_traces;
