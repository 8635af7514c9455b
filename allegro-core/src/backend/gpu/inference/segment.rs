//! The segment contraction (environment sum + channel-wise tensor product) and its
//! adjoint as kernels.
//!
//! One cube per segment (center atom), one thread per channel `u`. A thread's work
//! touches only its own channel, so it keeps its rows in its own slots of shared memory
//! (dynamically indexable, unlike registers) and needs no barrier; the environment of
//! its segment is computed once and stays there for every row. The tensor product's
//! entries are grouped by the slot being computed (as the existing contraction's
//! tables), so each output component is one register accumulator. The one sum over
//! channels, `∂/∂Y`, is a second kernel with a thread per `(row, component)` that adds
//! the channels in order (deterministic, and no barrier inside a loop: lavapipe lost
//! writes across warps that way). Summation orders differ from the CPU backend's, so
//! results agree to rounding.

use cubecl::prelude::*;

/// Per-thread slots have odd row pitches (`d | 1`): even pitches would put every
/// thread's element `i` on the same bank.
///
/// Geometry table indices.
pub(crate) mod geom {
    pub const W_STRIDE: usize = 0;
    pub const W_OFFSET: usize = 1;
    pub const X_STRIDE: usize = 2;
    pub const X_OFFSET: usize = 3;
    pub const NUM_PATHS: usize = 4;
    pub const GW_STRIDE: usize = 5;
    pub const GW_OFFSET: usize = 6;
    pub const GX_STRIDE: usize = 7;
    pub const GX_OFFSET: usize = 8;
    pub const SEGMENTS: usize = 9;
    pub const LEN: usize = 10;
}

/// The segment of this cube (2-D grids, since Vulkan allows 65,535 cubes per axis).
#[cube]
fn segment_index() -> usize {
    CUBE_POS_Y as usize * CUBE_COUNT_X as usize + CUBE_POS_X as usize
}

/// Row `i` of the first operand for `(z, u)`: plain, or `Y[z,i]·Wx[z, u·R + r(i)]`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn first_operand<F: Float>(
    x: &Array<F>,
    y: &Array<F>,
    irrep: &Array<u32>,
    g: &Array<u32>,
    z: usize,
    u: usize,
    i: usize,
    #[comptime] channels: u32,
    #[comptime] dx: u32,
    #[comptime] dy: u32,
    #[comptime] r_n: u32,
    #[comptime] weighted: bool,
) -> F {
    if comptime![weighted] {
        let at = z * g[geom::X_STRIDE] as usize
            + g[geom::X_OFFSET] as usize
            + u * comptime![r_n as usize]
            + irrep[i] as usize;
        y[z * comptime![dy as usize] + i] * x[at]
    } else {
        x[(z * comptime![channels as usize] + u) * comptime![dx as usize] + i]
    }
}

/// `weight[e, u] = θ[u or 0, path_e]·c_e` for grouped entries (once per call, so the
/// contraction loops read one weight per entry and channel).
#[cube(launch_unchecked)]
pub(crate) fn entry_weights_kernel<F: Float>(
    theta: &Array<F>,
    path: &Array<u32>,
    coeff: &Array<F>,
    weight: &mut Array<F>,
    total: u32,
    channels: u32,
    num_paths: u32,
    #[comptime] per_channel: bool,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let e = t / channels as usize;
        let u = t % channels as usize;
        let mut row = 0usize;
        if comptime![per_channel] {
            row = u * num_paths as usize;
        }
        weight[t] = theta[row + path[e] as usize] * coeff[e];
    }
}

