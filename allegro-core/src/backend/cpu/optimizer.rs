//! Optimizer updates on the CPU: the tensor-op defaults of [`OptimizerOps`]. A few
//! passes over each parameter cost next to nothing beside a training step's arithmetic
//! on the host, and launch nothing.

use super::Cpu;
use crate::backend::OptimizerOps;

impl OptimizerOps for Cpu {}
