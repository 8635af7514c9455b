//! The optimizer interface the [`Trainer`](crate::Trainer) steps: any update rule over
//! [`Parameters`] with a learning rate a scheduler can set and a state checkpoints keep.

use allegro_core::Backend;
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
    /// The state (hyper-parameters, counters, moments) as bytes for a checkpoint.
    fn save_state(&self) -> Result<Vec<u8>>;
    /// Restores what [`Optimizer::save_state`] wrote; tensors take the shape, dtype and
    /// device of the parameters of the same name in `params`.
    fn load_state(&mut self, bytes: &[u8], params: &Parameters<B>) -> Result<()>;
}
