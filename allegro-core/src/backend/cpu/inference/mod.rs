//! The no-tape inference primitives on the CPU. The plain loops over rows and segments
//! (`linear.rs`, `segment.rs`) are the oracle the GPU kernels and the fast CPU paths
//! are compared with; the backend runs the fast ones (`linear_tiled.rs`: products in
//! row tiles that stay in cache; `segment_lanes.rs`: channels as vector lanes).

mod bessel_cutoff;
mod harmonics;
mod linear;
mod linear_tiled;
mod segment;
mod segment_lanes;
#[cfg(test)]
mod tests;
mod zbl;

use super::{Cpu, CpuDevice, CpuStorage, simd};
use crate::backend::ops::harmonics::HarmonicsSpec;
use crate::backend::ops::inference::{
    InferenceOps, LinearSpec, SegmentContraction, SegmentForward, SegmentGradients,
    SegmentOperands, Segments,
};
use crate::backend::ops::zbl::ZblSpec;
use crate::dtype::DType;
use std::sync::Arc;

impl InferenceOps for Cpu {
    fn zbl_edge_energies(
        spec: &ZblSpec,
        r: &CpuStorage,
        center_types: &Arc<Vec<u32>>,
        neighbor_types: &Arc<Vec<u32>>,
    ) -> Option<CpuStorage> {
        matches!(r, CpuStorage::F64(_))
            .then(|| zbl::zbl_edge_energies(spec, r, center_types, neighbor_types))
    }

    fn zbl_edge_energies_vjp(
        spec: &ZblSpec,
        r: &CpuStorage,
        center_types: &Arc<Vec<u32>>,
        neighbor_types: &Arc<Vec<u32>>,
        grad: &CpuStorage,
    ) -> Option<CpuStorage> {
        matches!(r, CpuStorage::F64(_))
            .then(|| zbl::zbl_edge_energies_vjp(spec, r, center_types, neighbor_types, grad))
    }

    fn bessel_cutoff(x: &CpuStorage, weights: &CpuStorage, p: f64) -> Option<CpuStorage> {
        Some(bessel_cutoff::bessel_cutoff(x, weights, p))
    }

    fn bessel_cutoff_vjp(
        x: &CpuStorage,
        weights: &CpuStorage,
        grad: &CpuStorage,
        p: f64,
    ) -> Option<CpuStorage> {
        Some(bessel_cutoff::bessel_cutoff_vjp(x, weights, grad, p))
    }

    fn bessel_cutoff_jvp(
        x: &CpuStorage,
        weights: &CpuStorage,
        h: &CpuStorage,
        p: f64,
    ) -> Option<CpuStorage> {
        Some(bessel_cutoff::bessel_cutoff_jvp(x, weights, h, p))
    }

    fn edge_harmonics(spec: &HarmonicsSpec, v: &CpuStorage) -> Option<CpuStorage> {
        Some(harmonics::edge_harmonics(spec, v))
    }

    fn edge_harmonics_vjp(
        spec: &HarmonicsSpec,
        v: &CpuStorage,
        grad_y: &CpuStorage,
    ) -> Option<CpuStorage> {
        Some(harmonics::edge_harmonics_vjp(spec, v, grad_y))
    }

    fn edge_harmonics_jvp(
        spec: &HarmonicsSpec,
        v: &CpuStorage,
        h: &CpuStorage,
    ) -> Option<CpuStorage> {
        Some(harmonics::edge_harmonics_jvp(spec, v, h))
    }

    fn uninit(_device: &CpuDevice, len: usize, dtype: DType) -> CpuStorage {
        match dtype {
            DType::F32 => CpuStorage::from_vec_f32(vec![0.0; len]),
            DType::F64 => CpuStorage::from_vec_f64(vec![0.0; len]),
        }
    }

    fn fused_linear(
        spec: &LinearSpec,
        inputs: &[&CpuStorage],
        weight: &CpuStorage,
        mask: Option<&CpuStorage>,
        derivative: Option<&mut CpuStorage>,
        outputs: &mut [&mut CpuStorage],
    ) {
        linear_tiled::fused_linear(spec, inputs, weight, mask, derivative, outputs);
    }

    fn segment_contract_forward(
        layer: &SegmentContraction,
        operands: SegmentOperands<'_, CpuStorage>,
        segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
    ) -> SegmentForward<CpuStorage> {
        segment_lanes::forward_at(simd::level(), layer, operands, segments)
    }

    fn segment_contract_backward(
        layer: &SegmentContraction,
        operands: SegmentOperands<'_, CpuStorage>,
        env: &CpuStorage,
        grad_out: Option<&CpuStorage>,
        grad_first: &CpuStorage,
        segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
        grads: SegmentGradients<'_, CpuStorage>,
    ) -> Option<CpuStorage> {
        segment_lanes::backward_at(
            simd::level(),
            layer,
            operands,
            env,
            grad_out,
            grad_first,
            segments,
            grads,
        )
    }
}
