//! The no-tape inference primitives as kernels (`InferenceOps` for [`Gpu`]).
//!
//! `fused_linear` in float32 runs through the vendor's BLAS where the runtime has one
//! (cuBLAS on CUDA, `linear_vendor`), else on our own kernels: tensor cores (TF32 `mma`,
//! where the device has them) or the CUDA cores. Which one a float32 product uses is
//! [`ExactF32Matmul`] (measured per device class, `docs/perf.md`); our kernels stay the
//! oracle the vendor's products are tested against. Where a kernel cannot
//! run a case — float64 nonlinearities on Vulkan (no f64 transcendentals there), a
//! segment contraction wider than a cube's shared memory — the op runs on the host
//! through the CPU backend, which is exact and slow; the model's float32 path never
//! takes it.

mod activation;
mod bessel_cutoff;
mod geometry;
mod harmonics;
mod host;
mod linear_cmma;
mod linear_simt;
mod linear_vendor;
mod segment;
mod zbl;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use cubecl::ir::features::MmaConfig;
use cubecl::ir::{ElemType, FloatKind};
use cubecl::prelude::*;

use super::fused::tables;
use super::launch::{arg, grid, u32_of, with_float};
use super::{Gpu, GpuDevice, GpuIndices, GpuRuntime, GpuStorage};
use crate::backend::{
    ColumnBlock, ContractInput, InferenceOps, LinearSpec, MatmulPrecision, SegmentContraction,
    SegmentForward, SegmentGradients, SegmentOperands, Segments,
};
use crate::dtype::DType;
use geometry::{LinearGeometry, MAX_INPUTS};

/// Which kernel runs a float32 product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExactF32Matmul {
    /// The vendor's BLAS (cuBLAS on CUDA) for every float32 product, exact or TF32 as
    /// the spec allows; our own kernels where the runtime has no vendor library.
    Vendor,
    /// Our kernel: float32 FMAs on the CUDA cores (TF32 products on tensor cores).
    Simt,
    /// Our kernel: three TF32 tensor-core products per step (`lo·hi + hi·lo + hi·hi`).
    SplitTf32,
}

/// 0: not chosen yet (read `ALLEGRO_GPU_MATMUL`), 1: SIMT, 2: split TF32, 3: vendor.
static EXACT_F32_MATMUL: AtomicU8 = AtomicU8::new(0);

/// Chooses the kernel of exact float32 products for this process.
pub fn set_exact_f32_matmul(kind: ExactF32Matmul) {
    let code = match kind {
        ExactF32Matmul::Simt => 1,
        ExactF32Matmul::SplitTf32 => 2,
        ExactF32Matmul::Vendor => 3,
    };
    EXACT_F32_MATMUL.store(code, Ordering::Relaxed);
}

/// The kernel of float32 products: set by [`set_exact_f32_matmul`], else by the
/// environment variable `ALLEGRO_GPU_MATMUL` (`vendor`, `simt` or `tf32x3`), else the
/// vendor's BLAS.
pub fn exact_f32_matmul() -> ExactF32Matmul {
    match EXACT_F32_MATMUL.load(Ordering::Relaxed) {
        1 => ExactF32Matmul::Simt,
        2 => ExactF32Matmul::SplitTf32,
        3 => ExactF32Matmul::Vendor,
        _ => {
            let kind = match std::env::var("ALLEGRO_GPU_MATMUL").as_deref() {
                Ok("tf32x3") => ExactF32Matmul::SplitTf32,
                Ok("simt") => ExactF32Matmul::Simt,
                _ => ExactF32Matmul::Vendor,
            };
            set_exact_f32_matmul(kind);
            kind
        }
    }
}

/// Whether the device runs TF32 `m16n16k8` tensor-core products.
fn has_tf32_mma<R: GpuRuntime>(client: &ComputeClient<R>) -> bool {
    client.features().matmul.cmma.contains(&MmaConfig {
        a_type: ElemType::Float(FloatKind::TF32).into(),
        b_type: ElemType::Float(FloatKind::TF32).into(),
        cd_type: ElemType::Float(FloatKind::F32).into(),
        m: 16,
        k: 8,
        n: 16,
    })
}

