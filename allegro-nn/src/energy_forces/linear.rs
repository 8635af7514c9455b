//! Prepared linear maps and MLPs of the no-tape path: weights with their `α` folded in
//! and their transposes, applied through `fused_linear`.

use allegro_core::backend::{Activation, LinearSpec, MatmulPrecision};
use allegro_core::{Backend, DType, Tensor};

use super::matrix::{Block, Matrix, Out};
use crate::mlp::ScalarMlp;
use crate::parameters::Parameters;

/// One product `A @ W` with the epilogue of [`LinearSpec`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear<B: Backend>(
    rows: usize,
    inputs: &[Block<'_, B>],
    weight: &Tensor<B>,
    activation: Option<Activation>,
    mask: Option<&B::Storage>,
    derivative: Option<&mut B::Storage>,
    outputs: &mut [Out<'_, B>],
    precision: MatmulPrecision,
) {
    let spec = LinearSpec {
        rows,
        inputs: inputs.iter().map(|(_, b)| *b).collect(),
        outputs: outputs.iter().map(|o| o.block).collect(),
        activation,
        masked: mask.is_some(),
        precision,
    };
    debug_assert_eq!(
        spec.k(),
        weight.dim(0),
        "linear: K of the inputs and the weight"
    );
    debug_assert_eq!(
        spec.n(),
        weight.dim(1),
        "linear: N of the outputs and the weight"
    );
    let storages: Vec<&B::Storage> = inputs.iter().map(|(s, _)| *s).collect();
    let mut outs: Vec<&mut B::Storage> = outputs.iter_mut().map(|o| &mut *o.storage).collect();
    B::fused_linear(
        &spec,
        &storages,
        weight.storage(),
        mask,
        derivative,
        &mut outs,
    );
}

/// A layer's weight `W·α` (`[in, out]`) and its transpose.
pub(crate) struct PreparedWeight<B: Backend> {
    pub w: Tensor<B>,
    pub wt: Tensor<B>,
}

impl<B: Backend> PreparedWeight<B> {
    /// From `W·α` in float64.
    pub fn new(w: Tensor<B>, dtype: DType) -> Self {
        let w = w.cast(dtype);
        let wt = w.t();
        PreparedWeight { w, wt }
    }

    /// Output width.
    pub fn n(&self) -> usize {
        self.w.dim(1)
    }

    /// Input width.
    pub fn k(&self) -> usize {
        self.w.dim(0)
    }
}

/// A nequip MLP ready for the fused ops. A stack without nonlinearity is folded into
/// one matrix (`x@W₀α₀@W₁α₁ = x@(W₀α₀W₁α₁)`, the product taken in float64).
pub(crate) struct PreparedMlp<B: Backend> {
    pub layers: Vec<PreparedWeight<B>>,
    pub activation: Option<Activation>,
}

/// The weights `W·α` of an MLP in float64.
fn scaled_weights<B: Backend>(mlp: &ScalarMlp, params: &Parameters<B>) -> Vec<Tensor<B>> {
    mlp.layer_specs()
        .map(|(name, alpha, _, _)| params.get(name).cast(DType::F64).mul_scalar(alpha))
        .collect()
}

impl<B: Backend> PreparedMlp<B> {
    /// `mlp` with the weights of `params`, in `dtype`.
    pub fn new(mlp: &ScalarMlp, params: &Parameters<B>, dtype: DType) -> Self {
        let weights = scaled_weights(mlp, params);
        let activation = mlp.nonlinearity().map(|n| n.activation());
        let layers = match activation {
            None => {
                let folded = weights
                    .into_iter()
                    .reduce(|a, b| a.matmul(&b))
                    .expect("an MLP has a layer");
                vec![PreparedWeight::new(folded, dtype)]
            }
            Some(_) => weights
                .into_iter()
                .map(|w| PreparedWeight::new(w, dtype))
                .collect(),
        };
        PreparedMlp { layers, activation }
    }

    /// Several linear maps of the same input side by side (`[W_a | W_b | …]`), in `dtype`.
    pub fn side_by_side(maps: &[&ScalarMlp], params: &Parameters<B>, dtype: DType) -> Self {
        let parts: Vec<Tensor<B>> = maps
            .iter()
            .map(|m| {
                let mut w = scaled_weights(m, params);
                assert!(
                    w.len() == 1 && m.nonlinearity().is_none(),
                    "side by side: one-layer linear maps only"
                );
                w.remove(0)
            })
            .collect();
        let refs: Vec<&Tensor<B>> = parts.iter().collect();
        PreparedMlp {
            layers: vec![PreparedWeight::new(Tensor::concat(&refs, 1), dtype)],
            activation: None,
        }
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.layers.last().expect("a layer").n()
    }

    /// Applies the MLP to the concatenation of `inputs`, writing the result to `outputs`;
    /// returns what the backward pass needs (the hidden layers' derivatives).
    pub fn forward(
        &self,
        rows: usize,
        inputs: &[Block<'_, B>],
        outputs: &mut [Out<'_, B>],
        precision: MatmulPrecision,
    ) -> Vec<B::Storage> {
        let device = B::storage_device(self.layers[0].w.storage());
        let dtype = self.layers[0].w.dtype();
        let last = self.layers.len() - 1;
        let mut derivatives = Vec::with_capacity(last);
        let mut hidden: Option<Matrix<B>> = None;
        for (k, layer) in self.layers.iter().enumerate() {
            let ins: Vec<Block<'_, B>> = match &hidden {
                None => inputs.to_vec(),
                Some(h) => vec![h.all()],
            };
            if k < last {
                let mut h = Matrix::uninit(&device, rows, layer.n(), dtype);
                let mut d = Matrix::<B>::uninit(&device, rows, layer.n(), dtype);
                linear(
                    rows,
                    &ins,
                    &layer.w,
                    self.activation,
                    None,
                    Some(&mut d.storage),
                    &mut [h.out_all()],
                    precision,
                );
                drop(ins);
                derivatives.push(d.storage);
                hidden = Some(h);
            } else {
                linear(rows, &ins, &layer.w, None, None, None, outputs, precision);
            }
        }
        derivatives
    }

    /// The adjoint: from the gradient of the output (`grad_out`, blocks) and the
    /// forward pass's derivatives, writes the gradient of the input to `outputs`.
    pub fn backward(
        &self,
        rows: usize,
        grad_out: &[Block<'_, B>],
        derivatives: Vec<B::Storage>,
        outputs: &mut [Out<'_, B>],
        precision: MatmulPrecision,
    ) {
        match self.backward_hidden(rows, grad_out, derivatives, precision) {
            Some(g) => self.backward_input(rows, &[g.all()], outputs, precision),
            None => self.backward_input(rows, grad_out, outputs, precision),
        }
    }

    /// The adjoint through every layer but the first: the gradient at the first
    /// layer's output, or `None` for a one-layer MLP (where that is `grad_out` itself).
    /// Split from [`PreparedMlp::backward_input`] so a caller may read `grad_out` from
    /// the buffer the input gradient is then added to.
    pub fn backward_hidden(
        &self,
        rows: usize,
        grad_out: &[Block<'_, B>],
        derivatives: Vec<B::Storage>,
        precision: MatmulPrecision,
    ) -> Option<Matrix<B>> {
        let device = B::storage_device(self.layers[0].w.storage());
        let dtype = self.layers[0].w.dtype();
        let mut grad: Option<Matrix<B>> = None;
        for (k, layer) in self.layers.iter().enumerate().skip(1).rev() {
            let ins: Vec<Block<'_, B>> = match &grad {
                None => grad_out.to_vec(),
                Some(g) => vec![g.all()],
            };
            // ∂/∂z_{k−1} = (g @ W_kᵀ) ⊙ f'(z_{k−1})
            let mut g = Matrix::uninit(&device, rows, layer.k(), dtype);
            linear(
                rows,
                &ins,
                &layer.wt,
                None,
                Some(&derivatives[k - 1]),
                None,
                &mut [g.out_all()],
                precision,
            );
            drop(ins);
            grad = Some(g);
        }
        grad
    }

    /// The first layer's adjoint: `grad @ W_0ᵀ` into `outputs`.
    pub fn backward_input(
        &self,
        rows: usize,
        grad: &[Block<'_, B>],
        outputs: &mut [Out<'_, B>],
        precision: MatmulPrecision,
    ) {
        linear(
            rows,
            grad,
            &self.layers[0].wt,
            None,
            None,
            None,
            outputs,
            precision,
        );
    }
}

/// The concatenation of `blocks` as one new matrix (a product with the identity).
pub(crate) fn gather<B: Backend>(
    rows: usize,
    blocks: &[Block<'_, B>],
    dtype: DType,
    device: &B::Device,
) -> Matrix<B> {
    let k: usize = blocks.iter().map(|(_, b)| b.width).sum();
    let eye: Vec<f64> = (0..k * k)
        .map(|i| if i / k == i % k { 1.0 } else { 0.0 })
        .collect();
    let eye = Tensor::<B>::from_f64(&eye, &[k, k], dtype, device).expect("shape");
    let mut out = Matrix::uninit(device, rows, k, dtype);
    linear(
        rows,
        blocks,
        &eye,
        None,
        None,
        None,
        &mut [out.out_all()],
        MatmulPrecision::Exact,
    );
    out
}
