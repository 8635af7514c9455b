//! Gather along an axis and its adjoint, scatter-add along an axis.

use super::storage::BackendTypes;

/// Indexing primitives over tensors viewed as `[outer, n, inner]`.
///
/// `index_select` and `index_add` are adjoint: for any `x`, `y`,
/// `⟨index_select(x, idx), y⟩ = ⟨x, index_add(y, idx, n)⟩`. Indices are already checked
/// to be `< n`.
pub trait IndexOps: BackendTypes {
    /// `out[o, m, i] = x[o, idx[m], i]`, shape `[outer, idx.len(), inner]`.
    fn index_select(
        x: &Self::Storage,
        outer: usize,
        n: usize,
        inner: usize,
        idx: &Self::IndexStorage,
        idx_len: usize,
    ) -> Self::Storage;

    /// `out[o, d, i] = Σ_{m : idx[m] = d} src[o, m, i]`, shape `[outer, n, inner]`.
    ///
    /// The sum over `m` runs in increasing `m` for every destination, so the result does
    /// not depend on scheduling.
    fn index_add(
        src: &Self::Storage,
        outer: usize,
        idx: &Self::IndexStorage,
        idx_len: usize,
        inner: usize,
        n: usize,
    ) -> Self::Storage;
}
