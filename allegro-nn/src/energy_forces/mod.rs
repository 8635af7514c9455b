//! Energies and forces without the generic tape (the inference path).
//!
//! `E` and `g = ∂E/∂v` for every edge vector come from one forward pass that keeps a few
//! per-edge buffers (each MLP's hidden derivatives, the layers' tensor features and
//! environments) and a hand-written backward pass over them, both built from the fused
//! ops of `allegro_core::backend::InferenceOps`:
//!
//! ```text
//! forward                                   backward
//! e = radial(x)                  (tape)     ∂v ← vjp of (e, Y) and ZBL     (tape)
//! h = MLP_s(e)                              ∂e ← MLP_sᵀ(∂h)
//! [h¹ | w¹ | t] = h @ W_front               ∂h ← [∂h¹ | ∂w¹ | ∂t] @ W_frontᵀ
//! for layer k:                              for layer k (last first):
//!   Ω_k, x_{k+1}, s_k = env+TP(x_k, w_k)      ∂[h^{k+2} | w_{k+1}] → MLP_kᵀ → ∂h^{≤k+1}, ∂s_k
//!   [h^{k+2} | w_{k+1}] = MLP_k(h^{≤k+1}, s_k)  ∂x_k, ∂w_k, ∂Y += (env+TP)ᵀ(∂x_{k+1}, ∂s_k)
//! ε = readout(h¹ … h^{L+1})                 ∂h^{≤L+1} = readoutᵀ(∂ε)
//! ```
//!
//! where `x_0 = Y ⊙ t` (the tensor embedding, never stored) and `∂ε_z = a(t_n)·σ(t_n)/√2`
//! for the center `n` of edge `z` (environment normalisation and per-type scale). The
//! per-edge front (lengths, cutoffs, radial basis, spherical harmonics) and the ZBL term
//! are elementwise and cheap: they stay on the tape, which replays only them.
//!
//! [`AllegroModel::outputs`] (the tape through everything) is the oracle:
//! `tests/energy_forces.rs` compares the two.

mod linear;
mod matrix;
mod plan;
pub mod profile;

pub use plan::EnergyForcesPlan;
use plan::PreparedLayer;

use allegro_core::backend::MatmulPrecision;
use allegro_core::backend::{ContractInput, SegmentGradients, SegmentOperands, Segments};
use allegro_core::{Backend, DType, Tensor, grad};

use crate::forces::{Outputs, atom_virial, forces_and_strain_derivative};
use crate::inputs::ModelInputs;
use crate::model::{AllegroModel, EdgeFront};
use crate::parameters::Parameters;
use matrix::{Block, Matrix};
use profile::StageTimer;

/// What the forward pass keeps of one layer for the backward pass.
struct LayerTrace<B: Backend> {
    /// `Ω_k`, `[N, U, dY]`.
    env: B::Storage,
    /// `x_{k+1}`, `[E, U, d_out]` (the next layer's first operand).
    features: B::Storage,
    /// The latent MLP's output `[h^{k+2} | w_{k+1}]`.
    latent: Matrix<B>,
    /// The latent MLP's hidden derivatives.
    derivatives: Vec<B::Storage>,
}

/// The sizes, dtype and device of one call, and its segments (edges grouped by center).
struct Pass<'a, B: Backend> {
    plan: &'a EnergyForcesPlan<B>,
    rows: usize,
    s: usize,
    ur: usize,
    dtype: DType,
    device: B::Device,
    precision: MatmulPrecision,
    segments: Segments<'a, B::IndexStorage>,
}

