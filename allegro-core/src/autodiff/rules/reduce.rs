//! Rules of reductions.

use crate::autodiff::BackwardOp;
use crate::backend::Backend;
use crate::tensor::Tensor;

/// `sum` over an axis: the gradient is broadcast back along that axis.
pub fn sum_rule<B: Backend>(axis: usize, keepdim: bool) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        let x = &inputs[0];
        let g = if keepdim {
            g.clone()
        } else {
            g.unsqueeze(axis)
        };
        vec![Some(g.broadcast_to(x.shape()))]
    }
}
