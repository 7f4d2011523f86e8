//! One router per resource.

pub mod control_plane;
pub mod model_prices;
pub mod queue_metrics;
pub mod settings;
