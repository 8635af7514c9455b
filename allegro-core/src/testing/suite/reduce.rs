//! Checks of sums and means.

use super::{assert_gradients, assert_values, multi_indices, random};
use crate::backend::Backend;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// `sum` over each axis of a rank-3 tensor (with and without keepdim), `mean`,
/// `sum_all`.
pub fn sums<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(31);
    let shape = [2, 3, 4];
    let x = random::<B>(&shape, -1.0, 1.0, &mut rng, device);
    let xv = x.to_vec_f64();
    for axis in 0..3 {
        let mut out_shape = shape.to_vec();
        out_shape[axis] = 1;
        let mut want = vec![0.0; 24 / shape[axis]];
        for (k, idx) in multi_indices(&shape).iter().enumerate() {
            let mut o = idx.clone();
            o[axis] = 0;
            want[super::offset(&o, &out_shape)] += xv[k];
        }
        for keepdim in [false, true] {
            let f = move |xs: &[Tensor<B>]| xs[0].sum(axis, keepdim);
            let name = format!("sum axis {axis} keepdim {keepdim}");
            assert_values(&name, &f, &[x.clone()], &want);
            assert_gradients(&name, &f, &[x.clone()]);
        }
        let mean: Vec<f64> = want.iter().map(|v| v / shape[axis] as f64).collect();
        let f = move |xs: &[Tensor<B>]| xs[0].mean(axis, false);
        assert_values("mean", &f, &[x.clone()], &mean);
    }
    let total: f64 = xv.iter().sum();
    let f = |xs: &[Tensor<B>]| xs[0].sum_all().square();
    assert_values("sum_all²", &f, &[x.clone()], &[total * total]);
    assert_gradients("sum_all²", &f, &[x.clone()]);
    let f = |xs: &[Tensor<B>]| xs[0].mean_all();
    assert_values("mean_all", &f, &[x], &[total / 24.0]);
}

/// `sum_to_shape` is the adjoint of `broadcast_to`.
pub fn sum_to_shape_is_adjoint<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(32);
    let x = random::<B>(&[3, 1], -1.0, 1.0, &mut rng, device);
    let y = random::<B>(&[2, 3, 4], -1.0, 1.0, &mut rng, device);
    let lhs = x.broadcast_to(&[2, 3, 4]).mul(&y).sum_all().item();
    let rhs = x.mul(&y.sum_to_shape(&[3, 1])).sum_all().item();
    assert!(
        (lhs - rhs).abs() < 1e-13,
        "⟨broadcast x, y⟩ = {lhs}, ⟨x, sum_to y⟩ = {rhs}"
    );
    let f = |xs: &[Tensor<B>]| xs[0].sum_to_shape(&[3, 1]).sin();
    assert_gradients("sum_to_shape", &f, &[y]);
}

/// Long sums (parallel, chunked) are deterministic and accurate.
pub fn long_sums<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(33);
    let x = random::<B>(&[50_000, 3], -1.0, 1.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let s = x.sum(0, false).to_vec_f64();
    for c in 0..3 {
        let want: f64 = (0..50_000).map(|r| xv[r * 3 + c]).sum();
        assert!((s[c] - want).abs() < 1e-9, "column sum {c}");
    }
    let a = x.sum_all().item();
    let b = x.sum_all().item();
    assert_eq!(a.to_bits(), b.to_bits(), "sum_all is deterministic");
    let rows = x.sum(1, false).to_vec_f64();
    for r in (0..50_000).step_by(4999) {
        assert!((rows[r] - (xv[3 * r] + xv[3 * r + 1] + xv[3 * r + 2])).abs() < 1e-15);
    }
}
