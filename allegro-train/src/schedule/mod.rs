//! Learning-rate schedules.
pub mod plateau;
pub mod scheduler;

pub use plateau::{PlateauConfig, ReduceLROnPlateau, ThresholdMode};
pub use scheduler::LrScheduler;
