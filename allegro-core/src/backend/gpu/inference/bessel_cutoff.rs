//! The fused Bessel basis × cutoff of normalised edge lengths and its adjoint: the host
//! rows of [`crate::backend::ops::bessel_cutoff`] as kernels, in the buffers' dtype.
//! Float64 needs exact float64 sines and powers ([`GpuRuntime::F64_TRANSCENDENTALS`]);
//! where the runtime has none the caller composes the map from tensor ops instead.

use cubecl::prelude::*;

use crate::backend::gpu::launch::{grid, u32_of, with_float};
use crate::backend::gpu::{GpuRuntime, GpuStorage};
use crate::backend::ops::bessel_cutoff::cutoff_coefficients;
use crate::dtype::DType;

/// π, handed to the kernels in their dtype (a kernel literal would be float32's).
const PI: f64 = std::f64::consts::PI;

/// `u_p(x)` and `u_p'(x)` (zero from `x = 1` on).
#[cube]
fn cutoff<F: Float>(x: F, p: F, c1: F, c2: F, c3: F) -> (F, F) {
    let mut u = F::new(0.0);
    let mut du = F::new(0.0);
    if x < F::new(1.0) {
        let xp = F::powf(x, p);
        u = F::new(1.0) - c1 * xp + c2 * xp * x - c3 * xp * x * x;
        du = (-p * c1 + (p + F::new(1.0)) * c2 * x - (p + F::new(2.0)) * c3 * x * x) * xp / x;
    }
    (u, du)
}

/// `b(x)` and `b'(x)` of the basis function of weight `w`.
#[cube]
fn basis<F: Float>(x: F, w: F, pi: F) -> (F, F) {
    let a = pi * w * x;
    let b = F::sin(a) / (pi * x);
    (b, (w * F::cos(a) - b) / x)
}

/// One thread per `(edge, basis function)`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bessel_cutoff_kernel<F: Float + CubeElement>(
    x: &Array<F>,
    weights: &Array<F>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    pi: F,
    p: F,
    c1: F,
    c2: F,
    c3: F,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let z = t / n as usize;
        let k = t % n as usize;
        let xz = x[z];
        let (u, _du) = cutoff::<F>(xz, p, c1, c2, c3);
        out[t] = F::sin(pi * weights[k] * xz) / (pi * xz) * u;
    }
}

/// One thread per `(edge, basis function)`: `h_z (b_n' u + b_n u')`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bessel_cutoff_jvp_kernel<F: Float + CubeElement>(
    x: &Array<F>,
    weights: &Array<F>,
    h: &Array<F>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    pi: F,
    p: F,
    c1: F,
    c2: F,
    c3: F,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let z = t / n as usize;
        let k = t % n as usize;
        let xz = x[z];
        let (u, du) = cutoff::<F>(xz, p, c1, c2, c3);
        let (b, db) = basis::<F>(xz, weights[k], pi);
        out[t] = h[z] * (db * u + b * du);
    }
}

/// One thread per edge: `∂L/∂x = Σ_n g_n (b_n' u + b_n u')`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn bessel_cutoff_vjp_kernel<F: Float + CubeElement>(
    x: &Array<F>,
    weights: &Array<F>,
    grad: &Array<F>,
    out: &mut Array<F>,
    n_edges: u32,
    n: u32,
    pi: F,
    p: F,
    c1: F,
    c2: F,
    c3: F,
) {
    let z = ABSOLUTE_POS;
    if z < n_edges as usize {
        let xz = x[z];
        let (u, du) = cutoff::<F>(xz, p, c1, c2, c3);
        let nn = n as usize;
        let mut acc = F::new(0.0);
        for k in 0..nn {
            let (b, db) = basis::<F>(xz, weights[k], pi);
            acc += grad[z * nn + k] * (db * u + b * du);
        }
        out[z] = acc;
    }
}

