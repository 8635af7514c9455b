//! `TwoBodyBesselScalarEmbed` (docs/model.md §3).

use allegro_core::SplitMix64;
use allegro_core::radial::bessel_cutoff;
use allegro_core::{Backend, DType, Tensor};

use super::radial_chemical::{RadialChemicalEmbedding, normal_vec};
use crate::inputs::ModelInputs;
use crate::mlp::ScalarMlp;
use crate::parameters::Parameters;

const PREFIX: &str = "radial_chemical_embed";

/// `e_z = concat(center_embed[t_i], neighbor_embed[t_j]) ⊙ Linear_{N→D}(b(x)·u_p(x))`
/// with `b_n(x) = sinc(w_n x)·w_n`.
#[derive(Clone, Debug)]
pub struct BesselEmbedding {
    num_types: usize,
    num_bessels: usize,
    trainable: bool,
    cutoff_p: f64,
    dim: usize,
    basis_linear: ScalarMlp,
}

impl BesselEmbedding {
    /// An embedding of width `dim` (even) over `num_types` types.
    pub fn new(
        num_types: usize,
        num_bessels: usize,
        trainable: bool,
        cutoff_p: f64,
        dim: usize,
    ) -> Self {
        let basis_linear = ScalarMlp::linear(
            &format!("{PREFIX}.type_embed.basis_linear"),
            num_bessels,
            dim,
        );
        BesselEmbedding {
            num_types,
            num_bessels,
            trainable,
            cutoff_p,
            dim,
            basis_linear,
        }
    }

    fn weights_name() -> String {
        format!("{PREFIX}.bessel_encode.bessel_weights")
    }

    fn table_name(side: &str) -> String {
        format!("{PREFIX}.type_embed.{side}_embed.weight")
    }
}

impl RadialChemicalEmbedding for BesselEmbedding {
    fn output_dim(&self) -> usize {
        self.dim
    }

    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        let w: Vec<f64> = (1..=self.num_bessels).map(|n| n as f64).collect();
        let w = Tensor::from_f64(&w, &[1, self.num_bessels], dtype, device).expect("shape");
        params.insert(&Self::weights_name(), w, self.trainable);
        for side in ["center", "neighbor"] {
            let shape = [self.num_types, self.dim / 2];
            let v = normal_vec(rng, shape[0] * shape[1]);
            params.insert(
                &Self::table_name(side),
                Tensor::from_f64(&v, &shape, dtype, device).expect("shape"),
                true,
            );
        }
        self.basis_linear.init(params, rng, dtype, device);
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        // The basis times the cutoff as one fused op (one kernel each way on a GPU
        // instead of about sixty, and one more for a force loss's parameter gradient),
        // the composition `bessel_basis(x, w)·polynomial_cutoff(x, p)` while the weights
        // are being trained.
        let basis = bessel_cutoff(x, params.get(&Self::weights_name()), self.cutoff_p);
        self.embed(params, &basis, inputs)
    }
}

impl BesselEmbedding {
    /// `concat(center_embed[t_i], neighbor_embed[t_j]) ⊙ Linear(basis)`.
    fn embed<B: Backend>(
        &self,
        params: &Parameters<B>,
        basis: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        let radial = self.basis_linear.forward(params, basis);
        let center = params
            .get(&Self::table_name("center"))
            .index_select(0, &inputs.center_types);
        let neighbor = params
            .get(&Self::table_name("neighbor"))
            .index_select(0, &inputs.neighbor_types);
        Tensor::concat(&[&center, &neighbor], 1).mul(&radial)
    }
}
