//! Optimizer updates as one kernel each: an AdamW step reads θ, g, m and v and writes
//! the new θ, m and v in one pass; the EMA's `lerp` reads and writes once. The
//! expressions and their order are those of the tensor-op reference
//! ([`crate::backend::ops::optimizer::adamw_step_reference`]), so the results agree to
//! the rounding of fused multiply-adds. A gated update (`gate`, a comptime choice, so
//! the ungated kernel reads nothing more) writes the inputs back where the gate is 0.

use cubecl::prelude::*;

use super::launch::{grid, u32_of, with_float};
use super::{Gpu, GpuRuntime, GpuStorage};
use crate::backend::{AdamWScalars, AdamWUpdate, OptimizerOps};

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn adamw_kernel<F: Float + CubeElement>(
    theta: &Array<F>,
    grad: &Array<F>,
    exp_avg: &Array<F>,
    exp_avg_sq: &Array<F>,
    theta_out: &mut Array<F>,
    exp_avg_out: &mut Array<F>,
    exp_avg_sq_out: &mut Array<F>,
    n: u32,
    decay: F,
    one_minus_beta1: F,
    beta2: F,
    one_minus_beta2: F,
    inv_bias2_sqrt: F,
    eps: F,
    step_size: F,
    gate: &Array<F>,
    #[comptime] gated: bool,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let mut take = true;
        if comptime![gated] {
            take = gate[0] != F::new(0.0);
        }
        if take {
            let g = grad[i];
            // Without weight decay `decay` is 1: the product is exact, as if skipped.
            let t = theta[i] * decay;
            let m = exp_avg[i] + (g - exp_avg[i]) * one_minus_beta1;
            let v = exp_avg_sq[i] * beta2 + (g * g) * one_minus_beta2;
            let denom = F::sqrt(v) * inv_bias2_sqrt + eps;
            theta_out[i] = t - (m / denom) * step_size;
            exp_avg_out[i] = m;
            exp_avg_sq_out[i] = v;
        } else {
            theta_out[i] = theta[i];
            exp_avg_out[i] = exp_avg[i];
            exp_avg_sq_out[i] = exp_avg_sq[i];
        }
    }
}

#[cube(launch_unchecked)]
fn lerp_kernel<F: Float + CubeElement>(
    avg: &Array<F>,
    theta: &Array<F>,
    out: &mut Array<F>,
    n: u32,
    weight: F,
    gate: &Array<F>,
    #[comptime] gated: bool,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let mut take = true;
        if comptime![gated] {
            take = gate[0] != F::new(0.0);
        }
        if take {
            out[i] = avg[i] + (theta[i] - avg[i]) * weight;
        } else {
            out[i] = avg[i];
        }
    }
}

impl<R: GpuRuntime> OptimizerOps for Gpu<R> {
    fn adamw_step(
        theta: &GpuStorage<R>,
        grad: &GpuStorage<R>,
        exp_avg: &GpuStorage<R>,
        exp_avg_sq: &GpuStorage<R>,
        s: &AdamWScalars,
        gate: Option<&GpuStorage<R>>,
    ) -> AdamWUpdate<GpuStorage<R>> {
        let n = theta.len;
        let out = AdamWUpdate {
            theta: theta.uninit_like(n),
            exp_avg: theta.uninit_like(n),
            exp_avg_sq: theta.uninit_like(n),
        };
        if n == 0 {
            return out;
        }
        let (count, dim) = grid(theta.client(), n);
        theta.device.counters.launch();
        with_float!(theta.dtype, F => unsafe {
            adamw_kernel::launch_unchecked::<F, R>(
                theta.client(), count, dim,
                theta.arg(), grad.arg(), exp_avg.arg(), exp_avg_sq.arg(),
                out.theta.arg(), out.exp_avg.arg(), out.exp_avg_sq.arg(),
                u32_of(n),
                s.decay.unwrap_or(1.0) as F,
                (1.0 - s.beta1) as F,
                s.beta2 as F,
                (1.0 - s.beta2) as F,
                s.inv_bias2_sqrt as F,
                s.eps as F,
                s.step_size as F,
                // Ungated, the kernel never reads it: any buffer of the dtype will do.
                gate.unwrap_or(theta).arg(),
                gate.is_some(),
            )
        });
        out
    }

    fn lerp(
        avg: &GpuStorage<R>,
        theta: &GpuStorage<R>,
        weight: f64,
        gate: Option<&GpuStorage<R>>,
    ) -> GpuStorage<R> {
        let n = avg.len;
        let out = avg.uninit_like(n);
        if n == 0 {
            return out;
        }
        let (count, dim) = grid(avg.client(), n);
        avg.device.counters.launch();
        with_float!(avg.dtype, F => unsafe {
            lerp_kernel::launch_unchecked::<F, R>(
                avg.client(), count, dim, avg.arg(), theta.arg(), out.arg(), u32_of(n),
                weight as F, gate.unwrap_or(avg).arg(), gate.is_some(),
            )
        });
        out
    }
}