/// What the forward pass keeps for the backward pass.
struct Forward<B: Backend> {
    /// The per-edge front (lengths, radial basis, harmonics, ZBL) on the tape.
    front: EdgeFront<B>,
    /// Harmonics `Y`, `[E, dY]`, and the radial basis `e`, off the tape.
    y: Matrix<B>,
    radial: Matrix<B>,
    /// Per-atom factor of the environment sums.
    env_scale: Tensor<B>,
    /// `[h¹ | w¹ | t] = MLP_s(e) @ W_front`.
    first: Matrix<B>,
    scalar_derivatives: Vec<B::Storage>,
    traces: Vec<LayerTrace<B>>,
    readout_derivatives: Vec<B::Storage>,
    atomic_energies: Tensor<B>,
    zbl_total: Option<Tensor<B>>,
    /// `∂E/∂ε` per edge.
    grad_eps: Tensor<B>,
}

/// Gradients of the energy with respect to the scalar latents, the harmonics and the
/// first layer's weights, after the layers' backward passes.
struct LatentGradients<B: Backend> {
    /// `∂h¹ … ∂h^{L+1}`, `[E, S(L+1)]`.
    lat: Matrix<B>,
    /// `∂Y`, `[E, dY]`.
    y: Matrix<B>,
    /// `∂w¹`, the first layer's environment weights.
    w1: Matrix<B>,
    /// `∂t`, the tensor embedding's weights.
    embed: Matrix<B>,
}

impl AllegroModel {
    /// Energies, forces and strain derivatives of a batch by the no-tape path: the same
    /// results as [`AllegroModel::outputs`] without `create_graph`, to rounding; with
    /// the per-atom virial when `per_atom_virial`.
    pub fn energy_forces<B: Backend>(
        &self,
        plan: &EnergyForcesPlan<B>,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
        per_atom_virial: bool,
    ) -> Outputs<B> {
        let v = inputs.edge_vectors.tracked();
        let device = v.device();
        let mut timer = StageTimer::<B>::start(&device);
        let tracked = inputs.with_edge_vectors(v.clone());
        let cx = Pass {
            plan,
            rows: tracked.n_edges(),
            s: self.config().num_scalar_features,
            ur: self.weighted_channels().weight_numel(),
            dtype: plan.dtype,
            device: device.clone(),
            precision: plan.precision,
            segments: Segments {
                offsets: tracked.center_offsets.storage(),
                count: tracked.n_atoms,
                rows: tracked.n_edges(),
            },
        };
        let mut fw = self.forward_pass(&cx, params, &tracked, &mut timer);
        let grads = backward_layers(&cx, &mut fw, &mut timer);
        // What the rest needs of the forward pass; the other buffers are freed here.
        let Forward {
            front,
            radial,
            first,
            scalar_derivatives,
            atomic_energies,
            zbl_total,
            ..
        } = fw;
        let LatentGradients { lat, y, w1, embed } = grads;
        let grad_radial =
            embedding_backward(&cx, first, scalar_derivatives, radial.cols, lat, w1, embed);
        timer.stage("embedding MLPs backward");

        // The front on the tape: ∂E/∂v = vjp of (e, Y) with (∂e, ∂Y), plus ZBL's.
        let grad_radial = grad_radial.into_tensor();
        let grad_y = y.into_tensor();
        let mut outs: Vec<&Tensor<B>> = vec![&front.radial, &front.y];
        let mut seeds: Vec<&Tensor<B>> = vec![&grad_radial, &grad_y];
        let one = Tensor::ones(&[], DType::F64, &device);
        if let Some(z) = &zbl_total {
            outs.push(z);
            seeds.push(&one);
        }
        let g = grad(&outs, Some(&seeds), &[&v], false).remove(0);
        timer.stage("front backward (tape)");
        let v = v.detach();
        let (forces, strain_derivative) = forces_and_strain_derivative(&tracked, &v, &g);
        let atom_virial = per_atom_virial.then(|| atom_virial(&tracked, &v, &g));
        timer.stage("forces and virial");
        let total_energy = atomic_energies.index_add(0, &tracked.batch, tracked.n_frames);
        Outputs {
            atomic_energies,
            total_energy,
            forces,
            strain_derivative,
            atom_virial,
        }
    }

