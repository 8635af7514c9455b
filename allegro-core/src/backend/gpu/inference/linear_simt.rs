//! `fused_linear` on the CUDA cores (any runtime, f32 and f64).
//!
//! A cube computes a 128 × 64 tile of the product with 16 × 16 threads, each an 8 × 4
//! register block. `K` advances
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

/// The geometry table read once into registers (global reads cannot be hoisted out of
/// loops by the compiler, since the kernel writes other global arrays).
#[derive(CubeType, Clone, Copy)]
pub(crate) struct Geometry {
    pub rows: usize,
    pub k: usize,
    pub n: usize,
    pub s0: usize,
    pub o0: usize,
    pub c1: usize,
    pub s1: usize,
    pub o1: usize,
    pub c2: usize,
    pub s2: usize,
    pub o2: usize,
    pub c3: usize,
    pub s3: usize,
    pub o3: usize,
    pub os0: usize,
    pub oo0: usize,
    pub n1: usize,
    pub os1: usize,
    pub oo1: usize,
}

/// Reads the table (layout in [`LinearGeometry`]).
#[cube]
pub(crate) fn read_geometry(g: &Array<u32>) -> Geometry {
    Geometry {
        rows: g[0] as usize,
        k: g[1] as usize,
        n: g[2] as usize,
        s0: g[3] as usize,
        o0: g[4] as usize,
        c1: g[5] as usize,
        s1: g[6] as usize,
        o1: g[7] as usize,
        c2: g[8] as usize,
        s2: g[9] as usize,
        o2: g[10] as usize,
        c3: g[11] as usize,
        s3: g[12] as usize,
        o3: g[13] as usize,
        os0: g[15] as usize,
        oo0: g[16] as usize,
        n1: g[17] as usize,
        os1: g[18] as usize,
        oo1: g[19] as usize,
    }
}

