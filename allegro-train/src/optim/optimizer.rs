//! The optimizer interface the [`Trainer`](crate::Trainer) steps: any update rule over
//! [`Parameters`] with a learning rate a scheduler can set and a state checkpoints keep.

use allegro_core::{Backend, Tensor};
use allegro_nn::Parameters;

use crate::error::Result;
use crate::grads::Gradients;

/// An update rule over named parameters.
pub trait Optimizer<B: Backend>: std::fmt::Debug + Send {
    /// The name checkpoints record; resuming with an optimizer of another name is refused.
    fn kind(&self) -> &'static str;
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (what a scheduler does).
    fn set_lr(&mut self, lr: f64);
    /// Steps taken so far.
    fn steps(&self) -> u64;
    /// One update of every parameter named in `grads`.
    fn step(&mut self, params: &mut Parameters<B>, grads: &Gradients<B>) -> Result<()>;
    /// [`step`](Self::step) taken on the device only where the one-element `gate` is
    /// non-zero, the host reading nothing (the trainer's gate is 0 when the step's loss
    /// or a gradient is not finite); returns whether it did so. The default returns
    /// `false` and does nothing: the trainer then reads the gate (one wait for the
    /// device) and calls [`step`](Self::step) only when it is non-zero.
    fn step_gated(
        &mut self,
        params: &mut Parameters<B>,
        grads: &Gradients<B>,
        gate: &Tensor<B>,
    ) -> Result<bool> {
        let _ = (params, grads, gate);
        Ok(false)
    }
    /// The state (hyper-parameters, counters, moments) as bytes for a checkpoint.
    fn save_state(&self) -> Result<Vec<u8>>;
    /// Restores what [`Optimizer::save_state`] wrote; tensors take the shape, dtype and
    /// device of the parameters of the same name in `params`.
    fn load_state(&mut self, bytes: &[u8], params: &Parameters<B>) -> Result<()>;
}
