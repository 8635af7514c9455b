//! Nonlinearities composed from primitive ops (their gradients come for free).

use super::Tensor;
use crate::backend::Backend;

impl<B: Backend> Tensor<B> {
    /// Mish: `x · tanh(softplus(x))` (as `torch.nn.functional.mish`).
    pub fn mish(&self) -> Self {
        self.mul(&self.softplus().tanh())
    }

    /// GELU, exact form: `x · ½ (1 + erf(x/√2))` (as `torch.nn.functional.gelu`).
    pub fn gelu(&self) -> Self {
        let phi = self
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
            .erf()
            .add_scalar(1.0)
            .mul_scalar(0.5);
        self.mul(&phi)
    }
}
