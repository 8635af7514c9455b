//! Pair potentials added to the learned energy.

mod zbl;

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
}
