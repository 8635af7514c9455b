//! Elementwise kernels: unary maps, broadcasting binary ops, comparisons, selection.
//!
//! The op is a comptime parameter, so each op compiles to its own specialised kernel.

use cubecl::prelude::*;

use super::launch::{arg, grid, u32_of, with_float};
use super::{Gpu, GpuRuntime, GpuStorage};
use crate::backend::{BinaryOp, CompareOp, ElementwiseOps, UnaryOp};

/// Comptime codes of [`UnaryOp`] (enums with data cannot be comptime parameters).
mod unary_code {
    pub const NEG: u32 = 0;
    pub const EXP: u32 = 1;
    pub const LOG: u32 = 2;
    pub const SQRT: u32 = 3;
    pub const RECIP: u32 = 4;
    pub const SQUARE: u32 = 5;
    pub const ABS: u32 = 6;
    pub const SIGN: u32 = 7;
    pub const SIN: u32 = 8;
    pub const COS: u32 = 9;
    pub const TANH: u32 = 10;
    pub const SIGMOID: u32 = 11;
    pub const SILU: u32 = 12;
    pub const SILU_GRAD: u32 = 13;
    pub const SOFTPLUS: u32 = 14;
    pub const ERF: u32 = 15;
    pub const POWF: u32 = 16;
    pub const ADD_SCALAR: u32 = 17;
    pub const MUL_SCALAR: u32 = 18;
    pub const STEP: u32 = 19;
    pub const SILU_GRAD_GRAD: u32 = 20;
}

/// The code and scalar parameter of a unary op.
fn unary_code(op: UnaryOp) -> (u32, f64) {
    use unary_code::*;
    match op {
        UnaryOp::Neg => (NEG, 0.0),
        UnaryOp::Exp => (EXP, 0.0),
        UnaryOp::Log => (LOG, 0.0),
        UnaryOp::Sqrt => (SQRT, 0.0),
        UnaryOp::Recip => (RECIP, 0.0),
        UnaryOp::Square => (SQUARE, 0.0),
        UnaryOp::Abs => (ABS, 0.0),
        UnaryOp::Sign => (SIGN, 0.0),
        UnaryOp::Sin => (SIN, 0.0),
        UnaryOp::Cos => (COS, 0.0),
        UnaryOp::Tanh => (TANH, 0.0),
        UnaryOp::Sigmoid => (SIGMOID, 0.0),
        UnaryOp::Silu => (SILU, 0.0),
        UnaryOp::SiluGrad => (SILU_GRAD, 0.0),
        UnaryOp::SiluGradGrad => (SILU_GRAD_GRAD, 0.0),
        UnaryOp::Softplus => (SOFTPLUS, 0.0),
        UnaryOp::Erf => (ERF, 0.0),
        UnaryOp::Powf(p) => (POWF, p),
        UnaryOp::AddScalar(c) => (ADD_SCALAR, c),
        UnaryOp::MulScalar(c) => (MUL_SCALAR, c),
        UnaryOp::Step => (STEP, 0.0),
    }
}

/// The logistic function without overflow: `1/(1+e^{-|v|})`, mirrored for `v < 0`.
#[cube]
pub(crate) fn sigmoid<F: Float>(v: F) -> F {
    let e = F::exp(-F::abs(v));
    let s = F::new(1.0) / (F::new(1.0) + e);
    select(v >= F::new(0.0), s, e * s)
}

/// `ln(1 + e)` for `0 ≤ e ≤ 1`, accurate for small `e` (the `u − 1` correction).
#[cube]
pub(crate) fn log1p_small<F: Float>(e: F) -> F {
    let u = F::new(1.0) + e;
    let d = u - F::new(1.0);
    let safe_d = select(d == F::new(0.0), F::new(1.0), d);
    select(d == F::new(0.0), e, F::ln(u) * (e / safe_d))
}