/// Which kernel a product of `spec` in `dtype` runs on: `None` for SIMT, else whether
/// the tensor-core kernel splits its operands.
fn tensor_core_mode<R: GpuRuntime>(
    client: &ComputeClient<R>,
    spec: &LinearSpec,
    dtype: DType,
) -> Option<bool> {
    if dtype != DType::F32 || !has_tf32_mma(client) {
        return None;
    }
    match spec.precision {
        MatmulPrecision::Tf32 => Some(false),
        MatmulPrecision::Exact => (exact_f32_matmul() == ExactF32Matmul::SplitTf32).then_some(true),
    }
}

/// Rows from which a float32 product goes to the vendor's BLAS, by default. Measured on
/// an H100 (`docs/perf.md`, session 7): the seed model's call at 16,408 edges took 7.28
/// ms with cuBLAS and 6.07 with our kernel (each library call costs host time: three
/// resource look-ups and the stream and math settings), at 256,634 edges 31.70 against
/// 32.72 ms, and in passes of 262,144 edges 231.9 against 267.6 ms.
pub const DEFAULT_VENDOR_MIN_ROWS: usize = 1 << 17;

static VENDOR_MIN_ROWS: AtomicUsize = AtomicUsize::new(DEFAULT_VENDOR_MIN_ROWS);

/// Sets the rows from which float32 products go to the vendor's BLAS (0: every product;
/// tests use it to run small products there).
pub fn set_vendor_min_rows(rows: usize) {
    VENDOR_MIN_ROWS.store(rows, Ordering::Relaxed);
}

/// Whether a product of `spec` in `dtype` goes to the vendor's BLAS: float32, rows
/// enough ([`set_vendor_min_rows`]), a runtime with a vendor library, and
/// [`ExactF32Matmul::Vendor`] chosen.
fn uses_vendor<R: GpuRuntime>(spec: &LinearSpec, dtype: DType) -> bool {
    dtype == DType::F32
        && spec.k() > 0
        && spec.rows >= VENDOR_MIN_ROWS.load(Ordering::Relaxed)
        && exact_f32_matmul() == ExactF32Matmul::Vendor
        && R::has_vendor_gemm()
}

#[cube(launch_unchecked)]
fn copy_columns_kernel<F: Float>(
    src: &Array<F>,
    dst: &mut Array<F>,
    total: u32,
    width: u32,
    src_stride: u32,
    src_offset: u32,
    dst_stride: u32,
    dst_offset: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let r = t / width as usize;
        let c = t % width as usize;
        dst[r * dst_stride as usize + dst_offset as usize + c] =
            src[r * src_stride as usize + src_offset as usize + c];
    }
}

/// Copies `block` of `src` into columns `dst_offset..` of the contiguous `dst`.
fn copy_columns<R: GpuRuntime>(
    src: &GpuStorage<R>,
    block: ColumnBlock,
    rows: usize,
    dst: &GpuStorage<R>,
    dst_stride: usize,
    dst_offset: usize,
) {
    let total = rows * block.width;
    if total == 0 {
        return;
    }
    let (count, dim) = grid(src.client(), total);
    src.device.counters.launch();
    with_float!(src.dtype, F => unsafe {
        copy_columns_kernel::launch_unchecked::<F, R>(
            src.client(), count, dim, src.arg(), dst.arg(), u32_of(total),
            u32_of(block.width), u32_of(block.stride), u32_of(block.offset),
            u32_of(dst_stride), u32_of(dst_offset),
        )
    });
}

/// Gives `s` a buffer of its own (a copy) if its handle is shared with other storages,
/// so writing through `&mut` never changes another tensor (the CPU backend's
/// copy-on-write semantics).
fn make_unique<R: GpuRuntime>(s: &mut GpuStorage<R>) {
    if !s.handle.can_mut() {
        let copy = GpuStorage::uninit(&s.device, s.len, s.dtype);
        copy_columns(s, ColumnBlock::whole(s.len), 1, &copy, s.len, 0);
        *s = copy;
    }
}

