//! [`InferenceOps::segment_contract_forward`] and
//! [`InferenceOps::segment_contract_backward`] built from primitive ops: the defaults of
//! a backend without segment kernels, and what those kernels are compared with
//! (`testing::suite::segment_reference`).
//!
//! The environment sum is a scatter-add of rows into their segments
//! ([`IndexOps::index_add`], rows in increasing order like the CPU loop), the tensor
//! product is [`channel_contract_reference`] of each row with its segment's sum gathered
//! back ([`IndexOps::index_select`]), and the adjoint is the same ops transposed: the
//! contraction with permuted slots for `∂x` and `∂env`, a scatter-add over each irrep's
//! components for the weights, and a sum over channels for `∂Y`.
//!
//! [`InferenceOps::segment_contract_forward`]: super::inference::InferenceOps::segment_contract_forward
//! [`InferenceOps::segment_contract_backward`]: super::inference::InferenceOps::segment_contract_backward

use super::blocks_reference::{leading, read_columns, same_shape, write_columns};
use super::elementwise::{BinaryOp, ElementwiseOps};
use super::fused_reference::channel_contract_reference;
use super::index::IndexOps;
use super::inference::{
    ColumnBlock, ContractInput, SegmentContraction, SegmentForward, SegmentGradients,
    SegmentOperands, Segments,
};
use super::reduce::ReduceOps;
use super::shape::ShapeOps;
use super::storage::StorageOps;

/// What forward and backward both derive from the operands: per-row tables and the
/// harmonics weighted per channel.
struct Prepared<B: StorageOps> {
    /// Segment of each row, `[E]`.
    owner: B::IndexStorage,
    /// Irrep of each harmonic component, `[dY]`.
    irrep: B::IndexStorage,
    /// Harmonics `[E, dY]`.
    y: B::Storage,
    /// Environment weights spread over the components, `w[z, u·R + r(m)]`, `[E, U, dY]`.
    w_spread: B::Storage,
    /// Weights of a weighted `x` spread likewise, `[E, U, dY]`.
    x_spread: Option<B::Storage>,
}

/// The segment of each row. The offsets live on the device and no primitive expands
/// offsets into per-row owners, so this reads them back: index preparation only, no
/// arithmetic on values goes through the host.
fn segment_of_row<B: StorageOps>(
    segments: Segments<'_, B::IndexStorage>,
    device: &B::Device,
) -> B::IndexStorage {
    let offsets = B::indices_to_host(segments.offsets);
    let mut owner = Vec::with_capacity(segments.rows);
    for (n, w) in offsets[..=segments.count].windows(2).enumerate() {
        owner.extend(std::iter::repeat_n(n as u32, (w[1] - w[0]) as usize));
    }
    assert_eq!(
        owner.len(),
        segments.rows,
        "segment offsets must end at the row count"
    );
    B::indices_from_host(device, &owner)
}

/// `W[z, u·R + r(m)]` for every row, channel and component, `[E, U, dY]`, from the block
/// `block` of `w`.
fn spread<B: StorageOps + IndexOps + ShapeOps>(
    layer: &SegmentContraction,
    rows: usize,
    w: &B::Storage,
    block: ColumnBlock,
    irrep: &B::IndexStorage,
) -> B::Storage {
    let (u, r) = (layer.channels, layer.num_irreps);
    let w = read_columns::<B>(w, rows, block);
    B::index_select(&w, rows * u, r, 1, irrep, layer.harmonics_dim())
}

/// `Y[z,m]·a[z,u,m]` for `a` of shape `[E, U, dY]`.
fn times_harmonics<B: ElementwiseOps>(
    layer: &SegmentContraction,
    rows: usize,
    y: &B::Storage,
    a: &B::Storage,
) -> B::Storage {
    let (u, dy) = (layer.channels, layer.harmonics_dim());
    B::binary(
        BinaryOp::Mul,
        y,
        &[rows, 1, dy],
        a,
        &[rows, u, dy],
        &[rows, u, dy],
    )
}

impl<B: StorageOps + ElementwiseOps + IndexOps + ShapeOps> Prepared<B> {
    fn new(
        layer: &SegmentContraction,
        ops: &SegmentOperands<'_, B::Storage>,
        segments: Segments<'_, B::IndexStorage>,
    ) -> Self {
        let device = B::storage_device(ops.theta);
        let rows = segments.rows;
        let irrep = B::indices_from_host(&device, &layer.irrep_of_component);
        let (w, w_block) = ops.env_weights;
        let w_spread = spread::<B>(layer, rows, w, w_block, &irrep);
        let x_spread = match ops.x {
            ContractInput::Weighted(s, b) => Some(spread::<B>(layer, rows, s, b, &irrep)),
            ContractInput::Plain(_) => None,
        };
        Prepared {
            owner: segment_of_row::<B>(segments, &device),
            y: leading::<B>(ops.y, rows * layer.harmonics_dim()),
            irrep,
            w_spread,
            x_spread,
        }
    }

