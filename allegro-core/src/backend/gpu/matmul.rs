//! Batched matrix multiplication: a shared-memory tiled kernel.
//!
//! Each cube computes a 64 × 64 tile of `C` with 16 × 16 threads, each thread a 4 × 4
//! register block (rows `ty + 16i`, columns `tx + 16j`, so shared-memory reads and
//! global writes are contiguous across a warp). The `k` axis advances in steps of 16
//! through shared memory. Transposed operands are read in their stored order.

use cubecl::prelude::*;

use super::launch::{u32_of, with_float};
use super::{Gpu, GpuRuntime, GpuStorage};
use crate::backend::{MatmulOps, MatmulSpec};

/// Tile of `C` per cube along rows and columns.
const TILE: u32 = 64;
/// Threads per cube along each axis.
const THREADS: u32 = 16;
/// Most cubes along the batch axis of one launch.
const MAX_BATCH_CUBES: usize = 65_535;

#[cube(launch_unchecked)]
fn matmul_kernel<F: Float>(
    a: &Array<F>,
    b: &Array<F>,
    c: &mut Array<F>,
    m: u32,
    k: u32,
    n: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    batch_offset: u32,
    #[comptime] trans_a: bool,
    #[comptime] trans_b: bool,
) {
    let m = m as usize;
    let k = k as usize;
    let n = n as usize;
    let batch = CUBE_POS_Z as usize + batch_offset as usize;
    let a_base = batch * a_batch_stride as usize;
    let b_base = batch * b_batch_stride as usize;
    let c_base = batch * m * n;
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    let tid = ty * 16 + tx;
    let row0 = CUBE_POS_Y as usize * 64;
    let col0 = CUBE_POS_X as usize * 64;

    // a_tile[kk * 64 + r], b_tile[kk * 64 + c]
    let mut a_tile = SharedMemory::<F>::new(1024usize);
    let mut b_tile = SharedMemory::<F>::new(1024usize);
    let mut acc = Array::<F>::new(16usize);
    #[unroll]
    for i in 0..16usize {
        acc[i] = F::new(0.0);
    }
    let mut a_reg = Array::<F>::new(4usize);
    let mut b_reg = Array::<F>::new(4usize);

    let k_tiles = k.div_ceil(16);
    for kt in 0..k_tiles {
        let k0 = kt * 16;
        #[unroll]
        for l in 0..4usize {
            let e = tid + l * 256;
            // Consecutive threads read consecutive addresses of the stored layout.
            let mut r = e / 16;
            let mut kk = e % 16;
            if comptime![trans_a] {
                r = e % 64;
                kk = e / 64;
            }
            let gr = row0 + r;
            let gk = k0 + kk;
            let mut v = F::new(0.0);
            if gr < m && gk < k {
                if comptime![trans_a] {
                    v = a[a_base + gk * m + gr];
                } else {
                    v = a[a_base + gr * k + gk];
                }
            }
            a_tile[kk * 64 + r] = v;

            let mut cc = e % 64;
            let mut kb = e / 64;
            if comptime![trans_b] {
                cc = e / 16;
                kb = e % 16;
            }
            let gc = col0 + cc;
            let gkb = k0 + kb;
            let mut w = F::new(0.0);
            if gc < n && gkb < k {
                if comptime![trans_b] {
                    w = b[b_base + gc * k + gkb];
                } else {
                    w = b[b_base + gkb * n + gc];
                }
            }
            b_tile[kb * 64 + cc] = w;
        }
        sync_cube();
        #[unroll]
        for kk in 0..16usize {
            #[unroll]
            for i in 0..4usize {
                a_reg[i] = a_tile[kk * 64 + ty + 16 * i];
                b_reg[i] = b_tile[kk * 64 + tx + 16 * i];
            }
            #[unroll]
            for i in 0..4usize {
                #[unroll]
                for j in 0..4usize {
                    acc[i * 4 + j] += a_reg[i] * b_reg[j];
                }
            }
        }
        sync_cube();
    }
    #[unroll]
    for i in 0..4usize {
        #[unroll]
        for j in 0..4usize {
            let r = row0 + ty + 16 * i;
            let col = col0 + tx + 16 * j;
            if r < m && col < n {
                c[c_base + r * n + col] = acc[i * 4 + j];
            }
        }
    }
}

impl<R: GpuRuntime> MatmulOps for Gpu<R> {
    fn matmul(a: &GpuStorage<R>, b: &GpuStorage<R>, spec: MatmulSpec) -> GpuStorage<R> {
        let MatmulSpec { batch, m, k, n, .. } = spec;
        let out = a.uninit_like(batch * m * n);
        if batch * m * n == 0 {
            return out;
        }
        if k == 0 {
            return <Self as crate::backend::StorageOps>::full(
                &a.device,
                batch * m * n,
                0.0,
                a.dtype,
            );
        }
        let a_stride = if spec.a_batched { m * k } else { 0 };
        let b_stride = if spec.b_batched { k * n } else { 0 };
        let dim = CubeDim::new_2d(THREADS, THREADS);
        let mut offset = 0;
        while offset < batch {
            let chunk = (batch - offset).min(MAX_BATCH_CUBES);
            let count = CubeCount::Static(
                u32_of(n).div_ceil(TILE),
                u32_of(m).div_ceil(TILE),
                u32_of(chunk),
            );
            a.device.counters.launch();
            with_float!(a.dtype, F => unsafe {
                matmul_kernel::launch_unchecked::<F, R>(
                    a.client(), count, dim, a.arg(), b.arg(), out.arg(),
                    u32_of(m), u32_of(k), u32_of(n), u32_of(a_stride), u32_of(b_stride),
                    u32_of(offset), spec.trans_a, spec.trans_b,
                )
            });
            offset += chunk;
        }
        out
    }
}
