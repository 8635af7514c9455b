//! Learning-rate schedules.
pub mod plateau;

pub use plateau::{PlateauConfig, ReduceLROnPlateau, ThresholdMode};
