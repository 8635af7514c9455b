//! Allegro's channel-wise Clebsch-Gordan tensor product (`Contracter`, docs/model.md §6).

use allegro_core::SplitMix64;
use allegro_core::e3::tensor_product::{StridedContraction, W3jBuffer};
use allegro_core::{Backend, DType, Indices, Tensor};

use crate::parameters::Parameters;

/// `out[z, u, k] = Σ_{i,j} x1[z, u, i] · x2[z, u, j] · Σ_p θ[u, p] · C_p[i, j, k]`.
pub trait TensorProduct {
    /// Adds the path weights θ.
    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    );
    /// `x1` `[E, U, d1]`, `x2` `[E, U, d2]` → `[E, U, d_out]`.
    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B>;
}

/// The tensor product composed from differentiable ops: the pairs `(i, j)` that any path
/// couples are gathered (`x1[.., i]·x2[.., j]`, `[E, U, Q]`) and contracted with
/// `W[u, q, k] = Σ_p θ[u, p]·C_p[q, k]` by one batched matrix product. It is the oracle
/// for fused kernels.
#[derive(Clone, Debug)]
pub struct ComposedTensorProduct {
    name: String,
    channels: usize,
    coupled: bool,
    num_paths: usize,
    dim_out: usize,
    weight_shape: Vec<usize>,
    pair_i: Vec<u32>,
    pair_j: Vec<u32>,
    /// `[P, Q, d_out]`, row-major.
    coefficients: Vec<f64>,
    /// The reference's `w3j` buffer, to check imported weights against.
    w3j: W3jBuffer,
}

impl ComposedTensorProduct {
    /// The product of `contraction` over `channels` channels, weights named
    /// `{prefix}.weights`.
    pub fn new(
        prefix: &str,
        contraction: &StridedContraction,
        channels: usize,
        path_channel_coupling: bool,
    ) -> Self {
        let mut pairs: Vec<(usize, usize)> = contraction
            .couplings
            .iter()
            .flatten()
            .map(|c| (c.i1, c.i2))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let (p, q, d) = (contraction.num_paths(), pairs.len(), contraction.dim_out());
        let mut coefficients = vec![0.0; p * q * d];
        for (path, entries) in contraction.couplings.iter().enumerate() {
            for c in entries {
                let qi = pairs.binary_search(&(c.i1, c.i2)).expect("pair listed");
                coefficients[(path * q + qi) * d + c.out] += c.value;
            }
        }
        ComposedTensorProduct {
            name: format!("{prefix}.weights"),
            channels,
            coupled: path_channel_coupling,
            num_paths: p,
            dim_out: d,
            weight_shape: contraction.weight_shape(channels, path_channel_coupling),
            pair_i: pairs.iter().map(|x| x.0 as u32).collect(),
            pair_j: pairs.iter().map(|x| x.1 as u32).collect(),
            coefficients,
            w3j: contraction.w3j_buffer(),
        }
    }

    /// The coupling coefficients in the reference's `w3j` buffer layout.
    pub fn w3j_buffer(&self) -> &W3jBuffer {
        &self.w3j
    }

    /// Name and shape of the weights (the reference's, with the path axis dropped when
    /// there is one path).
    pub fn weight_shape(&self) -> (String, Vec<usize>) {
        (self.name.clone(), self.weight_shape.clone())
    }

    /// `W[u, q, k]` (`[U or 1, Q, d_out]`) from the path weights.
    fn mixed_coefficients<B: Backend>(&self, theta: &Tensor<B>) -> Tensor<B> {
        let rows = if self.coupled { self.channels } else { 1 };
        let q = self.pair_i.len();
        let c = Tensor::from_f64(
            &self.coefficients,
            &[self.num_paths, q * self.dim_out],
            theta.dtype(),
            &theta.device(),
        )
        .expect("coefficient shape");
        theta
            .reshape(&[rows, self.num_paths])
            .matmul(&c)
            .reshape(&[rows, q, self.dim_out])
    }
}

impl TensorProduct for ComposedTensorProduct {
    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        let n: usize = self.weight_shape.iter().product();
        let b = 3f64.sqrt();
        let v: Vec<f64> = (0..n).map(|_| rng.uniform_in(-b, b)).collect();
        params.insert(
            &self.name,
            Tensor::from_f64(&v, &self.weight_shape, dtype, device).expect("shape"),
            true,
        );
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B> {
        let (e, u) = (x1.dim(0), x1.dim(1));
        let device = x1.device();
        let pairs = x1
            .index_select(2, &Indices::new(&self.pair_i, &device))
            .mul(&x2.index_select(2, &Indices::new(&self.pair_j, &device)));
        let w = self.mixed_coefficients(params.get(&self.name));
        let q = self.pair_i.len();
        if self.coupled {
            // [U, E, Q] · [U, Q, d] → [U, E, d]
            pairs.permute(&[1, 0, 2]).matmul(&w).permute(&[1, 0, 2])
        } else {
            pairs
                .reshape(&[e * u, q])
                .matmul(&w.reshape(&[q, self.dim_out]))
                .reshape(&[e, u, self.dim_out])
        }
    }
}