/// A spec reading at most [`MAX_INPUTS`] blocks: the leading blocks beyond that are
/// gathered into one contiguous buffer (returned with the new block list).
fn gather_inputs<R: GpuRuntime>(
    spec: &LinearSpec,
    inputs: &[&GpuStorage<R>],
) -> (LinearSpec, Vec<GpuStorage<R>>) {
    let spare = spec.inputs.len() - (MAX_INPUTS - 1);
    let width: usize = spec.inputs[..spare].iter().map(|b| b.width).sum();
    let device = &inputs[0].device;
    let joined = GpuStorage::uninit(device, spec.rows * width, inputs[0].dtype);
    let mut col = 0;
    for (block, src) in spec.inputs[..spare].iter().zip(inputs) {
        copy_columns(src, *block, spec.rows, &joined, width, col);
        col += block.width;
    }
    let mut blocks = vec![ColumnBlock::whole(width)];
    blocks.extend_from_slice(&spec.inputs[spare..]);
    let mut storages = vec![joined];
    storages.extend(inputs[spare..].iter().map(|s| (*s).clone()));
    (
        LinearSpec {
            inputs: blocks,
            ..spec.clone()
        },
        storages,
    )
}

fn launch_linear<R: GpuRuntime>(
    spec: &LinearSpec,
    inputs: &[&GpuStorage<R>],
    weight: &GpuStorage<R>,
    mask: Option<&GpuStorage<R>>,
    derivative: Option<&GpuStorage<R>>,
    outputs: &[&GpuStorage<R>],
) {
    let client = weight.client();
    let geometry = LinearGeometry::new(spec);
    let table = weight.device.table(&geometry.table);
    let g = arg(&table, geometry.table.len());
    // Unused slots get a one-element buffer (never read or written).
    let spare = GpuStorage::uninit(&weight.device, 1, weight.dtype);
    let a = |i: usize| inputs.get(i).copied().unwrap_or(&spare).arg();
    let out1 = outputs.get(1).copied().unwrap_or(&spare);
    let mask_arg = mask.unwrap_or(&spare).arg();
    let deriv = derivative.unwrap_or(&spare);
    let n_in = inputs.len() as u32;
    let n_out = outputs.len() as u32;
    let act = activation::code(spec.activation);
    let write_deriv = spec.activation.is_some() && derivative.is_some();
    weight.device.counters.launch();
    match tensor_core_mode(client, spec, weight.dtype) {
        Some(split) => unsafe {
            linear_cmma::linear_cmma_kernel::launch_unchecked::<R>(
                client,
                linear_simt::cube_count(&geometry),
                CubeDim::new_2d(32, 4),
                a(0),
                a(1),
                a(2),
                a(3),
                weight.arg(),
                mask_arg,
                outputs[0].arg(),
                out1.arg(),
                deriv.arg(),
                g,
                n_in,
                n_out,
                geometry.flags,
                act,
                spec.masked,
                write_deriv,
                split,
            )
        },
        None => with_float!(weight.dtype, F => unsafe {
            linear_simt::linear_simt_kernel::launch_unchecked::<F, R>(
                client,
                linear_simt::cube_count(&geometry),
                CubeDim::new_2d(16, 16),
                a(0), a(1), a(2), a(3),
                weight.arg(), mask_arg, outputs[0].arg(), out1.arg(), deriv.arg(), g,
                n_in, n_out, geometry.flags, act, spec.masked, write_deriv,
            )
        }),
    }
}

/// `θ[u or 0, path_e]·c_e` for every entry of `grouped` and channel, `[entries, U]`.
fn entry_weights<R: GpuRuntime>(
    grouped: &super::fused::GroupedEntries,
    theta: &GpuStorage<R>,
    layer: &SegmentContraction,
) -> GpuStorage<R> {
    let u = layer.channels;
    let total = grouped.len * u;
    let out = GpuStorage::uninit(&theta.device, total, theta.dtype);
    if total > 0 {
        let (count, dim) = grid(theta.client(), total);
        theta.device.counters.launch();
        with_float!(theta.dtype, F => unsafe {
            segment::entry_weights_kernel::launch_unchecked::<F, R>(
                theta.client(), count, dim, theta.arg(),
                arg(&grouped.third, grouped.len), arg(&grouped.coeff, grouped.len),
                out.arg(), u32_of(total), u32_of(u), u32_of(layer.spec.num_paths),
                layer.per_channel,
            )
        });
    }
    out
}

/// Shared memory a segment kernel needs, in bytes.
fn segment_shared_bytes(layer: &SegmentContraction, dtype: DType) -> usize {
    let [dx, dy, dout] = layer.spec.dims;
    let slots = (dx | 1) + (dy | 1) + (dout | 1) + (layer.num_irreps | 1);
    layer.channels * slots * dtype.size_in_bytes()
}

