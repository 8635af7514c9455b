//! `fused_linear` on tensor cores (float32 through TF32 `mma`, CUDA sm_80+).
//!
//! A cube of four warps computes a 128 × 64 tile; each warp owns 32 rows × 64 columns,
//! eight 16 × 16 accumulator fragments. `K` advances in stages of 16 (two `k = 8` steps of
//! the TF32 `m16n16k8` shape). Operands are staged in shared memory already rounded to
//! TF32. In split mode every operand `v` is also staged as the TF32 rounding of its
//! remainder `v − hi(v)`, and each step accumulates `lo·hi + hi·lo + hi·hi` (three
//! products): the float32-accurate "3×TF32" scheme. The epilogue goes through a
//! per-warp 16 × 16 staging tile and then the same element epilogue as the SIMT kernel.

use cubecl::prelude::*;

use super::linear_simt::{Geometry, read_a, read_geometry, write_out};

/// Row pitch of the staged left operand (16 + 4: a multiple of 4 elements, as the TF32
/// fragment loads need, that spreads rows over the banks).
const A_PITCH: usize = 20;
/// Row pitch of the staged right operand (64 + 8).
const B_PITCH: usize = 72;

/// `v` rounded to TF32, and the TF32 rounding of the remainder `v − hi`.
#[cube]
fn split_tf32(v: f32) -> (tf32, tf32) {
    let hi = <tf32 as Cast>::cast_from(v);
    let rest = v - <f32 as Cast>::cast_from(hi);
    (hi, <tf32 as Cast>::cast_from(rest))
}

/// One `k = 8` step for one column fragment: loads the `B` fragment(s) at `b_base` and
/// accumulates into the two row fragments' accumulators.
#[cube]
#[allow(clippy::too_many_arguments)]
fn column_step(
    a_hi0: &cmma::Matrix<tf32>,
    a_lo0: &cmma::Matrix<tf32>,
    a_hi1: &cmma::Matrix<tf32>,
    a_lo1: &cmma::Matrix<tf32>,
    b_hi: &SharedMemory<tf32>,
    b_lo: &SharedMemory<tf32>,
    b_base: usize,
    c0: &cmma::Matrix<f32>,
    c1: &cmma::Matrix<f32>,
    #[comptime] split: bool,
) {
    let bh = cmma::Matrix::<tf32>::from_slice(
        cmma::MatrixIdent::B,
        16usize,
        16usize,
        8usize,
        cmma::MatrixLayout::RowMajor,
        &b_hi.slice(b_base, b_base + 8 * B_PITCH),
        B_PITCH as u32,
    );
    if comptime![split] {
        let bl = cmma::Matrix::<tf32>::from_slice(
            cmma::MatrixIdent::B,
            16usize,
            16usize,
            8usize,
            cmma::MatrixLayout::RowMajor,
            &b_lo.slice(b_base, b_base + 8 * B_PITCH),
            B_PITCH as u32,
        );
        // Small terms first.
        cmma::execute::<tf32, tf32, f32, f32>(a_lo0, &bh, c0, c0);
        cmma::execute::<tf32, tf32, f32, f32>(a_hi0, &bl, c0, c0);
        cmma::execute::<tf32, tf32, f32, f32>(a_lo1, &bh, c1, c1);
        cmma::execute::<tf32, tf32, f32, f32>(a_hi1, &bl, c1, c1);
    }
    cmma::execute::<tf32, tf32, f32, f32>(a_hi0, &bh, c0, c0);
    cmma::execute::<tf32, tf32, f32, f32>(a_hi1, &bh, c1, c1);
}

/// An `A` fragment (16 rows × 8) of the staged operand starting at `base`.
#[cube]
fn a_fragment(a: &SharedMemory<tf32>, base: usize) -> cmma::Matrix<tf32> {
    cmma::Matrix::<tf32>::from_slice(
        cmma::MatrixIdent::A,
        16usize,
        16usize,
        8usize,
        cmma::MatrixLayout::RowMajor,
        &a.slice(base, base + 16 * A_PITCH),
        A_PITCH as u32,
    )
}

