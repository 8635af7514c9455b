//! Optimizers over [`Parameters`](allegro_nn::Parameters).
pub mod adamw;

pub use adamw::{AdamW, AdamWConfig, AdamWState, MomentRecord};
