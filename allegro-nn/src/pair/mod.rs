//! Pair potentials added to the learned energy.

mod zbl;
mod zbl_fused;

pub use zbl::{KE_METAL, KE_REAL, Zbl};

use allegro_core::{Backend, Tensor};

use crate::inputs::ModelInputs;

/// A two-body energy term summed onto center atoms.
pub trait PairPotential {
    /// Per-atom energies `[N]` (float64) from edge lengths `r` `[E]` and normalised lengths
    /// `x = r/r_c` `[E]` (float64).
    fn atomic_energies<B: Backend>(
        &self,
        r: &Tensor<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B>;

    /// [`PairPotential::atomic_energies`] where `x = r·rmax_recip[t_i·T + t_j]`, so that
    /// a potential may compute it from `r` in fused ops (the model's route). Defaults to
    /// `atomic_energies`.
    fn atomic_energies_fused<B: Backend>(
        &self,
        r: &Tensor<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
        rmax_recip: &[f64],
    ) -> Tensor<B> {
        let _ = rmax_recip;
        self.atomic_energies(r, x, inputs)
    }
}