/// Whether the kernels run for these buffers: one dtype, and float64 only where the
/// runtime has exact float64 transcendentals.
fn supported<R: GpuRuntime>(x: &GpuStorage<R>, weights: &GpuStorage<R>) -> bool {
    x.dtype == weights.dtype && (x.dtype == DType::F32 || R::F64_TRANSCENDENTALS)
}

/// [`crate::backend::InferenceOps::bessel_cutoff`] on the device.
pub(crate) fn bessel_cutoff<R: GpuRuntime>(
    x: &GpuStorage<R>,
    weights: &GpuStorage<R>,
    p: f64,
) -> Option<GpuStorage<R>> {
    if !supported(x, weights) {
        return None;
    }
    let (e, n) = (x.len, weights.len);
    let out = x.uninit_like(e * n);
    if e * n == 0 {
        return Some(out);
    }
    let (c1, c2, c3) = cutoff_coefficients(p);
    let (count, dim) = grid(x.client(), e * n);
    x.device.counters.launch();
    // SAFETY: `out` holds e·n values, `x` e and `weights` n; the kernel guards its
    // position and reads within them.
    with_float!(x.dtype, F => unsafe {
        bessel_cutoff_kernel::launch_unchecked::<F, R>(
            x.client(), count, dim, x.arg(), weights.arg(), out.arg(),
            u32_of(e * n), u32_of(n), PI as F, p as F, c1 as F, c2 as F, c3 as F,
        )
    });
    Some(out)
}

/// [`crate::backend::InferenceOps::bessel_cutoff_vjp`] on the device.
pub(crate) fn bessel_cutoff_vjp<R: GpuRuntime>(
    x: &GpuStorage<R>,
    weights: &GpuStorage<R>,
    grad: &GpuStorage<R>,
    p: f64,
) -> Option<GpuStorage<R>> {
    if !supported(x, weights) || grad.dtype != x.dtype {
        return None;
    }
    let (e, n) = (x.len, weights.len);
    let out = x.uninit_like(e);
    if e == 0 {
        return Some(out);
    }
    let (c1, c2, c3) = cutoff_coefficients(p);
    let (count, dim) = grid(x.client(), e);
    x.device.counters.launch();
    // SAFETY: `out` holds e values, `grad` e·n, `x` e and `weights` n; the kernel guards
    // its position.
    with_float!(x.dtype, F => unsafe {
        bessel_cutoff_vjp_kernel::launch_unchecked::<F, R>(
            x.client(), count, dim, x.arg(), weights.arg(), grad.arg(), out.arg(),
            u32_of(e), u32_of(n), PI as F, p as F, c1 as F, c2 as F, c3 as F,
        )
    });
    Some(out)
}

/// [`crate::backend::InferenceOps::bessel_cutoff_jvp`] on the device.
pub(crate) fn bessel_cutoff_jvp<R: GpuRuntime>(
    x: &GpuStorage<R>,
    weights: &GpuStorage<R>,
    h: &GpuStorage<R>,
    p: f64,
) -> Option<GpuStorage<R>> {
    if !supported(x, weights) || h.dtype != x.dtype {
        return None;
    }
    let (e, n) = (x.len, weights.len);
    let out = x.uninit_like(e * n);
    if e * n == 0 {
        return Some(out);
    }
    let (c1, c2, c3) = cutoff_coefficients(p);
    let (count, dim) = grid(x.client(), e * n);
    x.device.counters.launch();
    // SAFETY: `out` holds e·n values, `x` and `h` e, `weights` n; the kernel guards its
    // position and reads within them.
    with_float!(x.dtype, F => unsafe {
        bessel_cutoff_jvp_kernel::launch_unchecked::<F, R>(
            x.client(), count, dim, x.arg(), weights.arg(), h.arg(), out.arg(),
            u32_of(e * n), u32_of(n), PI as F, p as F, c1 as F, c2 as F, c3 as F,
        )
    });
    Some(out)
}
