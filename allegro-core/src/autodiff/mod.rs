//! Reverse-mode automatic differentiation of any order.
//!
//! Every tensor produced by an op from a tracked input remembers that op and its inputs
//! (a [`Node`]); there is no separate tape object. [`grad`] walks the graph backwards and
//! calls each op's backward rule. The rules ([`rules`]) are written with the same
//! differentiable tensor ops, so when [`grad`] runs with `create_graph = true` the
//! gradients it returns are themselves tracked and can be differentiated again: forces
//! `F = −∂E/∂r` are differentiable with respect to the weights.
//!
//! Nothing is recorded when no input is tracked or inside [`no_grad`], which is how
//! inference runs without a graph.

mod composed_vjp;
mod grad;
mod mode;
mod node;
pub mod rules;

pub use composed_vjp::vjp_backward_by_composition;
pub use grad::{grad, grad_scalar};
pub use mode::{is_grad_enabled, no_grad, with_grad_enabled};
pub use node::{BackwardOp, Node};
