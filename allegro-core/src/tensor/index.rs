//! Gather (`index_select`) and scatter-add (`index_add`) along an axis.

use super::{Indices, Tensor};
use crate::autodiff::rules::index as rules;
use crate::backend::Backend;
use crate::shape::split_at_axis;

impl<B: Backend> Tensor<B> {
    /// `out[.., m, ..] = self[.., idx[m], ..]` along `axis` (e.g. per-atom features to
    /// edges).
    pub fn index_select(&self, axis: usize, idx: &Indices<B>) -> Self {
        assert!(
            axis < self.rank(),
            "index_select: axis {axis} of {:?}",
            self.shape()
        );
        idx.assert_below(self.dim(axis), "index_select");
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let mut shape = self.shape().to_vec();
        shape[axis] = idx.len();
        Self::from_op(
            B::index_select(self.storage(), outer, n, inner, idx.storage(), idx.len()),
            shape,
            "index_select",
            &[self],
            rules::index_select_rule::<B>(axis, idx.clone()),
        )
    }

    /// `out[.., d, ..] = Σ_{m: idx[m] = d} self[.., m, ..]` along `axis`, with `n`
    /// destinations (e.g. edge features summed onto their center atoms).
    pub fn index_add(&self, axis: usize, idx: &Indices<B>, n: usize) -> Self {
        assert!(
            axis < self.rank(),
            "index_add: axis {axis} of {:?}",
            self.shape()
        );
        assert_eq!(
            self.dim(axis),
            idx.len(),
            "index_add: {} indices for axis {axis} of {:?}",
            idx.len(),
            self.shape()
        );
        idx.assert_below(n, "index_add");
        let (outer, _, inner) = split_at_axis(self.shape(), axis);
        let mut shape = self.shape().to_vec();
        shape[axis] = n;
        Self::from_op(
            B::index_add(self.storage(), outer, idx.storage(), idx.len(), inner, n),
            shape,
            "index_add",
            &[self],
            rules::index_add_rule::<B>(axis, idx.clone()),
        )
    }
}
