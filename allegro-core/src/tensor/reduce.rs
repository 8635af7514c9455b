//! Sums and means.

use super::Tensor;
use crate::autodiff::rules::reduce as rules;
use crate::backend::Backend;
use crate::shape::split_at_axis;

impl<B: Backend> Tensor<B> {
    /// Sum over `axis`; the axis is kept with extent 1 when `keepdim`.
    pub fn sum(&self, axis: usize, keepdim: bool) -> Self {
        assert!(
            axis < self.rank(),
            "sum: axis {axis} of a rank-{} tensor",
            self.rank()
        );
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let mut shape = self.shape().to_vec();
        if keepdim {
            shape[axis] = 1;
        } else {
            shape.remove(axis);
        }
        Self::from_op(
            B::sum_axis(self.storage(), outer, n, inner),
            shape,
            "sum",
            &[self],
            rules::sum_rule::<B>(axis, keepdim),
        )
    }

    /// Sum of all elements, as a rank-0 tensor.
    pub fn sum_all(&self) -> Self {
        self.reshape(&[self.numel()]).sum(0, false)
    }

    /// Mean over `axis`.
    pub fn mean(&self, axis: usize, keepdim: bool) -> Self {
        let n = self.dim(axis) as f64;
        self.sum(axis, keepdim).mul_scalar(1.0 / n)
    }

    /// Mean of all elements, as a rank-0 tensor.
    pub fn mean_all(&self) -> Self {
        self.sum_all().mul_scalar(1.0 / self.numel() as f64)
    }

    /// Sums a broadcast result back to `shape`: the adjoint of [`Tensor::broadcast_to`].
    ///
    /// Leading axes that `shape` lacks are summed away; axes where `shape` has extent 1
    /// are summed with the axis kept.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        assert!(
            shape.len() <= self.rank(),
            "sum_to_shape: {:?} to {shape:?}",
            self.shape()
        );
        let mut t = self.clone();
        for _ in 0..self.rank() - shape.len() {
            t = t.sum(0, false);
        }
        for (axis, &d) in shape.iter().enumerate() {
            if d == 1 && t.dim(axis) != 1 {
                t = t.sum(axis, true);
            }
        }
        assert_eq!(
            t.shape(),
            shape,
            "sum_to_shape: {:?} is not a broadcast of {shape:?}",
            self.shape()
        );
        t
    }
}
