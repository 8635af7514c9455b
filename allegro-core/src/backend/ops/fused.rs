//! Fused ops: the channel-wise sparse contraction of Allegro's tensor product.
//!
//! `out[z, u, k] = Σ_e [out_e = k] · x[z, u, in0_e] · y[z, u, in1_e] · w[u, path_e] · c_e`
//! for a list of entries `e`. Its gradients with respect to `x` and `y` are the same op
//! with the entries' slots permuted, and with respect to `w` the companion
//! [`FusedOps::channel_contract_weight_grad`], whose own gradients are again
//! contractions: the pair is closed under differentiation, so backward rules written
//! with these two ops support any order.
//!
//! Both methods default to their references in [`super::fused_reference`], built from
//! the primitive ops, so a new backend runs the model before it has a contraction
//! kernel; the CPU and GPU backends override them with fused kernels.

use std::sync::Arc;

use super::elementwise::ElementwiseOps;
use super::fused_reference::{channel_contract_reference, channel_contract_weight_grad_reference};
use super::index::IndexOps;
use super::reduce::ReduceOps;
use super::storage::StorageOps;

/// One nonzero coupling: slots `[in0, in1, out]`, its path and its coefficient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContractEntry {
    /// Component indices in the first input, second input and output.
    pub slots: [u32; 3],
    /// Path whose weight multiplies this entry.
    pub path: u32,
    /// Coupling coefficient.
    pub coeff: f64,
}

/// A sparse contraction: entries and the extents of the three slots.
#[derive(Clone, Debug, PartialEq)]
pub struct ContractionSpec {
    /// The nonzero couplings.
    pub entries: Vec<ContractEntry>,
    /// Extents of the first input, second input and output component axes.
    pub dims: [usize; 3],
    /// Number of paths (columns of the weight).
    pub num_paths: usize,
}

impl ContractionSpec {
    /// The spec whose slot `k` is this spec's slot `order[k]` (e.g. `[2, 1, 0]` turns
    /// "x, y → out" into "g, y → x", the gradient with respect to `x`).
    pub fn permuted(&self, order: [usize; 3]) -> Arc<ContractionSpec> {
        Arc::new(ContractionSpec {
            entries: self
                .entries
                .iter()
                .map(|e| ContractEntry {
                    slots: order.map(|k| e.slots[k]),
                    ..*e
                })
                .collect(),
            dims: order.map(|k| self.dims[k]),
            num_paths: self.num_paths,
        })
    }
}

/// Fused primitives. `x` is `[E, U, dims[0]]`, `y` is `[E, U, dims[1]]`, the output
/// `[E, U, dims[2]]`; `w` is `[U, P]` when `per_channel`, else `[1, P]` shared by all
/// channels.
///
/// The supertraits are the primitives the default bodies are built from.
pub trait FusedOps: StorageOps + ElementwiseOps + IndexOps + ReduceOps {
    /// The contraction (module docs). Defaults to [`channel_contract_reference`].
    fn channel_contract(
        x: &Self::Storage,
        y: &Self::Storage,
        w: &Self::Storage,
        edges: usize,
        channels: usize,
        spec: &ContractionSpec,
        per_channel: bool,
    ) -> Self::Storage {
        channel_contract_reference::<Self>(x, y, w, edges, channels, spec, per_channel)
    }

    /// `gw[u, p] = Σ_z Σ_{e: path_e = p} x[z,u,in0_e]·y[z,u,in1_e]·g[z,u,out_e]·c_e`
    /// (summed over `u` too when not `per_channel`), with a fixed summation order.
    /// Defaults to [`channel_contract_weight_grad_reference`].
    fn channel_contract_weight_grad(
        x: &Self::Storage,
        y: &Self::Storage,
        g: &Self::Storage,
        edges: usize,
        channels: usize,
        spec: &ContractionSpec,
        per_channel: bool,
    ) -> Self::Storage {
        channel_contract_weight_grad_reference::<Self>(x, y, g, edges, channels, spec, per_channel)
    }
}