/// A zero accumulator.
#[cube]
fn zero_accumulator() -> cmma::Matrix<f32> {
    cmma::Matrix::<f32>::from_value(
        cmma::MatrixIdent::Accumulator,
        16usize,
        16usize,
        8usize,
        cmma::MatrixLayout::Undefined,
        0.0,
    )
}

/// The epilogue of one accumulator fragment at (`r0`, `c0`) through the warp's
/// staging tile.
#[cube]
#[allow(clippy::too_many_arguments)]
fn store_fragment(
    c: &cmma::Matrix<f32>,
    stage: &mut SharedMemory<f32>,
    r0: usize,
    c0: usize,
    mask: &Array<f32>,
    out0: &mut Array<f32>,
    out1: &mut Array<f32>,
    deriv: &mut Array<f32>,
    geo: Geometry,
    #[comptime] flags: u32,
    #[comptime] act: u32,
    #[comptime] masked: bool,
    #[comptime] write_deriv: bool,
    #[comptime] n_out: u32,
) {
    let warp = UNIT_POS_Y as usize;
    let lane = UNIT_POS_X as usize;
    let base = warp * 256;
    cmma::store(
        &mut stage.slice_mut(base, base + 256),
        c,
        16u32,
        cmma::MatrixLayout::RowMajor,
    );
    sync_plane();
    #[unroll]
    for t in 0..8usize {
        let idx = lane + 32 * t;
        let r = r0 + idx / 16;
        let col = c0 + idx % 16;
        if r < geo.rows && col < geo.n {
            write_out::<f32>(
                stage[base + idx],
                r,
                col,
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
    sync_plane();
}

/// The tensor-core product with its epilogue (`split`: 3×TF32).
#[cube(launch_unchecked)]
pub(crate) fn linear_cmma_kernel(
    a0: &Array<f32>,
    a1: &Array<f32>,
    a2: &Array<f32>,
    a3: &Array<f32>,
    w: &Array<f32>,
    mask: &Array<f32>,
    out0: &mut Array<f32>,
    out1: &mut Array<f32>,
    deriv: &mut Array<f32>,
    g: &Array<u32>,
    #[comptime] n_in: u32,
    #[comptime] n_out: u32,
    #[comptime] flags: u32,
    #[comptime] act: u32,
    #[comptime] masked: bool,
    #[comptime] write_deriv: bool,
    #[comptime] split: bool,
) {
    let geo = read_geometry(g);
    let (rows, k, n) = (geo.rows, geo.k, geo.n);
    let lane = UNIT_POS_X as usize;
    let warp = UNIT_POS_Y as usize;
    let tid = warp * 32 + lane;
    let row0 = CUBE_POS_X as usize * 128;
    let col0 = CUBE_POS_Y as usize * 64;

    let mut a_hi = SharedMemory::<tf32>::new_aligned(128 * A_PITCH, 128usize);
    let mut a_lo = SharedMemory::<tf32>::new_aligned(128 * A_PITCH, 128usize);
    let mut b_hi = SharedMemory::<tf32>::new_aligned(16 * B_PITCH, 128usize);
    let mut b_lo = SharedMemory::<tf32>::new_aligned(16 * B_PITCH, 128usize);
    let mut stage = SharedMemory::<f32>::new_aligned(1024usize, 128usize);

    let c00 = zero_accumulator();
    let c01 = zero_accumulator();
    let c02 = zero_accumulator();
    let c03 = zero_accumulator();
    let c10 = zero_accumulator();
    let c11 = zero_accumulator();
    let c12 = zero_accumulator();
    let c13 = zero_accumulator();

    let k_tiles = k.div_ceil(16);
    for kt in 0..k_tiles {
        let k0 = kt * 16;
        // A: 128 × 16, 16 elements per thread, row-major with pitch A_PITCH.
        #[unroll]
        for l in 0..16usize {
            let e = tid + l * 128;
            let r = e / 16;
            let kk = e % 16;
            let gr = row0 + r;
            let gk = k0 + kk;
            let mut v = 0.0f32;
            if gr < rows && gk < k {
                v = read_a::<f32>(a0, a1, a2, a3, geo, gr, gk, n_in);
            }
            let (hi, lo) = split_tf32(v);
            a_hi[r * A_PITCH + kk] = hi;
            if comptime![split] {
                a_lo[r * A_PITCH + kk] = lo;
            }
        }
        // W: 16 × 64, 8 elements per thread.
        #[unroll]
        for l in 0..8usize {
            let e = tid + l * 128;
            let kk = e / 64;
            let c = e % 64;
            let gk = k0 + kk;
            let gc = col0 + c;
            let mut v = 0.0f32;
            if gk < k && gc < n {
                v = w[gk * n + gc];
            }
            let (hi, lo) = split_tf32(v);
            b_hi[kk * B_PITCH + c] = hi;
            if comptime![split] {
                b_lo[kk * B_PITCH + c] = lo;
            }
        }
        sync_cube();
        #[unroll]
        for ks in 0..2usize {
            let a_base = warp * 32 * A_PITCH + ks * 8;
            let ah0 = a_fragment(&a_hi, a_base);
            let ah1 = a_fragment(&a_hi, a_base + 16 * A_PITCH);
            let b_base = ks * 8 * B_PITCH;
            if comptime![split] {
                let al0 = a_fragment(&a_lo, a_base);
                let al1 = a_fragment(&a_lo, a_base + 16 * A_PITCH);
                column_step(
                    &ah0, &al0, &ah1, &al1, &b_hi, &b_lo, b_base, &c00, &c10, true,
                );
                column_step(
                    &ah0,
                    &al0,
                    &ah1,
                    &al1,
                    &b_hi,
                    &b_lo,
                    b_base + 16,
                    &c01,
                    &c11,
                    true,
                );
                column_step(
                    &ah0,
                    &al0,
                    &ah1,
                    &al1,
                    &b_hi,
                    &b_lo,
                    b_base + 32,
                    &c02,
                    &c12,
                    true,
                );
                column_step(
                    &ah0,
                    &al0,
                    &ah1,
                    &al1,
                    &b_hi,
                    &b_lo,
                    b_base + 48,
                    &c03,
                    &c13,
                    true,
                );
            } else {
                column_step(
                    &ah0, &ah0, &ah1, &ah1, &b_hi, &b_hi, b_base, &c00, &c10, false,
                );
                column_step(
                    &ah0,
                    &ah0,
                    &ah1,
                    &ah1,
                    &b_hi,
                    &b_hi,
                    b_base + 16,
                    &c01,
                    &c11,
                    false,
                );
                column_step(
                    &ah0,
                    &ah0,
                    &ah1,
                    &ah1,
                    &b_hi,
                    &b_hi,
                    b_base + 32,
                    &c02,
                    &c12,
                    false,
                );
                column_step(
                    &ah0,
                    &ah0,
                    &ah1,
                    &ah1,
                    &b_hi,
                    &b_hi,
                    b_base + 48,
                    &c03,
                    &c13,
                    false,
                );
            }
        }
        sync_cube();
    }
    let r0 = row0 + warp * 32;
    store_fragment(
        &c00,
        &mut stage,
        r0,
        col0,
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
    store_fragment(
        &c01,
        &mut stage,
        r0,
        col0 + 16,
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
    store_fragment(
        &c02,
        &mut stage,
        r0,
        col0 + 32,
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
    store_fragment(
        &c03,
        &mut stage,
        r0,
        col0 + 48,
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
    store_fragment(
        &c10,
        &mut stage,
        r0 + 16,
        col0,
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
    store_fragment(
        &c11,
        &mut stage,
        r0 + 16,
        col0 + 16,
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
    store_fragment(
        &c12,
        &mut stage,
        r0 + 16,
        col0 + 32,
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
    store_fragment(
        &c13,
        &mut stage,
        r0 + 16,
        col0 + 48,
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
