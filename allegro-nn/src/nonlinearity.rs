//! The scalar nonlinearities of nequip's MLPs.

use allegro_core::{Backend, Tensor};
use serde::{Deserialize, Serialize};

/// A nonlinearity by its nequip config name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    /// `x·σ(x)`
    Silu,
    /// `x·tanh(softplus(x))`
    Mish,
    /// `x·Φ(x)`, exact (erf) form
    Gelu,
    /// shifted softplus, `softplus(x) − ln 2`
    Ssp,
    /// `tanh x`
    Tanh,
    /// `σ(x)`
    Sigmoid,
    /// `ln(1 + e^x)`
    Softplus,
}

impl Nonlinearity {
    /// Parses a config value; `None`, `"null"` and `"None"` mean no nonlinearity.
    pub fn parse(name: Option<&str>) -> Result<Option<Self>, String> {
        match name {
            None | Some("null") | Some("None") | Some("none") => Ok(None),
            Some(s) => serde_json::from_value(serde_json::Value::String(s.to_string()))
                .map(Some)
                .map_err(|_| format!("unknown nonlinearity `{s}` (silu, mish, gelu, ssp, tanh, sigmoid, softplus, null)")),
        }
    }

    /// The same function as a fused-kernel activation.
    pub fn activation(self) -> allegro_core::backend::Activation {
        use allegro_core::backend::Activation;
        match self {
            Nonlinearity::Silu => Activation::Silu,
            Nonlinearity::Mish => Activation::Mish,
            Nonlinearity::Gelu => Activation::Gelu,
            Nonlinearity::Ssp => Activation::ShiftedSoftplus,
            Nonlinearity::Tanh => Activation::Tanh,
            Nonlinearity::Sigmoid => Activation::Sigmoid,
            Nonlinearity::Softplus => Activation::Softplus,
        }
    }

    /// Applies the nonlinearity elementwise.
    pub fn apply<B: Backend>(self, x: &Tensor<B>) -> Tensor<B> {
        match self {
            Nonlinearity::Silu => x.silu(),
            Nonlinearity::Mish => x.mish(),
            Nonlinearity::Gelu => x.gelu(),
            Nonlinearity::Ssp => x.softplus().add_scalar(-std::f64::consts::LN_2),
            Nonlinearity::Tanh => x.tanh(),
            Nonlinearity::Sigmoid => x.sigmoid(),
            Nonlinearity::Softplus => x.softplus(),
        }
    }
}
