//! [`FusedOps`](super::fused::FusedOps) built from primitive ops: the defaults of a
//! backend without contraction kernels, and what those kernels are compared with
//! (`testing::suite::fused_reference`).
//!
//! The contraction is a gather, two products and a scatter-add. For `n` entries,
//! `x[z,u,in0_e]` and `y[z,u,in1_e]` are gathered into `[E·U, n]` matrices
//! ([`IndexOps::index_select`]), multiplied elementwise and by `w[u, path_e]·c_e`, and
//! added into the output slots by [`IndexOps::index_add`], which sums in increasing entry
//! order like the CPU loop. It holds `E·U·n` elements at once where a fused kernel holds
//! none: a reference and a first implementation, not a fast path.

use super::elementwise::{BinaryOp, ElementwiseOps};
use super::fused::ContractionSpec;
use super::index::IndexOps;
use super::reduce::ReduceOps;
use super::storage::StorageOps;
use crate::dtype::{DType, HostData};

/// The entries of a [`ContractionSpec`] as device tables.
pub(crate) struct EntryTables<B: StorageOps> {
    /// `in0`, `in1` and `out` slot of each entry.
    pub(crate) slots: [B::IndexStorage; 3],
    /// Path of each entry.
    pub(crate) paths: B::IndexStorage,
    /// Coefficient of each entry, `[n]`, rounded to the operands' dtype as the CPU
    /// rounds it before multiplying.
    pub(crate) coeffs: B::Storage,
}

impl<B: StorageOps> EntryTables<B> {
    /// Uploads the tables of `spec` (from host data the spec already holds).
    pub(crate) fn new(spec: &ContractionSpec, device: &B::Device, dtype: DType) -> Self {
        let column =
            |f: &dyn Fn(usize) -> u32| -> Vec<u32> { (0..spec.entries.len()).map(f).collect() };
        let [i, j, k, p] = [
            column(&|e| spec.entries[e].slots[0]),
            column(&|e| spec.entries[e].slots[1]),
            column(&|e| spec.entries[e].slots[2]),
            column(&|e| spec.entries[e].path),
        ];
        let mut tables = B::indices_from_host_many(device, &[&i, &j, &k, &p]).into_iter();
        let mut next = || tables.next().expect("four tables");
        let coeffs: Vec<f64> = spec.entries.iter().map(|e| e.coeff).collect();
        EntryTables {
            slots: [next(), next(), next()],
            paths: next(),
            coeffs: B::from_host(device, HostData::from_f64(&coeffs, dtype)),
        }
    }
}

/// `w[row, path_e]·c_e` for every weight row and entry, `[rows, n]` (the CPU's
/// `entry_weights`, in the same order of operations).
fn entry_weights<B: StorageOps + ElementwiseOps + IndexOps>(
    w: &B::Storage,
    rows: usize,
    spec: &ContractionSpec,
    tables: &EntryTables<B>,
) -> B::Storage {
    let n = spec.entries.len();
    let picked = B::index_select(w, rows, spec.num_paths, 1, &tables.paths, n);
    B::binary(
        BinaryOp::Mul,
        &picked,
        &[rows, n],
        &tables.coeffs,
        &[1, n],
        &[rows, n],
    )
}

/// `x[z,u,in0_e]·y[z,u,in1_e]` for every edge, channel and entry, `[E, U, n]`.
fn entry_products<B: StorageOps + ElementwiseOps + IndexOps>(
    x: &B::Storage,
    y: &B::Storage,
    edges: usize,
    channels: usize,
    spec: &ContractionSpec,
    tables: &EntryTables<B>,
) -> B::Storage {
    let [dx, dy, _] = spec.dims;
    let (rows, n) = (edges * channels, spec.entries.len());
    let xg = B::index_select(x, rows, dx, 1, &tables.slots[0], n);
    let yg = B::index_select(y, rows, dy, 1, &tables.slots[1], n);
    let shape = [rows, n];
    B::binary(BinaryOp::Mul, &xg, &shape, &yg, &shape, &shape)
}

/// [`FusedOps::channel_contract`](super::fused::FusedOps::channel_contract) by gathers,
/// products and a scatter-add (module docs):
/// `out[z,u,k] = Σ_{e: out_e = k} x[z,u,in0_e]·y[z,u,in1_e]·w[u or 0, path_e]·c_e`.
pub fn channel_contract_reference<B: StorageOps + ElementwiseOps + IndexOps>(
    x: &B::Storage,
    y: &B::Storage,
    w: &B::Storage,
    edges: usize,
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> B::Storage {
    let dout = spec.dims[2];
    let (rows, n) = (edges * channels, spec.entries.len());
    let (device, dtype) = (B::storage_device(w), B::storage_dtype(w));
    if rows == 0 || n == 0 {
        return B::full(&device, rows * dout, 0.0, dtype);
    }
    let tables = EntryTables::<B>::new(spec, &device, dtype);
    let w_rows = if per_channel { channels } else { 1 };
    let wc = entry_weights::<B>(w, w_rows, spec, &tables);
    let xy = entry_products::<B>(x, y, edges, channels, spec, &tables);
    let shape = [edges, channels, n];
    let terms = B::binary(BinaryOp::Mul, &xy, &shape, &wc, &[1, w_rows, n], &shape);
    B::index_add(&terms, rows, &tables.slots[2], n, 1, dout)
}

/// [`FusedOps::channel_contract_weight_grad`](super::fused::FusedOps::channel_contract_weight_grad)
/// by gathers, products, sums over edges (and channels when not `per_channel`) and a
/// scatter-add into the paths:
/// `gw[u, p] = Σ_z Σ_{e: path_e = p} x[z,u,in0_e]·y[z,u,in1_e]·g[z,u,out_e]·c_e`.
pub fn channel_contract_weight_grad_reference<
    B: StorageOps + ElementwiseOps + IndexOps + ReduceOps,
>(
    x: &B::Storage,
    y: &B::Storage,
    g: &B::Storage,
    edges: usize,
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> B::Storage {
    let dout = spec.dims[2];
    let (rows, n) = (edges * channels, spec.entries.len());
    let w_rows = if per_channel { channels } else { 1 };
    let (device, dtype) = (B::storage_device(x), B::storage_dtype(x));
    if rows == 0 || n == 0 {
        return B::full(&device, w_rows * spec.num_paths, 0.0, dtype);
    }
    let tables = EntryTables::<B>::new(spec, &device, dtype);
    let xy = entry_products::<B>(x, y, edges, channels, spec, &tables);
    let gg = B::index_select(g, rows, dout, 1, &tables.slots[2], n);
    let shape = [rows, n];
    let xyg = B::binary(BinaryOp::Mul, &xy, &shape, &gg, &shape, &shape);
    let terms = B::binary(BinaryOp::Mul, &xyg, &shape, &tables.coeffs, &[1, n], &shape);
    // Σ over edges, then over channels for a shared weight row: [w_rows, n].
    let per_channel_sums = B::sum_axis(&terms, 1, edges, channels * n);
    let per_row = if per_channel {
        per_channel_sums
    } else {
        B::sum_axis(&per_channel_sums, 1, channels, n)
    };
    B::index_add(&per_row, w_rows, &tables.paths, n, 1, spec.num_paths)
}
