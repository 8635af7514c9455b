//! Checks of the segment contraction (environment sum + channel-wise tensor product,
//! [`InferenceOps::segment_contract_forward`](crate::backend::InferenceOps)) against the
//! same computation composed of tape ops (values), and of its adjoint against the tape's
//! gradients of that composition.

use std::sync::Arc;

use super::inference::{assert_close, download, tolerance};
use crate::backend::{
    Backend, ColumnBlock, ContractInput, ContractionSpec, SegmentContraction, SegmentForward,
    SegmentGradients, SegmentOperands, Segments,
};
use crate::dtype::DType;
use crate::e3::AllegroTensorTrack;
use crate::rng::SplitMix64;
use crate::tensor::{Indices, Tensor};

/// The contraction of layer `k` of an l_max-2, parity, 2-layer tensor track.
pub(crate) fn allegro_spec(k: usize) -> (Arc<ContractionSpec>, Vec<u32>, usize) {
    let track = AllegroTensorTrack::new(2, true, 2).expect("track");
    let spec = track
        .contraction(k)
        .expect("contraction")
        .contraction_spec();
    let irrep: Vec<u32> = track
        .sh
        .entry_of_component()
        .into_iter()
        .map(|r| r as u32)
        .collect();
    (Arc::new(spec), irrep, track.sh.len())
}

/// `x[z,u,m] = Y[z,m]·W[z, u·R + r(m)]` with tape ops (`w` already the block, `[E, U·R]`).
fn weighted<B: Backend>(y: &Tensor<B>, w: &Tensor<B>, u: usize, irrep: &[u32]) -> Tensor<B> {
    let (e, r) = (y.dim(0), w.dim(1) / u);
    w.reshape(&[e, u, r])
        .index_select(2, &Indices::new(irrep, &y.device()))
        .mul(&y.unsqueeze(1))
}

/// Segment sizes: some empty, one long.
fn segment_sizes(rng: &mut SplitMix64, n: usize, long: usize) -> Vec<usize> {
    (0..n)
        .map(|i| match i % 5 {
            1 => 0,
            3 => long,
            _ => rng.below(9) as usize,
        })
        .collect()
}

/// What a case varies.
#[derive(Clone, Copy, Debug)]
struct CaseKind {
    /// Channels `U`.
    channels: usize,
    /// Layer of the tensor track (1: the last, scalar output).
    layer_index: usize,
    /// First operand `Y ⊙ W_x` (the first layer's tensor embedding) instead of plain `x`.
    weighted_x: bool,
    /// One row of path weights per channel.
    per_channel: bool,
    /// The loss reads `out` too, not only `first`.
    with_grad_out: bool,
}

/// A case's layer, its random operands (both weight sets in column blocks of wider
/// buffers, as the model's MLP outputs hold them) and its segments.
struct SegmentCase<B: Backend> {
    label: String,
    kind: CaseKind,
    layer: SegmentContraction,
    n: usize,
    e: usize,
    owner: Vec<u32>,
    offsets: Indices<B>,
    y: Tensor<B>,
    w_full: Tensor<B>,
    wx_full: Tensor<B>,
    x_plain: Tensor<B>,
    theta: Tensor<B>,
    scale: Tensor<B>,
    g_out: Tensor<B>,
    g_first: Tensor<B>,
    w_block: ColumnBlock,
    x_block: ColumnBlock,
    tol: f64,
}

/// The composition on the tape: its outputs, and the gradients of
/// `L = ⟨first, g_first⟩ (+ ⟨out, g_out⟩)` with respect to `Y`, the environment weights'
/// buffer, and the first operand (plain `x`, or its weights' buffer).
struct OnTape<B: Backend> {
    env: Tensor<B>,
    out: Tensor<B>,
    first: Tensor<B>,
    grads: Vec<Tensor<B>>,
}

