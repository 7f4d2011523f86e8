//! One router per resource.

pub mod control_plane;
pub mod model_prices;
pub mod public;
pub mod queue_metrics;
pub mod runs;
pub mod sessions;
pub mod settings;
