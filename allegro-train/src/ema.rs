//! Exponential moving average of the weights (nequip's `EMAWeights`, docs/model.md §11).
//!
//! After every optimizer step, for each trainable θ:
//!
//! ```text
//! n = 0:  θ_ema ← θ                                   (the first update copies)
//! n > 0:  θ_ema ← θ_ema + (1 − d)(θ − θ_ema) = d·θ_ema + (1 − d)·θ,
//!         d = min(decay, (1 + n)/(10 + n))
//! ```
//!
//! with n the number of earlier updates (torch's `lerp`, as nequip). nequip makes the
//! first (copying) update when the module is built, before any step; call
//! [`Ema::update`] once on the initial weights to do the same. Validation, test and saved
//! models use [`Ema::weights`]: with weights kept apart from the model
//! ([`Parameters`]), "swapping in" is passing the EMA set instead of the raw one.

use allegro_core::{Backend, Tensor, no_grad};
use allegro_nn::Parameters;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, config_error};

/// The EMA of a parameter set.
#[derive(Clone, Debug)]
pub struct Ema<B: Backend> {
    decay: f64,
    num_updates: u64,
    weights: Option<Parameters<B>>,
}

/// Serialisable state of an [`Ema`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmaState {
    /// The decay.
    pub decay: f64,
    /// Updates made.
    pub num_updates: u64,
    /// EMA values of each parameter `(name, values)`, in name order (empty before the first
    /// update).
    pub weights: Vec<(String, Vec<f64>)>,
}

