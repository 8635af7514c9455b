//! AdamW (Loshchilov & Hutter 2019) exactly as `torch.optim.AdamW` computes it.
//!
//! For each trainable θ with gradient g, at step t = 1, 2, …:
//!
//! ```text
//! θ ← θ·(1 − lr·λ)                         decoupled weight decay, before the Adam update
//! m ← m + (1 − β₁)(g − m)                  (torch: exp_avg.lerp_(g, 1 − β₁))
//! v ← β₂·v + (1 − β₂)·g²
//! v̂ ← max(v̂, v)   if amsgrad, and v̂ is used for v below
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! Moments live on the parameters' device in their dtype (torch keeps them in the
//! parameter dtype too); the state serialises to host `f64` values, lossless for
//! `f32` and `f64`.

use std::collections::BTreeMap;

use allegro_core::backend::AdamWScalars;
use allegro_core::{Backend, Tensor, no_grad};
use allegro_nn::Parameters;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, config_error};
use crate::grads::Gradients;
use crate::optim::Optimizer;
use crate::part_state::{decode_state, encode_state};

/// Hyper-parameters of AdamW; defaults are torch's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// `(β₁, β₂)` (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay λ (default 1e-2).
    pub weight_decay: f64,
    /// Use the maximum of past second moments (default false).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

impl AdamWConfig {
    /// Checks the ranges torch checks.
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, key: &str, v: f64| {
            if ok {
                Ok(())
            } else {
                Err(config_error(
                    &format!("optimizer.{key}"),
                    format!("invalid value {v}"),
                ))
            }
        };
        check(self.lr >= 0.0, "lr", self.lr)?;
        check(self.eps >= 0.0, "eps", self.eps)?;
        check((0.0..1.0).contains(&self.betas.0), "betas[0]", self.betas.0)?;
        check((0.0..1.0).contains(&self.betas.1), "betas[1]", self.betas.1)?;
        check(self.weight_decay >= 0.0, "weight_decay", self.weight_decay)
    }
}

struct Moments<B: Backend> {
    exp_avg: Tensor<B>,
    exp_avg_sq: Tensor<B>,
    max_exp_avg_sq: Option<Tensor<B>>,
}

/// The AdamW optimizer over the trainable entries of a [`Parameters`] set.
pub struct AdamW<B: Backend> {
    config: AdamWConfig,
    step: u64,
    moments: BTreeMap<String, Moments<B>>,
}

impl<B: Backend> std::fmt::Debug for AdamW<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdamW")
            .field("config", &self.config)
            .field("step", &self.step)
            .field("tensors", &self.moments.len())
            .finish()
    }
}

/// Moments of one parameter on the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MomentRecord {
    /// Parameter name.
    pub name: String,
    /// First moment `m`.
    pub exp_avg: Vec<f64>,
    /// Second moment `v`.
    pub exp_avg_sq: Vec<f64>,
    /// Running maximum of `v` (amsgrad only).
    pub max_exp_avg_sq: Option<Vec<f64>>,
}

/// Serialisable state of [`AdamW`]: hyper-parameters (with the current lr), step count
/// and moments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWState {
    /// Hyper-parameters, `lr` as last set.
    pub config: AdamWConfig,
    /// Steps taken.
    pub step: u64,
    /// Moments by parameter, in name order.
    pub moments: Vec<MomentRecord>,
}

