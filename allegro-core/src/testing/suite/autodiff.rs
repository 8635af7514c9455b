//! Checks of the autodiff machinery itself: recording, pruning, higher orders, custom
//! ops.

use super::{assert_gradients, random};
use crate::autodiff::{grad, no_grad};
use crate::backend::Backend;
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// Inside `no_grad`, and on constants, nothing is recorded.
pub fn no_graph_without_tracking<B: Backend>(device: &B::Device) {
    let x = Tensor::<B>::ones(&[3], DType::F64, device);
    assert!(!x.exp().is_tracked(), "op on a constant is not tracked");
    let t = x.tracked();
    assert!(t.exp().is_tracked(), "op on a leaf is tracked");
    assert!(!no_grad(|| t.exp()).is_tracked(), "no_grad records nothing");
    let g = grad(&[&t.square().sum_all()], None, &[&t], false);
    assert!(!g[0].is_tracked(), "create_graph = false gives constants");
    let g = grad(&[&t.square().sum_all()], None, &[&t], true);
    assert!(
        g[0].is_tracked(),
        "create_graph = true gives tracked gradients"
    );
}

/// Derivatives of `Σ x⁴` to third order: `4x³`, `12x²`, `24x`.
pub fn third_order<B: Backend>(device: &B::Device) {
    let x = Tensor::<B>::from_f64(&[0.5, -1.5, 2.0], &[3], DType::F64, device)
        .unwrap()
        .tracked();
    let y = x.powf(4.0).sum_all();
    let d1 = grad(&[&y], None, &[&x], true).remove(0);
    let d2 = grad(&[&d1.sum_all()], None, &[&x], true).remove(0);
    let d3 = grad(&[&d2.sum_all()], None, &[&x], false).remove(0);
    let xv = [0.5f64, -1.5, 2.0];
    for k in 0..3 {
        assert!((d1.to_vec_f64()[k] - 4.0 * xv[k].powi(3)).abs() < 1e-12);
        assert!((d2.to_vec_f64()[k] - 12.0 * xv[k].powi(2)).abs() < 1e-12);
        assert!((d3.to_vec_f64()[k] - 24.0 * xv[k]).abs() < 1e-12);
    }
}

/// A gradient with respect to an input the output does not use is zero; gradients with
/// respect to an intermediate tensor work; a tensor used twice accumulates.
pub fn unused_intermediate_and_reuse<B: Backend>(device: &B::Device) {
    let a = Tensor::<B>::from_f64(&[1.0, 2.0], &[2], DType::F64, device)
        .unwrap()
        .tracked();
    let b = Tensor::<B>::from_f64(&[3.0, 4.0], &[2], DType::F64, device)
        .unwrap()
        .tracked();
    let h = a.mul_scalar(2.0);
    let y = h.mul(&h).sum_all();
    let g = grad(&[&y], None, &[&a, &b, &h], false);
    assert_eq!(g[0].to_vec_f64(), vec![8.0, 16.0], "dy/da = 8a");
    assert_eq!(g[1].to_vec_f64(), vec![0.0, 0.0], "b unused");
    assert_eq!(g[2].to_vec_f64(), vec![4.0, 8.0], "dy/dh = 2h");
}

/// A fused op registered with its own forward and a backward made of ops differentiates
/// to second order like the composed version.
pub fn custom_op<B: Backend>(device: &B::Device) {
    // f(x) = x·sin(x), fused; f'(x) = sin x + x cos x.
    let fused = |x: &Tensor<B>| {
        Tensor::custom_op(
            "x_sin_x",
            &[x],
            |xs| xs[0].mul(&xs[0].sin()),
            |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
                let x = &inputs[0];
                vec![Some(g.mul(&x.sin().add(&x.mul(&x.cos()))))]
            },
        )
    };
    let mut rng = SplitMix64::new(61);
    let x = random::<B>(&[5], -2.0, 2.0, &mut rng, device);
    let y = fused(&x.tracked());
    assert_eq!(
        y.node().map(|n| n.name()),
        Some("x_sin_x"),
        "one node for the fused op"
    );
    let composed = x.mul(&x.sin()).to_vec_f64();
    assert_eq!(fused(&x).to_vec_f64(), composed);
    let f = move |xs: &[Tensor<B>]| fused(&xs[0]);
    assert_gradients("custom op", &f, &[x]);
}