impl<B: Backend> Ema<B> {
    /// An EMA with `decay` in [0, 1].
    pub fn new(decay: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&decay) {
            return Err(config_error(
                "ema_decay",
                format!("{decay} is not in [0, 1]"),
            ));
        }
        Ok(Ema {
            decay,
            num_updates: 0,
            weights: None,
        })
    }

    /// The decay.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// Updates made so far.
    pub fn num_updates(&self) -> u64 {
        self.num_updates
    }

    /// The decay the next update uses: `min(decay, (1 + n)/(10 + n))`.
    pub fn next_decay(&self) -> f64 {
        let n = self.num_updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Moves the average towards `params` (trainable entries; the others are copied).
    pub fn update(&mut self, params: &Parameters<B>) -> Result<()> {
        self.update_gated(params, None)
    }

    /// [`update`](Self::update) taken on the device only where the one-element `gate`
    /// is non-zero (else the average stays as it is); the host reads nothing. The count
    /// of updates advances either way.
    pub fn update_gated(&mut self, params: &Parameters<B>, gate: Option<&Tensor<B>>) -> Result<()> {
        let d = self.next_decay();
        let next = match &self.weights {
            None => params.detached(),
            Some(ema) => {
                if ema.len() != params.len() {
                    return Err(Error::State(format!(
                        "EMA holds {} tensors, the parameters have {}",
                        ema.len(),
                        params.len()
                    )));
                }
                let mut missing = None;
                let out = no_grad(|| {
                    params.map(|name, p| {
                        let theta = p.tensor.detach();
                        match ema.entry(name) {
                            Some(e)
                                if p.trainable
                                    && e.tensor.shape() == theta.shape()
                                    && e.tensor.dtype() == theta.dtype() =>
                            {
                                // One pass (one kernel on a GPU): avg + (θ − avg)(1 − d).
                                let avg = &e.tensor;
                                let gate = gate.map(|g| g.cast(avg.dtype()));
                                Tensor::from_storage(
                                    B::lerp(
                                        avg.storage(),
                                        theta.storage(),
                                        1.0 - d,
                                        gate.as_ref().map(|g| g.storage()),
                                    ),
                                    avg.shape(),
                                )
                            }
                            Some(_) if !p.trainable => theta,
                            _ => {
                                missing = Some(name.to_string());
                                theta
                            }
                        }
                    })
                });
                if let Some(name) = missing {
                    return Err(Error::State(format!(
                        "EMA has no tensor `{name}` of the parameter's shape and dtype"
                    )));
                }
                out
            }
        };
        self.weights = Some(next);
        self.num_updates += 1;
        Ok(())
    }

    /// The averaged weights (`None` before the first update).
    pub fn weights(&self) -> Option<&Parameters<B>> {
        self.weights.as_ref()
    }

    /// The averaged weights, or `params` before the first update.
    pub fn weights_or<'a>(&'a self, params: &'a Parameters<B>) -> &'a Parameters<B> {
        self.weights.as_ref().unwrap_or(params)
    }

    /// The state on the host.
    pub fn state(&self) -> EmaState {
        EmaState {
            decay: self.decay,
            num_updates: self.num_updates,
            weights: self
                .weights
                .iter()
                .flat_map(|w| w.iter())
                .map(|(n, p)| (n.to_string(), p.tensor.to_vec_f64()))
                .collect(),
        }
    }

    /// Restores a state; tensors take the shape, dtype and device of the same-named
    /// entries of `params`. The decay set in [`new`](Self::new) is kept (as nequip
    /// does on restarts).
    pub fn load_state(&mut self, state: &EmaState, params: &Parameters<B>) -> Result<()> {
        if state.weights.is_empty() {
            self.weights = None;
        } else {
            if state.weights.len() != params.len() {
                return Err(Error::State(format!(
                    "EMA state has {} tensors, the parameters {}",
                    state.weights.len(),
                    params.len()
                )));
            }
            let mut w = params.detached();
            for (name, values) in &state.weights {
                let p = params
                    .entry(name)
                    .ok_or_else(|| Error::State(format!("EMA state for unknown `{name}`")))?;
                if values.len() != p.tensor.numel() {
                    return Err(Error::State(format!(
                        "EMA state of `{name}` has {} values, the parameter {}",
                        values.len(),
                        p.tensor.numel()
                    )));
                }
                let t = Tensor::from_f64(
                    values,
                    p.tensor.shape(),
                    p.tensor.dtype(),
                    &p.tensor.device(),
                )?;
                w.set(name, t)?;
            }
            self.weights = Some(w);
        }
        self.num_updates = state.num_updates;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allegro_core::DType;
    use allegro_core::backend::cpu::{Cpu, CpuDevice};

    fn params(w: f64) -> Parameters<Cpu> {
        let mut p = Parameters::new();
        let t = |v: f64| Tensor::from_f64(&[v], &[1], DType::F64, &CpuDevice).unwrap();
        p.insert("w", t(w), true);
        p.insert("fixed", t(-1.0), false);
        p
    }

    #[test]
    fn decay_warmup_by_hand() {
        let mut ema = Ema::<Cpu>::new(0.5).unwrap();
        ema.update(&params(2.0)).unwrap(); // copy
        assert_eq!(ema.weights().unwrap().get("w").item(), 2.0);
        // n = 1: d = min(0.5, 2/11) = 2/11: 2·2/11 + 4·9/11 = 40/11.
        assert_eq!(ema.next_decay(), 2.0 / 11.0);
        ema.update(&params(4.0)).unwrap();
        let w1 = 40.0 / 11.0;
        assert!((ema.weights().unwrap().get("w").item() - w1).abs() < 1e-15);
        // n = 2: d = min(0.5, 3/12) = 0.25.
        ema.update(&params(0.0)).unwrap();
        let w2 = 0.25 * w1;
        assert!((ema.weights().unwrap().get("w").item() - w2).abs() < 1e-15);
        // Large n: d = decay = 0.5.
        for _ in 0..20 {
            ema.update(&params(1.0)).unwrap();
        }
        assert_eq!(ema.next_decay(), 0.5);
        ema.update(&params(3.0)).unwrap();
        let before = ema
            .state()
            .weights
            .iter()
            .find(|(n, _)| n == "w")
            .unwrap()
            .1[0];
        assert!(before > 1.9 && before < 2.1);
        assert_eq!(ema.weights().unwrap().get("fixed").item(), -1.0);
        assert_eq!(ema.num_updates(), 24);
    }

    #[test]
    fn state_round_trip() {
        let mut ema = Ema::<Cpu>::new(0.999).unwrap();
        ema.update(&params(2.0)).unwrap();
        ema.update(&params(3.0)).unwrap();
        let mut back = Ema::<Cpu>::new(0.999).unwrap();
        back.load_state(&ema.state(), &params(0.0)).unwrap();
        assert_eq!(back.state(), ema.state());
        ema.update(&params(5.0)).unwrap();
        back.update(&params(5.0)).unwrap();
        assert_eq!(back.state(), ema.state());
        assert!(Ema::<Cpu>::new(1.5).is_err());
    }
}
