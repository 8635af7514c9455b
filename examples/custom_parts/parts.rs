//! The parts `examples/custom_parts.rs` plugs into an Allegro model — a radial embedding
//! and a tensor product written outside the crates — and the registration that lets any
//! program holding them (the C ABI's tests, `tests/custom_parts.rs`) load a model file
//! that names them. Only `allegro_core` and `allegro_nn` paths, so the C ABI's tests
//! include this file too.

use allegro_core::backend::UnaryOp;
use allegro_core::radial::polynomial_cutoff;
use allegro_core::{Backend, DType, Tensor};
use allegro_nn::registry;
use allegro_nn::tensor_product::TensorProduct;
use allegro_nn::tensor_product_custom::{CustomTensorProduct, TensorProductSite};
use allegro_nn::{
    CustomRadialEmbedding, ModelInputs, Parameters, RadialChemicalEmbedding, SplitMix64,
};
use serde_json::Value;

/// `e_z = (g(x_z)·u_6(x_z)) W ⊙ center[t_i] ⊙ neighbor[t_j]`: `K` Gaussians on
/// `x = r/r_c ∈ [0, 1]` under the polynomial envelope, mixed to `dim` features and
/// modulated by one learned vector per center and per neighbor type.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianEmbedding {
    /// Types in the model.
    pub num_types: usize,
    /// Gaussians `K`.
    pub num_gaussians: usize,
    /// Feature width `D`.
    pub dim: usize,
}

impl GaussianEmbedding {
    const W: &'static str = "radial_chemical_embed.gaussian.mix";
    const CENTER: &'static str = "radial_chemical_embed.gaussian.center_types";
    const NEIGHBOR: &'static str = "radial_chemical_embed.gaussian.neighbor_types";

    fn normal(rng: &mut SplitMix64, n: usize, scale: f64) -> Vec<f64> {
        (0..n).map(|_| scale * rng.normal()).collect()
    }
}

impl RadialChemicalEmbedding for GaussianEmbedding {
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
        let (k, d, t) = (self.num_gaussians, self.dim, self.num_types);
        let w = Self::normal(rng, k * d, 1.0 / (k as f64).sqrt());
        params.insert(
            Self::W,
            Tensor::from_f64(&w, &[k, d], dtype, device).unwrap(),
            true,
        );
        for name in [Self::CENTER, Self::NEIGHBOR] {
            let v: Vec<f64> = Self::normal(rng, t * d, 0.1)
                .iter()
                .map(|x| 1.0 + x)
                .collect();
            params.insert(
                name,
                Tensor::from_f64(&v, &[t, d], dtype, device).unwrap(),
                true,
            );
        }
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        let k = self.num_gaussians;
        let centers: Vec<f64> = (0..k).map(|i| i as f64 / (k - 1) as f64).collect();
        let mu = Tensor::from_f64(&centers, &[1, k], x.dtype(), &x.device()).unwrap();
        let width = 1.0 / (k - 1) as f64;
        // g_k(x) = exp(−(x − μ_k)² / (2 w²)), [E, K].
        let g = x
            .sub(&mu)
            .unary(UnaryOp::Square)
            .mul_scalar(-0.5 / (width * width))
            .unary(UnaryOp::Exp);
        let radial = g
            .mul(&polynomial_cutoff(x, 6.0))
            .matmul(params.get(Self::W));
        let center = params
            .get(Self::CENTER)
            .index_select(0, &inputs.center_types);
        let neighbor = params
            .get(Self::NEIGHBOR)
            .index_select(0, &inputs.neighbor_types);
        radial.mul(&center).mul(&neighbor)
    }
}

impl CustomRadialEmbedding for GaussianEmbedding {
    fn name(&self) -> String {
        "custom_parts.GaussianEmbedding".into()
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "num_types": self.num_types,
            "num_gaussians": self.num_gaussians,
            "dim": self.dim
        })
    }
}

/// `out[z, u, k] = 2σ(g_u) · TP(x1, x2)[z, u, k]`: Allegro's contraction with one learned
/// gate per channel. A gate is a scalar, so the product stays equivariant; it is 1 at
/// initialisation (`g = 0`), where the model equals Allegro's with the same weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GatedProduct;

impl GatedProduct {
    fn gate_name(site: &TensorProductSite) -> String {
        format!("{}.channel_gate", site.prefix)
    }
}

impl CustomTensorProduct for GatedProduct {
    fn name(&self) -> String {
        "custom_parts.GatedProduct".into()
    }

    fn init<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        // Allegro's path weights first, drawn as the built-in layer draws them.
        site.allegro.init(params, rng, dtype, device);
        let gate = Tensor::zeros(&[site.channels], dtype, device);
        params.insert(&Self::gate_name(site), gate, true);
    }

    fn forward<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B> {
        let gate = params
            .get(&Self::gate_name(site))
            .unary(UnaryOp::Sigmoid)
            .mul_scalar(2.0)
            .reshape(&[1, site.channels, 1]);
        site.allegro.forward(params, x1, x2).mul(&gate)
    }
}

/// Registers both parts by name, each rebuilt from the settings a model file records.
pub fn register() {
    registry::register_radial_embedding("custom_parts.GaussianEmbedding", |s: &Value| {
        let field = |k: &str| {
            s.get(k)
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| format!("settings: `{k}` is not a count"))
        };
        Ok(GaussianEmbedding {
            num_types: field("num_types")?,
            num_gaussians: field("num_gaussians")?,
            dim: field("dim")?,
        })
    });
    registry::register_tensor_product("custom_parts.GatedProduct", |_| Ok(GatedProduct));
}
