//! SiLU and its derivative over float32 slices, vectorised (the epilogue of the hidden
//! layers of every MLP on the fast CPU path).
//!
//! The plain path evaluates `x·σ(x)` in float64 through libm's `exp`, a call per element
//! that the compiler cannot vectorise. Here `eˣ` is evaluated in float32 by range
//! reduction and a polynomial (below), branch-free, so a loop over a slice compiles to
//! vector instructions at each [`SimdLevel`]; its error is under 2 ulp of float32, and
//! `tests` checks SiLU and its derivative against the float64 formulas.

use super::simd::{SimdLevel, dispatch};

/// `log2(e)`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in a part exact in float32 and the rest (Cody–Waite), so `x − n·ln 2` is
/// exact for the `n` that occur.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding and subtracting `1.5·2²³` rounds a float32 of magnitude below 2²² to the
/// nearest integer (a vectorisable `round`).
const ROUNDER: f32 = 12_582_912.0;

/// `eˣ` in float32 for `x` in about [−87, 88] (clamped outside, so the result stays a
/// finite normal number): `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, `eʳ` by its Taylor
/// polynomial of degree 7 (truncation error `|r|⁸/8! < 2·10⁻⁹`), times `2ⁿ` built in the
/// exponent bits.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUNDER) - ROUNDER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) << 23) as u32);
    p * scale
}

/// `(x·σ(x), σ(x)·(1 + x·(1 − σ(x))))`.
#[inline(always)]
fn silu_and_derivative(x: f32) -> (f32, f32) {
    let s = 1.0 / (1.0 + exp_f32(-x));
    (x * s, s * (1.0 + x * (1.0 - s)))
}

#[inline(always)]
fn silu_in_place(p: &mut [f32], d: &mut [f32]) {
    for (p, d) in p.iter_mut().zip(d.iter_mut()) {
        let (v, g) = silu_and_derivative(*p);
        *p = v;
        *d = g;
    }
}

dispatch!(fn silu_at(p: &mut [f32], d: &mut [f32]) => silu_in_place);

/// `d ← SiLU'(p)`, then `p ← SiLU(p)`, elementwise (`d` as long as `p`), compiled for
/// `level`.
pub(crate) fn silu_with_derivative(level: SimdLevel, p: &mut [f32], d: &mut [f32]) {
    assert_eq!(p.len(), d.len(), "silu: buffers of different lengths");
    silu_at(level, p, d);
}

#[inline(always)]
fn silu_values(x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = silu_and_derivative(x).0;
    }
}

#[inline(always)]
fn silu_derivatives(x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = silu_and_derivative(x).1;
    }
}

#[inline(always)]
fn sigmoid_values(x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = 1.0 / (1.0 + exp_f32(-x));
    }
}

dispatch!(fn silu_values_at(x: &[f32], out: &mut [f32]) => silu_values);
dispatch!(fn sigmoid_values_at(x: &[f32], out: &mut [f32]) => sigmoid_values);
dispatch!(fn silu_derivatives_at(x: &[f32], out: &mut [f32]) => silu_derivatives);

/// Which function [`silu_map`] evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SiluMap {
    /// `x·σ(x)`.
    Silu,
    /// `σ(x)·(1 + x·(1 − σ(x)))`.
    SiluGrad,
    /// `σ(x) = 1 / (1 + e⁻ˣ)`.
    Sigmoid,
}

/// `SiLU`, `SiLU'` or `σ` elementwise (the tape's `Silu`, `SiluGrad` and `Sigmoid` on
/// float32), compiled for `level`, in parallel chunks for long inputs.
pub(crate) fn silu_map(level: SimdLevel, x: &[f32], f: SiluMap) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out = vec![0.0f32; x.len()];
    let run = |x: &[f32], out: &mut [f32]| match f {
        SiluMap::Silu => silu_values_at(level, x, out),
        SiluMap::SiluGrad => silu_derivatives_at(level, x, out),
        SiluMap::Sigmoid => sigmoid_values_at(level, x, out),
    };
    let chunk = super::PAR_MIN_LEN / 4;
    if x.len() < super::PAR_MIN_LEN {
        run(x, &mut out);
    } else {
        out.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .for_each(|(o, x)| run(x, o));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Activation;

    /// Against the float64 formulas on a dense sweep and at the clamp edges.
    #[test]
    fn silu_matches_the_float64_formulas() {
        let mut xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 * 2.5e-3).collect();
        xs.extend([
            -1e4, -120.0, -88.0, -87.5, -30.0, 0.0, -0.0, 1e-30, 30.0, 88.5, 500.0,
        ]);
        for level in SimdLevel::available() {
            let mut p = xs.clone();
            let mut d = vec![0.0f32; xs.len()];
            silu_with_derivative(level, &mut p, &mut d);
            for ((&x, &v), &g) in xs.iter().zip(&p).zip(&d) {
                let (want_v, want_g) = Activation::Silu.value_and_derivative(x as f64);
                // A few ulp, and for the derivative the rounding of `1 − σ` (an ulp of 1)
                // times |x|; below 1e-30 nothing matters.
                let eps = f32::EPSILON as f64;
                let tol = |w: f64| eps * (4.0 + 2.0 * (x as f64).abs()) * w.abs() + 1e-30;
                assert!(
                    (v as f64 - want_v).abs() <= tol(want_v),
                    "{level:?} SiLU({x}) = {v}, want {want_v}"
                );
                // σ·(1 + x·(1 − σ)) cancels near its zero (x ≈ −1.28): the error follows
                // the size of its terms, σ·(1 + |x|).
                let sigma = 1.0 / (1.0 + (-(x as f64)).exp());
                let terms = sigma * (1.0 + (x as f64).abs());
                assert!(
                    (g as f64 - want_g).abs() <= tol(want_g.abs().max(terms)),
                    "{level:?} SiLU'({x}) = {g}, want {want_g}"
                );
            }
        }
    }

    /// The tape's maps give the bits of the fused kernel (which the test above checks).
    #[test]
    fn silu_map_matches_the_fused_kernel() {
        let xs: Vec<f32> = (-70_000..=70_000).map(|i| i as f32 * 1.7e-3).collect();
        for level in SimdLevel::available() {
            let mut p = xs.clone();
            let mut d = vec![0.0f32; xs.len()];
            silu_with_derivative(level, &mut p, &mut d);
            assert_eq!(silu_map(level, &xs, SiluMap::Silu), p, "{level:?}");
            assert_eq!(silu_map(level, &xs, SiluMap::SiluGrad), d, "{level:?}");
        }
    }

    /// `σ` within a few ulp of the float64 logistic function, down to where it is below
    /// float32's normal range.
    #[test]
    fn sigmoid_matches_the_float64_formula() {
        let xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 * 2.5e-3).collect();
        for level in SimdLevel::available() {
            for (&x, &v) in xs.iter().zip(&silu_map(level, &xs, SiluMap::Sigmoid)) {
                let want = 1.0 / (1.0 + (-(x as f64)).exp());
                let tol = f32::EPSILON as f64 * 4.0 * want + 1e-37;
                assert!(
                    (v as f64 - want).abs() <= tol,
                    "{level:?} σ({x}) = {v}, want {want}"
                );
            }
            let far = silu_map(level, &[-200.0, -87.0, 200.0], SiluMap::Sigmoid);
            assert!(far[0] >= 0.0 && far[0] < 1e-37 && far[1] < 2e-38 && far[2] == 1.0);
        }
    }
}
