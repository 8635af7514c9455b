//! Elementwise ops on the CPU.

use rayon::prelude::*;

use super::silu::{SiluMap, silu_map};
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
        UnaryOp::SiluGradGrad => {
            let two = one + one;
            map_slice(x, move |v| {
                let s = sigmoid(v);
                s * (one - s) * (two + v * (one - two * s))
            })
        }
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

/// The output's axes with each operand's strides (0 where it broadcasts), with axes of
/// extent 1 dropped and neighbours merged where both operands step through them as one
/// (so `[E, U, 9] · [E, U, 1]` walks `[E·U, 9]` rows, not `E·U` index computations of
/// rank 3).
fn merged_axes(
    a_shape: &[usize],
    b_shape: &[usize],
    out_shape: &[usize],
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (sa, sb) = (broadcast_strides(a_shape), broadcast_strides(b_shape));
    let (mut shape, mut ma, mut mb): (Vec<usize>, Vec<usize>, Vec<usize>) =
        (vec![], vec![], vec![]);
    for d in 0..out_shape.len() {
        let n = out_shape[d];
        if n == 1 {
            continue;
        }
        if let (Some(last), Some(la), Some(lb)) = (shape.last_mut(), ma.last_mut(), mb.last_mut())
            && *la == sa[d] * n
            && *lb == sb[d] * n
        {
            *last *= n;
            (*la, *lb) = (sa[d], sb[d]);
            continue;
        }
        shape.push(n);
        ma.push(sa[d]);
        mb.push(sb[d]);
    }
    if shape.is_empty() {
        (shape, ma, mb) = (vec![1], vec![0], vec![0]);
    }
    (shape, ma, mb)
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
    let mut out = vec![T::zero(); n];
    if n == 0 {
        return out;
    }
    // Walk the output row by row (rows = the last merged axis); each row reads one row of
    // `a` and of `b`, with stride 0 or 1 along it. Each stride pattern is its own loop, so
    // the contiguous ones vectorise.
    let (shape, sa, sb) = merged_axes(a_shape, b_shape, out_shape);
    let rank = shape.len();
    let row = shape[rank - 1];
    let (la, lb) = (sa[rank - 1], sb[rank - 1]);
    // Columns `c0..c0 + dst.len()` of row `r`.
    let fill_row = |r: usize, c0: usize, dst: &mut [T]| {
        let (mut oa, mut ob, mut rem) = (c0 * la, c0 * lb, r);
        for d in (0..rank - 1).rev() {
            let i = rem % shape[d];
            rem /= shape[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        let len = dst.len();
        match (la, lb) {
            (1, 1) => {
                for ((o, &x), &y) in dst.iter_mut().zip(&a[oa..][..len]).zip(&b[ob..][..len]) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let x = a[oa];
                for (o, &y) in dst.iter_mut().zip(&b[ob..][..len]) {
                    *o = f(x, y);
                }
            }
            (1, 0) => {
                let y = b[ob];
                for (o, &x) in dst.iter_mut().zip(&a[oa..][..len]) {
                    *o = f(x, y);
                }
            }
            (0, 0) => dst.fill(f(a[oa], b[ob])),
            _ => {
                for (k, o) in dst.iter_mut().enumerate() {
                    *o = f(a[oa + k * la], b[ob + k * lb]);
                }
            }
        }
    };
    // Output elements `start..start + dst.len()`, row by row.
    let fill = |start: usize, dst: &mut [T]| {
        let mut done = 0;
        while done < dst.len() {
            let (r, c0) = ((start + done) / row, (start + done) % row);
            let len = (row - c0).min(dst.len() - done);
            fill_row(r, c0, &mut dst[done..][..len]);
            done += len;
        }
    };
    if n < PAR_MIN_LEN {
        fill(0, &mut out);
    } else {
        // Fixed spans of the flat output, whatever the row length.
        let span = PAR_MIN_LEN / 4;
        out.par_chunks_mut(span)
            .enumerate()
            .for_each(|(t, chunk)| fill(t * span, chunk));
    }
    out
}

/// `f(a, b)` with broadcasting for a binary op, each op its own monomorphic loop (a
/// function pointer per element would keep the compiler from inlining and vectorising).
fn binary_slice<T: CpuElement>(
    op: BinaryOp,
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    macro_rules! zip {
        ($f:expr) => {
            zip_broadcast(a, a_shape, b, b_shape, out_shape, $f)
        };
    }
    match op {
        BinaryOp::Add => zip!(|x, y| x + y),
        BinaryOp::Sub => zip!(|x, y| x - y),
        BinaryOp::Mul => zip!(|x, y| x * y),
        BinaryOp::Div => zip!(|x, y| x / y),
        BinaryOp::Maximum => zip!(|x, y| if x >= y { x } else { y }),
        BinaryOp::Minimum => zip!(|x, y| if x <= y { x } else { y }),
    }
}

/// 1 where `a op b` holds, else 0, with broadcasting.
fn compare_slice<T: CpuElement>(
    op: CompareOp,
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    fn mask<T: CpuElement>(c: bool) -> T {
        if c { T::one() } else { T::zero() }
    }
    macro_rules! zip {
        ($f:expr) => {
            zip_broadcast(a, a_shape, b, b_shape, out_shape, $f)
        };
    }
    match op {
        CompareOp::Gt => zip!(|x, y| mask(x > y)),
        CompareOp::Ge => zip!(|x, y| mask(x >= y)),
        CompareOp::Lt => zip!(|x, y| mask(x < y)),
        CompareOp::Le => zip!(|x, y| mask(x <= y)),
        CompareOp::Eq => zip!(|x, y| mask(x == y)),
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
        // SiLU and σ on float32 by the vectorised kernels of the fast path (libm's `expf`
        // is a call per element); float64 keeps the plain formulas.
        if let CpuStorage::F32(v) = x {
            let f = match op {
                UnaryOp::Silu => Some(SiluMap::Silu),
                UnaryOp::SiluGrad => Some(SiluMap::SiluGrad),
                UnaryOp::Sigmoid => Some(SiluMap::Sigmoid),
                _ => None,
            };
            if let Some(f) = f {
                return CpuStorage::from_vec_f32(silu_map(super::simd::level(), v, f));
            }
        }
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
        map_storage2!(a, b, |x, y| binary_slice(
            op, x, a_shape, y, b_shape, out_shape
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
        map_storage2!(a, b, |x, y| compare_slice(
            op, x, a_shape, y, b_shape, out_shape
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

#[cfg(test)]
mod tests {
    use super::zip_broadcast;

    /// Each output element from its own multi-index: the plain reference of the merged,
    /// row-wise, parallel walk.
    fn plain_broadcast(
        a: &[f64],
        sa: &[usize],
        b: &[f64],
        sb: &[usize],
        out: &[usize],
    ) -> Vec<f64> {
        let n: usize = out.iter().product();
        let offset = |shape: &[usize], idx: &[usize]| {
            shape
                .iter()
                .zip(idx)
                .fold(0, |o, (&d, &i)| o * d + if d == 1 { 0 } else { i })
        };
        (0..n)
            .map(|mut flat| {
                let mut idx = vec![0; out.len()];
                for d in (0..out.len()).rev() {
                    idx[d] = flat % out[d];
                    flat /= out[d];
                }
                a[offset(sa, &idx)] * 3.0 - b[offset(sb, &idx)]
            })
            .collect()
    }

    #[test]
    fn merged_row_walk_matches_the_plain_broadcast() {
        // Long enough to take the parallel spans (which split rows), with axes that merge,
        // axes of extent 1 and every stride pattern of the last axis.
        let cases: [(&[usize], &[usize], &[usize]); 7] = [
            (&[70, 33, 9], &[70, 33, 1], &[70, 33, 9]),
            (&[70, 1, 9], &[1, 33, 9], &[70, 33, 9]),
            (&[5000, 7], &[5000, 7], &[5000, 7]),
            (&[1], &[20000], &[20000]),
            (&[300, 1, 4, 1], &[1, 50, 1, 2], &[300, 50, 4, 2]),
            (&[40000, 1], &[1, 1], &[40000, 1]),
            (&[2, 1, 1], &[1, 1, 1], &[2, 1, 1]),
        ];
        for (sa, sb, out) in cases {
            let data = |shape: &[usize], seed: f64| -> Vec<f64> {
                (0..shape.iter().product::<usize>())
                    .map(|k| (k as f64 * 0.618 + seed).fract())
                    .collect()
            };
            let (a, b) = (data(sa, 0.1), data(sb, 0.7));
            let fast = zip_broadcast(&a, sa, &b, sb, out, |x, y| x * 3.0 - y);
            assert_eq!(fast, plain_broadcast(&a, sa, &b, sb, out), "{sa:?} {sb:?}");
        }
    }

    /// Broadcast patterns of ranks 1 to 4 with extents 1 to 3 (a deterministic sweep of
    /// 3,000), against the plain per-index broadcast.
    #[test]
    fn every_small_broadcast_pattern_matches() {
        let mut state = 12345u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % m) as usize
        };
        for _ in 0..3000 {
            let rank = 1 + next(4);
            let out: Vec<usize> = (0..rank).map(|_| 1 + next(3)).collect();
            let mut pick = || -> Vec<usize> {
                out.iter()
                    .map(|&d| if next(2) == 0 { 1 } else { d })
                    .collect()
            };
            let (sa, sb) = (pick(), pick());
            let data = |shape: &[usize], seed: f64| -> Vec<f64> {
                (0..shape.iter().product::<usize>())
                    .map(|k| (k as f64 * 0.618 + seed).fract())
                    .collect()
            };
            let (a, b) = (data(&sa, 0.1), data(&sb, 0.7));
            let fast = zip_broadcast(&a, &sa, &b, &sb, &out, |x, y| x * 3.0 - y);
            assert_eq!(
                fast,
                plain_broadcast(&a, &sa, &b, &sb, &out),
                "{sa:?} {sb:?} {out:?}"
            );
        }
    }
}
