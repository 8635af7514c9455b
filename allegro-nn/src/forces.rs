//! Forces, strain derivatives and per-atom virials from `g = ∂E/∂v`, the gradient of the
//! energy with respect to the edge vectors (`docs/model.md` §8), and the [`Outputs`] they
//! fill: the tape path ([`AllegroModel::outputs`]) and the no-tape path
//! (`energy_forces`) share this math.

use allegro_core::{Backend, Tensor, grad};

use crate::inputs::ModelInputs;
use crate::model::AllegroModel;
use crate::parameters::Parameters;

/// Model outputs as tensors (float64), differentiable with respect to the parameters
/// when computed with `create_graph` (training on forces).
#[derive(Clone, Debug)]
pub struct Outputs<B: Backend> {
    /// Per-atom energies `[N]`.
    pub atomic_energies: Tensor<B>,
    /// Energy of each structure `[F]`.
    pub total_energy: Tensor<B>,
    /// Forces `[N, 3]`.
    pub forces: Tensor<B>,
    /// `G = ∂E/∂ε` per structure `[F, 3, 3]` (virial = −G, stress = G/volume).
    pub strain_derivative: Tensor<B>,
    /// Per-atom virial `W_a = −½ Σ_{z ∋ a} v_z ⊗ ∂E/∂v_z` `[N, 3, 3]` (each edge's share
    /// split between its two atoms, unsymmetrised: LAMMPS's centroid form; the halves of
    /// `W + Wᵀ` give `compute stress/atom`), when asked for.
    pub atom_virial: Option<Tensor<B>>,
}

impl AllegroModel {
    /// Energies, forces and strain derivatives of a batch.
    ///
    /// Forces come from `g = ∂E/∂v` on edge vectors: `F_n = Σ_{center=n} g − Σ_{neighbor=n} g`
    /// (since `v = r_j − r_i + …`), and `G = sym(Σ_z v_z ⊗ g_z)` per structure. With
    /// `create_graph` the results are differentiable with respect to tracked parameters.
    pub fn outputs<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
        create_graph: bool,
    ) -> Outputs<B> {
        let v = inputs.edge_vectors.tracked();
        let inputs = inputs.with_edge_vectors(v.clone());
        let atomic_energies = self.atomic_energies(params, &inputs);
        let total_energy = atomic_energies.index_add(0, &inputs.batch, inputs.n_frames);
        let g = grad(&[&total_energy.sum_all()], None, &[&v], create_graph).remove(0);
        let (forces, strain_derivative) = forces_and_strain_derivative(&inputs, &v.detach(), &g);
        Outputs {
            atomic_energies,
            total_energy,
            forces,
            strain_derivative,
            atom_virial: None,
        }
    }
}

/// Forces `F_n = Σ_{center=n} g − Σ_{neighbor=n} g` and `G = sym(Σ_z v_z ⊗ g_z)` per
/// structure from `g = ∂E/∂v` (`v = r_j − r_i + …`).
pub(crate) fn forces_and_strain_derivative<B: Backend>(
    inputs: &ModelInputs<B>,
    v: &Tensor<B>,
    g: &Tensor<B>,
) -> (Tensor<B>, Tensor<B>) {
    let forces = to_graph_atoms(inputs, g.index_add(0, &inputs.edge_center, inputs.n_atoms))
        .sub(&g.index_add(0, &inputs.edge_neighbor, inputs.graph_atoms));
    let outer = v.unsqueeze(2).mul(&g.unsqueeze(1));
    let total = if inputs.n_frames == 1 {
        // One structure (MD): a plain sum, no scatter by structure.
        outer.sum(0, true)
    } else {
        outer.index_add(0, &inputs.edge_batch, inputs.n_frames)
    };
    let strain_derivative = total.add(&total.permute(&[0, 2, 1])).mul_scalar(0.5);
    (forces, strain_derivative)
}

/// `W_a = −½ Σ_{z ∋ a} v_z ⊗ g_z` `[N, 3, 3]`: the per-atom virial of
/// [`Outputs::atom_virial`] from `g = ∂E/∂v`.
pub(crate) fn atom_virial<B: Backend>(
    inputs: &ModelInputs<B>,
    v: &Tensor<B>,
    g: &Tensor<B>,
) -> Tensor<B> {
    let outer = v.unsqueeze(2).mul(&g.unsqueeze(1));
    to_graph_atoms(
        inputs,
        outer.index_add(0, &inputs.edge_center, inputs.n_atoms),
    )
    .add(&outer.index_add(0, &inputs.edge_neighbor, inputs.graph_atoms))
    .mul_scalar(-0.5)
}

/// A per-center sum `[n_atoms, …]` placed among all atoms of the graph
/// (`[graph_atoms, …]`, zeros outside a pass's centers).
fn to_graph_atoms<B: Backend>(inputs: &ModelInputs<B>, per_center: Tensor<B>) -> Tensor<B> {
    let after = inputs.graph_atoms - inputs.first_center - inputs.n_atoms;
    if inputs.first_center == 0 && after == 0 {
        return per_center;
    }
    per_center.pad_axis(0, inputs.first_center, after)
}
