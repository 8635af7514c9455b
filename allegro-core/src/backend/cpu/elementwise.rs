//! Elementwise ops on the CPU.

use rayon::prelude::*;

use super::storage::{map_storage, map_storage2};
use super::{Cpu, CpuElement, CpuStorage, PAR_MIN_LEN};
use crate::backend::{BinaryOp, CompareOp, ElementwiseOps, UnaryOp};

/// `out[i] = f(x[i])`, in parallel for long inputs.
fn map_slice<T: CpuElement>(x: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
    if x.len() < PAR_MIN_LEN {
        x.iter().map(|&v| f(v)).collect()
    } else {
        x.par_iter()
            .with_min_len(PAR_MIN_LEN / 4)
            .map(|&v| f(v))
            .collect()
    }
}

/// Numerically stable logistic function.
fn sigmoid<T: CpuElement>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

fn unary_slice<T: CpuElement>(op: UnaryOp, x: &[T]) -> Vec<T> {
    let zero = T::zero();
    let one = T::one();
    match op {
        UnaryOp::Neg => map_slice(x, |v| -v),
        UnaryOp::Exp => map_slice(x, |v| v.exp()),
        UnaryOp::Log => map_slice(x, |v| v.ln()),
        UnaryOp::Sqrt => map_slice(x, |v| v.sqrt()),
        UnaryOp::Recip => map_slice(x, |v| one / v),
        UnaryOp::Square => map_slice(x, |v| v * v),
        UnaryOp::Abs => map_slice(x, |v| v.abs()),
        UnaryOp::Sign => map_slice(x, |v| {
            if v > zero {
                one
            } else if v < zero {
                -one
            } else {
                zero
            }
        }),
        UnaryOp::Sin => map_slice(x, |v| v.sin()),
        UnaryOp::Cos => map_slice(x, |v| v.cos()),
        UnaryOp::Tanh => map_slice(x, |v| v.tanh()),
        UnaryOp::Sigmoid => map_slice(x, sigmoid),
        UnaryOp::Silu => map_slice(x, |v| v * sigmoid(v)),
        UnaryOp::SiluGrad => map_slice(x, |v| {
            let s = sigmoid(v);
            s * (one + v * (one - s))
        }),
        // ln(1 + e^x) = max(x, 0) + ln(1 + e^{-|x|}) never overflows.
        UnaryOp::Softplus => map_slice(x, |v| v.max(zero) + (-v.abs()).exp().ln_1p()),
        UnaryOp::Erf => map_slice(x, |v| v.erf()),
        UnaryOp::Powf(p) => {
            let p = T::from_f64(p);
            map_slice(x, move |v| v.powf(p))
        }
        UnaryOp::AddScalar(c) => {
            let c = T::from_f64(c);
            map_slice(x, move |v| v + c)
        }
        UnaryOp::MulScalar(c) => {
            let c = T::from_f64(c);
            map_slice(x, move |v| v * c)
        }
        UnaryOp::Step => map_slice(x, |v| if v > zero { one } else { zero }),
    }
}

/// Strides of a broadcast operand: 0 along axes where it has extent 1.
fn broadcast_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = crate::shape::contiguous_strides(shape);
    for (s, &d) in strides.iter_mut().zip(shape) {
        if d == 1 {
            *s = 0;
        }
    }
    strides
}

