//! # allegro-core
//!
//! The numerical foundation of allegro-rs: tensors on interchangeable compute backends,
//! reverse-mode autodiff of any order, and the E(3) math of equivariant models. It knows
//! nothing of atoms (that is `allegro-data`) nor of Allegro's layers (`allegro-nn`). It is
//! not a general tensor library: it has the ops Allegro needs, on contiguous f32/f64
//! arrays, with backward rules exact enough to train on forces; for anything else, burn
//! or candle are the better fit.
//!
//! ## Types you meet first
//!
//! - [`Tensor<B>`](Tensor): an immutable, reference-counted, contiguous array of a
//!   [`DType`] on a device of backend `B`; data enters and leaves as [`HostData`].
//!   [`Indices<B>`](Indices) are `u32` index vectors (edge centers, neighbors, types).
//! - [`Backend`]: the op families of [`backend::ops`], one trait each. The CPU backend
//!   ([`backend::cpu::Cpu`] on [`backend::cpu::CpuDevice`]) is the reference;
//!   `backend::gpu::Gpu<R>` implements the same traits as cubecl kernels (features
//!   `cuda`, `hip`, `vulkan`).
//! - [`autodiff`]: [`grad`] and [`grad_scalar`]; [`no_grad`] records nothing.
//! - [`e3`]: [`e3::Irreps`] (`"16x1o+8x2e"`, parsed and printed),
//!   [`spherical_harmonics`](fn@e3::spherical_harmonics), [`e3::wigner_3j`],
//!   [`e3::wigner_d`] and the [`e3::tensor_product`] paths, all in plain `f64`.
//! - [`radial`]: [`radial::bessel_basis`] and
//!   [`polynomial_cutoff`](fn@radial::polynomial_cutoff), as tensor ops.
//! - [`testing`]: [`testing::check_gradients`], [`testing::check_second_order`], the
//!   named [`testing::tolerance`]s and the backend-generic op [`testing::suite`].
//! - [`Error`] and [`Result`] for data coming from users; a shape mistake in an op is a
//!   programming error and panics with the op's name.
//!
//! ## How the pieces fit
//!
//! A [`Tensor`] method checks shapes, calls one primitive of its backend and, when an
//! input is tracked ([`Tensor::tracked`]), records the op as an [`autodiff::Node`]. The
//! backward rules ([`autodiff::rules`]) are written with the same tensor ops, so [`grad`]
//! with `create_graph = true` returns tracked gradients that can be differentiated again:
//! forces `F = −∂E/∂r` are differentiable with respect to the weights. [`e3`] computes
//! constants (Wigner-3j blocks, spherical-harmonic polynomials) once in `f64`;
//! `allegro-nn` turns them into tensors. Every backend passes the same [`testing::suite`],
//! compared against the CPU backend.
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
/// The one seeded generator of the crates (allegro-base's).
pub use allegro_base::rng;
pub mod shape;
pub mod tensor;
pub mod testing;

pub use autodiff::{grad, grad_scalar, no_grad};
pub use backend::Backend;
pub use dtype::{DType, HostData};
pub use error::{Error, Result};
pub use rng::SplitMix64;
pub use tensor::{Indices, Tensor};