    /// The first operand `[E, U, dx]`: the plain buffer, or `Y ⊙` its spread weights.
    fn x(
        &self,
        layer: &SegmentContraction,
        rows: usize,
        x: ContractInput<'_, B::Storage>,
    ) -> B::Storage {
        match (x, &self.x_spread) {
            (ContractInput::Plain(s), _) => {
                leading::<B>(s, rows * layer.channels * layer.spec.dims[0])
            }
            (ContractInput::Weighted(..), Some(spread)) => {
                times_harmonics::<B>(layer, rows, &self.y, spread)
            }
            (ContractInput::Weighted(..), None) => unreachable!("weighted x is spread"),
        }
    }

    /// Per-segment `[N, U·dY]` values gathered back to their rows, `[E, U, dY]`.
    fn to_rows(
        &self,
        layer: &SegmentContraction,
        segments: Segments<'_, B::IndexStorage>,
        per_segment: &B::Storage,
    ) -> B::Storage {
        let inner = layer.channels * layer.harmonics_dim();
        B::index_select(
            per_segment,
            1,
            segments.count,
            inner,
            &self.owner,
            segments.rows,
        )
    }

    /// `scale[n]·Σ_{z ∈ n} rows[z]` for `[E, U, dY]` rows: `[N, U·dY]`.
    fn segment_sum(
        &self,
        layer: &SegmentContraction,
        segments: Segments<'_, B::IndexStorage>,
        rows: &B::Storage,
        scale: &B::Storage,
    ) -> B::Storage {
        let inner = layer.channels * layer.harmonics_dim();
        let (e, n) = (segments.rows, segments.count);
        let sum = B::index_add(rows, 1, &self.owner, e, inner, n);
        B::binary(
            BinaryOp::Mul,
            &sum,
            &[n, inner],
            scale,
            &[n, 1],
            &[n, inner],
        )
    }

    /// `Σ_{m: r(m) = r} Y[z,m]·a[z,u,m]` for `a` of shape `[E, U, dY]`: `[E, U·R]`, the
    /// gradient of the weights that `a` is the gradient of the spread product of.
    fn per_irrep(&self, layer: &SegmentContraction, rows: usize, a: &B::Storage) -> B::Storage {
        let t = times_harmonics::<B>(layer, rows, &self.y, a);
        let (u, dy) = (layer.channels, layer.harmonics_dim());
        B::index_add(&t, rows * u, &self.irrep, dy, 1, layer.num_irreps)
    }
}

/// [`InferenceOps::segment_contract_forward`] by primitive ops (module docs):
/// `env = scale ⊙ Σ_segment Y ⊙ w`, `out` the contraction of `x` with each row's `env`,
/// `first = out[:, :, 0]`.
///
/// [`InferenceOps::segment_contract_forward`]: super::inference::InferenceOps::segment_contract_forward
pub fn segment_contract_forward_reference<B: StorageOps + ElementwiseOps + IndexOps + ShapeOps>(
    layer: &SegmentContraction,
    operands: SegmentOperands<'_, B::Storage>,
    segments: Segments<'_, B::IndexStorage>,
) -> SegmentForward<B::Storage> {
    let (e, u, dout) = (segments.rows, layer.channels, layer.spec.dims[2]);
    let p = Prepared::<B>::new(layer, &operands, segments);
    let omega = times_harmonics::<B>(layer, e, &p.y, &p.w_spread);
    let env = p.segment_sum(layer, segments, &omega, operands.scale);
    let x = p.x(layer, e, operands.x);
    let out = channel_contract_reference::<B>(
        &x,
        &p.to_rows(layer, segments, &env),
        operands.theta,
        e,
        u,
        &layer.spec,
        layer.per_channel,
    );
    let first = if dout == 0 {
        let theta = operands.theta;
        B::full(
            &B::storage_device(theta),
            e * u,
            0.0,
            B::storage_dtype(theta),
        )
    } else {
        B::narrow(&out, e * u, dout, 1, 0, 1)
    };
    SegmentForward { env, out, first }
}

