//! Optimizers over [`Parameters`](allegro_nn::Parameters).
pub mod adamw;
pub mod optimizer;

pub use adamw::{AdamW, AdamWConfig, AdamWState, MomentRecord};
pub use optimizer::Optimizer;
