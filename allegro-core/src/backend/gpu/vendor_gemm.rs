//! Float32 products through the vendor's BLAS, where a runtime has one (cuBLAS on CUDA):
//! [`GpuRuntime::vendor_gemm_f32`]. `fused_linear` runs its products there by default
//! (issue 15: library speed on the model's shapes, `docs/perf.md`), with our own kernels
//! as the oracle and for runtimes without one.

use super::{GpuRuntime, GpuStorage};

/// A row-major matrix inside a device buffer: element `(r, c)` is at
/// `offset + r·stride + c`.
pub struct StridedF32<'a, R: GpuRuntime> {
    /// The buffer (float32).
    pub storage: &'a GpuStorage<R>,
    /// Elements between consecutive rows (at least the matrix's width).
    pub stride: usize,
    /// Element index of `(0, 0)`.
    pub offset: usize,
}

impl<R: GpuRuntime> Clone for StridedF32<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: GpuRuntime> Copy for StridedF32<'_, R> {}

/// One product `out = a @ w + beta·out` (`a` is `[rows, k]`, `w` `[k, n]`, `out`
/// `[rows, n]`), enqueued on the stream of the calling thread's kernels.
pub struct VendorGemm<'a, R: GpuRuntime> {
    /// The left operand.
    pub a: StridedF32<'a, R>,
    /// The right operand.
    pub w: StridedF32<'a, R>,
    /// The output (read when `beta` is not zero).
    pub out: StridedF32<'a, R>,
    /// `(rows, k, n)`.
    pub dims: (usize, usize, usize),
    /// Factor of the output's previous contents (0 or 1 here).
    pub beta: f32,
    /// Whether operands may be rounded to TF32 (tensor cores).
    pub tf32: bool,
}
