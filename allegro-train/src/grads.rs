//! Gradients of a loss with respect to the trainable parameters, by name.

use allegro_core::{Backend, Tensor, grad, no_grad};
use allegro_nn::Parameters;

/// Gradient of each trainable parameter, `(name, ∂L/∂θ)`, in name order.
pub type Gradients<B> = Vec<(String, Tensor<B>)>;

/// `Σ g²` over every gradient, computed on the gradients' device (one concatenation, one
/// square, one sum: a few launches whatever the number of tensors) and read back once
/// (one wait on a GPU): NaN or infinite when any gradient is.
pub fn sum_of_squares<B: Backend>(grads: &Gradients<B>) -> f64 {
    match sum_of_squares_tensor(grads) {
        Some(s) => s.item(),
        None => 0.0,
    }
}

/// [`sum_of_squares`] left on the device: a one-element tensor of the gradients' dtype
/// (`None` without gradients).
pub fn sum_of_squares_tensor<B: Backend>(grads: &Gradients<B>) -> Option<Tensor<B>> {
    if grads.is_empty() {
        return None;
    }
    Some(no_grad(|| {
        let flat: Vec<Tensor<B>> = grads.iter().map(|(_, g)| g.reshape(&[g.numel()])).collect();
        let parts: Vec<&Tensor<B>> = flat.iter().collect();
        Tensor::concat(&parts, 0).square().sum_all().reshape(&[1])
    }))
}

/// `∂loss/∂θ` for every trainable entry of `tracked` (a [`Parameters::tracked`] copy the
/// loss was computed from). The gradients record no graph.
pub fn gradients<B: Backend>(loss: &Tensor<B>, tracked: &Parameters<B>) -> Gradients<B> {
    let names = tracked.trainable_names();
    let inputs: Vec<&Tensor<B>> = names.iter().map(|n| tracked.get(n)).collect();
    let grads = grad(&[loss], None, &inputs, false);
    names.into_iter().zip(grads).collect()
}

#[cfg(test)]
mod tests {
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_core::{DType, Tensor};

    #[test]
    fn sum_of_squares_sees_every_gradient() {
        let t = |v: &[f64]| Tensor::<Cpu>::from_f64(v, &[v.len()], DType::F64, &CpuDevice).unwrap();
        let mut g = vec![("a".to_string(), t(&[3.0, 0.0])), ("b".into(), t(&[4.0]))];
        assert_eq!(super::sum_of_squares(&g), 25.0);
        g[1].1 = t(&[f64::NAN]);
        assert!(super::sum_of_squares(&g).is_nan());
        g[1].1 = t(&[f64::INFINITY]);
        assert_eq!(super::sum_of_squares(&g), f64::INFINITY);
        assert_eq!(super::sum_of_squares::<Cpu>(&Vec::new()), 0.0);
    }
}
