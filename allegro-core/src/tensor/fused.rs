//! Fused Allegro contraction as differentiable tensor ops.

use std::sync::Arc;

use super::Tensor;
use crate::autodiff::rules::fused as rules;
use crate::backend::{Backend, ContractionSpec};

impl<B: Backend> Tensor<B> {
    fn check_contract(x: &Self, y: &Self, spec: &ContractionSpec, op: &str) -> (usize, usize) {
        assert!(
            x.rank() == 3 && y.rank() == 3,
            "{op}: inputs {:?} and {:?} are not [E, U, d]",
            x.shape(),
            y.shape()
        );
        let (e, u) = (x.dim(0), x.dim(1));
        assert!(
            y.dim(0) == e && y.dim(1) == u && x.dim(2) == spec.dims[0] && y.dim(2) == spec.dims[1],
            "{op}: inputs {:?} and {:?} do not fit dims {:?}",
            x.shape(),
            y.shape(),
            spec.dims
        );
        assert_eq!(x.dtype(), y.dtype(), "{op}: dtypes differ");
        (e, u)
    }

    /// `out[z,u,k] = Σ_e [out_e = k]·x[z,u,in0_e]·y[z,u,in1_e]·w[u or 0, path_e]·c_e`
    /// (see [`crate::backend::ops::fused`]); `w` is `[U, P]` when `per_channel`, else
    /// `[1, P]`. Differentiable to any order.
    pub fn channel_contract(
        x: &Self,
        y: &Self,
        w: &Self,
        spec: &Arc<ContractionSpec>,
        per_channel: bool,
    ) -> Self {
        let (e, u) = Self::check_contract(x, y, spec, "channel_contract");
        let rows = if per_channel { u } else { 1 };
        assert_eq!(
            w.shape(),
            [rows, spec.num_paths],
            "channel_contract: weight shape"
        );
        let storage = B::channel_contract(
            x.storage(),
            y.storage(),
            w.storage(),
            e,
            u,
            spec,
            per_channel,
        );
        Self::from_op(
            storage,
            vec![e, u, spec.dims[2]],
            "channel_contract",
            &[x, y, w],
            rules::contract_rule::<B>(spec.clone(), per_channel),
        )
    }

    /// The weight gradient of [`Tensor::channel_contract`] for output gradient `g`:
    /// `[U or 1, P]`. Differentiable to any order.
    pub fn channel_contract_weight_grad(
        x: &Self,
        y: &Self,
        g: &Self,
        spec: &Arc<ContractionSpec>,
        per_channel: bool,
    ) -> Self {
        let (e, u) = Self::check_contract(x, y, spec, "channel_contract_weight_grad");
        assert_eq!(
            g.shape(),
            [e, u, spec.dims[2]],
            "channel_contract_weight_grad: gradient shape"
        );
        let rows = if per_channel { u } else { 1 };
        let storage = B::channel_contract_weight_grad(
            x.storage(),
            y.storage(),
            g.storage(),
            e,
            u,
            spec,
            per_channel,
        );
        Self::from_op(
            storage,
            vec![rows, spec.num_paths],
            "channel_contract_weight_grad",
            &[x, y, g],
            rules::weight_grad_rule::<B>(spec.clone(), per_channel),
        )
    }
}
