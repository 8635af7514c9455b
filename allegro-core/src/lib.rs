//! # allegro-core
//!
//! The numerical foundation of allegro-rs; it knows nothing of atoms.
//!
//! - [`Tensor`] over a [`Backend`]: immutable, contiguous f32/f64 arrays. The CPU backend
//!   ([`backend::cpu::Cpu`]) is the reference; GPU backends implement the same traits.
//! - [`autodiff`]: reverse mode of any order. [`grad`] with `create_graph = true` returns
//!   tracked gradients, which is how force training differentiates `F = −∂E/∂r`.
//! - [`testing`]: finite-difference checks of gradients and second-order gradients.
//!
//! ```
//! use allegro_core::{Tensor, DType, grad, backend::cpu::{Cpu, CpuDevice}};
//! let x = Tensor::<Cpu>::from_f64(&[1.0, 2.0], &[2], DType::F64, &CpuDevice).unwrap().tracked();
//! let y = x.powf(3.0).sum_all();                       // y = Σ x³
//! let dy = &grad(&[&y], None, &[&x], true)[0];         // 3x²
//! let d2y = &grad(&[&dy.sum_all()], None, &[&x], false)[0]; // 6x
//! assert_eq!(d2y.to_vec_f64(), vec![6.0, 12.0]);
//! ```

pub mod autodiff;
pub mod backend;
pub mod dtype;
/// E(3) math in `f64`: irreps, spherical harmonics, Wigner-3j and D matrices, Allegro tensor-product paths.
pub mod e3;
pub mod error;
pub mod radial;
pub mod rng;
pub mod shape;
pub mod tensor;
pub mod testing;

pub use autodiff::{grad, grad_scalar, no_grad};
pub use backend::Backend;
pub use dtype::{DType, HostData};
pub use error::{Error, Result};
pub use rng::SplitMix64;
pub use tensor::{Indices, Tensor};
