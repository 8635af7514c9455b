//! Reshaping, permuting, broadcasting, concatenating and slicing.

use super::Tensor;
use crate::autodiff::rules::shape as rules;
use crate::backend::Backend;
use crate::shape::{numel, pad_to_rank, split_at_axis};

impl<B: Backend> Tensor<B> {
    /// The same elements with another shape (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Self {
        assert_eq!(
            numel(shape),
            self.numel(),
            "reshape: {:?} has a different number of elements than {shape:?}",
            self.shape()
        );
        Self::from_op(
            self.storage().clone(),
            shape.to_vec(),
            "reshape",
            &[self],
            rules::reshape_rule::<B>(),
        )
    }

    /// Inserts an axis of extent 1 before `axis`.
    pub fn unsqueeze(&self, axis: usize) -> Self {
        let mut shape = self.shape().to_vec();
        assert!(
            axis <= shape.len(),
            "unsqueeze: axis {axis} of a rank-{} tensor",
            shape.len()
        );
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// Removes `axis`, which must have extent 1.
    pub fn squeeze(&self, axis: usize) -> Self {
        assert_eq!(
            self.dim(axis),
            1,
            "squeeze: axis {axis} of {:?} is not 1",
            self.shape()
        );
        let mut shape = self.shape().to_vec();
        shape.remove(axis);
        self.reshape(&shape)
    }

    /// Reorders axes: axis `k` of the result is axis `perm[k]` of `self`.
    pub fn permute(&self, perm: &[usize]) -> Self {
        let r = self.rank();
        let mut seen = vec![false; r];
        assert!(
            perm.len() == r
                && perm
                    .iter()
                    .all(|&p| p < r && !std::mem::replace(&mut seen[p], true)),
            "permute: {perm:?} is not a permutation of {r} axes"
        );
        if perm.iter().enumerate().all(|(k, &p)| k == p) {
            return self.clone();
        }
        let shape: Vec<usize> = perm.iter().map(|&p| self.dim(p)).collect();
        Self::from_op(
            B::permute(self.storage(), self.shape(), perm),
            shape,
            "permute",
            &[self],
            rules::permute_rule::<B>(perm.to_vec()),
        )
    }

    /// Swaps axes `a` and `b`.
    pub fn transpose(&self, a: usize, b: usize) -> Self {
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Swaps the last two axes.
    pub fn t(&self) -> Self {
        let r = self.rank();
        assert!(r >= 2, "t: rank-{r} tensor");
        self.transpose(r - 2, r - 1)
    }

    /// Broadcasts to `shape` (NumPy rules: missing leading axes and extent-1 axes repeat).
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        assert!(
            self.rank() <= shape.len(),
            "broadcast_to: {:?} to {shape:?}",
            self.shape()
        );
        let padded = pad_to_rank(self.shape(), shape.len());
        assert!(
            padded.iter().zip(shape).all(|(&a, &b)| a == b || a == 1),
            "broadcast_to: {:?} to {shape:?}",
            self.shape()
        );
        Self::from_op(
            B::broadcast_to(self.storage(), &padded, shape),
            shape.to_vec(),
            "broadcast_to",
            &[self],
            rules::broadcast_rule::<B>(),
        )
    }

    /// Concatenates tensors along `axis`; all other extents must agree.
    pub fn concat(parts: &[&Self], axis: usize) -> Self {
        assert!(!parts.is_empty(), "concat: no tensors");
        let first = parts[0];
        for p in parts {
            assert_eq!(p.dtype(), first.dtype(), "concat: dtypes differ");
            assert!(
                p.rank() == first.rank()
                    && (0..p.rank()).all(|d| d == axis || p.dim(d) == first.dim(d)),
                "concat: shapes {:?} and {:?} along axis {axis}",
                first.shape(),
                p.shape()
            );
        }
        if parts.len() == 1 {
            return first.clone();
        }
        let (outer, _, inner) = split_at_axis(first.shape(), axis);
        let sizes: Vec<usize> = parts.iter().map(|p| p.dim(axis)).collect();
        let storages: Vec<(&B::Storage, usize)> = parts
            .iter()
            .zip(&sizes)
            .map(|(p, &n)| (p.storage(), n))
            .collect();
        let mut shape = first.shape().to_vec();
        shape[axis] = sizes.iter().sum();
        Self::from_op(
            B::concat(&storages, outer, inner),
            shape,
            "concat",
            parts,
            rules::concat_rule::<B>(axis, sizes),
        )
    }

    /// Elements `start..start + len` along `axis`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        assert!(
            axis < self.rank() && start + len <= self.dim(axis),
            "narrow: {start}..{} of axis {axis} of {:?}",
            start + len,
            self.shape()
        );
        if start == 0 && len == self.dim(axis) {
            return self.clone();
        }
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let mut shape = self.shape().to_vec();
        shape[axis] = len;
        Self::from_op(
            B::narrow(self.storage(), outer, n, inner, start, len),
            shape,
            "narrow",
            &[self],
            rules::narrow_rule::<B>(axis, start),
        )
    }

    /// Zeros of this dtype added before (`before`) and after (`after`) along `axis`.
    pub fn pad_axis(&self, axis: usize, before: usize, after: usize) -> Self {
        assert!(
            axis < self.rank(),
            "pad_axis: axis {axis} of {:?}",
            self.shape()
        );
        if before == 0 && after == 0 {
            return self.clone();
        }
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let mut shape = self.shape().to_vec();
        shape[axis] = before + n + after;
        Self::from_op(
            B::pad(self.storage(), outer, n, inner, before, after),
            shape,
            "pad",
            &[self],
            rules::pad_rule::<B>(axis, before),
        )
    }
}