/// Whether the segment kernels can run `layer` (a cube per segment, a thread per
/// channel, the per-thread slots in 48 KiB of shared memory).
fn segment_kernels_fit(layer: &SegmentContraction, dtype: DType) -> bool {
    (1..=1024).contains(&layer.channels) && segment_shared_bytes(layer, dtype) <= 48 * 1024
}

/// A 2-D grid of one cube per segment.
fn segment_grid(count: usize) -> CubeCount {
    let x = count.clamp(1, 65_535);
    CubeCount::Static(u32_of(x), u32_of(count.div_ceil(x).max(1)), 1)
}

/// The segment table `[w_stride, w_offset, x_stride, x_offset, P, gw_stride, gw_offset,
/// gx_stride, gx_offset, segments]`.
fn segment_table(
    layer: &SegmentContraction,
    ops: &SegmentOperands<'_, impl Sized>,
    grad_w: Option<ColumnBlock>,
    grad_x: Option<ColumnBlock>,
    segments: usize,
) -> Vec<u32> {
    let mut t = vec![0u32; segment::geom::LEN];
    t[segment::geom::W_STRIDE] = u32_of(ops.env_weights.1.stride);
    t[segment::geom::W_OFFSET] = u32_of(ops.env_weights.1.offset);
    if let ContractInput::Weighted(_, b) = ops.x {
        t[segment::geom::X_STRIDE] = u32_of(b.stride);
        t[segment::geom::X_OFFSET] = u32_of(b.offset);
    }
    t[segment::geom::NUM_PATHS] = u32_of(layer.spec.num_paths);
    if let Some(b) = grad_w {
        t[segment::geom::GW_STRIDE] = u32_of(b.stride);
        t[segment::geom::GW_OFFSET] = u32_of(b.offset);
    }
    if let Some(b) = grad_x {
        t[segment::geom::GX_STRIDE] = u32_of(b.stride);
        t[segment::geom::GX_OFFSET] = u32_of(b.offset);
    }
    t[segment::geom::SEGMENTS] = u32_of(segments);
    t
}

impl<R: GpuRuntime> InferenceOps for Gpu<R> {
    fn zbl_edge_energies(
        spec: &crate::backend::ZblSpec,
        r: &GpuStorage<R>,
        center_types: &GpuIndices<R>,
        neighbor_types: &GpuIndices<R>,
    ) -> Option<GpuStorage<R>> {
        zbl::zbl(spec, r, center_types, neighbor_types, None)
    }

    fn zbl_edge_energies_vjp(
        spec: &crate::backend::ZblSpec,
        r: &GpuStorage<R>,
        center_types: &GpuIndices<R>,
        neighbor_types: &GpuIndices<R>,
        grad: &GpuStorage<R>,
    ) -> Option<GpuStorage<R>> {
        zbl::zbl(spec, r, center_types, neighbor_types, Some(grad))
    }

    fn bessel_cutoff(x: &GpuStorage<R>, weights: &GpuStorage<R>, p: f64) -> Option<GpuStorage<R>> {
        bessel_cutoff::bessel_cutoff(x, weights, p)
    }

    fn bessel_cutoff_vjp(
        x: &GpuStorage<R>,
        weights: &GpuStorage<R>,
        grad: &GpuStorage<R>,
        p: f64,
    ) -> Option<GpuStorage<R>> {
        bessel_cutoff::bessel_cutoff_vjp(x, weights, grad, p)
    }

    fn bessel_cutoff_jvp(
        x: &GpuStorage<R>,
        weights: &GpuStorage<R>,
        h: &GpuStorage<R>,
        p: f64,
    ) -> Option<GpuStorage<R>> {
        bessel_cutoff::bessel_cutoff_jvp(x, weights, h, p)
    }

    fn edge_harmonics(
        spec: &crate::backend::HarmonicsSpec,
        v: &GpuStorage<R>,
    ) -> Option<GpuStorage<R>> {
        Some(harmonics::edge_harmonics(spec, v))
    }

    fn edge_harmonics_vjp(
        spec: &crate::backend::HarmonicsSpec,
        v: &GpuStorage<R>,
        grad_y: &GpuStorage<R>,
    ) -> Option<GpuStorage<R>> {
        Some(harmonics::edge_harmonics_vjp(spec, v, grad_y))
    }

