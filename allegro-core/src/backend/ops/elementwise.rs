//! Elementwise ops: unary maps, broadcasting binary ops, comparisons and selection.

use super::storage::BackendTypes;

/// A map applied to every element. Parameters are carried as `f64` and rounded to the
/// tensor's dtype by the backend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `√x`
    Sqrt,
    /// `1/x`
    Recip,
    /// `x²`
    Square,
    /// `|x|`
    Abs,
    /// `sign(x)` ∈ {−1, 0, 1}
    Sign,
    /// `sin x`
    Sin,
    /// `cos x`
    Cos,
    /// `tanh x`
    Tanh,
    /// `1/(1+e^{−x})`
    Sigmoid,
    /// `x·sigmoid(x)`
    Silu,
    /// `d/dx silu(x) = σ(x)·(1 + x·(1 − σ(x)))`, fused because SiLU's backward is on
    /// every MLP's hot path
    SiluGrad,
    /// `d²/dx² silu = σ(x)·(1 − σ(x))·(2 + x·(1 − 2σ(x)))`, fused because force training
    /// differentiates every MLP's `SiluGrad` once more (ten launches as tensor ops)
    SiluGradGrad,
    /// `ln(1+e^x)`, computed without overflow
    Softplus,
    /// the error function
    Erf,
    /// `x^p`
    Powf(f64),
    /// `x + c`
    AddScalar(f64),
    /// `c·x`
    MulScalar(f64),
    /// Heaviside step: 1 where `x > 0`, else 0
    Step,
}

/// A binary op with NumPy broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a − b`
    Sub,
    /// `a · b`
    Mul,
    /// `a / b`
    Div,
    /// `max(a, b)`
    Maximum,
    /// `min(a, b)`
    Minimum,
}

/// A comparison; the result is a float mask of 1 (true) and 0 (false).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `a > b`
    Gt,
    /// `a ≥ b`
    Ge,
    /// `a < b`
    Lt,
    /// `a ≤ b`
    Le,
    /// `a = b`
    Eq,
}

/// Elementwise primitives.
///
/// For binary ops and comparisons, `a_shape`, `b_shape` and `out_shape` have the same
/// rank; a dimension of `a` or `b` is either equal to the output's or 1 (broadcast).
pub trait ElementwiseOps: BackendTypes {
    /// `out[i] = op(x[i])`.
    fn unary(op: UnaryOp, x: &Self::Storage) -> Self::Storage;
    /// `out = op(a, b)` with broadcasting.
    fn binary(
        op: BinaryOp,
        a: &Self::Storage,
        a_shape: &[usize],
        b: &Self::Storage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Self::Storage;
    /// `out = (a op b) ? 1 : 0` with broadcasting.
    fn compare(
        op: CompareOp,
        a: &Self::Storage,
        a_shape: &[usize],
        b: &Self::Storage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Self::Storage;
    /// `out[i] = mask[i] != 0 ? a[i] : b[i]`; all three have the same length.
    fn select(mask: &Self::Storage, a: &Self::Storage, b: &Self::Storage) -> Self::Storage;
}
