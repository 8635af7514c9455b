//! [`PlainBackend`]: a backend with only the primitive ops.
//!
//! It has the CPU backend's buffers and delegates the six primitive op traits
//! ([`StorageOps`], [`ElementwiseOps`], [`MatmulOps`], [`ReduceOps`], [`IndexOps`],
//! [`ShapeOps`]) to [`Cpu`], but implements none of Allegro's kernels: [`FusedOps`],
//! [`InferenceOps`], [`EdgeOps`] and [`OptimizerOps`] are empty impls, so it runs their
//! default bodies, the references built from the primitives.

use std::sync::Arc;

use crate::backend::cpu::{Cpu, CpuDevice, CpuStorage};
use crate::backend::{
    BackendTypes, BinaryOp, CompareOp, DeviceCounts, EdgeOps, ElementwiseOps, FusedOps, IndexOps,
    InferenceOps, MatmulOps, MatmulSpec, OptimizerOps, ReduceOps, ShapeOps, StorageOps, UnaryOp,
};
use crate::dtype::{DType, HostData};

/// The CPU's buffers and primitives, none of its Allegro kernels: what a new backend
/// gets before it has fused kernels.
///
/// Every fused op, inference kernel, edge op and optimizer step runs its default body
/// (the reference composed from the primitives), so running a check on `PlainBackend`
/// and on [`Cpu`] compares those references with the CPU's fused kernels on the same
/// buffers. Used by the tests of allegro-core (the op suite and kernel comparisons) and
/// of allegro-nn (a whole model against the CPU backend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlainBackend;

type Idx = Arc<Vec<u32>>;

impl BackendTypes for PlainBackend {
    type Device = CpuDevice;
    type Storage = CpuStorage;
    type IndexStorage = Idx;

    /// The CPU's name: its buffers are the CPU's, in host memory, and the suite's
    /// transfer check reads the name to expect no device traffic.
    fn name() -> &'static str {
        "cpu"
    }
}

impl StorageOps for PlainBackend {
    fn from_host(device: &CpuDevice, data: HostData) -> CpuStorage {
        Cpu::from_host(device, data)
    }
    fn to_host(storage: &CpuStorage) -> HostData {
        Cpu::to_host(storage)
    }
    fn storage_dtype(storage: &CpuStorage) -> DType {
        Cpu::storage_dtype(storage)
    }
    fn storage_len(storage: &CpuStorage) -> usize {
        Cpu::storage_len(storage)
    }
    fn storage_device(storage: &CpuStorage) -> CpuDevice {
        Cpu::storage_device(storage)
    }
    fn full(device: &CpuDevice, len: usize, value: f64, dtype: DType) -> CpuStorage {
        Cpu::full(device, len, value, dtype)
    }
    fn cast(storage: &CpuStorage, dtype: DType) -> CpuStorage {
        Cpu::cast(storage, dtype)
    }
    fn indices_from_host(device: &CpuDevice, indices: &[u32]) -> Idx {
        Cpu::indices_from_host(device, indices)
    }
    fn indices_to_host(indices: &Idx) -> Vec<u32> {
        Cpu::indices_to_host(indices)
    }
    fn indices_narrow(indices: &Idx, start: usize, len: usize, minus: u32) -> Idx {
        Cpu::indices_narrow(indices, start, len, minus)
    }
    fn device_counts(device: &CpuDevice) -> DeviceCounts {
        Cpu::device_counts(device)
    }
}

impl ElementwiseOps for PlainBackend {
    fn unary(op: UnaryOp, x: &CpuStorage) -> CpuStorage {
        Cpu::unary(op, x)
    }
    fn binary(
        op: BinaryOp,
        a: &CpuStorage,
        a_shape: &[usize],
        b: &CpuStorage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> CpuStorage {
        Cpu::binary(op, a, a_shape, b, b_shape, out_shape)
    }
    fn compare(
        op: CompareOp,
        a: &CpuStorage,
        a_shape: &[usize],
        b: &CpuStorage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> CpuStorage {
        Cpu::compare(op, a, a_shape, b, b_shape, out_shape)
    }
    fn select(mask: &CpuStorage, a: &CpuStorage, b: &CpuStorage) -> CpuStorage {
        Cpu::select(mask, a, b)
    }
}

impl MatmulOps for PlainBackend {
    fn matmul(a: &CpuStorage, b: &CpuStorage, spec: MatmulSpec) -> CpuStorage {
        Cpu::matmul(a, b, spec)
    }
}

impl ReduceOps for PlainBackend {
    fn sum_axis(x: &CpuStorage, outer: usize, n: usize, inner: usize) -> CpuStorage {
        Cpu::sum_axis(x, outer, n, inner)
    }
}

impl IndexOps for PlainBackend {
    fn index_select(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        idx: &Idx,
        idx_len: usize,
    ) -> CpuStorage {
        Cpu::index_select(x, outer, n, inner, idx, idx_len)
    }
    fn index_add(
        src: &CpuStorage,
        outer: usize,
        idx: &Idx,
        idx_len: usize,
        inner: usize,
        n: usize,
    ) -> CpuStorage {
        Cpu::index_add(src, outer, idx, idx_len, inner, n)
    }
}

impl ShapeOps for PlainBackend {
    fn permute(x: &CpuStorage, shape: &[usize], perm: &[usize]) -> CpuStorage {
        Cpu::permute(x, shape, perm)
    }
    fn broadcast_to(x: &CpuStorage, in_shape: &[usize], out_shape: &[usize]) -> CpuStorage {
        Cpu::broadcast_to(x, in_shape, out_shape)
    }
    fn concat(parts: &[(&CpuStorage, usize)], outer: usize, inner: usize) -> CpuStorage {
        Cpu::concat(parts, outer, inner)
    }
    fn narrow(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> CpuStorage {
        Cpu::narrow(x, outer, n, inner, start, len)
    }
    fn pad(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        before: usize,
        after: usize,
    ) -> CpuStorage {
        Cpu::pad(x, outer, n, inner, before, after)
    }
}

// Allegro's kernels: the defaults, nothing else.
impl FusedOps for PlainBackend {}
impl InferenceOps for PlainBackend {}
impl EdgeOps for PlainBackend {}
impl OptimizerOps for PlainBackend {}
