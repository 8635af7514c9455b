//! `fused_linear` on the CUDA cores (any runtime, f32 and f64).
//!
//! A cube computes a 128 × 64 tile of the product with 16 × 16 threads, each an 8 × 4
//! register block (rows `ty + 16i`, columns `tx + 16j`, so shared-memory reads are
//! broadcasts or contiguous and global writes contiguous across a warp). `K` advances
//! in stages of 16 through shared memory; the left operand is read from up to four
//! column blocks of different buffers as it is staged, so the densenet concatenation
//! never exists in memory. The epilogue (nonlinearity and its derivative, or the mask;
//! the split into output blocks; store or add) runs on the registers.

use cubecl::prelude::*;

use super::activation;
use super::geometry::{LinearGeometry, OUT_ACC0, OUT_ACC1};

/// Rows of a cube's tile.
pub(crate) const TILE_M: u32 = 128;
/// Columns of a cube's tile.
pub(crate) const TILE_N: u32 = 64;
/// Row pitch of the k-major staged left operand (128 + 4 spreads the transposed stores
/// over the banks).
const A_PITCH: usize = 132;

/// Element `(r, k)` of `A = [a0 | a1 | a2 | a3]` (geometry in `g`, see [`LinearGeometry`]).
#[cube]
pub(crate) fn read_a<F: Float>(
    a0: &Array<F>,
    a1: &Array<F>,
    a2: &Array<F>,
    a3: &Array<F>,
    g: &Array<u32>,
    r: usize,
    k: usize,
    #[comptime] n_in: u32,
) -> F {
    // g[3 + 3b ..]: stride, offset, end column of block b.
    let mut v = F::new(0.0);
    let c1 = g[5] as usize;
    if k < c1 {
        v = a0[r * g[3] as usize + g[4] as usize + k];
    } else if comptime![n_in > 1] {
        let c2 = g[8] as usize;
        if k < c2 {
            v = a1[r * g[6] as usize + g[7] as usize + k - c1];
        } else if comptime![n_in > 2] {
            let c3 = g[11] as usize;
            if k < c3 {
                v = a2[r * g[9] as usize + g[10] as usize + k - c2];
            } else if comptime![n_in > 3] {
                v = a3[r * g[12] as usize + g[13] as usize + k - c3];
            }
        }
    }
    v
}

/// The epilogue of one product element `v` at `(r, c)`.
#[cube]
pub(crate) fn write_out<F: Float>(
    v: F,
    r: usize,
    c: usize,
    mask: &Array<F>,
    out0: &mut Array<F>,
    out1: &mut Array<F>,
    deriv: &mut Array<F>,
    g: &Array<u32>,
    #[comptime] flags: u32,
    #[comptime] act: u32,
    #[comptime] masked: bool,
    #[comptime] write_deriv: bool,
    #[comptime] n_out: u32,
) {
    let n = g[2] as usize;
    let mut v = v;
    if comptime![act != activation::NONE] {
        if comptime![write_deriv] {
            deriv[r * n + c] = activation::derivative::<F>(v, act);
        }
        v = activation::value::<F>(v, act);
    }
    if comptime![masked] {
        v *= mask[r * n + c];
    }
    // g[15..]: stride, offset, width of output 0; stride, offset of output 1.
    let n1 = g[17] as usize;
    if c < n1 {
        let at = r * g[15] as usize + g[16] as usize + c;
        if comptime![flags & OUT_ACC0 != 0] {
            out0[at] += v;
        } else {
            out0[at] = v;
        }
    } else if comptime![n_out > 1] {
        let at = r * g[18] as usize + g[19] as usize + c - n1;
        if comptime![flags & OUT_ACC1 != 0] {
            out1[at] += v;
        } else {
            out1[at] = v;
        }
    }
}

/// The tiled product with its epilogue.
#[cube(launch_unchecked)]
pub(crate) fn linear_simt_kernel<F: Float>(
    a0: &Array<F>,
    a1: &Array<F>,
    a2: &Array<F>,
    a3: &Array<F>,
    w: &Array<F>,
    mask: &Array<F>,
    out0: &mut Array<F>,
    out1: &mut Array<F>,
    deriv: &mut Array<F>,
    g: &Array<u32>,
    #[comptime] n_in: u32,
    #[comptime] n_out: u32,
    #[comptime] flags: u32,
    #[comptime] act: u32,
    #[comptime] masked: bool,
    #[comptime] write_deriv: bool,
) {
    let rows = g[0] as usize;
    let k = g[1] as usize;
    let n = g[2] as usize;
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    let tid = ty * 16 + tx;
    let row0 = CUBE_POS_X as usize * 128;
    let col0 = CUBE_POS_Y as usize * 64;

    let mut a_s = SharedMemory::<F>::new(16 * A_PITCH);
    let mut b_s = SharedMemory::<F>::new(1024usize);
    let mut acc = Array::<F>::new(32usize);
    #[unroll]
    for i in 0..32usize {
        acc[i] = F::new(0.0);
    }
    let mut a_reg = Array::<F>::new(8usize);
    let mut b_reg = Array::<F>::new(4usize);

    let k_tiles = k.div_ceil(16);
    for kt in 0..k_tiles {
        let k0 = kt * 16;
        // A: 128 × 16, 8 elements per thread; 16 consecutive threads read one row.
        #[unroll]
        for l in 0..8usize {
            let e = tid + l * 256;
            let r = e / 16;
            let kk = e % 16;
            let gr = row0 + r;
            let gk = k0 + kk;
            let mut v = F::new(0.0);
            if gr < rows && gk < k {
                v = read_a::<F>(a0, a1, a2, a3, g, gr, gk, n_in);
            }
            a_s[kk * A_PITCH + r] = v;
        }
        // W: 16 × 64, 4 elements per thread, contiguous rows.
        #[unroll]
        for l in 0..4usize {
            let e = tid + l * 256;
            let kk = e / 64;
            let c = e % 64;
            let gk = k0 + kk;
            let gc = col0 + c;
            let mut v = F::new(0.0);
            if gk < k && gc < n {
                v = w[gk * n + gc];
            }
            b_s[kk * 64 + c] = v;
        }
        sync_cube();
        #[unroll]
        for kk in 0..16usize {
            #[unroll]
            for i in 0..8usize {
                a_reg[i] = a_s[kk * A_PITCH + ty + 16 * i];
            }
            #[unroll]
            for j in 0..4usize {
                b_reg[j] = b_s[kk * 64 + tx + 16 * j];
            }
            #[unroll]
            for i in 0..8usize {
                #[unroll]
                for j in 0..4usize {
                    acc[i * 4 + j] += a_reg[i] * b_reg[j];
                }
            }
        }
        sync_cube();
    }
    #[unroll]
    for i in 0..8usize {
        #[unroll]
        for j in 0..4usize {
            let r = row0 + ty + 16 * i;
            let c = col0 + tx + 16 * j;
            if r < rows && c < n {
                write_out::<F>(
                    acc[i * 4 + j],
                    r,
                    c,
                    mask,
                    out0,
                    out1,
                    deriv,
                    g,
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

/// Launch grid of the SIMT kernel.
pub(crate) fn cube_count(geometry: &LinearGeometry) -> CubeCount {
    CubeCount::Static(
        (geometry.rows as u32).div_ceil(TILE_M),
        (geometry.n as u32).div_ceil(TILE_N),
        1,
    )
}