    fn edge_harmonics_jvp(
        spec: &crate::backend::HarmonicsSpec,
        v: &GpuStorage<R>,
        h: &GpuStorage<R>,
    ) -> Option<GpuStorage<R>> {
        Some(harmonics::edge_harmonics_jvp(spec, v, h))
    }

    fn uninit(device: &GpuDevice<R>, len: usize, dtype: DType) -> GpuStorage<R> {
        GpuStorage::uninit(device, len, dtype)
    }

    fn fused_linear(
        spec: &LinearSpec,
        inputs: &[&GpuStorage<R>],
        weight: &GpuStorage<R>,
        mask: Option<&GpuStorage<R>>,
        derivative: Option<&mut GpuStorage<R>>,
        outputs: &mut [&mut GpuStorage<R>],
    ) {
        if spec.rows == 0 || spec.n() == 0 {
            return;
        }
        if weight.dtype == DType::F64 && !R::F64_TRANSCENDENTALS && spec.activation.is_some() {
            host::fused_linear(spec, inputs, weight, mask, derivative, outputs);
            return;
        }
        for o in outputs.iter_mut() {
            make_unique(o);
        }
        let deriv = derivative.map(|d| {
            make_unique(d);
            &*d
        });
        let outs: Vec<&GpuStorage<R>> = outputs.iter().map(|o| &**o).collect();
        if uses_vendor::<R>(spec, weight.dtype) {
            match linear_vendor::vendor_linear(spec, inputs, weight, mask, deriv, &outs) {
                Ok(()) => return,
                Err(e) => {
                    // Our kernel overwrites what the library may have begun; later
                    // products skip the library.
                    eprintln!("allegro: {e}; float32 products run on our own kernel from now on");
                    set_exact_f32_matmul(ExactF32Matmul::Simt);
                }
            }
        }
        if spec.inputs.len() > MAX_INPUTS {
            let (spec, storages) = gather_inputs(spec, inputs);
            let refs: Vec<&GpuStorage<R>> = storages.iter().collect();
            launch_linear(&spec, &refs, weight, mask, deriv, &outs);
        } else {
            launch_linear(spec, inputs, weight, mask, deriv, &outs);
        }
    }

    fn segment_contract_forward(
        layer: &SegmentContraction,
        ops: SegmentOperands<'_, GpuStorage<R>>,
        segments: Segments<'_, GpuIndices<R>>,
    ) -> SegmentForward<GpuStorage<R>> {
        let dtype = ops.theta.dtype;
        if !segment_kernels_fit(layer, dtype) {
            return host::segment_forward(layer, ops, segments);
        }
        let device = &ops.theta.device;
        let [dx, dy, dout] = layer.spec.dims;
        let u = layer.channels;
        let env = GpuStorage::uninit(device, segments.count * u * dy, dtype);
        let out = GpuStorage::uninit(device, segments.rows * u * dout, dtype);
        let first = GpuStorage::uninit(device, segments.rows * u, dtype);
        if segments.count == 0 {
            return SegmentForward { env, out, first };
        }
        let client = device.client();
        let grouped = tables(device, &layer.spec, dtype);
        let ge = &grouped.by_output;
        let weights = entry_weights(ge, ops.theta, layer);
        let irrep = device.table(&layer.irrep_of_component);
        let table = segment_table(layer, &ops, None, None, segments.count);
        let g = device.table(&table);
        let (x, weighted) = match ops.x {
            ContractInput::Plain(s) => (s, false),
            ContractInput::Weighted(s, _) => (s, true),
        };
        device.counters.launch();
        with_float!(dtype, F => unsafe {
            segment::segment_forward_kernel::launch_unchecked::<F, R>(
                client,
                segment_grid(segments.count),
                CubeDim::new_1d(u32_of(u)),
                x.arg(), ops.y.arg(), ops.env_weights.0.arg(), ops.scale.arg(),
                arg(&segments.offsets.handle, segments.count + 1),
                arg(&irrep, dy),
                arg(&ge.offsets, ge.groups + 1), arg(&ge.packed, ge.len), weights.arg(),
                env.arg(), out.arg(), first.arg(),
                arg(&g, table.len()),
                u32_of(u), u32_of(dx), u32_of(dy), u32_of(dout), u32_of(layer.num_irreps),
                weighted,
            )
        });
        SegmentForward { env, out, first }
    }

