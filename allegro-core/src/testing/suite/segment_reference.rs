//! The backend's segment contraction
//! ([`InferenceOps::segment_contract_forward`](crate::backend::InferenceOps) and its
//! adjoint) against the references built from primitive ops
//! ([`crate::backend::ops::segment_reference`]), which are their defaults: both layers of
//! the seed's tensor track, plain and weighted first operands, coupled and shared path
//! weights, with and without `∂out`, empty and long segments, in f64 and f32.

use super::fused_reference::{buffer, tol};
use super::inference::{assert_close, download};
use crate::backend::ops::segment_reference::{
    segment_contract_backward_reference, segment_contract_forward_reference,
};
use crate::backend::{
    Backend, ColumnBlock, ContractInput, SegmentContraction, SegmentForward, SegmentGradients,
    SegmentOperands, Segments,
};
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Indices;

/// What a case varies.
#[derive(Clone, Copy, Debug)]
struct Kind {
    channels: usize,
    layer_index: usize,
    weighted_x: bool,
    per_channel: bool,
    with_grad_out: bool,
}

/// A case's operands (weights in column blocks of wider buffers, as the model's MLP
/// outputs hold them) and the gradient buffers the adjoint writes into.
struct Case<B: Backend> {
    label: String,
    kind: Kind,
    layer: SegmentContraction,
    n: usize,
    e: usize,
    offsets: Indices<B>,
    y: B::Storage,
    w: (B::Storage, ColumnBlock),
    wx: (B::Storage, ColumnBlock),
    x: B::Storage,
    theta: B::Storage,
    scale: B::Storage,
    grad_out: B::Storage,
    grad_first: B::Storage,
    /// Starting values of `∂Y` (added to), `∂w` and `∂W_x` (blocks overwritten).
    grads: [B::Storage; 3],
}

impl<B: Backend> Case<B> {
    fn new(kind: Kind, sizes: &[usize], dtype: DType, rng: &mut SplitMix64, d: &B::Device) -> Self {
        let (spec, irrep, r_n) = super::segment::allegro_spec(kind.layer_index);
        let [dx, dy, dout] = spec.dims;
        let u = kind.channels;
        let mut offsets = vec![0u32];
        for s in sizes {
            offsets.push(offsets.last().expect("one") + *s as u32);
        }
        let (n, e) = (sizes.len(), *offsets.last().expect("one") as usize);
        let w_block = ColumnBlock::of(u * r_n + 7, 4, u * r_n);
        let x_block = ColumnBlock::of(2 * u * r_n + 1, u * r_n, u * r_n);
        let mut buf = |shape: &[usize]| buffer::<B>(shape, dtype, rng, d);
        let theta_rows = if kind.per_channel { u } else { 1 };
        Case {
            label: format!("{kind:?}, {n} segments ({dtype})"),
            kind,
            y: buf(&[e, dy]),
            w: (buf(&[e, w_block.stride]), w_block),
            wx: (buf(&[e, x_block.stride]), x_block),
            x: buf(&[e, u, dx]),
            theta: buf(&[theta_rows, spec.num_paths]),
            // Scales away from zero, as 1/√(neighbors) is.
            scale: B::unary(crate::backend::UnaryOp::AddScalar(1.5), &buf(&[n])),
            grad_out: buf(&[e, u, dout]),
            grad_first: buf(&[e, u]),
            grads: [
                buf(&[e, dy]),
                buf(&[e, w_block.stride]),
                buf(&[e, x_block.stride]),
            ],
            layer: SegmentContraction {
                spec,
                channels: u,
                per_channel: kind.per_channel,
                irrep_of_component: irrep,
                num_irreps: r_n,
            },
            n,
            e,
            offsets: Indices::new(&offsets, d),
        }
    }

