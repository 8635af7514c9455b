//! Checks of the fused optimizer updates ([`crate::backend::OptimizerOps`]): the
//! backend's version, its tensor-op reference and a plain f64 loop agree, in f64 and
//! f32, on lengths around the launch block. They act on buffers outside autodiff (an
//! update is never differentiated), so there are no gradients to check.

use super::random;
use crate::backend::ops::optimizer::{adamw_step_reference, lerp_reference};
use crate::backend::{AdamWScalars, Backend};
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;
use crate::testing::tolerance::all_close;

/// Relative and absolute tolerance of each dtype (the fused kernel may contract
/// multiply-adds; θ minus its step cancels, hence an absolute part at the values' O(1)).
fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-12, 1e-14),
        DType::F32 => (1e-5, 1e-6),
    }
}

/// The update by a plain f64 loop.
fn adamw_loop(t: &[f64], g: &[f64], m: &[f64], v: &[f64], s: &AdamWScalars) -> [Vec<f64>; 3] {
    let mut out = [vec![], vec![], vec![]];
    for i in 0..t.len() {
        let theta = t[i] * s.decay.unwrap_or(1.0);
        let m1 = m[i] + (g[i] - m[i]) * (1.0 - s.beta1);
        let v1 = s.beta2 * v[i] + (1.0 - s.beta2) * g[i] * g[i];
        let denom = v1.sqrt() * s.inv_bias2_sqrt + s.eps;
        out[0].push(theta - m1 / denom * s.step_size);
        out[1].push(m1);
        out[2].push(v1);
    }
    out
}

/// `adamw_step` of the backend and of the reference against the loop.
pub fn adamw_step<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(61);
    for (n, decay) in [
        (1, Some(0.999)),
        (255, None),
        (1027, Some(1.0 - 2e-3 * 1e-2)),
    ] {
        let s = AdamWScalars {
            decay,
            beta1: 0.9,
            beta2: 0.999,
            inv_bias2_sqrt: 1.0 / (1.0f64 - 0.999f64.powi(3)).sqrt(),
            eps: 1e-8,
            step_size: 2e-3 / (1.0 - 0.9f64.powi(3)),
        };
        let t = random::<B>(&[n], -1.0, 1.0, &mut rng, device);
        let g = random::<B>(&[n], -1.0, 1.0, &mut rng, device);
        let m = random::<B>(&[n], -0.1, 0.1, &mut rng, device);
        let v = random::<B>(&[n], 0.0, 0.01, &mut rng, device);
        let host = [&t, &g, &m, &v].map(|x| x.to_vec_f64());
        let want = adamw_loop(&host[0], &host[1], &host[2], &host[3], &s);
        for dtype in [DType::F64, DType::F32] {
            // The inputs rounded to the dtype, and the loop on those rounded values.
            let [t, g, m, v] = [&t, &g, &m, &v].map(|x| x.cast(dtype));
            let want = match dtype {
                DType::F64 => want.clone(),
                DType::F32 => {
                    let r = [&t, &g, &m, &v].map(|x| x.to_vec_f64());
                    adamw_loop(&r[0], &r[1], &r[2], &r[3], &s)
                }
            };
            let [go, hold] = [1.0, 0.0].map(|x| gate::<B>(x, dtype, device));
            let fused = B::adamw_step(t.storage(), g.storage(), m.storage(), v.storage(), &s, None);
            let plain = adamw_step_reference::<B>(
                t.storage(),
                g.storage(),
                m.storage(),
                v.storage(),
                &s,
                None,
            );
            let fused_go = B::adamw_step(
                t.storage(),
                g.storage(),
                m.storage(),
                v.storage(),
                &s,
                Some(go.storage()),
            );
            let plain_go = adamw_step_reference::<B>(
                t.storage(),
                g.storage(),
                m.storage(),
                v.storage(),
                &s,
                Some(go.storage()),
            );
            for (way, u) in [
                ("fused", fused),
                ("reference", plain),
                ("fused, gate 1", fused_go),
                ("reference, gate 1", plain_go),
            ] {
                let got = [u.theta, u.exp_avg, u.exp_avg_sq]
                    .map(|x| Tensor::<B>::from_storage(x, &[n]).to_vec_f64());
                for (k, what) in ["theta", "exp_avg", "exp_avg_sq"].iter().enumerate() {
                    if let Err(e) = all_close(&got[k], &want[k], tol(dtype).0, tol(dtype).1) {
                        panic!("adamw_step {way} {what} (n {n}, {dtype:?}, {decay:?}): {e}");
                    }
                }
            }
            // Gate 0: the step is not taken, whatever the gradient holds (NaN here).
            let nan = g.mul_scalar(f64::NAN);
            let inputs = [&t, &m, &v].map(|x| x.to_vec_f64());
            let fused = B::adamw_step(
                t.storage(),
                nan.storage(),
                m.storage(),
                v.storage(),
                &s,
                Some(hold.storage()),
            );
            let plain = adamw_step_reference::<B>(
                t.storage(),
                nan.storage(),
                m.storage(),
                v.storage(),
                &s,
                Some(hold.storage()),
            );
            for (way, u) in [("fused", fused), ("reference", plain)] {
                let got = [u.theta, u.exp_avg, u.exp_avg_sq]
                    .map(|x| Tensor::<B>::from_storage(x, &[n]).to_vec_f64());
                assert_eq!(got, inputs, "adamw_step {way}, gate 0 (n {n}, {dtype:?})");
            }
        }
    }
}

