//! Checks of the fused channel contraction and its weight gradient: values against a
//! plain loop, gradients of first and second order against finite differences.

use std::sync::Arc;

use super::{assert_gradients, assert_values, random};
use crate::backend::{Backend, ContractEntry, ContractionSpec};
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

fn random_spec(rng: &mut SplitMix64) -> Arc<ContractionSpec> {
    let dims = [4usize, 3, 5];
    let entries = (0..17)
        .map(|_| ContractEntry {
            slots: [
                rng.below(4) as u32,
                rng.below(3) as u32,
                rng.below(5) as u32,
            ],
            path: rng.below(3) as u32,
            coeff: rng.uniform_in(-1.0, 1.0),
        })
        .collect();
    Arc::new(ContractionSpec {
        entries,
        dims,
        num_paths: 3,
    })
}

/// The contraction by a plain loop.
fn reference(
    x: &[f64],
    y: &[f64],
    w: &[f64],
    e: usize,
    u: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> Vec<f64> {
    let [dx, dy, dout] = spec.dims;
    let mut out = vec![0.0; e * u * dout];
    for z in 0..e {
        for c in 0..u {
            for en in &spec.entries {
                let [i, j, k] = en.slots.map(|s| s as usize);
                let wv = w[(if per_channel { c } else { 0 }) * spec.num_paths + en.path as usize];
                out[(z * u + c) * dout + k] +=
                    x[(z * u + c) * dx + i] * y[(z * u + c) * dy + j] * wv * en.coeff;
            }
        }
    }
    out
}

/// `channel_contract`: values, and gradients with respect to `x`, `y` and `w`.
pub fn channel_contract<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(81);
    let spec = random_spec(&mut rng);
    let (e, u) = (3, 2);
    for per_channel in [true, false] {
        let x = random::<B>(&[e, u, 4], -1.0, 1.0, &mut rng, device);
        let y = random::<B>(&[e, u, 3], -1.0, 1.0, &mut rng, device);
        let w = random::<B>(
            &[if per_channel { u } else { 1 }, 3],
            -1.0,
            1.0,
            &mut rng,
            device,
        );
        let want = reference(
            &x.to_vec_f64(),
            &y.to_vec_f64(),
            &w.to_vec_f64(),
            e,
            u,
            &spec,
            per_channel,
        );
        let s = spec.clone();
        let f = move |xs: &[Tensor<B>]| {
            Tensor::channel_contract(&xs[0], &xs[1], &xs[2], &s, per_channel)
        };
        let name = format!("channel_contract per_channel={per_channel}");
        assert_values(&name, &f, &[x.clone(), y.clone(), w.clone()], &want);
        assert_gradients(&name, &f, &[x, y, w]);
    }
}

/// `channel_contract_weight_grad` equals the autodiff weight gradient of the composed
/// loop, and is itself differentiable.
pub fn channel_contract_weight_grad<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(82);
    let spec = random_spec(&mut rng);
    let (e, u) = (4, 3);
    for per_channel in [true, false] {
        let x = random::<B>(&[e, u, 4], -1.0, 1.0, &mut rng, device);
        let y = random::<B>(&[e, u, 3], -1.0, 1.0, &mut rng, device);
        let g = random::<B>(&[e, u, 5], -1.0, 1.0, &mut rng, device);
        let (xv, yv, gv) = (x.to_vec_f64(), y.to_vec_f64(), g.to_vec_f64());
        let rows = if per_channel { u } else { 1 };
        let mut want = vec![0.0; rows * 3];
        for z in 0..e {
            for c in 0..u {
                for en in &spec.entries {
                    let [i, j, k] = en.slots.map(|s| s as usize);
                    let r = if per_channel { c } else { 0 };
                    want[r * 3 + en.path as usize] += xv[(z * u + c) * 4 + i]
                        * yv[(z * u + c) * 3 + j]
                        * gv[(z * u + c) * 5 + k]
                        * en.coeff;
                }
            }
        }
        let s = spec.clone();
        let f = move |xs: &[Tensor<B>]| {
            Tensor::channel_contract_weight_grad(&xs[0], &xs[1], &xs[2], &s, per_channel)
        };
        let name = format!("channel_contract_weight_grad per_channel={per_channel}");
        assert_values(&name, &f, &[x.clone(), y.clone(), g.clone()], &want);
        assert_gradients(&name, &f, &[x, y, g]);
    }
}

/// Many edges (threaded paths) agree with the loop.
pub fn channel_contract_large<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(83);
    let spec = random_spec(&mut rng);
    let (e, u) = (700, 4);
    let x = random::<B>(&[e, u, 4], -1.0, 1.0, &mut rng, device);
    let y = random::<B>(&[e, u, 3], -1.0, 1.0, &mut rng, device);
    let w = random::<B>(&[u, 3], -1.0, 1.0, &mut rng, device);
    let got = Tensor::channel_contract(&x, &y, &w, &spec, true).to_vec_f64();
    let want = reference(
        &x.to_vec_f64(),
        &y.to_vec_f64(),
        &w.to_vec_f64(),
        e,
        u,
        &spec,
        true,
    );
    crate::testing::tolerance::all_close(&got, &want, 1e-12, 1e-14).unwrap();
    let g = random::<B>(&[e, u, 5], -1.0, 1.0, &mut rng, device);
    let a = Tensor::channel_contract_weight_grad(&x, &y, &g, &spec, true).to_vec_f64();
    let b = Tensor::channel_contract_weight_grad(&x, &y, &g, &spec, true).to_vec_f64();
    assert_eq!(a, b, "weight gradient is deterministic");
}
