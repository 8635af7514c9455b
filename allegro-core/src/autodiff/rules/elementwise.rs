//! Rules of elementwise ops.

use crate::autodiff::BackwardOp;
use crate::backend::{Backend, BinaryOp, UnaryOp};
use crate::tensor::Tensor;

/// `2/√π`, the derivative of erf at 0.
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// Op name for messages and graph dumps.
pub fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "neg",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Recip => "recip",
        UnaryOp::Square => "square",
        UnaryOp::Abs => "abs",
        UnaryOp::Sign => "sign",
        UnaryOp::Sin => "sin",
        UnaryOp::Cos => "cos",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Silu => "silu",
        UnaryOp::SiluGrad => "silu_grad",
        UnaryOp::SiluGradGrad => "silu_grad_grad",
        UnaryOp::Softplus => "softplus",
        UnaryOp::Erf => "erf",
        UnaryOp::Powf(_) => "powf",
        UnaryOp::AddScalar(_) => "add_scalar",
        UnaryOp::MulScalar(_) => "mul_scalar",
        UnaryOp::Step => "step",
    }
}

/// Op name for messages and graph dumps.
pub fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Maximum => "maximum",
        BinaryOp::Minimum => "minimum",
    }
}

/// `∂op(x)/∂x · g`, using the output `y = op(x)` where that is cheaper.
pub fn unary_rule<B: Backend>(op: UnaryOp) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], y: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        let x = &inputs[0];
        let gx = match op {
            UnaryOp::Neg => Some(g.neg()),
            UnaryOp::Exp => Some(g.mul(y)),
            UnaryOp::Log => Some(g.div(x)),
            UnaryOp::Sqrt => Some(g.div(y).mul_scalar(0.5)),
            UnaryOp::Recip => Some(g.mul(&y.square()).neg()),
            UnaryOp::Square => Some(g.mul(x).mul_scalar(2.0)),
            UnaryOp::Abs => Some(g.mul(&x.sign())),
            UnaryOp::Sign | UnaryOp::Step => None,
            UnaryOp::Sin => Some(g.mul(&x.cos())),
            UnaryOp::Cos => Some(g.mul(&x.sin()).neg()),
            // 1 − tanh²
            UnaryOp::Tanh => Some(g.mul(&y.square().neg().add_scalar(1.0))),
            // σ(1 − σ)
            UnaryOp::Sigmoid => Some(g.mul(&y.mul(&y.neg().add_scalar(1.0)))),
            UnaryOp::Silu => Some(g.mul(&x.unary(UnaryOp::SiluGrad))),
            UnaryOp::SiluGrad => Some(g.mul(&x.unary(UnaryOp::SiluGradGrad))),
            // d³/dx³ silu = p·((1 − 2σ)(q + 1) − 2xp), p = σ(1 − σ), q = 2 + x(1 − 2σ)
            // (third order only; as tensor ops, so any order differentiates)
            UnaryOp::SiluGradGrad => {
                let s = x.sigmoid();
                let p = s.mul(&s.neg().add_scalar(1.0));
                let r = s.mul_scalar(-2.0).add_scalar(1.0);
                let q = x.mul(&r).add_scalar(2.0);
                let d3 = p.mul(&r.mul(&q.add_scalar(1.0)).sub(&x.mul(&p).mul_scalar(2.0)));
                Some(g.mul(&d3))
            }
            UnaryOp::Softplus => Some(g.mul(&x.sigmoid())),
            UnaryOp::Erf => Some(g.mul(&x.square().neg().exp()).mul_scalar(TWO_OVER_SQRT_PI)),
            UnaryOp::Powf(p) => Some(g.mul(&x.powf(p - 1.0)).mul_scalar(p)),
            UnaryOp::AddScalar(_) => Some(g.clone()),
            UnaryOp::MulScalar(c) => Some(g.mul_scalar(c)),
        };
        vec![gx]
    }
}

/// Gradients of a broadcasting binary op, summed back to each operand's shape.
pub fn binary_rule<B: Backend>(op: BinaryOp) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], y: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
        let (a, b) = (&inputs[0], &inputs[1]);
        let (ga, gb) = match op {
            BinaryOp::Add => (needs[0].then(|| g.clone()), needs[1].then(|| g.clone())),
            BinaryOp::Sub => (needs[0].then(|| g.clone()), needs[1].then(|| g.neg())),
            BinaryOp::Mul => (needs[0].then(|| g.mul(b)), needs[1].then(|| g.mul(a))),
            // ∂(a/b)/∂b = −(a/b)/b
            BinaryOp::Div => (
                needs[0].then(|| g.div(b)),
                needs[1].then(|| g.mul(y).div(b).neg()),
            ),
            BinaryOp::Maximum | BinaryOp::Minimum => {
                let to_a = if op == BinaryOp::Maximum {
                    a.ge(b)
                } else {
                    a.le(b)
                };
                let to_b = to_a.neg().add_scalar(1.0);
                (
                    needs[0].then(|| g.mul(&to_a)),
                    needs[1].then(|| g.mul(&to_b)),
                )
            }
        };
        vec![
            ga.map(|t| t.sum_to_shape(a.shape())),
            gb.map(|t| t.sum_to_shape(b.shape())),
        ]
    }
}

/// `where(mask, a, b)`: the gradient goes to `a` where the mask is set, else to `b`.
pub fn select_rule<B: Backend>(mask: Tensor<B>) -> impl BackwardOp<B> {
    move |_: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
        let zero = g.zeros_like();
        vec![
            needs[0].then(|| Tensor::where_(&mask, g, &zero)),
            needs[1].then(|| Tensor::where_(&mask, &zero, g)),
        ]
    }
}
