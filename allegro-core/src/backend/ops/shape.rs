//! Data movement: permutation, broadcasting, concatenation, slicing.

use super::storage::BackendTypes;

/// Shape primitives. Every result is a new contiguous row-major buffer.
pub trait ShapeOps: BackendTypes {
    /// Permutes axes: `out` has shape `shape[perm[0]], shape[perm[1]], ...`.
    fn permute(x: &Self::Storage, shape: &[usize], perm: &[usize]) -> Self::Storage;
    /// Broadcasts `x` (shape `in_shape`, same rank as `out_shape`, dims equal or 1) to
    /// `out_shape`.
    fn broadcast_to(x: &Self::Storage, in_shape: &[usize], out_shape: &[usize]) -> Self::Storage;
    /// Concatenates tensors viewed as `[outer, n_p, inner]` along the middle axis.
    /// `parts` holds each storage with its `n_p`.
    fn concat(parts: &[(&Self::Storage, usize)], outer: usize, inner: usize) -> Self::Storage;
    /// `out[o, k, i] = x[o, start + k, i]` for `k < len`, from `x` viewed as
    /// `[outer, n, inner]`.
    fn narrow(
        x: &Self::Storage,
        outer: usize,
        n: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Self::Storage;
    /// `x` viewed as `[outer, n, inner]` with `before` zero rows ahead of and `after`
    /// behind its middle axis: `[outer, before + n + after, inner]` (narrow's adjoint, one
    /// pass where zeros and a concatenation would take up to five).
    fn pad(
        x: &Self::Storage,
        outer: usize,
        n: usize,
        inner: usize,
        before: usize,
        after: usize,
    ) -> Self::Storage;
}
