//! Fused primitives of the no-tape energy + forces path.
//!
//! The generic tape keeps every intermediate of a graph and replays one small kernel per
//! op. Inference needs only `E` and `∂E/∂r`, so the model can instead run a forward pass
//! that keeps a few per-edge buffers and a hand-derived backward pass over them. These
//! ops are its building blocks:
//!
//! - [`InferenceOps::fused_linear`]: a matrix product whose left operand is gathered from
//!   column blocks of several buffers (the densenet concatenations of Allegro's latents,
//!   without copying them), with an epilogue that applies the nonlinearity and keeps its
//!   derivative for the backward pass (forward), or multiplies by that kept derivative
//!   (backward), and writes the result into column blocks of one or two buffers, stored
//!   or added.
//! - [`InferenceOps::segment_contract_forward`] and
//!   [`InferenceOps::segment_contract_backward`]: one Allegro layer's environment sum
//!   (a weighted sum of spherical-harmonic features over the rows of a segment, i.e. the
//!   edges of a center atom) fused with the channel-wise tensor product of each row with
//!   its segment's sum, and the exact adjoint of both.
//!
//! They are not differentiable ops (no autodiff rule): they *are* the derivative
//! computation, checked against the tape (`testing::suite::inference`).
//!
//! Every method defaults to a reference built from the primitive ops
//! ([`super::inference_reference`], [`super::segment_reference`]), so a new backend runs
//! the no-tape path before it has these kernels; the CPU and GPU backends override them.

use std::sync::Arc;

use super::elementwise::ElementwiseOps;
use super::fused::ContractionSpec;
use super::harmonics::HarmonicsSpec;
use super::index::IndexOps;
use super::inference_reference::{fused_linear_reference, uninit_reference};
use super::matmul::MatmulOps;
use super::reduce::ReduceOps;
use super::segment_reference::{
    segment_contract_backward_reference, segment_contract_forward_reference,
};
use super::shape::ShapeOps;
use super::storage::StorageOps;
use super::zbl::ZblSpec;

/// A nonlinearity of nequip's MLPs, evaluated (with its derivative) inside fused kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `x·σ(x)`
    Silu,
    /// `x·tanh(softplus(x))`
    Mish,
    /// `x·Φ(x)` (erf form)
    Gelu,
    /// `softplus(x) − ln 2`
    ShiftedSoftplus,
    /// `tanh x`
    Tanh,
    /// `σ(x)`
    Sigmoid,
    /// `ln(1 + eˣ)`
    Softplus,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Activation {
    /// `f(x)` in f64 (the reference the kernels are tested against).
    pub fn value(self, x: f64) -> f64 {
        match self {
            Activation::Silu => x * sigmoid(x),
            Activation::Mish => x * softplus(x).tanh(),
            Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2)),
            Activation::ShiftedSoftplus => softplus(x) - std::f64::consts::LN_2,
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => sigmoid(x),
            Activation::Softplus => softplus(x),
        }
    }

    /// `(f(x), f'(x))`, equal to [`Activation::value`] and [`Activation::derivative`]
    /// (SiLU evaluates its sigmoid once for both).
    pub fn value_and_derivative(self, x: f64) -> (f64, f64) {
        match self {
            Activation::Silu => {
                let s = sigmoid(x);
                (x * s, s * (1.0 + x * (1.0 - s)))
            }
            _ => (self.value(x), self.derivative(x)),
        }
    }

    /// `f'(x)` in f64.
    pub fn derivative(self, x: f64) -> f64 {
        match self {
            Activation::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Activation::Mish => {
                let t = softplus(x).tanh();
                t + x * (1.0 - t * t) * sigmoid(x)
            }
            Activation::Gelu => {
                let phi = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                0.5 * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2)) + x * phi
            }
            Activation::ShiftedSoftplus | Activation::Softplus => sigmoid(x),
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
        }
    }
}

/// Columns `offset..offset + width` of a row-major matrix whose rows hold `stride`
/// elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ColumnBlock {
    /// Elements per row of the whole buffer.
    pub stride: usize,
    /// First column of the block.
    pub offset: usize,
    /// Columns in the block.
    pub width: usize,
}

impl ColumnBlock {
    /// All `width` columns of a contiguous `[rows, width]` matrix.
    pub fn whole(width: usize) -> Self {
        ColumnBlock {
            stride: width,
            offset: 0,
            width,
        }
    }

    /// Columns `offset..offset + width` of a matrix with `stride` columns.
    pub fn of(stride: usize, offset: usize, width: usize) -> Self {
        assert!(
            offset + width <= stride,
            "column block {offset}..{} exceeds the row of {stride}",
            offset + width
        );
        ColumnBlock {
            stride,
            offset,
            width,
        }
    }
}

