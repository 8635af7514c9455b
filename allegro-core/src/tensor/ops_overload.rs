//! `+ − × ÷` on tensors and scalars, so model code reads like its formulas.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::Tensor;
use crate::backend::Backend;

macro_rules! tensor_binop {
    ($trait:ident, $method:ident, $call:ident) => {
        impl<B: Backend> $trait<&Tensor<B>> for &Tensor<B> {
            type Output = Tensor<B>;
            fn $method(self, rhs: &Tensor<B>) -> Tensor<B> {
                Tensor::$call(self, rhs)
            }
        }
        impl<B: Backend> $trait<Tensor<B>> for Tensor<B> {
            type Output = Tensor<B>;
            fn $method(self, rhs: Tensor<B>) -> Tensor<B> {
                Tensor::$call(&self, &rhs)
            }
        }
        impl<B: Backend> $trait<&Tensor<B>> for Tensor<B> {
            type Output = Tensor<B>;
            fn $method(self, rhs: &Tensor<B>) -> Tensor<B> {
                Tensor::$call(&self, rhs)
            }
        }
        impl<B: Backend> $trait<Tensor<B>> for &Tensor<B> {
            type Output = Tensor<B>;
            fn $method(self, rhs: Tensor<B>) -> Tensor<B> {
                Tensor::$call(self, &rhs)
            }
        }
    };
}

tensor_binop!(Add, add, add);
tensor_binop!(Sub, sub, sub);
tensor_binop!(Mul, mul, mul);
tensor_binop!(Div, div, div);

macro_rules! scalar_binop {
    ($trait:ident, $method:ident, |$t:ident, $c:ident| $body:expr) => {
        impl<B: Backend> $trait<f64> for &Tensor<B> {
            type Output = Tensor<B>;
            fn $method(self, $c: f64) -> Tensor<B> {
                let $t = self;
                $body
            }
        }
        impl<B: Backend> $trait<f64> for Tensor<B> {
            type Output = Tensor<B>;
            fn $method(self, $c: f64) -> Tensor<B> {
                let $t = &self;
                $body
            }
        }
    };
}

scalar_binop!(Add, add, |t, c| t.add_scalar(c));
scalar_binop!(Sub, sub, |t, c| t.add_scalar(-c));
scalar_binop!(Mul, mul, |t, c| t.mul_scalar(c));
scalar_binop!(Div, div, |t, c| t.mul_scalar(1.0 / c));

impl<B: Backend> Neg for &Tensor<B> {
    type Output = Tensor<B>;
    fn neg(self) -> Tensor<B> {
        Tensor::neg(self)
    }
}

impl<B: Backend> Neg for Tensor<B> {
    type Output = Tensor<B>;
    fn neg(self) -> Tensor<B> {
        Tensor::neg(&self)
    }
}