/// Element `(r, k)` of `A = [a0 | a1 | a2 | a3]`.
#[cube]
pub(crate) fn read_a<F: Float>(
    a0: &Array<F>,
    a1: &Array<F>,
    a2: &Array<F>,
    a3: &Array<F>,
    geo: Geometry,
    r: usize,
    k: usize,
    #[comptime] n_in: u32,
) -> F {
    let mut v = F::new(0.0);
    if k < geo.c1 {
        v = a0[r * geo.s0 + geo.o0 + k];
    } else if comptime![n_in > 1] {
        if k < geo.c2 {
            v = a1[r * geo.s1 + geo.o1 + k - geo.c1];
        } else if comptime![n_in > 2] {
            if k < geo.c3 {
                v = a2[r * geo.s2 + geo.o2 + k - geo.c2];
            } else if comptime![n_in > 3] {
                v = a3[r * geo.s3 + geo.o3 + k - geo.c3];
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
    geo: Geometry,
    #[comptime] flags: u32,
    #[comptime] act: u32,
    #[comptime] masked: bool,
    #[comptime] write_deriv: bool,
    #[comptime] n_out: u32,
) {
    let mut v = v;
    if comptime![act != activation::NONE] {
        if comptime![write_deriv] {
            deriv[r * geo.n + c] = activation::derivative::<F>(v, act);
        }
        v = activation::value::<F>(v, act);
    }
    if comptime![masked] {
        v *= mask[r * geo.n + c];
    }
    if c < geo.n1 {
        let at = r * geo.os0 + geo.oo0 + c;
        if comptime![flags & OUT_ACC0 != 0] {
            out0[at] += v;
        } else {
            out0[at] = v;
        }
    } else if comptime![n_out > 1] {
        let at = r * geo.os1 + geo.oo1 + c - geo.n1;
        if comptime![flags & OUT_ACC1 != 0] {
            out1[at] += v;
        } else {
            out1[at] = v;
        }
    }
}

/// The tiled product with its epilogue. Thread `(tx, ty)` owns rows `ty·8 + i` and
/// columns `tx·4 + j` of the tile (contiguous, so its shared-memory reads can be
/// 16-byte loads and its global writes are 16 contiguous bytes); the next stage's
/// global loads are issued before the current stage's products.
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
    let geo = read_geometry(g);
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    let tid = ty * 16 + tx;
    let row0 = CUBE_POS_X as usize * 128;
    let col0 = CUBE_POS_Y as usize * 64;

    let mut a_s = SharedMemory::<F>::new_aligned(16 * A_PITCH, 16usize);
    let mut b_s = SharedMemory::<F>::new_aligned(1024usize, 16usize);
    let mut acc = Array::<F>::new(32usize);
    #[unroll]
    for i in 0..32usize {
        acc[i] = F::new(0.0);
    }
    let mut a_reg = Array::<F>::new(8usize);
    let mut b_reg = Array::<F>::new(4usize);
    let mut a_next = Array::<F>::new(8usize);
    let mut b_next = Array::<F>::new(4usize);

    let k_tiles = geo.k.div_ceil(16);
    // Stage loads: A is 128 × 16 (8 per thread, 16 consecutive threads per row), W is
    // 16 × 64 (4 per thread, contiguous rows).
    #[unroll]
    for l in 0..8usize {
        let e = tid + l * 256;
        let gr = row0 + e / 16;
        let gk = e % 16;
        let mut v = F::new(0.0);
        if gr < geo.rows && gk < geo.k {
            v = read_a::<F>(a0, a1, a2, a3, geo, gr, gk, n_in);
        }
        a_next[l] = v;
    }
    #[unroll]
    for l in 0..4usize {
        let e = tid + l * 256;
        let gk = e / 64;
        let gc = col0 + e % 64;
        let mut v = F::new(0.0);
        if gk < geo.k && gc < geo.n {
            v = w[gk * geo.n + gc];
        }
        b_next[l] = v;
    }
    for kt in 0..k_tiles {
        #[unroll]
        for l in 0..8usize {
            let e = tid + l * 256;
            a_s[(e % 16) * A_PITCH + e / 16] = a_next[l];
        }
        #[unroll]
        for l in 0..4usize {
            let e = tid + l * 256;
            b_s[e] = b_next[l];
        }
        sync_cube();
        if kt + 1 < k_tiles {
            let k0 = (kt + 1) * 16;
            #[unroll]
            for l in 0..8usize {
                let e = tid + l * 256;
                let gr = row0 + e / 16;
                let gk = k0 + e % 16;
                let mut v = F::new(0.0);
                if gr < geo.rows && gk < geo.k {
                    v = read_a::<F>(a0, a1, a2, a3, geo, gr, gk, n_in);
                }
                a_next[l] = v;
            }
            #[unroll]
            for l in 0..4usize {
                let e = tid + l * 256;
                let gk = k0 + e / 64;
                let gc = col0 + e % 64;
                let mut v = F::new(0.0);
                if gk < geo.k && gc < geo.n {
                    v = w[gk * geo.n + gc];
                }
                b_next[l] = v;
            }
        }
        #[unroll]
        for kk in 0..16usize {
            #[unroll]
            for i in 0..8usize {
                a_reg[i] = a_s[kk * A_PITCH + ty * 8 + i];
            }
            #[unroll]
            for j in 0..4usize {
                b_reg[j] = b_s[kk * 64 + tx * 4 + j];
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
            let r = row0 + ty * 8 + i;
            let c = col0 + tx * 4 + j;
            if r < geo.rows && c < geo.n {
                write_out::<F>(
                    acc[i * 4 + j],
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

/// Launch grid of the SIMT kernel.
pub(crate) fn cube_count(geometry: &LinearGeometry) -> CubeCount {
    CubeCount::Static(
        (geometry.rows as u32).div_ceil(TILE_M),
        (geometry.n as u32).div_ceil(TILE_N),
        1,
    )
}
