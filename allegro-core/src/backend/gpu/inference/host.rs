//! The host route of the inference ops: download, run the CPU backend, upload. For the
//! cases the kernels do not cover (module docs of `inference`); exact, not fast.

use std::sync::Arc;

use super::super::{Gpu, GpuIndices, GpuRuntime, GpuStorage};
use crate::backend::cpu::{Cpu, CpuDevice, CpuStorage};
use crate::backend::{
    ContractInput, InferenceOps, LinearSpec, SegmentContraction, SegmentForward, SegmentGradients,
    SegmentOperands, Segments, StorageOps,
};

fn down<R: GpuRuntime>(s: &GpuStorage<R>) -> CpuStorage {
    Cpu::from_host(&CpuDevice, Gpu::<R>::to_host(s))
}

fn up<R: GpuRuntime>(like: &GpuStorage<R>, s: &CpuStorage) -> GpuStorage<R> {
    Gpu::<R>::from_host(&like.device, Cpu::to_host(s))
}

/// `fused_linear` through the CPU backend; outputs are replaced by their new contents.
pub(super) fn fused_linear<R: GpuRuntime>(
    spec: &LinearSpec,
    inputs: &[&GpuStorage<R>],
    weight: &GpuStorage<R>,
    mask: Option<&GpuStorage<R>>,
    derivative: Option<&mut GpuStorage<R>>,
    outputs: &mut [&mut GpuStorage<R>],
) {
    let ins: Vec<CpuStorage> = inputs.iter().map(|s| down(s)).collect();
    let in_refs: Vec<&CpuStorage> = ins.iter().collect();
    let mask = mask.map(down);
    let mut deriv = derivative.as_ref().map(|d| down(d));
    let mut outs: Vec<CpuStorage> = outputs.iter().map(|s| down(s)).collect();
    {
        let mut out_refs: Vec<&mut CpuStorage> = outs.iter_mut().collect();
        Cpu::fused_linear(
            spec,
            &in_refs,
            &down(weight),
            mask.as_ref(),
            deriv.as_mut(),
            &mut out_refs,
        );
    }
    for (dst, src) in outputs.iter_mut().zip(&outs) {
        **dst = up(dst, src);
    }
    if let (Some(dst), Some(src)) = (derivative, deriv) {
        *dst = up(dst, &src);
    }
}

fn cpu_segments<R: GpuRuntime>(s: Segments<'_, GpuIndices<R>>) -> (Arc<Vec<u32>>, usize, usize) {
    (Arc::new(s.offsets.host().clone()), s.count, s.rows)
}

/// Host copies of the operands of a segment op.
struct HostOperands {
    x: CpuStorage,
    x_block: Option<crate::backend::ColumnBlock>,
    y: CpuStorage,
    w: CpuStorage,
    theta: CpuStorage,
    scale: CpuStorage,
}

impl HostOperands {
    fn new<R: GpuRuntime>(ops: &SegmentOperands<'_, GpuStorage<R>>) -> Self {
        let (x, x_block) = match ops.x {
            ContractInput::Plain(s) => (down(s), None),
            ContractInput::Weighted(s, b) => (down(s), Some(b)),
        };
        HostOperands {
            x,
            x_block,
            y: down(ops.y),
            w: down(ops.env_weights.0),
            theta: down(ops.theta),
            scale: down(ops.scale),
        }
    }

    fn operands<'a, R: GpuRuntime>(
        &'a self,
        ops: &SegmentOperands<'_, GpuStorage<R>>,
    ) -> SegmentOperands<'a, CpuStorage> {
        SegmentOperands {
            x: match self.x_block {
                None => ContractInput::Plain(&self.x),
                Some(b) => ContractInput::Weighted(&self.x, b),
            },
            y: &self.y,
            env_weights: (&self.w, ops.env_weights.1),
            theta: &self.theta,
            scale: &self.scale,
        }
    }
}

/// The segment contraction through the CPU backend.
pub(super) fn segment_forward<R: GpuRuntime>(
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, GpuStorage<R>>,
    segments: Segments<'_, GpuIndices<R>>,
) -> SegmentForward<GpuStorage<R>> {
    let host = HostOperands::new(&ops);
    let (offsets, count, rows) = cpu_segments(segments);
    let f = Cpu::segment_contract_forward(
        layer,
        host.operands(&ops),
        Segments {
            offsets: &offsets,
            count,
            rows,
        },
    );
    SegmentForward {
        env: up(ops.theta, &f.env),
        out: up(ops.theta, &f.out),
        first: up(ops.theta, &f.first),
    }
}

/// The adjoint through the CPU backend; gradient buffers are replaced by their new
/// contents.
pub(super) fn segment_backward<R: GpuRuntime>(
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, GpuStorage<R>>,
    env: &GpuStorage<R>,
    grad_out: Option<&GpuStorage<R>>,
    grad_first: &GpuStorage<R>,
    segments: Segments<'_, GpuIndices<R>>,
    grads: SegmentGradients<'_, GpuStorage<R>>,
) -> Option<GpuStorage<R>> {
    let host = HostOperands::new(&ops);
    let (offsets, count, rows) = cpu_segments(segments);
    let SegmentGradients {
        x_weights,
        env_weights: (gw, gw_block),
        y: gy,
    } = grads;
    let mut gx_host = x_weights.as_ref().map(|(s, b)| (down(s), *b));
    let mut gw_host = down(gw);
    let mut gy_host = down(gy);
    let go = grad_out.map(down);
    let gx = Cpu::segment_contract_backward(
        layer,
        host.operands(&ops),
        &down(env),
        go.as_ref(),
        &down(grad_first),
        Segments {
            offsets: &offsets,
            count,
            rows,
        },
        SegmentGradients {
            x_weights: gx_host.as_mut().map(|(s, b)| (s, *b)),
            env_weights: (&mut gw_host, gw_block),
            y: &mut gy_host,
        },
    );
    *gw = up(gw, &gw_host);
    *gy = up(gy, &gy_host);
    if let (Some((dst, _)), Some((src, _))) = (x_weights, gx_host) {
        *dst = up(dst, &src);
    }
    gx.map(|g| up(ops.theta, &g))
}