/// `∂L/∂out` with `∂L/∂first` added to component 0, `[E, U, d_out]`.
fn output_gradient<B: StorageOps + ElementwiseOps + ShapeOps>(
    rows_channels: usize,
    dout: usize,
    grad_out: Option<&B::Storage>,
    grad_first: &B::Storage,
) -> B::Storage {
    let grad_first = leading::<B>(grad_first, rows_channels);
    if dout == 0 {
        // No output components (and no entries): nothing flows back.
        return B::full(
            &B::storage_device(&grad_first),
            0,
            0.0,
            B::storage_dtype(&grad_first),
        );
    }
    let first = B::pad(&grad_first, rows_channels, 1, 1, 0, dout - 1);
    match grad_out {
        Some(g) => same_shape::<B>(
            BinaryOp::Add,
            &leading::<B>(g, rows_channels * dout),
            &first,
        ),
        None => first,
    }
}

/// `Σ_u spread[z,u,m]·g[z,u,m]`, `[E, dY]`: what a product `Y ⊙ spread` passes to `∂Y`.
fn harmonics_gradient<B: ElementwiseOps + ReduceOps + StorageOps>(
    layer: &SegmentContraction,
    rows: usize,
    spread: &B::Storage,
    g: &B::Storage,
) -> B::Storage {
    let (u, dy) = (layer.channels, layer.harmonics_dim());
    B::sum_axis(&same_shape::<B>(BinaryOp::Mul, spread, g), rows, u, dy)
}

/// [`InferenceOps::segment_contract_backward`] by primitive ops (module docs): `∂x` and
/// `∂env` are contractions of `∂out` with permuted slots, `∂w` (and `∂W_x`) sum each
/// irrep's components, `∂Y` sums over channels and is added to `grads.y`; the weight
/// gradients overwrite their blocks and leave the other columns alone.
///
/// For a weighted `x`, `∂Y` includes the path through `x` whether or not `grads`
/// has a destination for `∂W_x` (the doc's `∂L/∂Y`; the GPU kernel does the same, the
/// CPU's adds that path only together with `∂W_x`, the only way the model calls it).
///
/// [`InferenceOps::segment_contract_backward`]: super::inference::InferenceOps::segment_contract_backward
pub fn segment_contract_backward_reference<
    B: StorageOps + ElementwiseOps + IndexOps + ReduceOps + ShapeOps,
>(
    layer: &SegmentContraction,
    operands: SegmentOperands<'_, B::Storage>,
    env: &B::Storage,
    grad_out: Option<&B::Storage>,
    grad_first: &B::Storage,
    segments: Segments<'_, B::IndexStorage>,
    grads: SegmentGradients<'_, B::Storage>,
) -> Option<B::Storage> {
    let (e, u, dy, dout) = (
        segments.rows,
        layer.channels,
        layer.harmonics_dim(),
        layer.spec.dims[2],
    );
    let p = Prepared::<B>::new(layer, &operands, segments);
    let x = p.x(layer, e, operands.x);
    let g = output_gradient::<B>(e * u, dout, grad_out, grad_first);
    let (spec, theta, pc) = (&layer.spec, operands.theta, layer.per_channel);
    // out[k] = Σ x[i]·env[j]·c: ∂x[i] = Σ ∂out[k]·env[j]·c, ∂env[j] = Σ ∂out[k]·x[i]·c.
    let env_rows = p.to_rows(layer, segments, &leading::<B>(env, segments.count * u * dy));
    let grad_x =
        channel_contract_reference::<B>(&g, &env_rows, theta, e, u, &spec.permuted([2, 1, 0]), pc);
    let grad_env_rows =
        channel_contract_reference::<B>(&g, &x, theta, e, u, &spec.permuted([2, 0, 1]), pc);
    // env = scale·Σ_{z ∈ n} Y·w, so every row of n sees scale[n]·Σ_{z ∈ n} ∂env.
    let grad_omega = p.to_rows(
        layer,
        segments,
        &p.segment_sum(layer, segments, &grad_env_rows, operands.scale),
    );
    let SegmentGradients {
        x_weights,
        env_weights: (grad_w, w_block),
        y: grad_y,
    } = grads;
    write_columns::<B>(
        grad_w,
        e,
        w_block,
        &p.per_irrep(layer, e, &grad_omega),
        false,
    );
    let mut to_y = harmonics_gradient::<B>(layer, e, &p.w_spread, &grad_omega);
    if let Some(x_spread) = &p.x_spread {
        if let Some((dst, block)) = x_weights {
            write_columns::<B>(dst, e, block, &p.per_irrep(layer, e, &grad_x), false);
        }
        let via_x = harmonics_gradient::<B>(layer, e, x_spread, &grad_x);
        to_y = same_shape::<B>(BinaryOp::Add, &via_x, &to_y);
    }
    write_columns::<B>(grad_y, e, ColumnBlock::whole(dy), &to_y, true);
    p.x_spread.is_none().then_some(grad_x)
}