    fn operands(&self) -> SegmentOperands<'_, B::Storage> {
        SegmentOperands {
            x: if self.kind.weighted_x {
                ContractInput::Weighted(&self.wx.0, self.wx.1)
            } else {
                ContractInput::Plain(&self.x)
            },
            y: &self.y,
            env_weights: (&self.w.0, self.w.1),
            theta: &self.theta,
            scale: &self.scale,
        }
    }

    fn segments(&self) -> Segments<'_, B::IndexStorage> {
        Segments {
            offsets: self.offsets.storage(),
            count: self.n,
            rows: self.e,
        }
    }

    /// The adjoint by the backend or the reference, from `env`, on copies of the starting
    /// gradient buffers: `[∂Y, ∂w, ∂W_x]` and the returned `∂x`, on the host.
    fn backward(&self, env: &B::Storage, fused: bool) -> (Vec<Vec<f64>>, Option<Vec<f64>>) {
        let [mut gy, mut gw, mut gx] = self.grads.clone();
        let grads = SegmentGradients {
            x_weights: self.kind.weighted_x.then_some((&mut gx, self.wx.1)),
            env_weights: (&mut gw, self.w.1),
            y: &mut gy,
        };
        let grad_out = self.kind.with_grad_out.then_some(&self.grad_out);
        let (ops, segs, gf) = (self.operands(), self.segments(), &self.grad_first);
        let ret = if fused {
            B::segment_contract_backward(&self.layer, ops, env, grad_out, gf, segs, grads)
        } else {
            segment_contract_backward_reference::<B>(
                &self.layer,
                ops,
                env,
                grad_out,
                gf,
                segs,
                grads,
            )
        };
        (
            [gy, gw, gx].iter().map(download::<B>).collect(),
            ret.map(|s| download::<B>(&s)),
        )
    }

    /// Forward and backward of the backend against the reference.
    fn check(&self, dtype: DType) {
        let label = &self.label;
        let fused = B::segment_contract_forward(&self.layer, self.operands(), self.segments());
        let plain =
            segment_contract_forward_reference::<B>(&self.layer, self.operands(), self.segments());
        let parts = |f: &SegmentForward<B::Storage>| [&f.env, &f.out, &f.first].map(download::<B>);
        for (what, (got, want)) in ["env", "out", "first"]
            .iter()
            .zip(parts(&fused).iter().zip(&parts(&plain)))
        {
            assert_close(&format!("{label}: {what}"), got, want, tol(dtype));
        }
        let before: Vec<Vec<f64>> = self.grads.iter().map(download::<B>).collect();
        // Both adjoints from the reference's env, so they differ only by themselves.
        let (got, got_x) = self.backward(&plain.env, true);
        let (want, want_x) = self.backward(&plain.env, false);
        let after: Vec<Vec<f64>> = self.grads.iter().map(download::<B>).collect();
        assert_eq!(
            before, after,
            "{label}: a caller's shared gradient buffer changed"
        );
        let tol = tol(dtype) * 10.0;
        for (what, (g, w)) in ["∂Y", "∂w", "∂W_x"].iter().zip(got.iter().zip(&want)) {
            assert_close(&format!("{label}: {what}"), g, w, tol);
        }
        match (got_x, want_x) {
            (Some(g), Some(w)) => assert_close(&format!("{label}: ∂x"), &g, &w, tol),
            (None, None) => assert!(self.kind.weighted_x, "{label}: plain x returns ∂x"),
            _ => panic!("{label}: backend and reference disagree on returning ∂x"),
        }
    }
}

/// Segment sizes: some empty, one in five `long`.
fn sizes(rng: &mut SplitMix64, n: usize, long: usize) -> Vec<usize> {
    (0..n)
        .map(|i| match i % 5 {
            1 => 0,
            3 => long,
            _ => rng.below(9) as usize,
        })
        .collect()
}

/// The segment contraction and its adjoint of the backend equal their references (a
/// weighted first operand only in layer 0, where `x` has the harmonics' components).
pub fn segment_contract_matches_reference<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(8301);
    let kind = |layer_index, weighted_x, per_channel, with_grad_out| Kind {
        channels: 5,
        layer_index,
        weighted_x,
        per_channel,
        with_grad_out,
    };
    for dtype in [DType::F64, DType::F32] {
        let s = sizes(&mut rng, 11, 12);
        for k in [
            kind(0, true, true, true),
            kind(0, true, false, false),
            kind(0, false, false, true),
            kind(0, false, true, false),
            kind(1, false, true, true),
            kind(1, false, false, false),
        ] {
            Case::<B>::new(k, &s, dtype, &mut rng, device).check(dtype);
        }
    }
    // Long segments and more channels than a warp has threads.
    let long = Kind {
        channels: 40,
        ..kind(0, true, true, true)
    };
    let s = sizes(&mut rng, 13, 90);
    Case::<B>::new(long, &s, DType::F32, &mut rng, device).check(DType::F32);
}
