//! Backend op families, one trait per family.
//!
//! Every trait works on raw storages plus the shape information the op needs; shapes are
//! checked by [`crate::Tensor`] before a backend sees them, so implementations may assume
//! consistent arguments. All float storages of one call have the same dtype.
//!
//! The primitives ([`StorageOps`], [`ElementwiseOps`], [`MatmulOps`], [`ReduceOps`],
//! [`IndexOps`], [`ShapeOps`]) are what a backend must implement. Allegro's kernels
//! ([`FusedOps`], [`InferenceOps`], [`EdgeOps`], [`OptimizerOps`]) are extension traits
//! whose methods default to references built from those primitives (the `*_reference`
//! modules), which the fused kernels of the CPU and GPU backends are tested against.

pub mod bessel_cutoff;
pub mod blocks_reference;
pub mod device_counts;
pub mod edges;
pub mod edges_reference;
pub mod elementwise;
pub mod fused;
pub mod fused_reference;
pub mod harmonics;
pub mod index;
pub mod inference;
pub mod inference_reference;
pub mod matmul;
pub mod optimizer;
pub mod reduce;
pub mod segment_reference;
pub mod shape;
pub mod storage;
pub mod zbl;

pub use device_counts::{DeviceCounters, DeviceCounts};
pub use edges::{
    EdgeInputs, EdgeOps, NeighborList, edge_vector_component, pack_shift, unpack_shift,
};
pub use elementwise::{BinaryOp, CompareOp, ElementwiseOps, UnaryOp};
pub use fused::{ContractEntry, ContractionSpec, FusedOps};
pub use harmonics::HarmonicsSpec;
pub use index::IndexOps;
pub use inference::{
    Activation, ColumnBlock, ContractInput, InferenceOps, LinearSpec, MatmulPrecision, OutputBlock,
    SegmentContraction, SegmentForward, SegmentGradients, SegmentOperands, Segments,
};
pub use matmul::{MatmulOps, MatmulSpec};
pub use optimizer::{AdamWScalars, AdamWUpdate, OptimizerOps};
pub use reduce::ReduceOps;
pub use shape::ShapeOps;
pub use storage::{BackendTypes, StorageOps};
pub use zbl::ZblSpec;
