//! `fused_linear` through the vendor's BLAS ([`GpuRuntime::vendor_gemm_f32`], cuBLAS on
//! CUDA), float32 only. The column blocks of `A` are multiplied by their rows of `W` one
//! product each, accumulated (`beta = 1`) into a `[rows, N]` buffer; the epilogue
//! (nonlinearity and its derivative, mask, split into output blocks, store or add) is
//! then one elementwise kernel over it. A product with a single overwritten output and
//! no epilogue is written in place by the library. cuBLAS does not fuse our epilogues or
//! read our blocks as one operand, which costs one extra pass over the product; measured
//! against our fused kernel in `docs/perf.md`.

use cubecl::prelude::*;

use super::super::launch::{arg, grid, u32_of};
use super::super::{GpuRuntime, GpuStorage, StridedF32, VendorGemm};
use super::activation;
use super::geometry::{LinearGeometry, MAX_INPUTS};
use super::linear_simt::{read_geometry, write_out};
use crate::backend::{LinearSpec, MatmulPrecision};
use crate::error::Result;

/// Elements of the product one epilogue thread handles (strided by the thread count,
/// so a warp's reads and writes stay contiguous).
const PER_THREAD: usize = 8;

/// The epilogue of `fused_linear` over the finished product `p` (`[rows, N]`).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear_epilogue_kernel<F: Float>(
    p: &Array<F>,
    mask: &Array<F>,
    out0: &mut Array<F>,
    out1: &mut Array<F>,
    deriv: &mut Array<F>,
    g: &Array<u32>,
    total: u32,
    threads: u32,
    #[comptime] n_out: u32,
    #[comptime] flags: u32,
    #[comptime] act: u32,
    #[comptime] masked: bool,
    #[comptime] write_deriv: bool,
) {
    let t = ABSOLUTE_POS;
    if t < threads as usize {
        let geo = read_geometry(g);
        #[unroll]
        for j in 0..PER_THREAD {
            let e = t + j * threads as usize;
            if e < total as usize {
                let r = e / geo.n;
                let c = e % geo.n;
                write_out::<F>(
                    p[e],
                    r,
                    c,
                    mask,
                    out0,
                    out1,
                    deriv,
                    geo,
                    flags,
                    act,
                    masked,
                    write_deriv,
                    n_out,
                );
            }
        }
    }
}

/// Runs `spec` through the vendor's BLAS; `Err` if the library refused a product (the
/// outputs are then untouched: every product goes to a buffer of its own or overwrites
/// its output, so the caller can run its own kernel instead).
pub(super) fn vendor_linear<R: GpuRuntime>(
    spec: &LinearSpec,
    inputs: &[&GpuStorage<R>],
    weight: &GpuStorage<R>,
    mask: Option<&GpuStorage<R>>,
    derivative: Option<&GpuStorage<R>>,
    outputs: &[&GpuStorage<R>],
) -> Result<()> {
    let (rows, n) = (spec.rows, spec.n());
    let device = &weight.device;
    let direct = spec.outputs.len() == 1
        && !spec.outputs[0].accumulate
        && spec.activation.is_none()
        && !spec.masked;
    let product = (!direct).then(|| GpuStorage::uninit(device, rows * n, weight.dtype));
    let out = match &product {
        Some(p) => StridedF32 {
            storage: p,
            stride: n,
            offset: 0,
        },
        None => StridedF32 {
            storage: outputs[0],
            stride: spec.outputs[0].block.stride,
            offset: spec.outputs[0].block.offset,
        },
    };
    let mut k0 = 0;
    let mut first = true;
    for (block, a) in spec.inputs.iter().zip(inputs) {
        if block.width > 0 {
            let gemm = VendorGemm {
                a: StridedF32 {
                    storage: a,
                    stride: block.stride,
                    offset: block.offset,
                },
                w: StridedF32 {
                    storage: weight,
                    stride: n,
                    offset: k0 * n,
                },
                out,
                dims: (rows, block.width, n),
                beta: if first { 0.0 } else { 1.0 },
                tf32: spec.precision == MatmulPrecision::Tf32,
            };
            device.counters.launch();
            R::vendor_gemm_f32(&gemm).unwrap_or_else(|| {
                Err(crate::error::Error::Backend(format!(
                    "{} has no vendor BLAS",
                    R::NAME
                )))
            })?;
            first = false;
        }
        k0 += block.width;
    }
    if let Some(p) = &product {
        epilogue(spec, p, weight, mask, derivative, outputs);
    }
    Ok(())
}

/// Launches [`linear_epilogue_kernel`] over the product `p`.
fn epilogue<R: GpuRuntime>(
    spec: &LinearSpec,
    p: &GpuStorage<R>,
    weight: &GpuStorage<R>,
    mask: Option<&GpuStorage<R>>,
    derivative: Option<&GpuStorage<R>>,
    outputs: &[&GpuStorage<R>],
) {
    // The geometry table is the kernels' (its input part unused here): a table of at
    // most MAX_INPUTS blocks, since the inputs are already multiplied.
    let table_spec = LinearSpec {
        inputs: spec.inputs[..spec.inputs.len().min(MAX_INPUTS)].to_vec(),
        ..spec.clone()
    };
    let geometry = LinearGeometry::new(&table_spec);
    let table = weight.device.table(&geometry.table);
    let total = spec.rows * spec.n();
    let threads = total.div_ceil(PER_THREAD);
    let spare = GpuStorage::uninit(&weight.device, 1, weight.dtype);
    let out1 = outputs.get(1).copied().unwrap_or(&spare);
    let (count, dim) = grid(weight.client(), threads);
    weight.device.counters.launch();
    // SAFETY: every index the kernel writes is inside the output blocks of `spec`,
    // which the caller's buffers hold (the same contract as the SIMT kernel's).
    unsafe {
        linear_epilogue_kernel::launch_unchecked::<f32, R>(
            weight.client(),
            count,
            dim,
            p.arg(),
            mask.unwrap_or(&spare).arg(),
            outputs[0].arg(),
            out1.arg(),
            derivative.unwrap_or(&spare).arg(),
            arg(&table, geometry.table.len()),
            u32_of(total),
            u32_of(threads),
            u32_of(outputs.len()),
            geometry.flags,
            activation::code(spec.activation),
            spec.masked,
            spec.activation.is_some() && derivative.is_some(),
        )
    }
}