#[cube]
fn apply_unary<F: Float>(v: F, p: F, #[comptime] op: u32) -> F {
    let mut r = v;
    if comptime![op == unary_code::NEG] {
        r = -v;
    } else if comptime![op == unary_code::EXP] {
        r = F::exp(v);
    } else if comptime![op == unary_code::LOG] {
        r = F::ln(v);
    } else if comptime![op == unary_code::SQRT] {
        r = F::sqrt(v);
    } else if comptime![op == unary_code::RECIP] {
        r = F::new(1.0) / v;
    } else if comptime![op == unary_code::SQUARE] {
        r = v * v;
    } else if comptime![op == unary_code::ABS] {
        r = F::abs(v);
    } else if comptime![op == unary_code::SIGN] {
        r = select(
            v > F::new(0.0),
            F::new(1.0),
            select(v < F::new(0.0), F::new(-1.0), F::new(0.0)),
        );
    } else if comptime![op == unary_code::SIN] {
        r = F::sin(v);
    } else if comptime![op == unary_code::COS] {
        r = F::cos(v);
    } else if comptime![op == unary_code::TANH] {
        r = F::tanh(v);
    } else if comptime![op == unary_code::SIGMOID] {
        r = sigmoid::<F>(v);
    } else if comptime![op == unary_code::SILU] {
        r = v * sigmoid::<F>(v);
    } else if comptime![op == unary_code::SILU_GRAD] {
        let s = sigmoid::<F>(v);
        r = s * (F::new(1.0) + v * (F::new(1.0) - s));
    } else if comptime![op == unary_code::SILU_GRAD_GRAD] {
        let s = sigmoid::<F>(v);
        r = s * (F::new(1.0) - s) * (F::new(2.0) + v * (F::new(1.0) - F::new(2.0) * s));
    } else if comptime![op == unary_code::SOFTPLUS] {
        r = F::max(v, F::new(0.0)) + log1p_small::<F>(F::exp(-F::abs(v)));
    } else if comptime![op == unary_code::ERF] {
        r = F::erf(v);
    } else if comptime![op == unary_code::POWF] {
        r = F::powf(v, p);
    } else if comptime![op == unary_code::ADD_SCALAR] {
        r = v + p;
    } else if comptime![op == unary_code::MUL_SCALAR] {
        r = v * p;
    } else if comptime![op == unary_code::STEP] {
        r = select(v > F::new(0.0), F::new(1.0), F::new(0.0));
    }
    r
}

#[cube(launch_unchecked)]
fn unary_kernel<F: Float + CubeElement>(
    x: &Array<F>,
    out: &mut Array<F>,
    n: u32,
    p: F,
    #[comptime] op: u32,
) {
    if ABSOLUTE_POS < n as usize {
        out[ABSOLUTE_POS] = apply_unary::<F>(x[ABSOLUTE_POS], p, op);
    }
}

/// Codes of the binary ops and comparisons (comparisons yield 1 or 0).
mod binary_code {
    pub const ADD: u32 = 0;
    pub const SUB: u32 = 1;
    pub const MUL: u32 = 2;
    pub const DIV: u32 = 3;
    pub const MAX: u32 = 4;
    pub const MIN: u32 = 5;
    pub const GT: u32 = 10;
    pub const GE: u32 = 11;
    pub const LT: u32 = 12;
    pub const LE: u32 = 13;
    pub const EQ: u32 = 14;
}

fn binary_code(op: BinaryOp) -> u32 {
    use binary_code::*;
    match op {
        BinaryOp::Add => ADD,
        BinaryOp::Sub => SUB,
        BinaryOp::Mul => MUL,
        BinaryOp::Div => DIV,
        BinaryOp::Maximum => MAX,
        BinaryOp::Minimum => MIN,
    }
}

fn compare_code(op: CompareOp) -> u32 {
    use binary_code::*;
    match op {
        CompareOp::Gt => GT,
        CompareOp::Ge => GE,
        CompareOp::Lt => LT,
        CompareOp::Le => LE,
        CompareOp::Eq => EQ,
    }
}

