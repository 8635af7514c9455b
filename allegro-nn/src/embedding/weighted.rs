//! `MakeWeightedChannels`: spherical harmonics times per-channel, per-irrep weights.

use allegro_core::e3::Irreps;
use allegro_core::{Backend, Indices, Tensor};

/// `out[z, u, m] = Y[z, m] · w[z, u, r(m)]`, with `w` read as `[U, R]` (u-major) and
/// `r(m)` the irrep that component `m` belongs to.
#[derive(Clone, Debug)]
pub struct WeightedChannels {
    channels: usize,
    num_irreps: usize,
    irrep_of_component: Vec<u32>,
}

impl WeightedChannels {
    /// Weighting of `irreps` (the harmonics) with `channels` channels.
    pub fn new(irreps: &Irreps, channels: usize) -> Self {
        let irrep_of_component = irreps
            .entry_of_component()
            .into_iter()
            .map(|r| r as u32)
            .collect();
        WeightedChannels {
            channels,
            num_irreps: irreps.len(),
            irrep_of_component,
        }
    }

    /// Irrep `r(m)` of each harmonic component.
    pub fn irrep_of_component(&self) -> &[u32] {
        &self.irrep_of_component
    }

    /// Irreps `R` of the harmonics.
    pub fn num_irreps(&self) -> usize {
        self.num_irreps
    }

    /// Channels `U`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Length of the weight vector per edge, `U·R`.
    pub fn weight_numel(&self) -> usize {
        self.channels * self.num_irreps
    }

    /// `Y` `[E, dim]`, `w` `[E, U·R]` → `[E, U, dim]`.
    pub fn forward<B: Backend>(&self, y: &Tensor<B>, w: &Tensor<B>) -> Tensor<B> {
        let e = y.dim(0);
        let idx = Indices::new(&self.irrep_of_component, &y.device());
        w.reshape(&[e, self.channels, self.num_irreps])
            .index_select(2, &idx)
            .mul(&y.unsqueeze(1))
    }
}
