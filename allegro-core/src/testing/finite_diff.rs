//! Gradient checks against central finite differences, in f64.
//!
//! For `f: inputs → tensor`, both checks use the scalar `L(x) = ⟨f(x), w⟩` with fixed
//! random `w`, so every output element is exercised.
//! - [`check_gradients`]: autodiff `∇L` vs `(L(x + h e_j) − L(x − h e_j)) / 2h`.
//! - [`check_second_order`]: with random `v`, `M(x) = ⟨∇L(x), v⟩` is differentiated by
//!   autodiff through the backward pass (`create_graph`), and compared with central
//!   differences of `M` — the "gradient of ⟨∇f, v⟩" of force training.

use super::tolerance::{FD_GRAD_ATOL, FD_GRAD_RTOL, FD_STEP};
use crate::autodiff::{grad, no_grad};
use crate::backend::Backend;
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// A function of several tensors, as the checks take it.
pub type TestFn<'a, B> = dyn Fn(&[Tensor<B>]) -> Tensor<B> + 'a;

fn random_like<B: Backend>(t: &Tensor<B>, rng: &mut SplitMix64) -> Tensor<B> {
    let v: Vec<f64> = (0..t.numel()).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    Tensor::from_f64(&v, t.shape(), DType::F64, &t.device()).expect("shape matches")
}

fn weighted_sum<B: Backend>(y: &Tensor<B>, w: &Tensor<B>) -> Tensor<B> {
    y.mul(w).sum_all()
}

/// `∇L` at `inputs` by autodiff (first order, no graph).
fn autodiff_grad<B: Backend>(
    f: &TestFn<'_, B>,
    inputs: &[Tensor<B>],
    w: &Tensor<B>,
) -> Vec<Vec<f64>> {
    let xs: Vec<Tensor<B>> = inputs.iter().map(|x| x.tracked()).collect();
    let l = weighted_sum(&f(&xs), w);
    let refs: Vec<&Tensor<B>> = xs.iter().collect();
    grad(&[&l], None, &refs, false)
        .iter()
        .map(|g| g.to_vec_f64())
        .collect()
}

/// Central differences of a scalar function of the inputs.
fn central_differences<B: Backend>(
    scalar: &dyn Fn(&[Tensor<B>]) -> f64,
    inputs: &[Tensor<B>],
) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        let base = x.to_vec_f64();
        let mut gi = Vec::with_capacity(base.len());
        for j in 0..base.len() {
            let h = FD_STEP * base[j].abs().max(1.0);
            let eval = |delta: f64| {
                let mut v = base.clone();
                v[j] += delta;
                let mut xs = inputs.to_vec();
                xs[i] = Tensor::from_f64(&v, x.shape(), DType::F64, &x.device())
                    .expect("shape matches");
                scalar(&xs)
            };
            gi.push((eval(h) - eval(-h)) / (2.0 * h));
        }
        out.push(gi);
    }
    out
}

fn compare(auto: &[Vec<f64>], fd: &[Vec<f64>], what: &str) -> Result<(), String> {
    let scale = fd.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, n)) in auto.iter().zip(fd).enumerate() {
        for (j, (&a, &n)) in a.iter().zip(n).enumerate() {
            if (a - n).abs() > FD_GRAD_ATOL * scale + FD_GRAD_RTOL * n.abs().max(1e-3 * scale)
                || !a.is_finite()
            {
                return Err(format!(
                    "{what}: input {i} element {j}: autodiff {a:e}, finite differences {n:e}"
                ));
            }
        }
    }
    Ok(())
}

/// Checks the autodiff gradient of `f` at `inputs` (f64 tensors) against central
/// differences.
pub fn check_gradients<B: Backend>(
    f: &TestFn<'_, B>,
    inputs: &[Tensor<B>],
    seed: u64,
) -> Result<(), String> {
    assert!(
        inputs.iter().all(|x| x.dtype() == DType::F64),
        "finite-difference checks run in f64"
    );
    let mut rng = SplitMix64::new(seed);
    let w = random_like(&no_grad(|| f(inputs)), &mut rng);
    let auto = autodiff_grad(f, inputs, &w);
    let scalar = |xs: &[Tensor<B>]| no_grad(|| weighted_sum(&f(xs), &w).item());
    compare(&auto, &central_differences(&scalar, inputs), "gradient")
}

/// Checks the second-order gradient: autodiff `∇⟨∇L, v⟩` against central differences of
/// `⟨∇L, v⟩` (whose inner gradient is itself autodiff, checked by [`check_gradients`]).
pub fn check_second_order<B: Backend>(
    f: &TestFn<'_, B>,
    inputs: &[Tensor<B>],
    seed: u64,
) -> Result<(), String> {
    assert!(
        inputs.iter().all(|x| x.dtype() == DType::F64),
        "finite-difference checks run in f64"
    );
    let mut rng = SplitMix64::new(seed);
    let w = random_like(&no_grad(|| f(inputs)), &mut rng);
    let vs: Vec<Tensor<B>> = inputs.iter().map(|x| random_like(x, &mut rng)).collect();
    let m_of = |xs: &[Tensor<B>], create_graph: bool| -> Tensor<B> {
        let l = weighted_sum(&f(xs), &w);
        let refs: Vec<&Tensor<B>> = xs.iter().collect();
        let gs = grad(&[&l], None, &refs, create_graph);
        gs.iter()
            .zip(&vs)
            .map(|(g, v)| g.mul(v).sum_all())
            .reduce(|a, b| a.add(&b))
            .expect("inputs")
    };
    let xs: Vec<Tensor<B>> = inputs.iter().map(|x| x.tracked()).collect();
    let m = m_of(&xs, true);
    let refs: Vec<&Tensor<B>> = xs.iter().collect();
    let auto: Vec<Vec<f64>> = grad(&[&m], None, &refs, false)
        .iter()
        .map(|g| g.to_vec_f64())
        .collect();
    let scalar = |xs: &[Tensor<B>]| {
        let xs: Vec<Tensor<B>> = xs.iter().map(|x| x.tracked()).collect();
        m_of(&xs, false).item()
    };
    compare(
        &auto,
        &central_differences(&scalar, inputs),
        "second-order gradient",
    )
}