#[cube]
fn apply_binary<F: Float>(a: F, b: F, #[comptime] op: u32) -> F {
    let one = F::new(1.0);
    let zero = F::new(0.0);
    let mut r = a;
    if comptime![op == binary_code::ADD] {
        r = a + b;
    } else if comptime![op == binary_code::SUB] {
        r = a - b;
    } else if comptime![op == binary_code::MUL] {
        r = a * b;
    } else if comptime![op == binary_code::DIV] {
        r = a / b;
    } else if comptime![op == binary_code::MAX] {
        r = F::max(a, b);
    } else if comptime![op == binary_code::MIN] {
        r = F::min(a, b);
    } else if comptime![op == binary_code::GT] {
        r = select(a > b, one, zero);
    } else if comptime![op == binary_code::GE] {
        r = select(a >= b, one, zero);
    } else if comptime![op == binary_code::LT] {
        r = select(a < b, one, zero);
    } else if comptime![op == binary_code::LE] {
        r = select(a <= b, one, zero);
    } else if comptime![op == binary_code::EQ] {
        r = select(a == b, one, zero);
    }
    r
}

/// Same-shape operands.
#[cube(launch_unchecked)]
fn binary_same_kernel<F: Float>(
    a: &Array<F>,
    b: &Array<F>,
    out: &mut Array<F>,
    n: u32,
    #[comptime] op: u32,
) {
    if ABSOLUTE_POS < n as usize {
        out[ABSOLUTE_POS] = apply_binary::<F>(a[ABSOLUTE_POS], b[ABSOLUTE_POS], op);
    }
}

/// General broadcasting: `meta` holds the output shape, then `a`'s and `b`'s strides
/// (0 along broadcast axes), `rank` entries each.
#[cube(launch_unchecked)]
fn binary_broadcast_kernel<F: Float>(
    a: &Array<F>,
    b: &Array<F>,
    meta: &Array<u32>,
    out: &mut Array<F>,
    n: u32,
    rank: u32,
    #[comptime] op: u32,
) {
    let t = ABSOLUTE_POS;
    if t < n as usize {
        let rank = rank as usize;
        let mut rem = t;
        let mut ao = 0usize;
        let mut bo = 0usize;
        for k in 0..rank {
            let ax = rank - 1 - k;
            let d = meta[ax] as usize;
            let c = rem % d;
            rem /= d;
            ao += c * meta[rank + ax] as usize;
            bo += c * meta[2 * rank + ax] as usize;
        }
        out[t] = apply_binary::<F>(a[ao], b[bo], op);
    }
}

#[cube(launch_unchecked)]
fn select_kernel<F: Float>(
    mask: &Array<F>,
    a: &Array<F>,
    b: &Array<F>,
    out: &mut Array<F>,
    n: u32,
) {
    let t = ABSOLUTE_POS;
    if t < n as usize {
        out[t] = select(mask[t] != F::new(0.0), a[t], b[t]);
    }
}

/// Row-major strides of `shape` with 0 along axes of extent 1.
pub(crate) fn broadcast_strides(shape: &[usize]) -> Vec<u32> {
    let mut strides = vec![0u32; shape.len()];
    let mut s = 1usize;
    for ax in (0..shape.len()).rev() {
        strides[ax] = if shape[ax] == 1 { 0 } else { u32_of(s) };
        s *= shape[ax];
    }
    strides
}

