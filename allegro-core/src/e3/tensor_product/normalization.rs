//! Normalisation of a tensor-product path.

/// Factor multiplying each path's Wigner-3j block (`irrep_normalization` of
/// allegro's `Contracter`).
///
/// Allegro's default, and the only non-trivial choice it implements, is
/// `Component`: `√(2 l_out + 1)`, which makes a path map unit-variance
/// (component-normalised) inputs to unit-variance outputs, since the 3j
/// symbols have unit Frobenius norm. There is no further per-path (fan-in)
/// normalisation in the reference: the learned weights `θ` carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IrrepNormalization {
    /// Multiply by `√(2 l_out + 1)` (the reference's default).
    #[default]
    Component,
    /// Plain 3j symbols (`irrep_normalization=None`).
    None,
}

impl IrrepNormalization {
    /// The factor for a path with output degree `l_out`.
    pub fn factor(self, l_out: usize) -> f64 {
        match self {
            IrrepNormalization::Component => ((2 * l_out + 1) as f64).sqrt(),
            IrrepNormalization::None => 1.0,
        }
    }
}