impl<B: Backend> SegmentCase<B> {
    fn random(
        name: &str,
        kind: CaseKind,
        sizes: &[usize],
        dtype: DType,
        rng: &mut SplitMix64,
        device: &B::Device,
    ) -> Self {
        let u = kind.channels;
        let (spec, irrep, r_n) = allegro_spec(kind.layer_index);
        let [dx, dy, dout] = spec.dims;
        let n = sizes.len();
        let mut offsets = vec![0u32];
        for s in sizes {
            offsets.push(offsets.last().unwrap() + *s as u32);
        }
        let e = *offsets.last().unwrap() as usize;
        let owner: Vec<u32> = (0..n)
            .flat_map(|i| std::iter::repeat_n(i as u32, sizes[i]))
            .collect();
        let mut t = |shape: &[usize], lo: f64, hi: f64| {
            let v = rng.vec_uniform(crate::shape::numel(shape), lo, hi);
            Tensor::<B>::from_f64(&v, shape, dtype, device).expect("shape")
        };
        let (w_stride, w_off) = (u * r_n + 7, 4);
        let (x_stride, x_off) = (2 * u * r_n + 1, u * r_n);
        let theta_rows = if kind.per_channel { u } else { 1 };
        SegmentCase {
            label: format!("{name} ({dtype})"),
            kind,
            y: t(&[e, dy], -1.0, 1.0),
            w_full: t(&[e, w_stride], -1.0, 1.0),
            wx_full: t(&[e, x_stride], -1.0, 1.0),
            x_plain: t(&[e, u, dx], -1.0, 1.0),
            theta: t(&[theta_rows, spec.num_paths], -1.5, 1.5),
            scale: t(&[n], 0.2, 1.2),
            g_out: t(&[e, u, dout], -1.0, 1.0),
            g_first: t(&[e, u], -1.0, 1.0),
            layer: SegmentContraction {
                spec,
                channels: u,
                per_channel: kind.per_channel,
                irrep_of_component: irrep,
                num_irreps: r_n,
            },
            n,
            e,
            owner,
            offsets: Indices::new(&offsets, device),
            w_block: ColumnBlock::of(w_stride, w_off, u * r_n),
            x_block: ColumnBlock::of(x_stride, x_off, u * r_n),
            tol: tolerance(dtype),
        }
    }

    fn on_tape(&self) -> OnTape<B> {
        let (u, n, e) = (self.kind.channels, self.n, self.e);
        let irrep = &self.layer.irrep_of_component;
        let (yt, wt, wxt, xt) = (
            self.y.tracked(),
            self.w_full.tracked(),
            self.wx_full.tracked(),
            self.x_plain.tracked(),
        );
        let owner = Indices::new(&self.owner, &self.y.device());
        let (w, x) = (self.w_block, self.x_block);
        let omega = weighted(&yt, &wt.narrow(1, w.offset, w.width), u, irrep);
        let env = omega
            .index_add(0, &owner, n)
            .mul(&self.scale.reshape(&[n, 1, 1]));
        let x_in = if self.kind.weighted_x {
            weighted(&yt, &wxt.narrow(1, x.offset, x.width), u, irrep)
        } else {
            xt.clone()
        };
        let out = Tensor::channel_contract(
            &x_in,
            &env.index_select(0, &owner),
            &self.theta,
            &self.layer.spec,
            self.kind.per_channel,
        );
        let first = out.narrow(2, 0, 1).reshape(&[e, u]);
        let mut loss = first.mul(&self.g_first).sum_all();
        if self.kind.with_grad_out {
            loss = loss.add(&out.mul(&self.g_out).sum_all());
        }
        let third = if self.kind.weighted_x { &wxt } else { &xt };
        let grads = crate::autodiff::grad(&[&loss], None, &[&yt, &wt, third], false);
        OnTape {
            env,
            out,
            first,
            grads,
        }
    }

