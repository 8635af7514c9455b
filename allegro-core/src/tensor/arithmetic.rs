//! Elementwise arithmetic, maps, comparisons and selection.

use super::Tensor;
use crate::autodiff::rules::elementwise as rules;
use crate::backend::{Backend, BinaryOp, CompareOp, UnaryOp};
use crate::shape::{broadcast_shapes, pad_to_rank};

/// Generates one public method per unary map.
macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {
        $( $(#[$doc])* pub fn $name(&self) -> Self { self.unary($op) } )*
    };
}

impl<B: Backend> Tensor<B> {
    /// Applies an elementwise map.
    pub fn unary(&self, op: UnaryOp) -> Self {
        Self::from_op(
            B::unary(op, self.storage()),
            self.shape().to_vec(),
            rules::unary_name(op),
            &[self],
            rules::unary_rule::<B>(op),
        )
    }

    unary_methods! {
        /// `-x`
        neg => UnaryOp::Neg;
        /// `e^x`
        exp => UnaryOp::Exp;
        /// `ln x`
        log => UnaryOp::Log;
        /// `√x`
        sqrt => UnaryOp::Sqrt;
        /// `1/x`
        recip => UnaryOp::Recip;
        /// `x²`
        square => UnaryOp::Square;
        /// `|x|`
        abs => UnaryOp::Abs;
        /// `sign(x)` (gradient zero)
        sign => UnaryOp::Sign;
        /// `sin x`
        sin => UnaryOp::Sin;
        /// `cos x`
        cos => UnaryOp::Cos;
        /// `tanh x`
        tanh => UnaryOp::Tanh;
        /// `1/(1+e^{−x})`
        sigmoid => UnaryOp::Sigmoid;
        /// `x·sigmoid(x)` (SiLU, "swish")
        silu => UnaryOp::Silu;
        /// `ln(1+e^x)`
        softplus => UnaryOp::Softplus;
        /// the error function
        erf => UnaryOp::Erf;
        /// 1 where `x > 0`, else 0 (gradient zero)
        step => UnaryOp::Step;
    }

    /// `x^p` elementwise.
    pub fn powf(&self, p: f64) -> Self {
        self.unary(UnaryOp::Powf(p))
    }

    /// `x + c`.
    pub fn add_scalar(&self, c: f64) -> Self {
        self.unary(UnaryOp::AddScalar(c))
    }

    /// `c·x`.
    pub fn mul_scalar(&self, c: f64) -> Self {
        self.unary(UnaryOp::MulScalar(c))
    }

    fn check_pair(&self, other: &Self, op: &str) -> Vec<usize> {
        assert_eq!(self.dtype(), other.dtype(), "{op}: dtypes differ");
        broadcast_shapes(self.shape(), other.shape()).unwrap_or_else(|| {
            panic!(
                "{op}: shapes {:?} and {:?} do not broadcast",
                self.shape(),
                other.shape()
            )
        })
    }

    /// Applies a binary op with NumPy broadcasting.
    pub fn binary(&self, other: &Self, op: BinaryOp) -> Self {
        let name = rules::binary_name(op);
        let out_shape = self.check_pair(other, name);
        let r = out_shape.len();
        let storage = B::binary(
            op,
            self.storage(),
            &pad_to_rank(self.shape(), r),
            other.storage(),
            &pad_to_rank(other.shape(), r),
            &out_shape,
        );
        Self::from_op(
            storage,
            out_shape,
            name,
            &[self, other],
            rules::binary_rule::<B>(op),
        )
    }

    /// `a + b` with broadcasting.
    pub fn add(&self, other: &Self) -> Self {
        self.binary(other, BinaryOp::Add)
    }

    /// `a − b` with broadcasting.
    pub fn sub(&self, other: &Self) -> Self {
        self.binary(other, BinaryOp::Sub)
    }

    /// `a · b` elementwise with broadcasting.
    pub fn mul(&self, other: &Self) -> Self {
        self.binary(other, BinaryOp::Mul)
    }

    /// `a / b` with broadcasting.
    pub fn div(&self, other: &Self) -> Self {
        self.binary(other, BinaryOp::Div)
    }

    /// `max(a, b)` with broadcasting; at ties the gradient goes to `a`.
    pub fn maximum(&self, other: &Self) -> Self {
        self.binary(other, BinaryOp::Maximum)
    }

    /// `min(a, b)` with broadcasting; at ties the gradient goes to `a`.
    pub fn minimum(&self, other: &Self) -> Self {
        self.binary(other, BinaryOp::Minimum)
    }

    /// A 0/1 mask of `a op b` (with broadcasting). Masks are constants.
    pub fn compare(&self, other: &Self, op: CompareOp) -> Self {
        let out_shape = self.check_pair(other, "compare");
        let r = out_shape.len();
        let storage = B::compare(
            op,
            self.storage(),
            &pad_to_rank(self.shape(), r),
            other.storage(),
            &pad_to_rank(other.shape(), r),
            &out_shape,
        );
        Self::from_storage(storage, &out_shape)
    }

    /// Mask of `a > b`.
    pub fn gt(&self, other: &Self) -> Self {
        self.compare(other, CompareOp::Gt)
    }

    /// Mask of `a ≥ b`.
    pub fn ge(&self, other: &Self) -> Self {
        self.compare(other, CompareOp::Ge)
    }

    /// Mask of `a < b`.
    pub fn lt(&self, other: &Self) -> Self {
        self.compare(other, CompareOp::Lt)
    }

    /// Mask of `a ≤ b`.
    pub fn le(&self, other: &Self) -> Self {
        self.compare(other, CompareOp::Le)
    }

    /// `mask ? a : b` elementwise, with `mask`, `a`, `b` broadcast to a common shape.
    /// The mask is treated as a constant.
    pub fn where_(mask: &Self, a: &Self, b: &Self) -> Self {
        let ab = a.check_pair(b, "where");
        let shape = broadcast_shapes(&ab, mask.shape())
            .unwrap_or_else(|| panic!("where: mask shape {:?} does not broadcast", mask.shape()));
        let (mask, a, b) = (
            mask.detach().cast(a.dtype()).broadcast_to(&shape),
            a.broadcast_to(&shape),
            b.broadcast_to(&shape),
        );
        let storage = B::select(mask.storage(), a.storage(), b.storage());
        let m = mask.detach();
        Self::from_op(
            storage,
            shape,
            "where",
            &[&a, &b],
            rules::select_rule::<B>(m),
        )
    }
}
