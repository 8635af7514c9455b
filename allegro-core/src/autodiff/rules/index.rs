//! Rules of gather and scatter-add: each is the other's adjoint.

use crate::autodiff::BackwardOp;
use crate::backend::Backend;
use crate::tensor::{Indices, Tensor};

/// `index_select`: scatter-add the gradient back to the rows it was read from.
pub fn index_select_rule<B: Backend>(axis: usize, idx: Indices<B>) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        vec![Some(g.index_add(axis, &idx, inputs[0].dim(axis)))]
    }
}

/// `index_add`: gather the gradient of each destination row.
pub fn index_add_rule<B: Backend>(axis: usize, idx: Indices<B>) -> impl BackwardOp<B> {
    move |_: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        vec![Some(g.index_select(axis, &idx))]
    }
}
