//! Tensor-product bookkeeping of Allegro's strided contraction (`Contracter`
//! in nequip-allegro 0.8.3): the ordered paths, their normalisation, and the
//! sparse and dense coupling coefficients, as plain data.
//!
//! The contraction itself (per edge `z`, channel `u`):
//! `out[z,u,k] = Σ_{i,j} x1[z,u,i] · x2[z,u,j] · Σ_p θ[u,p] · C[p,i,j,k]`,
//! where every irreps list has multiplicity 1 per entry (the channel axis `u`
//! is separate, "strided"), `C[p]` is the path's Wigner-3j block times
//! `√(2 l_out + 1)`, placed at the three irreps' offsets, and `θ` the path
//! weights (`[U, P]` with path–channel coupling, `[P]` without, `P` dropped
//! when `P = 1`).

mod coupling;
mod normalization;
mod path;

pub use coupling::{CouplingEntry, StridedContraction, W3jBuffer};
pub use normalization::IrrepNormalization;
pub use path::{TpPath, strided_paths};