    fn segment_contract_backward(
        layer: &SegmentContraction,
        ops: SegmentOperands<'_, GpuStorage<R>>,
        env: &GpuStorage<R>,
        grad_out: Option<&GpuStorage<R>>,
        grad_first: &GpuStorage<R>,
        segments: Segments<'_, GpuIndices<R>>,
        grads: SegmentGradients<'_, GpuStorage<R>>,
    ) -> Option<GpuStorage<R>> {
        let dtype = ops.theta.dtype;
        if !segment_kernels_fit(layer, dtype) {
            return host::segment_backward(layer, ops, env, grad_out, grad_first, segments, grads);
        }
        let device = &ops.theta.device;
        let [dx, dy, dout] = layer.spec.dims;
        let u = layer.channels;
        let weighted = matches!(ops.x, ContractInput::Weighted(..));
        // ∂x: the result for a plain x; for a weighted x, scratch for the ∂Y kernel.
        let grad_x = GpuStorage::uninit(device, segments.rows * u * dx, dtype);
        if segments.count == 0 {
            return (!weighted).then_some(grad_x);
        }
        let client = device.client();
        let by_i = tables(device, &layer.spec.permuted([2, 1, 0]), dtype);
        let by_j = tables(device, &layer.spec.permuted([0, 2, 1]), dtype);
        let (gi, gj) = (&by_i.by_output, &by_j.by_output);
        let (wi, wj) = (
            entry_weights(gi, ops.theta, layer),
            entry_weights(gj, ops.theta, layer),
        );
        let irrep = device.table(&layer.irrep_of_component);
        let SegmentGradients {
            mut x_weights,
            env_weights: (grad_w, grad_w_block),
            y: grad_y,
        } = grads;
        make_unique(grad_w);
        make_unique(grad_y);
        if let Some((s, _)) = x_weights.as_mut() {
            make_unique(s);
        }
        let grad_x_block = x_weights.as_ref().map(|(_, b)| *b);
        let table = segment_table(
            layer,
            &ops,
            Some(grad_w_block),
            grad_x_block,
            segments.count,
        );
        let g = device.table(&table);
        let x = match ops.x {
            ContractInput::Plain(s) => s,
            ContractInput::Weighted(s, _) => s,
        };
        let spare = GpuStorage::uninit(device, 1, dtype);
        let grad_xw: &GpuStorage<R> = x_weights.as_ref().map_or(&spare, |(s, _)| &**s);
        let grad_out_arg = grad_out.unwrap_or(&spare).arg();
        let grad_env = GpuStorage::uninit(device, segments.count * u * dy, dtype);
        device.counters.launch();
        with_float!(dtype, F => unsafe {
            segment::segment_backward_kernel::launch_unchecked::<F, R>(
                client,
                segment_grid(segments.count),
                CubeDim::new_1d(u32_of(u)),
                x.arg(), ops.y.arg(), ops.scale.arg(),
                env.arg(), grad_out_arg, grad_first.arg(),
                arg(&segments.offsets.handle, segments.count + 1),
                arg(&irrep, dy),
                arg(&gi.offsets, gi.groups + 1), arg(&gi.packed, gi.len), wi.arg(),
                arg(&gj.offsets, gj.groups + 1), arg(&gj.packed, gj.len), wj.arg(),
                grad_x.arg(), grad_xw.arg(), grad_w.arg(), grad_env.arg(),
                arg(&g, table.len()),
                u32_of(u), u32_of(dx), u32_of(dy), u32_of(dout), u32_of(layer.num_irreps),
                weighted, grad_out.is_some(),
            )
        });
        let total = segments.rows * dy;
        if total > 0 {
            let (count, dim) = grid(client, total);
            device.counters.launch();
            with_float!(dtype, F => unsafe {
                segment::grad_y_kernel::launch_unchecked::<F, R>(
                    client, count, dim,
                    ops.env_weights.0.arg(), x.arg(), grad_env.arg(), grad_x.arg(),
                    arg(&segments.offsets.handle, segments.count + 1),
                    arg(&irrep, dy),
                    grad_y.arg(),
                    arg(&g, table.len()),
                    u32_of(total),
                    u32_of(u), u32_of(dy), u32_of(layer.num_irreps), weighted,
                )
            });
        }
        (!weighted).then_some(grad_x)
    }
}