/// Environment sum and tensor product of one segment.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn segment_forward_kernel<F: Float>(
    x: &Array<F>,
    y: &Array<F>,
    w: &Array<F>,
    scale: &Array<F>,
    offsets: &Array<u32>,
    irrep: &Array<u32>,
    grp_offsets: &Array<u32>,
    grp_packed: &Array<u32>,
    grp_weight: &Array<F>,
    env_out: &mut Array<F>,
    out: &mut Array<F>,
    first: &mut Array<F>,
    g: &Array<u32>,
    #[comptime] channels: u32,
    #[comptime] dx: u32,
    #[comptime] dy: u32,
    #[comptime] dout: u32,
    #[comptime] r_n: u32,
    #[comptime] weighted: bool,
) {
    let n = segment_index();
    if n < g[geom::SEGMENTS] as usize {
        let u = UNIT_POS_X as usize;
        let uc = comptime![channels as usize];
        let dyc = comptime![dy as usize];
        let dxc = comptime![dx as usize];
        let doc = comptime![dout as usize];
        let rc = comptime![r_n as usize];
        let xp = comptime![(dx | 1) as usize];
        let ep = comptime![(dy | 1) as usize];
        let start = offsets[n] as usize;
        let end = offsets[n + 1] as usize;
        let ws = g[geom::W_STRIDE] as usize;
        let wo = g[geom::W_OFFSET] as usize;
        let mut x_s = SharedMemory::<F>::new(comptime![(channels * (dx | 1)) as usize]);
        let mut env_s = SharedMemory::<F>::new(comptime![(channels * (dy | 1)) as usize]);
        let mut rm = Array::<u32>::new(dyc);
        #[unroll]
        for m in 0..dyc {
            rm[m] = irrep[m];
        }

        // env[n,u,m] = scale[n]·Σ_z Y[z,m]·w[z, u·R + r(m)]
        let mut env = Array::<F>::new(dyc);
        #[unroll]
        for m in 0..dyc {
            env[m] = F::new(0.0);
        }
        for z in start..end {
            #[unroll]
            for m in 0..dyc {
                env[m] += y[z * dyc + m] * w[z * ws + wo + u * rc + rm[m] as usize];
            }
        }
        let s = scale[n];
        #[unroll]
        for m in 0..dyc {
            let v = env[m] * s;
            env_s[u * ep + m] = v;
            env_out[(n * uc + u) * dyc + m] = v;
        }

        // out[z,u,k] = Σ_{e ∈ group k} x[z,u,i_e]·env[u,j_e]·θc_e
        for z in start..end {
            #[unroll]
            for i in 0..dxc {
                x_s[u * xp + i] =
                    first_operand::<F>(x, y, irrep, g, z, u, i, channels, dx, dy, r_n, weighted);
            }
            #[unroll]
            for k in 0..doc {
                let mut acc = F::new(0.0);
                for e in grp_offsets[k] as usize..grp_offsets[k + 1] as usize {
                    let p = grp_packed[e];
                    acc += x_s[u * xp + (p & 0xFFFF) as usize]
                        * env_s[u * ep + (p >> 16) as usize]
                        * grp_weight[e * uc + u];
                }
                out[(z * uc + u) * doc + k] = acc;
                if k == 0 {
                    first[z * uc + u] = acc;
                }
            }
        }
    }
}

/// The adjoint of [`segment_forward_kernel`] for one segment, except the sums over
/// channels: writes `∂x` (plain, `[E, U, dx]`; for weighted `x` also `∂Wx`), `∂w`, and
/// `∂env·scale` per segment (`[N, U, dY]`) for [`grad_y_kernel`].
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn segment_backward_kernel<F: Float>(
    x: &Array<F>,
    y: &Array<F>,
    scale: &Array<F>,
    env: &Array<F>,
    grad_out: &Array<F>,
    grad_first: &Array<F>,
    offsets: &Array<u32>,
    irrep: &Array<u32>,
    // Entries grouped by the first slot `i`: packed slots (k of G, j of env), weights.
    gi_offsets: &Array<u32>,
    gi_packed: &Array<u32>,
    gi_weight: &Array<F>,
    // Entries grouped by the second slot `j`: packed slots (i of x, k of G), weights.
    gj_offsets: &Array<u32>,
    gj_packed: &Array<u32>,
    gj_weight: &Array<F>,
    grad_x: &mut Array<F>,
    grad_xw: &mut Array<F>,
    grad_w: &mut Array<F>,
    grad_env: &mut Array<F>,
    g: &Array<u32>,
    #[comptime] channels: u32,
    #[comptime] dx: u32,
    #[comptime] dy: u32,
    #[comptime] dout: u32,
    #[comptime] r_n: u32,
    #[comptime] weighted: bool,
    #[comptime] has_grad_out: bool,
) {
    let n = segment_index();
    if n < g[geom::SEGMENTS] as usize {
        let u = UNIT_POS_X as usize;
        let uc = comptime![channels as usize];
        let dyc = comptime![dy as usize];
        let dxc = comptime![dx as usize];
        let doc = comptime![dout as usize];
        let rc = comptime![r_n as usize];
        let xp = comptime![(dx | 1) as usize];
        let ep = comptime![(dy | 1) as usize];
        let gp = comptime![(dout | 1) as usize];
        let rp = comptime![(r_n | 1) as usize];
        let start = offsets[n] as usize;
        let end = offsets[n + 1] as usize;
        let mut rm = Array::<u32>::new(dyc);
        #[unroll]
        for m in 0..dyc {
            rm[m] = irrep[m];
        }
        let mut x_s = SharedMemory::<F>::new(comptime![(channels * (dx | 1)) as usize]);
        let mut env_s = SharedMemory::<F>::new(comptime![(channels * (dy | 1)) as usize]);
        let mut g_s = SharedMemory::<F>::new(comptime![(channels * (dout | 1)) as usize]);
        let mut r_s = SharedMemory::<F>::new(comptime![(channels * (r_n | 1)) as usize]);

        #[unroll]
        for m in 0..dyc {
            env_s[u * ep + m] = env[(n * uc + u) * dyc + m];
        }
        let mut genv = Array::<F>::new(dyc);
        #[unroll]
        for m in 0..dyc {
            genv[m] = F::new(0.0);
        }
        for z in start..end {
            #[unroll]
            for k in 0..doc {
                let mut gk = F::new(0.0);
                if comptime![has_grad_out] {
                    gk = grad_out[(z * uc + u) * doc + k];
                }
                if k == 0 {
                    gk += grad_first[z * uc + u];
                }
                g_s[u * gp + k] = gk;
            }
            #[unroll]
            for i in 0..dxc {
                x_s[u * xp + i] =
                    first_operand::<F>(x, y, irrep, g, z, u, i, channels, dx, dy, r_n, weighted);
            }
            // ∂env[j] += Σ_{e ∈ group j} x[i_e]·G[k_e]·θc_e
            #[unroll]
            for j in 0..dyc {
                let mut acc = F::new(0.0);
                for e in gj_offsets[j] as usize..gj_offsets[j + 1] as usize {
                    let p = gj_packed[e];
                    acc += x_s[u * xp + (p & 0xFFFF) as usize]
                        * g_s[u * gp + (p >> 16) as usize]
                        * gj_weight[e * uc + u];
                }
                genv[j] += acc;
            }
            // ∂x[i] = Σ_{e ∈ group i} G[k_e]·env[j_e]·θc_e; for x = Y ⊙ Wx also
            // ∂Wx[u, r] = Σ_{m ∈ r} Y[m]·∂x[m].
            #[unroll]
            for r in 0..rc {
                r_s[u * rp + r] = F::new(0.0);
            }
            #[unroll]
            for i in 0..dxc {
                let mut acc = F::new(0.0);
                for e in gi_offsets[i] as usize..gi_offsets[i + 1] as usize {
                    let p = gi_packed[e];
                    acc += g_s[u * gp + (p & 0xFFFF) as usize]
                        * env_s[u * ep + (p >> 16) as usize]
                        * gi_weight[e * uc + u];
                }
                grad_x[(z * uc + u) * dxc + i] = acc;
                if comptime![weighted] {
                    let r = rm[i] as usize;
                    r_s[u * rp + r] += y[z * dyc + i] * acc;
                }
            }
            if comptime![weighted] {
                let gs = g[geom::GX_STRIDE] as usize;
                let go = g[geom::GX_OFFSET] as usize;
                #[unroll]
                for r in 0..rc {
                    grad_xw[z * gs + go + u * rc + r] = r_s[u * rp + r];
                }
            }
        }
        // env = scale·Σ Y·w: ∂(Y·w) = scale·∂env on every row of the segment.
        let s = scale[n];
        #[unroll]
        for m in 0..dyc {
            genv[m] *= s;
            grad_env[(n * uc + u) * dyc + m] = genv[m];
        }
        let gws = g[geom::GW_STRIDE] as usize;
        let gwo = g[geom::GW_OFFSET] as usize;
        for z in start..end {
            #[unroll]
            for r in 0..rc {
                r_s[u * rp + r] = F::new(0.0);
            }
            #[unroll]
            for m in 0..dyc {
                let r = rm[m] as usize;
                r_s[u * rp + r] += y[z * dyc + m] * genv[m];
            }
            #[unroll]
            for r in 0..rc {
                grad_w[z * gws + gwo + u * rc + r] = r_s[u * rp + r];
            }
        }
    }
}

