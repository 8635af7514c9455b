//! Checks of the matrix product: every transpose flag, batched and shared operands,
//! and chains with nonlinearities.

use super::{assert_gradients, assert_values, random};
use crate::backend::Backend;
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;
use crate::testing::tolerance::all_close;

/// `op(A)[b] · op(B)[b]` by a triple loop. Shapes as stored; `None` batch = shared.
fn reference(
    a: &[f64],
    b: &[f64],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    flags: (bool, bool, bool, bool),
) -> Vec<f64> {
    let (ab, bb, ta, tb) = flags;
    let mut out = vec![0.0; batch * m * n];
    for p in 0..batch {
        let ao = if ab { p * m * k } else { 0 };
        let bo = if bb { p * k * n } else { 0 };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for l in 0..k {
                    let av = if ta {
                        a[ao + l * m + i]
                    } else {
                        a[ao + i * k + l]
                    };
                    let bv = if tb {
                        b[bo + j * k + l]
                    } else {
                        b[bo + l * n + j]
                    };
                    s += av * bv;
                }
                out[(p * m + i) * n + j] = s;
            }
        }
    }
    out
}

/// All transpose flags × batched/shared operands, values and gradients.
pub fn matmul_variants<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(21);
    let (batch, m, k, n) = (2, 3, 4, 5);
    for ta in [false, true] {
        for tb in [false, true] {
            for (ab, bb) in [(false, false), (true, true), (true, false), (false, true)] {
                let sa = if ta { [k, m] } else { [m, k] };
                let sb = if tb { [n, k] } else { [k, n] };
                let a_shape: Vec<usize> = if ab {
                    vec![batch, sa[0], sa[1]]
                } else {
                    sa.to_vec()
                };
                let b_shape: Vec<usize> = if bb {
                    vec![batch, sb[0], sb[1]]
                } else {
                    sb.to_vec()
                };
                let a = random::<B>(&a_shape, -1.0, 1.0, &mut rng, device);
                let b = random::<B>(&b_shape, -1.0, 1.0, &mut rng, device);
                let nb = if ab || bb { batch } else { 1 };
                let want = reference(
                    &a.to_vec_f64(),
                    &b.to_vec_f64(),
                    nb,
                    m,
                    k,
                    n,
                    (ab, bb, ta, tb),
                );
                let f = move |xs: &[Tensor<B>]| xs[0].matmul_t(&xs[1], ta, tb);
                let name = format!("matmul ta={ta} tb={tb} a_batched={ab} b_batched={bb}");
                assert_values(&name, &f, &[a.clone(), b.clone()], &want);
                assert_gradients(&name, &f, &[a, b]);
            }
        }
    }
}

/// `matmul` of a rank-3 batch with a shared rank-2 matrix equals per-entry products.
pub fn matmul_batched_by_shared<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(22);
    let a = random::<B>(&[3, 2, 4], -1.0, 1.0, &mut rng, device);
    let w = random::<B>(&[4, 6], -1.0, 1.0, &mut rng, device);
    let want = reference(
        &a.to_vec_f64(),
        &w.to_vec_f64(),
        3,
        2,
        4,
        6,
        (true, false, false, false),
    );
    let f = |xs: &[Tensor<B>]| xs[0].matmul(&xs[1]);
    assert_values("matmul [b,m,k]·[k,n]", &f, &[a.clone(), w.clone()], &want);
    assert_gradients("matmul [b,m,k]·[k,n]", &f, &[a, w]);
}

/// A two-layer perceptron `silu(x W1 + b1) W2`: the chain force training differentiates
/// twice.
pub fn mlp_chain<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(23);
    let x = random::<B>(&[4, 3], -1.0, 1.0, &mut rng, device);
    let w1 = random::<B>(&[3, 5], -1.0, 1.0, &mut rng, device);
    let b1 = random::<B>(&[5], -0.5, 0.5, &mut rng, device);
    let w2 = random::<B>(&[5, 2], -1.0, 1.0, &mut rng, device);
    let f = |xs: &[Tensor<B>]| {
        xs[0]
            .matmul(&xs[1])
            .add(&xs[2])
            .silu()
            .matmul(&xs[3])
            .tanh()
    };
    assert_gradients("mlp chain", &f, &[x, w1, b1, w2]);
}

/// Large products take faer's threaded path; compare entries with a dot product.
pub fn matmul_large<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(24);
    let (m, k, n) = (300, 200, 100);
    let a = random::<B>(&[m, k], -1.0, 1.0, &mut rng, device);
    let b = random::<B>(&[k, n], -1.0, 1.0, &mut rng, device);
    let c = a.matmul(&b).to_vec_f64();
    let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
    for &(i, j) in &[(0, 0), (17, 33), (299, 99), (150, 50)] {
        let want: f64 = (0..k).map(|l| av[i * k + l] * bv[l * n + j]).sum();
        assert!(
            (c[i * n + j] - want).abs() < 1e-12,
            "matmul large at ({i},{j})"
        );
    }
}

/// Products large enough for a backend's wide-tile path (here `m` = 4500 rows, `n` = 200
/// columns, `k` = 70: none a multiple of a tile), every transpose flag, f64 and f32.
pub fn matmul_wide<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(25);
    let (m, k, n) = (4500, 70, 200);
    for ta in [false, true] {
        for tb in [false, true] {
            let a_shape = if ta { [k, m] } else { [m, k] };
            let b_shape = if tb { [n, k] } else { [k, n] };
            let a = random::<B>(&a_shape, -1.0, 1.0, &mut rng, device);
            let b = random::<B>(&b_shape, -1.0, 1.0, &mut rng, device);
            let want = reference(
                &a.to_vec_f64(),
                &b.to_vec_f64(),
                1,
                m,
                k,
                n,
                (false, false, ta, tb),
            );
            let name = format!("wide matmul ta={ta} tb={tb}");
            let got = a.matmul_t(&b, ta, tb).to_vec_f64();
            if let Err(e) = all_close(&got, &want, 1e-12, 1e-12) {
                panic!("{name} (f64): {e}");
            }
            // f32: sums of 70 products of order 1 carry ~1e-6 absolute rounding.
            let (a32, b32) = (a.cast(DType::F32), b.cast(DType::F32));
            let got32 = a32.matmul_t(&b32, ta, tb).to_vec_f64();
            if let Err(e) = all_close(&got32, &want, 1e-5, 2e-5) {
                panic!("{name} (f32): {e}");
            }
        }
    }
}