impl<B: Backend> AdamW<B> {
    /// A fresh optimizer (moments are created at the first step).
    pub fn new(config: AdamWConfig) -> Result<Self> {
        config.validate()?;
        Ok(AdamW {
            config,
            step: 0,
            moments: BTreeMap::new(),
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Sets the learning rate (what a scheduler does).
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update of every parameter named in `grads` (all must be trainable entries of
    /// `params` with the gradient's shape).
    pub fn step(&mut self, params: &mut Parameters<B>, grads: &Gradients<B>) -> Result<()> {
        self.step_with_gate(params, grads, None)
    }

    /// [`step`](Self::step) taken on the device only where the one-element `gate` is
    /// non-zero (else parameters and moments stay as they are), the host reading
    /// nothing; the step count advances either way. Returns `false`, having done
    /// nothing, where it cannot gate (amsgrad's running maximum is kept with tensor
    /// ops): the caller then checks on the host and calls [`step`](Self::step).
    pub fn step_gated(
        &mut self,
        params: &mut Parameters<B>,
        grads: &Gradients<B>,
        gate: &Tensor<B>,
    ) -> Result<bool> {
        if self.config.amsgrad {
            return Ok(false);
        }
        self.step_with_gate(params, grads, Some(gate))?;
        Ok(true)
    }

    fn step_with_gate(
        &mut self,
        params: &mut Parameters<B>,
        grads: &Gradients<B>,
        gate: Option<&Tensor<B>>,
    ) -> Result<()> {
        for (name, g) in grads {
            match params.entry(name) {
                Some(p)
                    if p.trainable
                        && p.tensor.shape() == g.shape()
                        && p.tensor.dtype() == g.dtype() => {}
                Some(p) => {
                    return Err(Error::State(format!(
                        "gradient of `{name}` has shape {:?} ({:?}), the parameter {:?} ({:?}){}",
                        g.shape(),
                        g.dtype(),
                        p.tensor.shape(),
                        p.tensor.dtype(),
                        if p.trainable {
                            ""
                        } else {
                            " and is not trainable"
                        }
                    )));
                }
                None => return Err(Error::State(format!("no parameter `{name}` to update"))),
            }
        }
        self.step += 1;
        let c = self.config;
        let (b1, b2) = c.betas;
        let t = self.step as i32;
        let bias1 = 1.0 - b1.powi(t);
        let bias2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let step_size = c.lr / bias1;
        no_grad(|| -> Result<()> {
            for (name, g) in grads {
                let theta = params.get(name).detach();
                let g = g.detach();
                let m = self.moments.entry(name.clone()).or_insert_with(|| Moments {
                    exp_avg: theta.zeros_like(),
                    exp_avg_sq: theta.zeros_like(),
                    max_exp_avg_sq: c.amsgrad.then(|| theta.zeros_like()),
                });
                if m.max_exp_avg_sq.is_none() {
                    // The fused step: one pass (one kernel on a GPU) instead of fourteen
                    // elementwise ops; the same expressions as the amsgrad path below.
                    let scalars = AdamWScalars {
                        decay: (c.weight_decay != 0.0).then_some(1.0 - c.lr * c.weight_decay),
                        beta1: b1,
                        beta2: b2,
                        inv_bias2_sqrt: 1.0 / bias2_sqrt,
                        eps: c.eps,
                        step_size,
                    };
                    let shape = theta.shape().to_vec();
                    let gate = gate.map(|x| x.cast(theta.dtype()));
                    let u = B::adamw_step(
                        theta.storage(),
                        g.storage(),
                        m.exp_avg.storage(),
                        m.exp_avg_sq.storage(),
                        &scalars,
                        gate.as_ref().map(|x| x.storage()),
                    );
                    m.exp_avg = Tensor::from_storage(u.exp_avg, &shape);
                    m.exp_avg_sq = Tensor::from_storage(u.exp_avg_sq, &shape);
                    params.set(name, Tensor::from_storage(u.theta, &shape))?;
                    continue;
                }
                let theta = if c.weight_decay != 0.0 {
                    theta.mul_scalar(1.0 - c.lr * c.weight_decay)
                } else {
                    theta
                };
                m.exp_avg = m.exp_avg.add(&g.sub(&m.exp_avg).mul_scalar(1.0 - b1));
                m.exp_avg_sq = m
                    .exp_avg_sq
                    .mul_scalar(b2)
                    .add(&g.square().mul_scalar(1.0 - b2));
                let second = match &mut m.max_exp_avg_sq {
                    Some(mx) => {
                        *mx = mx.maximum(&m.exp_avg_sq);
                        mx.clone()
                    }
                    None => m.exp_avg_sq.clone(),
                };
                let denom = second.sqrt().mul_scalar(1.0 / bias2_sqrt).add_scalar(c.eps);
                let theta = theta.sub(&m.exp_avg.div(&denom).mul_scalar(step_size));
                params.set(name, theta)?;
            }
            Ok(())
        })
    }

    /// The state on the host, for checkpoints.
    pub fn state(&self) -> AdamWState {
        AdamWState {
            config: self.config,
            step: self.step,
            moments: self
                .moments
                .iter()
                .map(|(name, m)| MomentRecord {
                    name: name.clone(),
                    exp_avg: m.exp_avg.to_vec_f64(),
                    exp_avg_sq: m.exp_avg_sq.to_vec_f64(),
                    max_exp_avg_sq: m.max_exp_avg_sq.as_ref().map(|t| t.to_vec_f64()),
                })
                .collect(),
        }
    }

    /// Restores a state saved by [`state`](Self::state); moments take the shape, dtype
    /// and device of the parameters of the same name in `params`.
    pub fn load_state(&mut self, state: &AdamWState, params: &Parameters<B>) -> Result<()> {
        state.config.validate()?;
        let mut moments = BTreeMap::new();
        for r in &state.moments {
            let p = params.entry(&r.name).ok_or_else(|| {
                Error::State(format!(
                    "optimizer state for unknown parameter `{}`",
                    r.name
                ))
            })?;
            let (shape, dtype, device) = (
                p.tensor.shape().to_vec(),
                p.tensor.dtype(),
                p.tensor.device(),
            );
            let make = |v: &[f64], what: &str| -> Result<Tensor<B>> {
                if v.len() != p.tensor.numel() {
                    return Err(Error::State(format!(
                        "optimizer {what} of `{}` has {} values, the parameter {}",
                        r.name,
                        v.len(),
                        p.tensor.numel()
                    )));
                }
                Ok(Tensor::from_f64(v, &shape, dtype, &device)?)
            };
            if r.max_exp_avg_sq.is_some() != state.config.amsgrad {
                return Err(Error::State(format!(
                    "optimizer state of `{}` does not match amsgrad = {}",
                    r.name, state.config.amsgrad
                )));
            }
            moments.insert(
                r.name.clone(),
                Moments {
                    exp_avg: make(&r.exp_avg, "exp_avg")?,
                    exp_avg_sq: make(&r.exp_avg_sq, "exp_avg_sq")?,
                    max_exp_avg_sq: r
                        .max_exp_avg_sq
                        .as_ref()
                        .map(|v| make(v, "max_exp_avg_sq"))
                        .transpose()?,
                },
            );
        }
        self.config = state.config;
        self.step = state.step;
        self.moments = moments;
        Ok(())
    }
}

/// The name AdamW states carry in checkpoints.
pub const KIND: &str = "AdamW";

impl<B: Backend> Optimizer<B> for AdamW<B> {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn lr(&self) -> f64 {
        AdamW::lr(self)
    }
    fn set_lr(&mut self, lr: f64) {
        AdamW::set_lr(self, lr)
    }
    fn steps(&self) -> u64 {
        AdamW::steps(self)
    }
    fn step(&mut self, params: &mut Parameters<B>, grads: &Gradients<B>) -> Result<()> {
        AdamW::step(self, params, grads)
    }
    fn step_gated(
        &mut self,
        params: &mut Parameters<B>,
        grads: &Gradients<B>,
        gate: &Tensor<B>,
    ) -> Result<bool> {
        AdamW::step_gated(self, params, grads, gate)
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        encode_state("the AdamW state", &self.state())
    }
    fn load_state(&mut self, bytes: &[u8], params: &Parameters<B>) -> Result<()> {
        let state: AdamWState = decode_state("the AdamW state", bytes)?;
        AdamW::load_state(self, &state, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allegro_core::DType;
    use allegro_core::backend::cpu::{Cpu, CpuDevice};

    fn params(theta: &[f64]) -> Parameters<Cpu> {
        let mut p = Parameters::new();
        p.insert(
            "w",
            Tensor::from_f64(theta, &[theta.len()], DType::F64, &CpuDevice).unwrap(),
            true,
        );
        p.insert(
            "fixed",
            Tensor::from_f64(&[7.0], &[1], DType::F64, &CpuDevice).unwrap(),
            false,
        );
        p
    }

    fn grads(g: &[f64]) -> Gradients<Cpu> {
        vec![(
            "w".to_string(),
            Tensor::from_f64(g, &[g.len()], DType::F64, &CpuDevice).unwrap(),
        )]
    }

    /// The torch algorithm written out for one scalar parameter.
    fn reference(theta0: f64, gs: &[f64], c: AdamWConfig) -> f64 {
        let (b1, b2) = c.betas;
        let (mut th, mut m, mut v, mut vmax) = (theta0, 0.0f64, 0.0f64, 0.0f64);
        for (k, g) in gs.iter().enumerate() {
            let t = (k + 1) as i32;
            th *= 1.0 - c.lr * c.weight_decay;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            vmax = vmax.max(v);
            let vv = if c.amsgrad { vmax } else { v };
            let denom = vv.sqrt() / (1.0 - b2.powi(t)).sqrt() + c.eps;
            th -= c.lr / (1.0 - b1.powi(t)) * m / denom;
        }
        th
    }

    #[test]
    fn first_step_by_hand() {
        // Step 1: m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g², so
        // θ₁ = θ₀(1 − lr·λ) − lr·g/(|g| + ε).
        let c = AdamWConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        };
        let mut p = params(&[1.0, -2.0]);
        let mut opt = AdamW::<Cpu>::new(c).unwrap();
        opt.step(&mut p, &grads(&[0.5, -3.0])).unwrap();
        let got = p.get("w").to_vec_f64();
        let want = [
            1.0 * 0.95 - 0.1 * 0.5 / (0.5 + 1e-8),
            -2.0 * 0.95 - 0.1 * -3.0 / (3.0 + 1e-8),
        ];
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{got:?} vs {want:?}");
        }
        assert_eq!(p.get("fixed").to_vec_f64(), vec![7.0]);
    }

    #[test]
    fn several_steps_with_and_without_amsgrad() {
        let gs = [0.5, -0.2, 0.3, 1.5, 0.01, -0.02];
        for amsgrad in [false, true] {
            let c = AdamWConfig {
                lr: 0.002,
                weight_decay: 1e-6,
                amsgrad,
                ..Default::default()
            };
            let mut p = params(&[0.7]);
            let mut opt = AdamW::<Cpu>::new(c).unwrap();
            for g in gs {
                opt.step(&mut p, &grads(&[g])).unwrap();
            }
            let want = reference(0.7, &gs, c);
            let got = p.get("w").item();
            assert!(
                (got - want).abs() < 1e-15,
                "amsgrad {amsgrad}: {got} vs {want}"
            );
        }
        // amsgrad matters once v shrinks (g² < v after the 1.5 gradient).
        let c = |amsgrad| AdamWConfig {
            lr: 0.002,
            amsgrad,
            ..Default::default()
        };
        assert_ne!(reference(0.7, &gs, c(false)), reference(0.7, &gs, c(true)));
    }

    #[test]
    fn state_round_trip_continues_identically() {
        let c = AdamWConfig {
            amsgrad: true,
            ..Default::default()
        };
        let mut p = params(&[0.3, 0.1]);
        let mut opt = AdamW::<Cpu>::new(c).unwrap();
        opt.step(&mut p, &grads(&[0.2, -0.4])).unwrap();
        let saved = opt.state();
        let bytes = postcard::to_stdvec(&saved).unwrap();
        let mut p2 = p.clone();
        let mut opt2 = AdamW::<Cpu>::new(AdamWConfig::default()).unwrap();
        opt2.load_state(&postcard::from_bytes(&bytes).unwrap(), &p2)
            .unwrap();
        opt.step(&mut p, &grads(&[0.1, 0.1])).unwrap();
        opt2.step(&mut p2, &grads(&[0.1, 0.1])).unwrap();
        assert_eq!(p.get("w").to_vec_f64(), p2.get("w").to_vec_f64());
        assert_eq!(opt2.steps(), 2);
        let bad = vec![("fixed".to_string(), p.get("fixed").clone())];
        assert!(opt.step(&mut p, &bad).is_err());
    }
}
