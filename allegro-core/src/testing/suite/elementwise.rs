//! Checks of elementwise ops and composed nonlinearities.

use super::{assert_gradients, assert_values, multi_indices, offset, random};
use crate::backend::{Backend, UnaryOp};
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Each unary map: value in f64 and f32 against its formula; gradients of order 1 and 2.
pub fn unary_ops<B: Backend>(device: &B::Device) {
    type Case = (UnaryOp, fn(f64) -> f64, f64, f64);
    let cases: Vec<Case> = vec![
        (UnaryOp::Neg, |x| -x, -2.0, 2.0),
        (UnaryOp::Exp, f64::exp, -2.0, 2.0),
        (UnaryOp::Log, f64::ln, 0.5, 3.0),
        (UnaryOp::Sqrt, f64::sqrt, 0.5, 3.0),
        (UnaryOp::Recip, |x| 1.0 / x, 0.5, 3.0),
        (UnaryOp::Square, |x| x * x, -2.0, 2.0),
        (UnaryOp::Abs, f64::abs, 0.2, 2.0),
        (UnaryOp::Sin, f64::sin, -3.0, 3.0),
        (UnaryOp::Cos, f64::cos, -3.0, 3.0),
        (UnaryOp::Tanh, f64::tanh, -2.0, 2.0),
        (UnaryOp::Sigmoid, sigmoid, -4.0, 4.0),
        (UnaryOp::Silu, |x| x * sigmoid(x), -4.0, 4.0),
        (
            UnaryOp::SiluGrad,
            |x| sigmoid(x) * (1.0 + x * (1.0 - sigmoid(x))),
            -4.0,
            4.0,
        ),
        (
            UnaryOp::SiluGradGrad,
            |x| {
                let s = sigmoid(x);
                s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
            },
            -4.0,
            4.0,
        ),
        (UnaryOp::Softplus, softplus, -4.0, 4.0),
        (UnaryOp::Erf, libm::erf, -2.0, 2.0),
        (UnaryOp::Powf(2.5), |x| x.powf(2.5), 0.5, 2.0),
        (UnaryOp::Powf(-1.5), |x| x.powf(-1.5), 0.5, 2.0),
        (UnaryOp::AddScalar(0.75), |x| x + 0.75, -2.0, 2.0),
        (UnaryOp::MulScalar(-1.25), |x| -1.25 * x, -2.0, 2.0),
    ];
    let mut rng = SplitMix64::new(1);
    for (op, reference, lo, hi) in cases {
        let x = random::<B>(&[3, 5], lo, hi, &mut rng, device);
        let want: Vec<f64> = x.to_vec_f64().iter().map(|&v| reference(v)).collect();
        let name = format!("{op:?}");
        let f = move |xs: &[Tensor<B>]| xs[0].unary(op);
        assert_values(&name, &f, &[x.clone()], &want);
        assert_gradients(&name, &f, &[x]);
    }
}

/// Sign and step: values, and zero gradients.
pub fn piecewise_constant_ops<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(2);
    let x = random::<B>(&[9], -2.0, 2.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let sign: Vec<f64> = xv
        .iter()
        .map(|&v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
        .collect();
    let step: Vec<f64> = xv
        .iter()
        .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
        .collect();
    assert_values(
        "sign",
        &|xs: &[Tensor<B>]| xs[0].sign(),
        &[x.clone()],
        &sign,
    );
    assert_values(
        "step",
        &|xs: &[Tensor<B>]| xs[0].step(),
        &[x.clone()],
        &step,
    );
    let f = |xs: &[Tensor<B>]| xs[0].sign().add(&xs[0].step()).mul(&xs[0]);
    assert_gradients("sign·x + step·x", &f, &[x]);
}

/// Broadcasting binary ops on shapes `[3,1,4]` and `[2,4]` (and scalars), against an
/// index loop.
pub fn binary_ops<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(3);
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        &str,
        fn(f64, f64) -> f64,
        fn(&Tensor<B>, &Tensor<B>) -> Tensor<B>,
    )> = vec![
        ("add", |a, b| a + b, |a, b| a.add(b)),
        ("sub", |a, b| a - b, |a, b| a.sub(b)),
        ("mul", |a, b| a * b, |a, b| a.mul(b)),
        ("div", |a, b| a / b, |a, b| a.div(b)),
        ("maximum", f64::max, |a, b| a.maximum(b)),
        ("minimum", f64::min, |a, b| a.minimum(b)),
    ];
    let shapes: [(&[usize], &[usize]); 4] = [
        (&[3, 1, 4], &[2, 4]),
        (&[2, 3], &[2, 3]),
        (&[4, 3], &[]),
        (&[1], &[2, 5]),
    ];
    for (name, reference, op) in cases {
        for (sa, sb) in shapes {
            let a = random::<B>(sa, 0.5, 2.0, &mut rng, device);
            let b = random::<B>(sb, -2.0, -0.5, &mut rng, device);
            let out_shape = crate::shape::broadcast_shapes(sa, sb).expect("broadcastable");
            let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
            let r = out_shape.len();
            let (pa, pb) = (
                crate::shape::pad_to_rank(sa, r),
                crate::shape::pad_to_rank(sb, r),
            );
            let want: Vec<f64> = multi_indices(&out_shape)
                .iter()
                .map(|idx| {
                    let ia: Vec<usize> = idx
                        .iter()
                        .zip(&pa)
                        .map(|(&i, &d)| if d == 1 { 0 } else { i })
                        .collect();
                    let ib: Vec<usize> = idx
                        .iter()
                        .zip(&pb)
                        .map(|(&i, &d)| if d == 1 { 0 } else { i })
                        .collect();
                    reference(av[offset(&ia, &pa)], bv[offset(&ib, &pb)])
                })
                .collect();
            let f = move |xs: &[Tensor<B>]| op(&xs[0], &xs[1]);
            let label = format!("{name} {sa:?} {sb:?}");
            assert_values(&label, &f, &[a.clone(), b.clone()], &want);
            assert_gradients(&label, &f, &[a, b]);
        }
    }
}