/// `out = f(a, b)` with broadcasting; all three shapes have the same rank.
pub(crate) fn zip_broadcast<T: CpuElement>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    let n = crate::shape::numel(out_shape);
    if a_shape == b_shape {
        return if n < PAR_MIN_LEN {
            a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
        } else {
            a.par_iter()
                .zip(b.par_iter())
                .with_min_len(PAR_MIN_LEN / 4)
                .map(|(&x, &y)| f(x, y))
                .collect()
        };
    }
    if b.len() == 1 {
        let y = b[0];
        return map_slice(a, |x| f(x, y));
    }
    if a.len() == 1 {
        let x = a[0];
        return map_slice(b, |y| f(x, y));
    }
    // General case: walk the output row by row (rows = last axis); each row of the
    // output reads one row of `a` and of `b`, with stride 0 or 1 along the last axis.
    let rank = out_shape.len();
    let row = out_shape[rank - 1];
    let sa = broadcast_strides(a_shape);
    let sb = broadcast_strides(b_shape);
    let (la, lb) = (sa[rank - 1], sb[rank - 1]);
    let mut out = vec![T::zero(); n];
    let fill_row = |r: usize, dst: &mut [T]| {
        let (mut oa, mut ob, mut rem) = (0, 0, r);
        for d in (0..rank - 1).rev() {
            let i = rem % out_shape[d];
            rem /= out_shape[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        for (k, o) in dst.iter_mut().enumerate() {
            *o = f(a[oa + k * la], b[ob + k * lb]);
        }
    };
    if n < PAR_MIN_LEN {
        out.chunks_mut(row)
            .enumerate()
            .for_each(|(r, d)| fill_row(r, d));
    } else {
        let min_rows = (PAR_MIN_LEN / 4 / row.max(1)).max(1);
        out.par_chunks_mut(row)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(|(r, d)| fill_row(r, d));
    }
    out
}

fn binary_fn<T: CpuElement>(op: BinaryOp) -> fn(T, T) -> T {
    match op {
        BinaryOp::Add => |x, y| x + y,
        BinaryOp::Sub => |x, y| x - y,
        BinaryOp::Mul => |x, y| x * y,
        BinaryOp::Div => |x, y| x / y,
        BinaryOp::Maximum => |x, y| if x >= y { x } else { y },
        BinaryOp::Minimum => |x, y| if x <= y { x } else { y },
    }
}

fn compare_fn<T: CpuElement>(op: CompareOp) -> fn(T, T) -> T {
    fn mask<T: CpuElement>(c: bool) -> T {
        if c { T::one() } else { T::zero() }
    }
    match op {
        CompareOp::Gt => |x, y| mask(x > y),
        CompareOp::Ge => |x, y| mask(x >= y),
        CompareOp::Lt => |x, y| mask(x < y),
        CompareOp::Le => |x, y| mask(x <= y),
        CompareOp::Eq => |x, y| mask(x == y),
    }
}

fn select_slice<T: CpuElement>(mask: &[T], a: &[T], b: &[T]) -> Vec<T> {
    let pick = |((&m, &x), &y): ((&T, &T), &T)| if m != T::zero() { x } else { y };
    if mask.len() < PAR_MIN_LEN {
        mask.iter().zip(a).zip(b).map(pick).collect()
    } else {
        mask.par_iter()
            .zip(a.par_iter())
            .zip(b.par_iter())
            .with_min_len(PAR_MIN_LEN / 4)
            .map(pick)
            .collect()
    }
}

impl ElementwiseOps for Cpu {
    fn unary(op: UnaryOp, x: &CpuStorage) -> CpuStorage {
        map_storage!(x, |v| unary_slice(op, v))
    }

    fn binary(
        op: BinaryOp,
        a: &CpuStorage,
        a_shape: &[usize],
        b: &CpuStorage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> CpuStorage {
        map_storage2!(a, b, |x, y| zip_broadcast(
            x,
            a_shape,
            y,
            b_shape,
            out_shape,
            binary_fn(op)
        ))
    }

    fn compare(
        op: CompareOp,
        a: &CpuStorage,
        a_shape: &[usize],
        b: &CpuStorage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> CpuStorage {
        map_storage2!(a, b, |x, y| zip_broadcast(
            x,
            a_shape,
            y,
            b_shape,
            out_shape,
            compare_fn(op)
        ))
    }

    fn select(mask: &CpuStorage, a: &CpuStorage, b: &CpuStorage) -> CpuStorage {
        match (mask, a, b) {
            (CpuStorage::F32(m), CpuStorage::F32(x), CpuStorage::F32(y)) => {
                CpuStorage::from_vec_f32(select_slice(m, x, y))
            }
            (CpuStorage::F64(m), CpuStorage::F64(x), CpuStorage::F64(y)) => {
                CpuStorage::from_vec_f64(select_slice(m, x, y))
            }
            _ => panic!("cpu backend: select operands of different dtypes"),
        }
    }
}