/// Where one column range of a fused product goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputBlock {
    /// The destination block (its width is the number of product columns it takes).
    pub block: ColumnBlock,
    /// Add to what the destination holds instead of overwriting it.
    pub accumulate: bool,
}

/// The shape of a [`InferenceOps::fused_linear`] call. With `A = [A_0 | A_1 | …]` the
/// concatenation of the input blocks and `P = A @ W`:
///
/// - plain: `out = P`;
/// - `activation: Some(f)`: `out = f(P)`, and `f'(P)` goes to the derivative buffer
///   (`[rows, N]`) — a hidden layer's forward pass;
/// - `masked`: `out = P ⊙ M` with `M` a `[rows, N]` buffer — the backward pass of a
///   hidden layer, `M` being the derivative the forward pass kept.
///
/// `out`'s columns are split over the output blocks in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinearSpec {
    /// Rows of `A` and of the output.
    pub rows: usize,
    /// One block per input buffer, in column order; `K` is the sum of their widths.
    pub inputs: Vec<ColumnBlock>,
    /// One or two output blocks, in column order; `N` is the sum of their widths.
    pub outputs: Vec<OutputBlock>,
    /// Nonlinearity applied to the product (its derivative is written alongside).
    pub activation: Option<Activation>,
    /// Multiply the product by the mask buffer.
    pub masked: bool,
    /// How the products may round (float32 only; float64 is always exact).
    pub precision: MatmulPrecision,
}

/// Rounding of the multiplications of a float32 product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MatmulPrecision {
    /// Float32 products (on tensor cores: split into three TF32 products, which keeps
    /// float32 accuracy).
    #[default]
    Exact,
    /// Operands rounded to TF32 (10-bit mantissa) where the device has tensor cores:
    /// nequip's `allow_tf32`. Relative error about 1e-3.
    Tf32,
}

impl LinearSpec {
    /// Contracted dimension `K`.
    pub fn k(&self) -> usize {
        self.inputs.iter().map(|b| b.width).sum()
    }

    /// Output columns `N`.
    pub fn n(&self) -> usize {
        self.outputs.iter().map(|b| b.block.width).sum()
    }

    /// Floating-point operations (2·rows·K·N).
    pub fn flops(&self) -> f64 {
        2.0 * self.rows as f64 * self.k() as f64 * self.n() as f64
    }
}

/// The first operand of a segment contraction: a plain `[E, U, d]` buffer, or the
/// spherical harmonics weighted per channel and irrep by a column block of `[E, U·R]`
/// weights (`x[z,u,m] = Y[z,m]·W[z, u·R + r(m)]`, Allegro's tensor embedding).
#[derive(Debug)]
pub enum ContractInput<'a, S> {
    /// `[E, U, dims[0]]`.
    Plain(&'a S),
    /// Weights of the harmonics, `[E, U·R]` in a column block.
    Weighted(&'a S, ColumnBlock),
}

impl<S> Clone for ContractInput<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for ContractInput<'_, S> {}

/// One Allegro layer's environment sum and tensor product, row- and segment-wise.
///
/// Rows (edges) are grouped in segments (center atoms): segment `n` is rows
/// `offsets[n]..offsets[n+1]`. With `Y` the `[E, dY]` harmonics and `w` the `[E, U·R]`
/// environment weights,
///
/// - `env[n,u,m] = scale[n] · Σ_{z ∈ n} Y[z,m]·w[z, u·R + r(m)]`,
/// - `out[z,u,k] = Σ_e x[z,u,in0_e]·env[n(z),u,in1_e]·θ[u,p_e]·c_e` over the entries of
///   `spec` (`θ` is `[U, P]` when `per_channel`, else `[1, P]`),
/// - `first[z,u] = out[z,u,0]` (the scalars the latent MLP reads).
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentContraction {
    /// The tensor product: `dims = [dx, dY, d_out]`.
    pub spec: Arc<ContractionSpec>,
    /// Channels `U`.
    pub channels: usize,
    /// Whether `θ` has one row per channel.
    pub per_channel: bool,
    /// Irrep `r(m)` of each harmonic component (length `dY`).
    pub irrep_of_component: Vec<u32>,
    /// Irreps `R` of the harmonics.
    pub num_irreps: usize,
}

impl SegmentContraction {
    /// Components `dY` of the harmonics.
    pub fn harmonics_dim(&self) -> usize {
        self.irrep_of_component.len()
    }
}

/// The rows and segments a segment op runs over.
#[derive(Debug)]
pub struct Segments<'a, I> {
    /// `[N + 1]` row offsets (nondecreasing, `offsets[N] = E`).
    pub offsets: &'a I,
    /// Segments `N`.
    pub count: usize,
    /// Rows `E`.
    pub rows: usize,
}

