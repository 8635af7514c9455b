//! nequip's `ScalarMLPFunction`: bias-free, with forward-normalised weights.

use allegro_core::SplitMix64;
use allegro_core::{Backend, DType, Tensor};

use crate::nonlinearity::Nonlinearity;
use crate::parameters::Parameters;

/// `dims = [in] + depth×[width] + [out]`; layer `k` computes `y = x @ (W_k·α_k)`, the
/// nonlinearity sits between layers, never after the last.
///
/// With forward normalisation `α_k = g_k/√h_in`, `g_k = 1` for the first layer or
/// without nonlinearity, else √2 (nequip's "relu gain"); without it
/// `α_k = g_k/√h_out` with `g = 1` on the last layer.
#[derive(Clone, Debug)]
pub struct ScalarMlp {
    names: Vec<String>,
    dims: Vec<usize>,
    alphas: Vec<f64>,
    nonlinearity: Option<Nonlinearity>,
}

impl ScalarMlp {
    /// An MLP whose weights live under `prefix` (e.g. `allegro.latents.0`): names
    /// `{prefix}.mlp.{0,2,4…}.weight` with a nonlinearity, `{prefix}.mlp.weights.{k}`
    /// for a deep linear stack, as the reference stores them.
    pub fn new(
        prefix: &str,
        input: usize,
        hidden_depth: usize,
        hidden_width: usize,
        output: usize,
        nonlinearity: Option<Nonlinearity>,
        forward_normalize: bool,
    ) -> Self {
        let mut dims = vec![input];
        dims.extend(std::iter::repeat_n(hidden_width, hidden_depth));
        dims.push(output);
        let layers = dims.len() - 1;
        let linear_stack = nonlinearity.is_none() && layers > 1;
        let names = (0..layers)
            .map(|k| {
                if linear_stack {
                    format!("{prefix}.mlp.weights.{k}")
                } else {
                    format!("{prefix}.mlp.{}.weight", 2 * k)
                }
            })
            .collect();
        let alphas = (0..layers)
            .map(|k| {
                let (h_in, h_out) = (dims[k] as f64, dims[k + 1] as f64);
                if forward_normalize {
                    let gain = if nonlinearity.is_none() || k == 0 {
                        1.0
                    } else {
                        2f64.sqrt()
                    };
                    gain / h_in.sqrt()
                } else {
                    let gain = if nonlinearity.is_none() || k == layers - 1 {
                        1.0
                    } else {
                        2f64.sqrt()
                    };
                    gain / h_out.sqrt()
                }
            })
            .collect();
        ScalarMlp {
            names,
            dims,
            alphas,
            nonlinearity,
        }
    }

    /// A single linear layer `x @ (W/√in)` (nequip's one-layer MLP).
    pub fn linear(prefix: &str, input: usize, output: usize) -> Self {
        Self::new(prefix, input, 0, 0, output, None, true)
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.dims[0]
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        *self.dims.last().expect("at least one layer")
    }

    /// Adds weights initialised U(−√3, √3) (unit variance; α does the scaling).
    pub fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        let bound = 3f64.sqrt();
        for (k, name) in self.names.iter().enumerate() {
            let shape = [self.dims[k], self.dims[k + 1]];
            let v: Vec<f64> = (0..shape[0] * shape[1])
                .map(|_| rng.uniform_in(-bound, bound))
                .collect();
            let t = Tensor::from_f64(&v, &shape, dtype, device).expect("shape matches");
            params.insert(name, t, true);
        }
    }

    /// The layers: weight name, `α_k`, input and output width.
    pub(crate) fn layer_specs(&self) -> impl Iterator<Item = (&str, f64, usize, usize)> {
        self.names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.as_str(), self.alphas[k], self.dims[k], self.dims[k + 1]))
    }

    /// The nonlinearity between layers.
    pub(crate) fn nonlinearity(&self) -> Option<Nonlinearity> {
        self.nonlinearity
    }

    /// Names and shapes of the weights.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.clone(), vec![self.dims[k], self.dims[k + 1]]))
            .collect()
    }

    /// Applies the MLP to `x` of shape `[rows, input]`.
    pub fn forward<B: Backend>(&self, params: &Parameters<B>, x: &Tensor<B>) -> Tensor<B> {
        let mut h = x.clone();
        let last = self.names.len() - 1;
        for (k, name) in self.names.iter().enumerate() {
            // Scaling the smaller operand (the weight) is cheaper than scaling the output.
            h = h.matmul(&params.get(name).mul_scalar(self.alphas[k]));
            if let (true, Some(f)) = (k < last, self.nonlinearity) {
                h = f.apply(&h);
            }
        }
        h
    }
}