    /// The front on the tape, then the embedding MLPs, the layers and the readout off
    /// it, and the per-atom energies.
    fn forward_pass<B: Backend>(
        &self,
        cx: &Pass<'_, B>,
        params: &Parameters<B>,
        tracked: &ModelInputs<B>,
        timer: &mut StageTimer<'_, B>,
    ) -> Forward<B> {
        let (plan, rows, s, ur, dtype, precision) =
            (cx.plan, cx.rows, cx.s, cx.ur, cx.dtype, cx.precision);
        let device = &cx.device;
        let front = self.edge_front(params, tracked);
        timer.stage("front (tape)");
        let n = tracked.n_atoms;
        let env_scale = self
            .env_norm_per_atom(tracked, dtype)
            .unwrap_or_else(|| Tensor::ones(&[n], dtype, device));
        let y = Matrix::<B>::of_tensor(&front.y.detach());
        let radial = Matrix::<B>::of_tensor(&front.radial.detach());

        // h = MLP_s(e); [h¹ | w¹ | t] = h @ W_front.
        let mut h = Matrix::uninit(device, rows, s, dtype);
        let scalar_derivatives =
            plan.scalar_mlp
                .forward(rows, &[radial.all()], &mut [h.out_all()], precision);
        let mut first = Matrix::uninit(device, rows, plan.front.output_dim(), dtype);
        plan.front
            .forward(rows, &[h.all()], &mut [first.out_all()], precision);
        drop(h);
        timer.stage("embedding MLPs");

        // The layers.
        let mut traces: Vec<LayerTrace<B>> = Vec::with_capacity(plan.layers.len());
        for (k, layer) in plan.layers.iter().enumerate() {
            let operands = layer_operands(cx, layer, traces.last(), &first, &y, &env_scale);
            let out = B::segment_contract_forward(&layer.contraction, operands, cx.segments);
            timer.stage(&format!("layer {k} env+TP"));
            let u = layer.contraction.channels;
            let scalars = Matrix::<B> {
                storage: out.first,
                rows,
                cols: u,
            };
            let mut latent = Matrix::uninit(device, rows, layer.mlp.output_dim(), dtype);
            let derivatives = {
                let mut ins = densenet(&first, &traces, s);
                ins.push(scalars.all());
                layer
                    .mlp
                    .forward(rows, &ins, &mut [latent.out_all()], precision)
            };
            debug_assert_eq!(
                latent.cols,
                if layer.last { s } else { s + ur },
                "layer {k}"
            );
            timer.stage(&format!("layer {k} latent MLP"));
            traces.push(LayerTrace {
                env: out.env,
                features: out.out,
                latent,
                derivatives,
            });
        }

        // ε = readout(h¹ … h^{L+1}).
        let mut eps = Matrix::uninit(device, rows, 1, dtype);
        let readout_derivatives = plan.readout.forward(
            rows,
            &densenet(&first, &traces, s),
            &mut [eps.out_all()],
            precision,
        );
        timer.stage("readout MLP");
        let (atomic_energies, zbl_total, grad_eps) =
            self.edge_energies_to_atoms(params, tracked, &front, eps, &env_scale);
        timer.stage("energies");
        Forward {
            front,
            y,
            radial,
            env_scale,
            first,
            scalar_derivatives,
            traces,
            readout_derivatives,
            atomic_energies,
            zbl_total,
            grad_eps,
        }
    }

