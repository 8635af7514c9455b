//! Batched matrix multiplication.

use super::storage::BackendTypes;

/// Shape of a batched product `C[b] = op(A[b]) · op(B[b])`, all row-major.
///
/// `op(A)` is `m × k`, `op(B)` is `k × n`, `C[b]` is `m × n`. When `trans_a` is set, `A`
/// is stored as `k × m` (and likewise for `B`). An operand that is not batched is one
/// matrix shared by every batch entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulSpec {
    /// Number of products.
    pub batch: usize,
    /// Rows of `op(A)` and `C`.
    pub m: usize,
    /// Contracted dimension.
    pub k: usize,
    /// Columns of `op(B)` and `C`.
    pub n: usize,
    /// Whether `A` holds `batch` matrices (else one).
    pub a_batched: bool,
    /// Whether `B` holds `batch` matrices (else one).
    pub b_batched: bool,
    /// Whether `A` is stored transposed.
    pub trans_a: bool,
    /// Whether `B` is stored transposed.
    pub trans_b: bool,
}

impl MatmulSpec {
    /// Floating-point operations of the product (2·batch·m·k·n).
    pub fn flops(&self) -> f64 {
        2.0 * self.batch as f64 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

/// Matrix multiplication primitive.
pub trait MatmulOps: BackendTypes {
    /// Returns `C` (`batch × m × n`, row-major) for `spec`.
    fn matmul(a: &Self::Storage, b: &Self::Storage, spec: MatmulSpec) -> Self::Storage;
}
