//! Backward rules, one module per op family. Each rule is written with differentiable
//! [`crate::Tensor`] ops, never with backend primitives, so it can be differentiated
//! again.

pub mod elementwise;
pub mod fused;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod shape;
