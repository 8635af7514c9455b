//! Ziegler–Biersack–Littmark screened nuclear repulsion (nequip's `ZBL`, docs/model.md §7).

use allegro_core::backend::ops::zbl::{ZBL_EXPONENT, ZBL_LENGTH, ZBL_SCREENING};
use allegro_core::radial::polynomial_cutoff;
use allegro_core::{Backend, DType, Indices, Tensor};

use super::PairPotential;
use crate::inputs::ModelInputs;

/// Coulomb constant `k_e` in eV·Å (`metal` units).
pub const KE_METAL: f64 = 14.399645;
/// Coulomb constant `k_e` in kcal/mol·Å (`real` units).
pub const KE_REAL: f64 = 332.06371;

/// `E_z = ½·k_e·Z_i·Z_j/r · φ(ξ) · u_p(x)`, `ξ = (Z_i^0.23 + Z_j^0.23)·r/0.46850`,
/// `φ = Σ_k c_k e^{−d_k ξ}` with the universal ZBL screening constants.
#[derive(Clone, Debug)]
pub struct Zbl {
    atomic_numbers: Vec<f64>,
    ke: f64,
    cutoff_p: f64,
}

impl Zbl {
    /// ZBL for types with these atomic numbers, Coulomb constant `ke`, envelope power `p`.
    pub fn new(atomic_numbers: Vec<f64>, ke: f64, cutoff_p: f64) -> Self {
        Zbl {
            atomic_numbers,
            ke,
            cutoff_p,
        }
    }

    /// Atomic number of each type.
    pub fn atomic_numbers(&self) -> &[f64] {
        &self.atomic_numbers
    }

    /// `k_e/2`, the reference's `_qqr2exesquare` buffer.
    pub fn half_ke(&self) -> f64 {
        self.ke / 2.0
    }

    /// The envelope's power `p`.
    pub fn cutoff_p(&self) -> f64 {
        self.cutoff_p
    }
}

impl PairPotential for Zbl {
    fn atomic_energies<B: Backend>(
        &self,
        r: &Tensor<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        self.edge_energies(r, x, &inputs.center_types, &inputs.neighbor_types)
            .index_add(0, &inputs.edge_center, inputs.n_atoms)
    }

    fn atomic_energies_fused<B: Backend>(
        &self,
        r: &Tensor<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
        rmax_recip: &[f64],
    ) -> Tensor<B> {
        self.edge_energies_fused(r, x, inputs, rmax_recip)
            .index_add(0, &inputs.edge_center, inputs.n_atoms)
    }
}

impl Zbl {
    /// `E_z` of every edge, `[E]` float64, composed from tensor ops (the oracle of the
    /// fused kernels, and the route for second derivatives).
    pub(crate) fn edge_energies<B: Backend>(
        &self,
        r: &Tensor<B>,
        x: &Tensor<B>,
        center_types: &Indices<B>,
        neighbor_types: &Indices<B>,
    ) -> Tensor<B> {
        let device = r.device();
        let z = Tensor::from_f64(
            &self.atomic_numbers,
            &[self.atomic_numbers.len()],
            DType::F64,
            &device,
        )
        .expect("shape");
        let zi = z.index_select(0, center_types);
        let zj = z.index_select(0, neighbor_types);
        let xi = zi
            .powf(ZBL_EXPONENT)
            .add(&zj.powf(ZBL_EXPONENT))
            .mul(r)
            .mul_scalar(1.0 / ZBL_LENGTH);
        let phi = ZBL_SCREENING
            .iter()
            .map(|&(c, d)| xi.mul_scalar(-d).exp().mul_scalar(c))
            .reduce(|a, b| a.add(&b))
            .expect("four terms");
        zi.mul(&zj)
            .div(r)
            .mul(&phi)
            .mul(&polynomial_cutoff(x, self.cutoff_p))
            .mul_scalar(0.5 * self.ke)
    }
}
