//! Gradient clipping, as `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` (what
//! Lightning's `gradient_clip_val` with `gradient_clip_algorithm: norm | value` calls).
//!
//! By global norm: `‖g‖ = √(Σ_i ‖g_i‖²)` over all gradients; every gradient is multiplied
//! by `min(1, max_norm / (‖g‖ + 1e-6))`.

use allegro_core::{Backend, no_grad};
use serde::{Deserialize, Serialize};

use crate::grads::Gradients;

/// A clipping rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradClip {
    /// Scale all gradients so their global 2-norm is at most this.
    Norm(f64),
    /// Clamp every component to `[−v, v]`.
    Value(f64),
}

/// The global 2-norm `√(Σ_i ‖g_i‖²)` of `grads`.
pub fn global_norm<B: Backend>(grads: &Gradients<B>) -> f64 {
    grads
        .iter()
        .map(|(_, g)| g.to_vec_f64().iter().map(|x| x * x).sum::<f64>())
        .sum::<f64>()
        .sqrt()
}

/// Scales `grads` to global norm at most `max_norm`; returns the norm before clipping.
pub fn clip_grad_norm<B: Backend>(grads: &mut Gradients<B>, max_norm: f64) -> f64 {
    let norm = global_norm(grads);
    let coef = (max_norm / (norm + 1e-6)).min(1.0);
    if coef < 1.0 {
        no_grad(|| {
            for (_, g) in grads.iter_mut() {
                *g = g.mul_scalar(coef);
            }
        });
    }
    norm
}

/// Clamps every gradient component to `[−v, v]`.
pub fn clip_grad_value<B: Backend>(grads: &mut Gradients<B>, v: f64) {
    no_grad(|| {
        for (_, g) in grads.iter_mut() {
            let hi = g.full_like(&[], v);
            let lo = g.full_like(&[], -v);
            *g = g.minimum(&hi).maximum(&lo);
        }
    });
}

impl GradClip {
    /// Applies the rule; returns the global norm before clipping.
    pub fn apply<B: Backend>(&self, grads: &mut Gradients<B>) -> f64 {
        match *self {
            GradClip::Norm(max) => clip_grad_norm(grads, max),
            GradClip::Value(v) => {
                let norm = global_norm(grads);
                clip_grad_value(grads, v);
                norm
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_core::{DType, Tensor};

    fn grads() -> Gradients<Cpu> {
        let t = |v: &[f64]| Tensor::from_f64(v, &[v.len()], DType::F64, &CpuDevice).unwrap();
        vec![
            ("a".into(), t(&[3.0, 0.0])),
            ("b".into(), t(&[0.0, 4.0, 0.0])),
        ]
    }

    #[test]
    fn norm_and_value_by_hand() {
        let mut g = grads();
        assert_eq!(clip_grad_norm(&mut g, 10.0), 5.0);
        assert_eq!(g[0].1.to_vec_f64(), vec![3.0, 0.0]); // under the limit: untouched
        let norm = clip_grad_norm(&mut g, 1.0);
        assert_eq!(norm, 5.0);
        let c = 1.0 / (5.0 + 1e-6);
        assert_eq!(g[0].1.to_vec_f64(), vec![3.0 * c, 0.0]);
        assert_eq!(g[1].1.to_vec_f64(), vec![0.0, 4.0 * c, 0.0]);
        let mut g = grads();
        GradClip::Value(3.5).apply(&mut g);
        assert_eq!(g[1].1.to_vec_f64(), vec![0.0, 3.5, 0.0]);
        assert_eq!(g[0].1.to_vec_f64(), vec![3.0, 0.0]);
    }
}