/// Comparisons give 0/1 masks; `where` picks elementwise and routes gradients.
pub fn compare_and_where<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(4);
    let a = random::<B>(&[4, 3], -1.0, 1.0, &mut rng, device);
    let b = random::<B>(&[3], -1.0, 1.0, &mut rng, device);
    let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
    let gt: Vec<f64> = (0..12)
        .map(|k| if av[k] > bv[k % 3] { 1.0 } else { 0.0 })
        .collect();
    assert_eq!(a.gt(&b).to_vec_f64(), gt, "gt");
    let le: Vec<f64> = gt.iter().map(|v| 1.0 - v).collect();
    assert_eq!(a.le(&b).to_vec_f64(), le, "le");
    let want: Vec<f64> = (0..12)
        .map(|k| {
            if gt[k] == 1.0 {
                av[k].sin()
            } else {
                bv[k % 3] * 2.0
            }
        })
        .collect();
    let mask = a.gt(&b);
    let f = move |xs: &[Tensor<B>]| Tensor::where_(&mask, &xs[0].sin(), &xs[1].mul_scalar(2.0));
    assert_values("where", &f, &[a.clone(), b.clone()], &want);
    assert_gradients("where", &f, &[a, b]);
}

/// Mish and GELU (composed), against their formulas.
pub fn composed_nonlinearities<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(5);
    let x = random::<B>(&[2, 7], -3.0, 3.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let mish: Vec<f64> = xv.iter().map(|&v| v * softplus(v).tanh()).collect();
    let gelu: Vec<f64> = xv
        .iter()
        .map(|&v| 0.5 * v * (1.0 + libm::erf(v / 2f64.sqrt())))
        .collect();
    let f_mish = |xs: &[Tensor<B>]| xs[0].mish();
    let f_gelu = |xs: &[Tensor<B>]| xs[0].gelu();
    assert_values("mish", &f_mish, &[x.clone()], &mish);
    assert_gradients("mish", &f_mish, &[x.clone()]);
    assert_values("gelu", &f_gelu, &[x.clone()], &gelu);
    assert_gradients("gelu", &f_gelu, &[x]);
}

/// Operators `+ − × ÷` and scalar forms agree with the named methods.
pub fn operator_overloads<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(6);
    let a = random::<B>(&[5], 0.5, 1.5, &mut rng, device);
    let b = random::<B>(&[5], 0.5, 1.5, &mut rng, device);
    let lhs = (&a + &b) * &a - &b / &a + 2.0;
    let rhs = a.add(&b).mul(&a).sub(&b.div(&a)).add_scalar(2.0);
    assert_eq!(lhs.to_vec_f64(), rhs.to_vec_f64());
    assert_eq!(
        (-(&a * 3.0) / 2.0).to_vec_f64(),
        a.mul_scalar(-1.5).to_vec_f64()
    );
}

/// Large inputs take the parallel paths; results equal the serial ones bit for bit.
pub fn parallel_paths_agree<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(8);
    let n = 100_003;
    let x = random::<B>(&[n], -2.0, 2.0, &mut rng, device);
    let y = random::<B>(&[n], -2.0, 2.0, &mut rng, device);
    let z = x.silu().mul(&y).to_vec_f64();
    let (xv, yv) = (x.to_vec_f64(), y.to_vec_f64());
    for k in (0..n).step_by(997) {
        let want = xv[k] * sigmoid(xv[k]) * yv[k];
        assert!(
            (z[k] - want).abs() <= 1e-15 * want.abs().max(1.0),
            "silu·y at {k}"
        );
    }
    let rows = random::<B>(&[n / 7, 7], -1.0, 1.0, &mut rng, device);
    let col = random::<B>(&[n / 7, 1], -1.0, 1.0, &mut rng, device);
    let p = rows.mul(&col).to_vec_f64();
    let (rv, cv) = (rows.to_vec_f64(), col.to_vec_f64());
    for k in (0..p.len()).step_by(1013) {
        assert_eq!(p[k], rv[k] * cv[k / 7], "row broadcast at {k}");
    }
}
