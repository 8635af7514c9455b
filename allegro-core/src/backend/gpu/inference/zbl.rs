//! The fused ZBL pair energy of every edge and its adjoint: the host rows of
//! [`crate::backend::ops::zbl`] as a kernel, one thread per edge, float64 (on runtimes
//! with exact float64 exponentials; elsewhere the caller composes it from tensor ops).
//! The per-type tables go up once per content (the device's float-table cache).

use cubecl::prelude::*;

use crate::backend::gpu::launch::{arg, grid, u32_of};
use crate::backend::gpu::{GpuDevice, GpuIndices, GpuRuntime, GpuStorage};
use crate::backend::ops::bessel_cutoff::cutoff_coefficients;
use crate::backend::ops::zbl::{ZBL_LENGTH, ZBL_SCREENING, ZblSpec};
use crate::dtype::DType;

/// One thread per edge: `E_z`, or with `derivative` `g_z·∂E_z/∂r`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn zbl_kernel(
    r: &Array<f64>,
    center_types: &Array<u32>,
    neighbor_types: &Array<u32>,
    grad: &Array<f64>,
    // [Z (T) | Z^0.23 (T) | 1/r_max (T²) | c (4) | d (4)]
    table: &Array<f64>,
    out: &mut Array<f64>,
    n_edges: u32,
    num_types: u32,
    half_ke: f64,
    inv_length: f64,
    p: f64,
    c1: f64,
    c2: f64,
    c3: f64,
    #[comptime] derivative: bool,
) {
    let z = ABSOLUTE_POS;
    if z < n_edges as usize {
        let t = num_types as usize;
        let ti = center_types[z] as usize;
        let tj = neighbor_types[z] as usize;
        let rz = r[z];
        let a = (table[t + ti] + table[t + tj]) * inv_length;
        let s = table[2 * t + ti * t + tj];
        let xi = a * rz;
        let mut phi = 0.0f64;
        let mut dphi = 0.0f64;
        let k0 = 2 * t + t * t;
        #[unroll]
        for k in 0..4usize {
            let term = table[k0 + k] * f64::exp(-table[k0 + 4 + k] * xi);
            phi += term;
            dphi -= table[k0 + 4 + k] * term;
        }
        let x = rz * s;
        let mut u = 0.0f64;
        let mut du = 0.0f64;
        if x < 1.0 {
            let xp = f64::powf(x, p);
            u = 1.0 - c1 * xp + c2 * xp * x - c3 * xp * x * x;
            du = (-p * c1 + (p + 1.0) * c2 * x - (p + 2.0) * c3 * x * x) * xp / x;
        }
        let q = half_ke * table[ti] * table[tj];
        if comptime![derivative] {
            out[z] = grad[z] * q * ((a * dphi * rz - phi) / (rz * rz) * u + phi / rz * du * s);
        } else {
            out[z] = q / rz * phi * u;
        }
    }
}

/// The kernel's table of `spec`: atomic numbers, their screening powers, `1/r_max` per
/// edge type and the screening constants.
fn table(spec: &ZblSpec) -> Vec<f64> {
    let mut t: Vec<f64> = spec.atomic_numbers.to_vec();
    t.extend(spec.screening_powers());
    t.extend(spec.rmax_recip.iter());
    t.extend(ZBL_SCREENING.iter().map(|(c, _)| *c));
    t.extend(ZBL_SCREENING.iter().map(|(_, d)| *d));
    t
}

/// [`crate::backend::InferenceOps::zbl_edge_energies`] (no `grad`) and its adjoint.
pub(crate) fn zbl<R: GpuRuntime>(
    spec: &ZblSpec,
    r: &GpuStorage<R>,
    center_types: &GpuIndices<R>,
    neighbor_types: &GpuIndices<R>,
    grad: Option<&GpuStorage<R>>,
) -> Option<GpuStorage<R>> {
    if r.dtype != DType::F64
        || !R::F64_TRANSCENDENTALS
        || grad.is_some_and(|g| g.dtype != DType::F64)
    {
        return None;
    }
    let device: &GpuDevice<R> = &r.device;
    let e = r.len;
    let out = r.uninit_like(e);
    if e == 0 {
        return Some(out);
    }
    let values = table(spec);
    let handle = device.float_table(&values, DType::F64);
    let (c1, c2, c3) = cutoff_coefficients(spec.cutoff_p);
    let (count, dim) = grid(r.client(), e);
    device.counters.launch();
    // SAFETY: `out`, `r`, the type indices and `grad` (or `r` in its place, unread) hold
    // `e` values, the table `values.len()`; the kernel guards its position and indexes
    // the table by types below `T`.
    unsafe {
        zbl_kernel::launch_unchecked::<R>(
            r.client(),
            count,
            dim,
            r.arg(),
            arg(&center_types.handle, e),
            arg(&neighbor_types.handle, e),
            grad.unwrap_or(r).arg(),
            arg(&handle, values.len()),
            out.arg(),
            u32_of(e),
            u32_of(spec.atomic_numbers.len()),
            spec.half_ke,
            1.0 / ZBL_LENGTH,
            spec.cutoff_p,
            c1,
            c2,
            c3,
            grad.is_some(),
        )
    };
    Some(out)
}
