//! Gradients of a loss with respect to the trainable parameters, by name.

use allegro_core::{Backend, Tensor, grad};
use allegro_nn::Parameters;

/// Gradient of each trainable parameter, `(name, ∂L/∂θ)`, in name order.
pub type Gradients<B> = Vec<(String, Tensor<B>)>;

/// `∂loss/∂θ` for every trainable entry of `tracked` (a [`Parameters::tracked`] copy the
/// loss was computed from). The gradients record no graph.
pub fn gradients<B: Backend>(loss: &Tensor<B>, tracked: &Parameters<B>) -> Gradients<B> {
    let names = tracked.trainable_names();
    let inputs: Vec<&Tensor<B>> = names.iter().map(|n| tracked.get(n)).collect();
    let grads = grad(&[loss], None, &inputs, false);
    names.into_iter().zip(grads).collect()
}