    fn operands(&self) -> SegmentOperands<'_, B::Storage> {
        SegmentOperands {
            x: if self.kind.weighted_x {
                ContractInput::Weighted(self.wx_full.storage(), self.x_block)
            } else {
                ContractInput::Plain(self.x_plain.storage())
            },
            y: self.y.storage(),
            env_weights: (self.w_full.storage(), self.w_block),
            theta: self.theta.storage(),
            scale: self.scale.storage(),
        }
    }

    fn segments(&self) -> Segments<'_, B::IndexStorage> {
        Segments {
            offsets: self.offsets.storage(),
            count: self.n,
            rows: self.e,
        }
    }

    /// The fused forward against the tape's values.
    fn check_forward(&self, tape: &OnTape<B>) -> SegmentForward<B::Storage> {
        let fwd = B::segment_contract_forward(&self.layer, self.operands(), self.segments());
        for (what, got, want) in [
            ("env", &fwd.env, &tape.env),
            ("out", &fwd.out, &tape.out),
            ("first", &fwd.first, &tape.first),
        ] {
            assert_close(
                &format!("{}: {what}", self.label),
                &download::<B>(got),
                &want.to_vec_f64(),
                self.tol,
            );
        }
        fwd
    }

    /// The fused adjoint against the tape's gradients, writing into buffers that other
    /// tensors share (as a caller's may): `∂/∂Y` is added to what its buffer held, the
    /// weight gradients overwrite their blocks and leave the other columns alone, and
    /// the shared tensors keep their values.
    fn check_backward(
        &self,
        tape: &OnTape<B>,
        fwd: &SegmentForward<B::Storage>,
        rng: &mut SplitMix64,
    ) {
        let (label, tol, g) = (&self.label, self.tol * 10.0, &tape.grads);
        let device = self.y.device();
        let mut t = |like: &Tensor<B>| {
            let v = rng.vec_uniform(like.numel(), -1.0, 1.0);
            Tensor::<B>::from_f64(&v, like.shape(), like.dtype(), &device).expect("shape")
        };
        let before = [t(&self.y), t(&self.w_full), t(&self.wx_full)];
        let before_host = before.clone().map(|b| b.to_vec_f64());
        let [mut gy, mut gw, mut gx] = before.clone().map(|b| b.storage().clone());
        let grads = SegmentGradients {
            x_weights: self.kind.weighted_x.then_some((&mut gx, self.x_block)),
            env_weights: (&mut gw, self.w_block),
            y: &mut gy,
        };
        let gx_plain = B::segment_contract_backward(
            &self.layer,
            self.operands(),
            &fwd.env,
            self.kind.with_grad_out.then_some(self.g_out.storage()),
            self.g_first.storage(),
            self.segments(),
            grads,
        );
        for (b, host) in before.iter().zip(&before_host) {
            assert_eq!(
                &b.to_vec_f64(),
                host,
                "{label}: a shared buffer was written"
            );
        }
        let want_y: Vec<f64> = before_host[0]
            .iter()
            .zip(g[0].to_vec_f64())
            .map(|(a, b)| a + b)
            .collect();
        assert_close(&format!("{label}: ∂/∂Y"), &download::<B>(&gy), &want_y, tol);
        let overwrite = |b: &[f64], grad: &Tensor<B>, block: ColumnBlock| -> Vec<f64> {
            let g = grad.to_vec_f64();
            (0..b.len())
                .map(|i| {
                    let c = i % block.stride;
                    let inside = c >= block.offset && c < block.offset + block.width;
                    if inside { g[i] } else { b[i] }
                })
                .collect()
        };
        let want_w = overwrite(&before_host[1], &g[1], self.w_block);
        assert_close(&format!("{label}: ∂/∂w"), &download::<B>(&gw), &want_w, tol);
        if self.kind.weighted_x {
            assert!(gx_plain.is_none(), "{label}: weighted x returned ∂/∂x");
            let want_x = overwrite(&before_host[2], &g[2], self.x_block);
            assert_close(
                &format!("{label}: ∂/∂W_x"),
                &download::<B>(&gx),
                &want_x,
                tol,
            );
        } else {
            let gx = gx_plain.expect("plain x returns ∂/∂x");
            assert_close(
                &format!("{label}: ∂/∂x"),
                &download::<B>(&gx),
                &g[2].to_vec_f64(),
                tol,
            );
        }
    }
}

/// One case: forward values against the composed tape ops, the backward against the
/// tape's gradients.
fn segment_case<B: Backend>(
    name: &str,
    kind: CaseKind,
    sizes: &[usize],
    dtype: DType,
    rng: &mut SplitMix64,
    device: &B::Device,
) {
    let case = SegmentCase::<B>::random(name, kind, sizes, dtype, rng, device);
    let tape = case.on_tape();
    let fwd = case.check_forward(&tape);
    case.check_backward(&tape, &fwd, rng);
}

/// The segment contraction and its adjoint: both layers of the seed's tensor track,
/// plain and weighted first operands, coupled and shared path weights, empty segments.
pub fn segment_contract<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(7);
    let kind = |layer_index, weighted_x, per_channel, with_grad_out| CaseKind {
        channels: 5,
        layer_index,
        weighted_x,
        per_channel,
        with_grad_out,
    };
    for dtype in [DType::F64, DType::F32] {
        let sizes = segment_sizes(&mut rng, 11, 12);
        for (name, kind) in [
            ("layer 0, weighted x", kind(0, true, true, true)),
            ("layer 0, plain x, shared θ", kind(0, false, false, true)),
            (
                "layer 1 (scalar output), plain x",
                kind(1, false, true, false),
            ),
        ] {
            segment_case::<B>(name, kind, &sizes, dtype, &mut rng, device);
        }
    }
}

/// The segment contraction on segments as long as the model's (≈ 90 rows), with more
/// channels than a warp has threads.
pub fn segment_contract_long<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(70);
    let sizes = segment_sizes(&mut rng, 23, 90);
    let kind = CaseKind {
        channels: 40,
        layer_index: 0,
        weighted_x: true,
        per_channel: true,
        with_grad_out: true,
    };
    segment_case::<B>("long segments", kind, &sizes, DType::F32, &mut rng, device);
}