    /// Per-atom energies from the edge energies (`e_n = σ(t_n)·a(t_n)/√2·Σ_z ε_z + μ(t_n)`
    /// plus ZBL), the ZBL total (tracked, for its gradient) and `∂E/∂ε` per edge.
    fn edge_energies_to_atoms<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
        front: &EdgeFront<B>,
        eps: Matrix<B>,
        env_scale: &Tensor<B>,
    ) -> (Tensor<B>, Option<Tensor<B>>, Tensor<B>) {
        let n = inputs.n_atoms;
        let rows = eps.rows;
        let eps = eps.into_tensor().reshape(&[rows]);
        let factor = env_scale
            .cast(DType::F64)
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2);
        let raw = eps
            .index_add(0, &inputs.edge_center, n)
            .cast(DType::F64)
            .mul(&factor);
        let learned = self.scale_shift().forward(params, &raw, &inputs.atom_types);
        let (atomic, zbl_total) = match self.zbl() {
            None => (learned, None),
            Some(zbl) => {
                use crate::pair::PairPotential;
                let pair = zbl.atomic_energies_fused(&front.r, &front.x, inputs, self.rmax_recip());
                (learned.add(&pair.detach()), Some(pair.sum_all()))
            }
        };
        let per_atom = match self
            .scale_shift()
            .per_atom_scale(params, &inputs.atom_types)
        {
            Some(scale) => factor.mul(&scale),
            None => factor,
        };
        let grad_eps = per_atom
            .index_select(0, &inputs.edge_center)
            .cast(eps.dtype())
            .reshape(&[rows, 1]);
        (atomic.detach(), zbl_total, grad_eps)
    }
}

/// The scalar latents so far, `h¹ … h^{k+1}`, as blocks (the densenet concatenation).
fn densenet<'a, B: Backend>(
    first: &'a Matrix<B>,
    traces: &'a [LayerTrace<B>],
    s: usize,
) -> Vec<Block<'a, B>> {
    let mut blocks = vec![first.block(0, s)];
    blocks.extend(traces.iter().map(|t| t.latent.block(0, s)));
    blocks
}

/// The operands of a layer's env + TP, forward and backward alike: the first layer reads
/// the tensor embedding `x_0 = Y ⊙ t` and `w¹` from `first`, a later one the previous
/// layer's features and the `w` block of its latent.
fn layer_operands<'a, B: Backend>(
    cx: &Pass<'_, B>,
    layer: &'a PreparedLayer<B>,
    previous: Option<&'a LayerTrace<B>>,
    first: &'a Matrix<B>,
    y: &'a Matrix<B>,
    env_scale: &'a Tensor<B>,
) -> SegmentOperands<'a, B::Storage> {
    let (s, ur) = (cx.s, cx.ur);
    let (x, env_weights) = match previous {
        None => {
            let embed = first.block(s + ur, ur);
            (
                ContractInput::Weighted(embed.0, embed.1),
                first.block(s, ur),
            )
        }
        Some(t) => (ContractInput::Plain(&t.features), t.latent.block(s, ur)),
    };
    SegmentOperands {
        x,
        y: &y.storage,
        env_weights,
        theta: layer.theta.storage(),
        scale: env_scale.storage(),
    }
}

