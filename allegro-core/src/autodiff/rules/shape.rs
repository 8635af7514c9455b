//! Rules of data-movement ops.

use crate::autodiff::BackwardOp;
use crate::backend::Backend;
use crate::tensor::Tensor;

/// `reshape`: reshape the gradient back.
pub fn reshape_rule<B: Backend>() -> impl BackwardOp<B> {
    |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        vec![Some(g.reshape(inputs[0].shape()))]
    }
}

/// `permute`: apply the inverse permutation.
pub fn permute_rule<B: Backend>(perm: Vec<usize>) -> impl BackwardOp<B> {
    move |_: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        let mut inverse = vec![0; perm.len()];
        for (k, &p) in perm.iter().enumerate() {
            inverse[p] = k;
        }
        vec![Some(g.permute(&inverse))]
    }
}

/// `broadcast_to`: sum over the repeated axes.
pub fn broadcast_rule<B: Backend>() -> impl BackwardOp<B> {
    |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        vec![Some(g.sum_to_shape(inputs[0].shape()))]
    }
}

/// `concat`: each part gets its slice of the gradient.
pub fn concat_rule<B: Backend>(axis: usize, sizes: Vec<usize>) -> impl BackwardOp<B> {
    move |_: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
        let mut start = 0;
        sizes
            .iter()
            .zip(needs)
            .map(|(&n, &need)| {
                let part = need.then(|| g.narrow(axis, start, n));
                start += n;
                part
            })
            .collect()
    }
}

/// `pad`: the gradient's rows of the input (pad and narrow are each other's adjoints,
/// so the pair is closed under differentiation).
pub fn pad_rule<B: Backend>(axis: usize, before: usize) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        vec![Some(g.narrow(axis, before, inputs[0].dim(axis)))]
    }
}

/// `narrow`: the gradient padded with zeros to the input's extent.
pub fn narrow_rule<B: Backend>(axis: usize, start: usize) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
        let after = inputs[0].dim(axis) - start - g.dim(axis);
        vec![Some(g.pad_axis(axis, start, after))]
    }
}
