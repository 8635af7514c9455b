//! Reductions.

use super::storage::BackendTypes;

/// Reduction primitives over one axis of a tensor viewed as `[outer, n, inner]`.
///
/// Results must not depend on the number of threads: a backend sums in a fixed order
/// (fixed chunks combined in a fixed tree), so runs are bit-reproducible.
pub trait ReduceOps: BackendTypes {
    /// `out[o, i] = Σ_k x[o, k, i]`, shape `[outer, inner]`.
    fn sum_axis(x: &Self::Storage, outer: usize, n: usize, inner: usize) -> Self::Storage;
}