impl<I> Clone for Segments<'_, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Segments<'_, I> {}

/// What [`InferenceOps::segment_contract_forward`] returns.
#[derive(Clone, Debug)]
pub struct SegmentForward<S> {
    /// `env`, `[N, U, dY]` (the backward pass reads it).
    pub env: S,
    /// `out`, `[E, U, d_out]`.
    pub out: S,
    /// `first`, `[E, U]`.
    pub first: S,
}

/// Inputs of [`InferenceOps::segment_contract_forward`] that the backward pass reads
/// again.
#[derive(Debug)]
pub struct SegmentOperands<'a, S> {
    /// The first operand.
    pub x: ContractInput<'a, S>,
    /// Harmonics `[E, dY]`.
    pub y: &'a S,
    /// Environment weights `[E, U·R]` in a column block.
    pub env_weights: (&'a S, ColumnBlock),
    /// `θ`, `[U, P]` or `[1, P]`.
    pub theta: &'a S,
    /// Per-segment factor of the environment sum, `[N]`.
    pub scale: &'a S,
}

impl<S> Clone for SegmentOperands<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for SegmentOperands<'_, S> {}

/// Gradients [`InferenceOps::segment_contract_backward`] writes.
pub struct SegmentGradients<'a, S> {
    /// For weighted `x`: where `∂/∂W_x` goes (`[E, U·R]` block, overwritten).
    pub x_weights: Option<(&'a mut S, ColumnBlock)>,
    /// Where `∂/∂w` of the environment weights goes (`[E, U·R]` block, overwritten).
    pub env_weights: (&'a mut S, ColumnBlock),
    /// `∂/∂Y`, `[E, dY]`, added to.
    pub y: &'a mut S,
}

/// Fused primitives of the no-tape energy + forces path (module docs). The supertraits
/// are the primitives the default bodies are built from.
pub trait InferenceOps:
    StorageOps + ElementwiseOps + MatmulOps + ReduceOps + IndexOps + ShapeOps
{
    /// A buffer of `len` elements with unspecified contents, for outputs that are
    /// written in full before they are read (no fill pass). Defaults to
    /// [`uninit_reference`] (zeros: one fill pass).
    fn uninit(device: &Self::Device, len: usize, dtype: crate::DType) -> Self::Storage {
        uninit_reference::<Self>(device, len, dtype)
    }

    /// The product of [`LinearSpec`]: `inputs[i]` holds block `spec.inputs[i]`, `weight`
    /// is `[K, N]` row-major, `mask` is read when `spec.masked`, `derivative` (`[rows, N]`)
    /// receives `f'(P)` when `spec.activation` is set, `outputs[j]` receives block
    /// `spec.outputs[j]`. Defaults to [`fused_linear_reference`].
    fn fused_linear(
        spec: &LinearSpec,
        inputs: &[&Self::Storage],
        weight: &Self::Storage,
        mask: Option<&Self::Storage>,
        derivative: Option<&mut Self::Storage>,
        outputs: &mut [&mut Self::Storage],
    ) {
        fused_linear_reference::<Self>(spec, inputs, weight, mask, derivative, outputs)
    }

    /// The environment sum and tensor product of [`SegmentContraction`]. Defaults to
    /// [`segment_contract_forward_reference`].
    fn segment_contract_forward(
        layer: &SegmentContraction,
        operands: SegmentOperands<'_, Self::Storage>,
        segments: Segments<'_, Self::IndexStorage>,
    ) -> SegmentForward<Self::Storage> {
        segment_contract_forward_reference::<Self>(layer, operands, segments)
    }

    /// The adjoint of [`InferenceOps::segment_contract_forward`]: given `∂L/∂out`
    /// (`grad_out`, `[E, U, d_out]`, absent when only `first` is used) and `∂L/∂first`
    /// (`[E, U]`), writes `∂L/∂W_x` (weighted `x`), `∂L/∂w` and adds `∂L/∂Y` into
    /// `grads`; returns `∂L/∂x` (`[E, U, dx]`) for a plain `x`. Defaults to
    /// [`segment_contract_backward_reference`].
    fn segment_contract_backward(
        layer: &SegmentContraction,
        operands: SegmentOperands<'_, Self::Storage>,
        env: &Self::Storage,
        grad_out: Option<&Self::Storage>,
        grad_first: &Self::Storage,
        segments: Segments<'_, Self::IndexStorage>,
        grads: SegmentGradients<'_, Self::Storage>,
    ) -> Option<Self::Storage> {
        segment_contract_backward_reference::<Self>(
            layer, operands, env, grad_out, grad_first, segments, grads,
        )
    }

    /// The Bessel basis times the polynomial cutoff of exponent `p`
    /// ([`super::bessel_cutoff`]) of every normalised length in `x` (`E` values), as
    /// `[E, N]` for the `N` values of `weights` (same dtype as `x`), in one pass. `None`,
    /// the default, where the backend has no fused kernel (or none for this dtype): the
    /// caller composes it from tensor ops (`crate::radial`, also the kernels' oracle).
    fn bessel_cutoff(x: &Self::Storage, weights: &Self::Storage, p: f64) -> Option<Self::Storage> {
        let _ = (x, weights, p);
        None
    }

    /// The adjoint of [`InferenceOps::bessel_cutoff`] with respect to `x`: `∂L/∂x` (`E`
    /// values) from `∂L/∂f` (`grad`, `[E, N]`), in one pass; `None` where there is no
    /// kernel.
    fn bessel_cutoff_vjp(
        x: &Self::Storage,
        weights: &Self::Storage,
        grad: &Self::Storage,
        p: f64,
    ) -> Option<Self::Storage> {
        let _ = (x, weights, grad, p);
        None
    }

    /// `h_z·f_n'(x_z)`, `[E, N]`: the derivative of [`InferenceOps::bessel_cutoff_vjp`]
    /// with respect to its `grad` along `h` (`E` values), in one pass; `None` where there
    /// is no kernel.
    fn bessel_cutoff_jvp(
        x: &Self::Storage,
        weights: &Self::Storage,
        h: &Self::Storage,
        p: f64,
    ) -> Option<Self::Storage> {
        let _ = (x, weights, h, p);
        None
    }

    /// `Σ_d h_d ∂Y/∂v_d`, `[E, dim]`: the derivative of
    /// [`InferenceOps::edge_harmonics_vjp`] with respect to its `grad_y` along `h`
    /// (`[E, 3]`), in one pass; `None` where there is no kernel.
    fn edge_harmonics_jvp(
        spec: &HarmonicsSpec,
        v: &Self::Storage,
        h: &Self::Storage,
    ) -> Option<Self::Storage> {
        let _ = (spec, v, h);
        None
    }

    /// The ZBL pair energy of `spec` ([`super::zbl`]) of every edge, `[E]` float64, from
    /// its length `r` (`[E]`, float64) and its atoms' types, in one pass. `None`, the
    /// default, where the backend has no fused kernel (or no exact float64
    /// exponentials): the caller composes it from tensor ops.
    fn zbl_edge_energies(
        spec: &ZblSpec,
        r: &Self::Storage,
        center_types: &Self::IndexStorage,
        neighbor_types: &Self::IndexStorage,
    ) -> Option<Self::Storage> {
        let _ = (spec, r, center_types, neighbor_types);
        None
    }

    /// The adjoint of [`InferenceOps::zbl_edge_energies`]: `∂L/∂r` (`[E]`) from `∂L/∂E`
    /// (`grad`, `[E]`), in one pass; `None` where there is no kernel.
    fn zbl_edge_energies_vjp(
        spec: &ZblSpec,
        r: &Self::Storage,
        center_types: &Self::IndexStorage,
        neighbor_types: &Self::IndexStorage,
        grad: &Self::Storage,
    ) -> Option<Self::Storage> {
        let _ = (spec, r, center_types, neighbor_types, grad);
        None
    }

    /// The spherical harmonics of `spec` of every edge vector of `v` (`[E, 3]`), as
    /// `[E, dim]`, in one pass ([`super::harmonics`]). `None`, the default, where the
    /// backend has no fused kernel: the caller composes them from tensor ops (which is
    /// also the oracle the kernels are tested against).
    fn edge_harmonics(spec: &HarmonicsSpec, v: &Self::Storage) -> Option<Self::Storage> {
        let _ = (spec, v);
        None
    }

    /// The adjoint of [`InferenceOps::edge_harmonics`]: `∂L/∂v` (`[E, 3]`) from
    /// `∂L/∂Y` (`grad_y`, `[E, dim]`), in one pass; `None` where there is no kernel.
    fn edge_harmonics_vjp(
        spec: &HarmonicsSpec,
        v: &Self::Storage,
        grad_y: &Self::Storage,
    ) -> Option<Self::Storage> {
        let _ = (spec, v, grad_y);
        None
    }
}
