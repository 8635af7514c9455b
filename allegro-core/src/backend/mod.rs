//! Compute backends.
//!
//! A [`Backend`] owns buffers and implements a small set of primitives, one trait per
//! op family ([`ops`]). [`crate::Tensor`] builds everything else (including all backward
//! rules) from these primitives, so a new backend only implements this list.
//!
//! - [`cpu::Cpu`]: ndarray-style loops, faer GEMM and rayon. It is the reference every
//!   other backend is tested against.

pub mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod ops;

pub use ops::{
    Activation, AdamWScalars, AdamWUpdate, BackendTypes, BinaryOp, ColumnBlock, CompareOp,
    ContractEntry, ContractInput, ContractionSpec, DeviceCounters, DeviceCounts, EdgeInputs,
    EdgeOps, ElementwiseOps, FusedOps, HarmonicsSpec, IndexOps, InferenceOps, LinearSpec,
    MatmulOps, MatmulPrecision, MatmulSpec, NeighborList, OptimizerOps, OutputBlock, ReduceOps,
    SegmentContraction, SegmentForward, SegmentGradients, SegmentOperands, Segments, ShapeOps,
    StorageOps, UnaryOp, ZblSpec, edge_vector_component, pack_shift, unpack_shift,
};

/// Everything a tensor needs from a backend.
pub trait Backend:
    StorageOps
    + ElementwiseOps
    + MatmulOps
    + ReduceOps
    + IndexOps
    + ShapeOps
    + FusedOps
    + InferenceOps
    + EdgeOps
    + OptimizerOps
{
}

impl<B> Backend for B where
    B: StorageOps
        + ElementwiseOps
        + MatmulOps
        + ReduceOps
        + IndexOps
        + ShapeOps
        + FusedOps
        + InferenceOps
        + EdgeOps
        + OptimizerOps
{
}
