//! Matrix products.

use super::Tensor;
use crate::autodiff::rules::matmul as rules;
use crate::backend::{Backend, MatmulSpec};

impl<B: Backend> Tensor<B> {
    /// Matrix product over the last two axes: `[m, k]` or `[batch, m, k]` times `[k, n]`
    /// or `[batch, k, n]`. A rank-2 operand is shared by every batch entry.
    pub fn matmul(&self, other: &Self) -> Self {
        if self.rank() == 3 && other.rank() == 2 {
            // One tall GEMM is faster than a batch of small ones.
            let (b, m, k) = (self.dim(0), self.dim(1), self.dim(2));
            return self
                .reshape(&[b * m, k])
                .matmul_t(other, false, false)
                .reshape(&[b, m, other.dim(1)]);
        }
        self.matmul_t(other, false, false)
    }

    /// `op(self) · op(other)` where `op` transposes the last two axes when its flag is set.
    /// Operands are rank 2 (one matrix) or rank 3 (a batch).
    pub fn matmul_t(&self, other: &Self, trans_a: bool, trans_b: bool) -> Self {
        assert_eq!(self.dtype(), other.dtype(), "matmul: dtypes differ");
        let dims = |t: &Self| -> (Option<usize>, usize, usize) {
            match t.shape() {
                &[r, c] => (None, r, c),
                &[b, r, c] => (Some(b), r, c),
                s => panic!("matmul: operand of shape {s:?} is not rank 2 or 3"),
            }
        };
        let (ba, ra, ca) = dims(self);
        let (bb, rb, cb) = dims(other);
        let (m, k) = if trans_a { (ca, ra) } else { (ra, ca) };
        let (k2, n) = if trans_b { (cb, rb) } else { (rb, cb) };
        assert_eq!(
            k,
            k2,
            "matmul: inner dimensions of {:?} and {:?} differ",
            self.shape(),
            other.shape()
        );
        let batch = match (ba, bb) {
            (Some(x), Some(y)) => {
                assert_eq!(x, y, "matmul: batch sizes {x} and {y} differ");
                Some(x)
            }
            (x, y) => x.or(y),
        };
        let spec = MatmulSpec {
            batch: batch.unwrap_or(1),
            m,
            k,
            n,
            a_batched: ba.is_some(),
            b_batched: bb.is_some(),
            trans_a,
            trans_b,
        };
        let shape = match batch {
            Some(b) => vec![b, m, n],
            None => vec![m, n],
        };
        Self::from_op(
            B::matmul(self.storage(), other.storage(), spec),
            shape,
            "matmul",
            &[self, other],
            rules::matmul_rule::<B>(trans_a, trans_b),
        )
    }
}