/// The segment owning row `z`: the last `n` with `offsets[n] ≤ z` (binary search).
#[cube]
fn owner(offsets: &Array<u32>, segments: usize, z: usize) -> usize {
    let mut lo = 0usize;
    let mut hi = segments;
    // offsets[lo] ≤ z < offsets[hi]
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if offsets[mid] as usize <= z {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `∂Y[z,m] += Σ_u w[z, u·R + r(m)]·∂env[n(z),u,m]` (the environment's share) and, for
/// weighted `x`, `+= Σ_u Wx[z, u·R + r(m)]·∂x[z,u,m]`; channels added in order.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn grad_y_kernel<F: Float>(
    w: &Array<F>,
    xw: &Array<F>,
    grad_env: &Array<F>,
    grad_x: &Array<F>,
    offsets: &Array<u32>,
    irrep: &Array<u32>,
    grad_y: &mut Array<F>,
    g: &Array<u32>,
    total: u32,
    #[comptime] channels: u32,
    #[comptime] dy: u32,
    #[comptime] r_n: u32,
    #[comptime] weighted: bool,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let uc = comptime![channels as usize];
        let dyc = comptime![dy as usize];
        let rc = comptime![r_n as usize];
        let z = t / dyc;
        let m = t % dyc;
        let n = owner(offsets, g[geom::SEGMENTS] as usize, z);
        let r = irrep[m] as usize;
        let wb = z * g[geom::W_STRIDE] as usize + g[geom::W_OFFSET] as usize + r;
        let mut acc = F::new(0.0);
        for u in 0..uc {
            acc += w[wb + u * rc] * grad_env[(n * uc + u) * dyc + m];
        }
        if comptime![weighted] {
            let xb = z * g[geom::X_STRIDE] as usize + g[geom::X_OFFSET] as usize + r;
            for u in 0..uc {
                acc += xw[xb + u * rc] * grad_x[(z * uc + u) * dyc + m];
            }
        }
        grad_y[t] += acc;
    }
}
