//! Rule of the (batched, optionally transposed) matrix product.

use crate::autodiff::BackwardOp;
use crate::backend::Backend;
use crate::tensor::Tensor;

/// Sums a batched gradient over the batch when its operand was one shared matrix.
fn unbatch<B: Backend>(g: Tensor<B>, input: &Tensor<B>) -> Tensor<B> {
    if g.rank() == 3 && input.rank() == 2 {
        g.sum(0, false)
    } else {
        g
    }
}

/// `C = op(A)·op(B)`. With `G = ∂L/∂C`:
/// - `C = A B`:   `∂A = G Bᵀ`,   `∂B = Aᵀ G`
/// - `C = A Bᵀ`:  `∂A = G B`,    `∂B = Gᵀ A`
/// - `C = Aᵀ B`:  `∂A = B Gᵀ`,   `∂B = A G`
/// - `C = Aᵀ Bᵀ`: `∂A = Bᵀ Gᵀ`,  `∂B = Gᵀ Aᵀ`
pub fn matmul_rule<B: Backend>(trans_a: bool, trans_b: bool) -> impl BackwardOp<B> {
    move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
        let (a, b) = (&inputs[0], &inputs[1]);
        let ga = needs[0].then(|| {
            let r = match (trans_a, trans_b) {
                (false, false) => g.matmul_t(b, false, true),
                (false, true) => g.matmul_t(b, false, false),
                (true, false) => b.matmul_t(g, false, true),
                (true, true) => b.matmul_t(g, true, true),
            };
            unbatch(r, a)
        });
        let gb = needs[1].then(|| {
            let r = match (trans_a, trans_b) {
                (false, false) => a.matmul_t(g, true, false),
                (false, true) => g.matmul_t(a, true, false),
                (true, false) => a.matmul_t(g, false, false),
                (true, true) => g.matmul_t(a, true, true),
            };
            unbatch(r, b)
        });
        vec![ga, gb]
    }
}