/// `out = op(a, b)` for a binary or comparison code.
fn zip<R: GpuRuntime>(
    code: u32,
    a: &GpuStorage<R>,
    a_shape: &[usize],
    b: &GpuStorage<R>,
    b_shape: &[usize],
    out_shape: &[usize],
) -> GpuStorage<R> {
    let n: usize = out_shape.iter().product();
    let out = a.uninit_like(n);
    if n == 0 {
        return out;
    }
    let client = a.client();
    let (count, dim) = grid(client, n);
    if a_shape == b_shape {
        a.device.counters.launch();
        with_float!(a.dtype, F => unsafe {
            binary_same_kernel::launch_unchecked::<F, R>(
                client, count, dim, a.arg(), b.arg(), out.arg(), u32_of(n), code,
            )
        });
        return out;
    }
    let mut meta: Vec<u32> = out_shape.iter().map(|&d| u32_of(d)).collect();
    meta.extend(broadcast_strides(a_shape));
    meta.extend(broadcast_strides(b_shape));
    let meta_handle = a.device.table(&meta);
    a.device.counters.launch();
    with_float!(a.dtype, F => unsafe {
        binary_broadcast_kernel::launch_unchecked::<F, R>(
            client, count, dim, a.arg(), b.arg(), arg(&meta_handle, meta.len()), out.arg(),
            u32_of(n), u32_of(out_shape.len()), code,
        )
    });
    out
}

/// Whether `op` needs a transcendental function (see
/// [`GpuRuntime::F64_TRANSCENDENTALS`]).
fn is_transcendental(op: UnaryOp) -> bool {
    !matches!(
        op,
        UnaryOp::Neg
            | UnaryOp::Sqrt
            | UnaryOp::Recip
            | UnaryOp::Square
            | UnaryOp::Abs
            | UnaryOp::Sign
            | UnaryOp::AddScalar(_)
            | UnaryOp::MulScalar(_)
            | UnaryOp::Step
    )
}

/// `op` evaluated by the CPU backend on a host copy (f64 on runtimes without f64
/// transcendentals).
fn unary_on_host<R: GpuRuntime>(op: UnaryOp, x: &GpuStorage<R>) -> GpuStorage<R> {
    use crate::backend::StorageOps;
    // A fallback to the host is said, once per process.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!(
            "allegro: {} has no exact float64 transcendentals; float64 maps such as {op:?} \
             run on the host (said once)",
            R::NAME
        )
    });
    use crate::backend::cpu::Cpu;
    let host = Cpu::from_host(&crate::backend::cpu::CpuDevice, Gpu::<R>::to_host(x));
    Gpu::<R>::from_host(&x.device, Cpu::to_host(&Cpu::unary(op, &host)))
}

impl<R: GpuRuntime> ElementwiseOps for Gpu<R> {
    fn unary(op: UnaryOp, x: &GpuStorage<R>) -> GpuStorage<R> {
        if x.dtype == crate::dtype::DType::F64 && !R::F64_TRANSCENDENTALS && is_transcendental(op) {
            return unary_on_host(op, x);
        }
        let out = x.uninit_like(x.len);
        if x.len == 0 {
            return out;
        }
        let (code, p) = unary_code(op);
        let (count, dim) = grid(x.client(), x.len);
        x.device.counters.launch();
        with_float!(x.dtype, F => unsafe {
            unary_kernel::launch_unchecked::<F, R>(
                x.client(), count, dim, x.arg(), out.arg(), u32_of(x.len), p as F, code,
            )
        });
        out
    }

    fn binary(
        op: BinaryOp,
        a: &GpuStorage<R>,
        a_shape: &[usize],
        b: &GpuStorage<R>,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> GpuStorage<R> {
        zip(binary_code(op), a, a_shape, b, b_shape, out_shape)
    }

    fn compare(
        op: CompareOp,
        a: &GpuStorage<R>,
        a_shape: &[usize],
        b: &GpuStorage<R>,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> GpuStorage<R> {
        zip(compare_code(op), a, a_shape, b, b_shape, out_shape)
    }

    fn select(mask: &GpuStorage<R>, a: &GpuStorage<R>, b: &GpuStorage<R>) -> GpuStorage<R> {
        let n = mask.len;
        let out = a.uninit_like(n);
        if n > 0 {
            let (count, dim) = grid(a.client(), n);
            a.device.counters.launch();
            with_float!(a.dtype, F => unsafe {
                select_kernel::launch_unchecked::<F, R>(
                    a.client(), count, dim, mask.arg(), a.arg(), b.arg(), out.arg(), u32_of(n),
                )
            });
        }
        out
    }
}
