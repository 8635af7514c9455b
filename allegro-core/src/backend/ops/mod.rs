//! Backend op families, one trait per family.
//!
//! Every trait works on raw storages plus the shape information the op needs; shapes are
//! checked by [`crate::Tensor`] before a backend sees them, so implementations may assume
//! consistent arguments. All float storages of one call have the same dtype.

pub mod device_counts;
pub mod edges;
pub mod elementwise;
pub mod fused;
pub mod index;
pub mod inference;
pub mod matmul;
pub mod optimizer;
pub mod reduce;
pub mod shape;
pub mod storage;

pub use device_counts::{DeviceCounters, DeviceCounts};
pub use edges::{
    EdgeInputs, EdgeOps, NeighborList, edge_vector_component, pack_shift, unpack_shift,
};
pub use elementwise::{BinaryOp, CompareOp, ElementwiseOps, UnaryOp};
pub use fused::{ContractEntry, ContractionSpec, FusedOps};
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
