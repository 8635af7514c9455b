//! Two-body embeddings: scalar features from distances and types, tensor features from
//! spherical harmonics.

mod bessel;
mod custom;
mod radial_chemical;
mod spline;
mod tensor;
mod weighted;

pub use bessel::BesselEmbedding;
pub use custom::{CustomEmbed, CustomRadialEmbedding};
pub use radial_chemical::{RadialChemicalEmbed, RadialChemicalEmbedding};
pub use spline::SplineEmbedding;
pub use tensor::TensorEmbedding;
pub use weighted::WeightedChannels;
