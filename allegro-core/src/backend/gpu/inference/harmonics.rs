//! The fused spherical harmonics of edge vectors and their adjoint, one thread per
//! edge: the host rows of [`crate::backend::ops::harmonics`] as kernels. The monomial
//! exponents go up once per content (the device's table cache), the coefficients once
//! per content and dtype ([`GpuDevice::float_table`]).

use cubecl::prelude::*;

use crate::backend::gpu::launch::{grid, u32_of, with_float};
use crate::backend::gpu::{GpuDevice, GpuRuntime, GpuStorage};
use crate::backend::ops::harmonics::HarmonicsSpec;

/// `ops::harmonics::MIN_LENGTH` as a kernel literal (rounded to f32: it only decides
/// for vectors shorter than ~1e-12 Å, which no structure has).
const MIN_LENGTH: f32 = 1e-12;

/// `x^k` for a small runtime `k`.
#[cube]
fn power<F: Float>(x: F, k: u32) -> F {
    let mut p = F::new(1.0);
    for _ in 0..k {
        p *= x;
    }
    p
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn harmonics_kernel<F: Float + CubeElement>(
    v: &Array<F>,
    exponents: &Array<u32>,
    coefficients: &Array<F>,
    out: &mut Array<F>,
    n_edges: u32,
    n_mono: u32,
    dim: u32,
    normalize: u32,
) {
    let e = ABSOLUTE_POS;
    if e < n_edges as usize {
        let mut x = v[3 * e];
        let mut y = v[3 * e + 1];
        let mut z = v[3 * e + 2];
        if normalize == 1 {
            let mut len = F::sqrt(x * x + y * y + z * z);
            if len < F::new(MIN_LENGTH) {
                len = F::new(MIN_LENGTH);
            }
            x /= len;
            y /= len;
            z /= len;
        }
        let d = dim as usize;
        for j in 0..d {
            out[e * d + j] = F::new(0.0);
        }
        for k in 0..n_mono as usize {
            let m = power::<F>(x, exponents[3 * k])
                * power::<F>(y, exponents[3 * k + 1])
                * power::<F>(z, exponents[3 * k + 2]);
            for j in 0..d {
                out[e * d + j] += m * coefficients[k * d + j];
            }
        }
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn harmonics_vjp_kernel<F: Float + CubeElement>(
    v: &Array<F>,
    grad_y: &Array<F>,
    exponents: &Array<u32>,
    coefficients: &Array<F>,
    out: &mut Array<F>,
    n_edges: u32,
    n_mono: u32,
    dim: u32,
    normalize: u32,
) {
    let e = ABSOLUTE_POS;
    if e < n_edges as usize {
        let mut x = v[3 * e];
        let mut y = v[3 * e + 1];
        let mut z = v[3 * e + 2];
        let raw = F::sqrt(x * x + y * y + z * z);
        let mut len = raw;
        if len < F::new(MIN_LENGTH) {
            len = F::new(MIN_LENGTH);
        }
        if normalize == 1 {
            x /= len;
            y /= len;
            z /= len;
        }
        let d = dim as usize;
        let mut g0 = F::new(0.0);
        let mut g1 = F::new(0.0);
        let mut g2 = F::new(0.0);
        for k in 0..n_mono as usize {
            let mut g = F::new(0.0);
            for j in 0..d {
                g += grad_y[e * d + j] * coefficients[k * d + j];
            }
            let a = exponents[3 * k];
            let b = exponents[3 * k + 1];
            let c = exponents[3 * k + 2];
            let px = power::<F>(x, a);
            let py = power::<F>(y, b);
            let pz = power::<F>(z, c);
            // ∂(x^a y^b z^c)/∂x = a·x^(a−1)·y^b·z^c, and so on.
            if a > 0 {
                g0 += g * F::cast_from(a) * power::<F>(x, a - 1) * py * pz;
            }
            if b > 0 {
                g1 += g * F::cast_from(b) * px * power::<F>(y, b - 1) * pz;
            }
            if c > 0 {
                g2 += g * F::cast_from(c) * px * py * power::<F>(z, c - 1);
            }
        }
        if normalize == 1 {
            if raw <= F::new(MIN_LENGTH) {
                // û = v / 1e-12: the length is a constant there.
                g0 /= len;
                g1 /= len;
                g2 /= len;
            } else {
                let dot = x * g0 + y * g1 + z * g2;
                g0 = (g0 - x * dot) / len;
                g1 = (g1 - y * dot) / len;
                g2 = (g2 - z * dot) / len;
            }
        }
        out[3 * e] = g0;
        out[3 * e + 1] = g1;
        out[3 * e + 2] = g2;
    }
}

/// One thread per edge: `out[e, j] = Σ_k C[k, j]·Σ_d ∂m_k/∂û_d·dû_d` with
/// `dû = (h − û(û·h))/|v|` (normalised) or `h`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn harmonics_jvp_kernel<F: Float + CubeElement>(
    v: &Array<F>,
    h: &Array<F>,
    exponents: &Array<u32>,
    coefficients: &Array<F>,
    out: &mut Array<F>,
    n_edges: u32,
    n_mono: u32,
    dim: u32,
    normalize: u32,
) {
    let e = ABSOLUTE_POS;
    if e < n_edges as usize {
        let mut x = v[3 * e];
        let mut y = v[3 * e + 1];
        let mut z = v[3 * e + 2];
        let mut h0 = h[3 * e];
        let mut h1 = h[3 * e + 1];
        let mut h2 = h[3 * e + 2];
        let raw = F::sqrt(x * x + y * y + z * z);
        let mut len = raw;
        if len < F::new(MIN_LENGTH) {
            len = F::new(MIN_LENGTH);
        }
        if normalize == 1 {
            x /= len;
            y /= len;
            z /= len;
            if raw <= F::new(MIN_LENGTH) {
                // û = v / 1e-12: the length is a constant there.
                h0 /= len;
                h1 /= len;
                h2 /= len;
            } else {
                let dot = x * h0 + y * h1 + z * h2;
                h0 = (h0 - x * dot) / len;
                h1 = (h1 - y * dot) / len;
                h2 = (h2 - z * dot) / len;
            }
        }
        let d = dim as usize;
        for j in 0..d {
            out[e * d + j] = F::new(0.0);
        }
        for k in 0..n_mono as usize {
            let a = exponents[3 * k];
            let b = exponents[3 * k + 1];
            let c = exponents[3 * k + 2];
            let px = power::<F>(x, a);
            let py = power::<F>(y, b);
            let pz = power::<F>(z, c);
            let mut dm = F::new(0.0);
            if a > 0 {
                dm += h0 * F::cast_from(a) * power::<F>(x, a - 1) * py * pz;
            }
            if b > 0 {
                dm += h1 * F::cast_from(b) * px * power::<F>(y, b - 1) * pz;
            }
            if c > 0 {
                dm += h2 * F::cast_from(c) * px * py * power::<F>(z, c - 1);
            }
            for j in 0..d {
                out[e * d + j] += dm * coefficients[k * d + j];
            }
        }
    }
}

/// The exponent table of `spec`, `[M·3]`.
fn exponent_table(spec: &HarmonicsSpec) -> Vec<u32> {
    spec.exponents
        .iter()
        .flat_map(|e| e.map(u32::from))
        .collect()
}

/// [`crate::backend::InferenceOps::edge_harmonics`] on the device.
pub(crate) fn edge_harmonics<R: GpuRuntime>(
    spec: &HarmonicsSpec,
    v: &GpuStorage<R>,
) -> GpuStorage<R> {
    let device: &GpuDevice<R> = &v.device;
    let e = v.len / 3;
    let out = v.uninit_like(e * spec.dim);
    if e == 0 {
        return out;
    }
    let exponents = device.table(&exponent_table(spec));
    let coefficients = device.float_table(&spec.coefficients, v.dtype);
    let (count, dim) = grid(v.client(), e);
    let m = spec.exponents.len();
    device.counters.launch();
    with_float!(v.dtype, F => unsafe {
        harmonics_kernel::launch_unchecked::<F, R>(
            v.client(), count, dim, v.arg(),
            ArrayArg::from_raw_parts(exponents, 3 * m),
            ArrayArg::from_raw_parts(coefficients, m * spec.dim),
            out.arg(), u32_of(e), u32_of(m), u32_of(spec.dim), u32::from(spec.normalize),
        )
    });
    out
}

/// [`crate::backend::InferenceOps::edge_harmonics_vjp`] on the device.
pub(crate) fn edge_harmonics_vjp<R: GpuRuntime>(
    spec: &HarmonicsSpec,
    v: &GpuStorage<R>,
    grad_y: &GpuStorage<R>,
) -> GpuStorage<R> {
    let device: &GpuDevice<R> = &v.device;
    let e = v.len / 3;
    let out = v.uninit_like(3 * e);
    if e == 0 {
        return out;
    }
    let exponents = device.table(&exponent_table(spec));
    let coefficients = device.float_table(&spec.coefficients, v.dtype);
    let (count, dim) = grid(v.client(), e);
    let m = spec.exponents.len();
    device.counters.launch();
    with_float!(v.dtype, F => unsafe {
        harmonics_vjp_kernel::launch_unchecked::<F, R>(
            v.client(), count, dim, v.arg(), grad_y.arg(),
            ArrayArg::from_raw_parts(exponents, 3 * m),
            ArrayArg::from_raw_parts(coefficients, m * spec.dim),
            out.arg(), u32_of(e), u32_of(m), u32_of(spec.dim), u32::from(spec.normalize),
        )
    });
    out
}

/// [`crate::backend::InferenceOps::edge_harmonics_jvp`] on the device.
pub(crate) fn edge_harmonics_jvp<R: GpuRuntime>(
    spec: &HarmonicsSpec,
    v: &GpuStorage<R>,
    h: &GpuStorage<R>,
) -> GpuStorage<R> {
    let device: &GpuDevice<R> = &v.device;
    let e = v.len / 3;
    let out = v.uninit_like(e * spec.dim);
    if e == 0 {
        return out;
    }
    let exponents = device.table(&exponent_table(spec));
    let coefficients = device.float_table(&spec.coefficients, v.dtype);
    let (count, dim) = grid(v.client(), e);
    let m = spec.exponents.len();
    device.counters.launch();
    with_float!(v.dtype, F => unsafe {
        harmonics_jvp_kernel::launch_unchecked::<F, R>(
            v.client(), count, dim, v.arg(), h.arg(),
            ArrayArg::from_raw_parts(exponents, 3 * m),
            ArrayArg::from_raw_parts(coefficients, m * spec.dim),
            out.arg(), u32_of(e), u32_of(m), u32_of(spec.dim), u32::from(spec.normalize),
        )
    });
    out
}
