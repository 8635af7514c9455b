//! The scalar types the CPU backend computes in.

use num_traits::Float;

/// `f32` or `f64`, with the few functions `num_traits::Float` lacks.
pub trait CpuElement: Float + Send + Sync + std::fmt::Debug + std::iter::Sum + 'static {
    /// Rounds an `f64` to this type.
    fn from_f64(v: f64) -> Self;
    /// Widens to `f64`.
    fn to_f64(self) -> f64;
    /// The error function.
    fn erf(self) -> Self;
}

impl CpuElement for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn erf(self) -> Self {
        libm::erff(self)
    }
}

impl CpuElement for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
}