/// The readout's and the layers' backward passes, last layer first: the scalar latents'
/// gradients accumulate in one `[E, S(L+1)]` buffer; each layer's latent MLP is
/// transposed, then (env + TP)ᵀ gives ∂x_k (or ∂t for the first layer), ∂w_k and ∂Y.
fn backward_layers<B: Backend>(
    cx: &Pass<'_, B>,
    fw: &mut Forward<B>,
    timer: &mut StageTimer<'_, B>,
) -> LatentGradients<B> {
    let (plan, rows, s, ur, dtype, precision) =
        (cx.plan, cx.rows, cx.s, cx.ur, cx.dtype, cx.precision);
    let device = &cx.device;
    let depth = plan.layers.len();
    let mut grad_lat = Matrix::uninit(device, rows, s * (depth + 1), dtype);
    let grad_eps = Matrix::of_tensor(&fw.grad_eps);
    plan.readout.backward(
        rows,
        &[grad_eps.all()],
        std::mem::take(&mut fw.readout_derivatives),
        &mut [grad_lat.out_all()],
        precision,
    );
    drop(grad_eps);
    timer.stage("readout backward");
    let (first, y) = (&fw.first, &fw.y);
    let mut grad_y = Matrix::<B>::zeros(device, rows, y.cols, dtype);
    let mut grad_env_weights: Option<Matrix<B>> = None;
    let mut grad_features: Option<B::Storage> = None;
    let mut grad_embed = Matrix::<B>::uninit(device, rows, ur, dtype);
    for (k, layer) in plan.layers.iter().enumerate().rev() {
        let trace = fw.traces.pop().expect("a trace per layer");
        let u = layer.contraction.channels;
        // ∂[h^{k+2} | w_{k+1}] → ∂h¹…h^{k+1} (added) and ∂s_k. The gradient of the
        // output is read from `grad_lat` before the input gradient is added to it.
        let next = grad_env_weights.take();
        let grad_mid = {
            let mut grad_out: Vec<Block<'_, B>> = vec![grad_lat.block(s * (k + 1), s)];
            if let Some(g) = &next {
                grad_out.push(g.all());
            }
            layer
                .mlp
                .backward_hidden(rows, &grad_out, trace.derivatives, precision)
                .unwrap_or_else(|| linear::gather(rows, &grad_out, dtype, device))
        };
        drop(next);
        let mut grad_scalars = Matrix::uninit(device, rows, u, dtype);
        layer.mlp.backward_input(
            rows,
            &[grad_mid.all()],
            &mut [grad_lat.out(0, s * (k + 1), true), grad_scalars.out_all()],
            precision,
        );
        drop(grad_mid);
        timer.stage(&format!("layer {k} latent MLP backward"));
        // (env + TP)ᵀ: ∂x_k (or ∂t for the first layer), ∂w_k, ∂Y.
        let previous = fw.traces.last();
        let operands = layer_operands(cx, layer, previous, first, y, &fw.env_scale);
        let mut grad_w = Matrix::uninit(device, rows, ur, dtype);
        let grads = SegmentGradients {
            x_weights: previous.is_none().then(|| {
                (
                    &mut grad_embed.storage,
                    allegro_core::backend::ColumnBlock::whole(ur),
                )
            }),
            env_weights: (
                &mut grad_w.storage,
                allegro_core::backend::ColumnBlock::whole(ur),
            ),
            y: &mut grad_y.storage,
        };
        grad_features = B::segment_contract_backward(
            &layer.contraction,
            operands,
            &trace.env,
            grad_features.as_ref(),
            &grad_scalars.storage,
            cx.segments,
            grads,
        );
        grad_env_weights = Some(grad_w);
        timer.stage(&format!("layer {k} env+TP backward"));
    }
    LatentGradients {
        lat: grad_lat,
        y: grad_y,
        w1: grad_env_weights.expect("at least one layer"),
        embed: grad_embed,
    }
}

/// `∂h = [∂h¹ | ∂w¹ | ∂t] @ W_frontᵀ`, then `∂e = MLP_sᵀ(∂h)`: the radial basis's
/// gradient, `[E, radial_cols]`. The latents (`first`) and their gradients are freed
/// before `∂e` is allocated.
fn embedding_backward<B: Backend>(
    cx: &Pass<'_, B>,
    first: Matrix<B>,
    scalar_derivatives: Vec<B::Storage>,
    radial_cols: usize,
    grad_lat: Matrix<B>,
    grad_w1: Matrix<B>,
    grad_embed: Matrix<B>,
) -> Matrix<B> {
    let (plan, rows, s, dtype, precision) = (cx.plan, cx.rows, cx.s, cx.dtype, cx.precision);
    let mut grad_h = Matrix::uninit(&cx.device, rows, s, dtype);
    plan.front.backward(
        rows,
        &[grad_lat.block(0, s), grad_w1.all(), grad_embed.all()],
        Vec::new(),
        &mut [grad_h.out_all()],
        precision,
    );
    drop((grad_lat, grad_w1, grad_embed, first));
    let mut grad_radial = Matrix::uninit(&cx.device, rows, radial_cols, dtype);
    plan.scalar_mlp.backward(
        rows,
        &[grad_h.all()],
        scalar_derivatives,
        &mut [grad_radial.out_all()],
        precision,
    );
    grad_radial
}