/// A one-element gate of `dtype` holding `value`.
fn gate<B: Backend>(value: f64, dtype: DType, device: &B::Device) -> Tensor<B> {
    Tensor::<B>::from_f64(&[value], &[1], DType::F64, device)
        .expect("one value")
        .cast(dtype)
}

/// `lerp` of the backend and of the reference against the loop.
pub fn lerp<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(62);
    for (n, w) in [(1, 1.0), (300, 0.1), (1025, 1.0 - 0.999)] {
        let a = random::<B>(&[n], -1.0, 1.0, &mut rng, device);
        let t = random::<B>(&[n], -1.0, 1.0, &mut rng, device);
        for dtype in [DType::F64, DType::F32] {
            let [a, t] = [&a, &t].map(|x| x.cast(dtype));
            let (av, tv) = (a.to_vec_f64(), t.to_vec_f64());
            let want: Vec<f64> = av.iter().zip(&tv).map(|(a, t)| a + (t - a) * w).collect();
            let [go, hold] = [1.0, 0.0].map(|x| gate::<B>(x, dtype, device));
            let (go, hold) = (Some(go.storage()), Some(hold.storage()));
            for (way, out) in [
                ("fused", B::lerp(a.storage(), t.storage(), w, None)),
                (
                    "reference",
                    lerp_reference::<B>(a.storage(), t.storage(), w, None),
                ),
                ("fused, gate 1", B::lerp(a.storage(), t.storage(), w, go)),
                (
                    "reference, gate 1",
                    lerp_reference::<B>(a.storage(), t.storage(), w, go),
                ),
            ] {
                let got = Tensor::<B>::from_storage(out, &[n]).to_vec_f64();
                if let Err(e) = all_close(&got, &want, tol(dtype).0, tol(dtype).1) {
                    panic!("lerp {way} (n {n}, {dtype:?}, weight {w}): {e}");
                }
            }
            // Gate 0: the average stays, even against weights that are NaN.
            let nan = t.mul_scalar(f64::NAN);
            for (way, out) in [
                ("fused", B::lerp(a.storage(), nan.storage(), w, hold)),
                (
                    "reference",
                    lerp_reference::<B>(a.storage(), nan.storage(), w, hold),
                ),
            ] {
                let got = Tensor::<B>::from_storage(out, &[n]).to_vec_f64();
                assert_eq!(got, av, "lerp {way}, gate 0 (n {n}, {dtype:?})");
            }
        }
    }
}
