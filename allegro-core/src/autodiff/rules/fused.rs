//! Rules of the fused contraction pair; each gradient is again one of the pair.

use std::sync::Arc;

use crate::autodiff::BackwardOp;
use crate::backend::{Backend, ContractionSpec};
use crate::tensor::Tensor;

/// `out = C(x, y; w)`: `∂x = C(g, y; w)` with slots (out, in1 → in0),
/// `∂y = C(x, g; w)` with slots (in0, out → in1), `∂w = W(x, y, g)`.
pub fn contract_rule<B: Backend>(
    spec: Arc<ContractionSpec>,
    per_channel: bool,
) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
        let (x, y, w) = (&inputs[0], &inputs[1], &inputs[2]);
        vec![
            needs[0]
                .then(|| Tensor::channel_contract(g, y, w, &spec.permuted([2, 1, 0]), per_channel)),
            needs[1]
                .then(|| Tensor::channel_contract(x, g, w, &spec.permuted([0, 2, 1]), per_channel)),
            needs[2].then(|| Tensor::channel_contract_weight_grad(x, y, g, &spec, per_channel)),
        ]
    }
}

/// `gw = W(x, y, g)`; with `h = ∂L/∂gw`: `∂x = C(y, g; h)` (slots in1, out → in0),
/// `∂y = C(x, g; h)` (slots in0, out → in1), `∂g = C(x, y; h)`.
pub fn weight_grad_rule<B: Backend>(
    spec: Arc<ContractionSpec>,
    per_channel: bool,
) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, h: &Tensor<B>, needs: &[bool]| {
        let (x, y, g) = (&inputs[0], &inputs[1], &inputs[2]);
        vec![
            needs[0]
                .then(|| Tensor::channel_contract(y, g, h, &spec.permuted([1, 2, 0]), per_channel)),
            needs[1]
                .then(|| Tensor::channel_contract(x, g, h, &spec.permuted([0, 2, 1]), per_channel)),
            needs[2].then(|| Tensor::channel_contract(x, y, h, &spec, per_channel)),
        ]
    }
}
