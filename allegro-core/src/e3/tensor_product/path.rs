//! Tensor-product paths and their order.

use crate::e3::{Irrep, Irreps};

/// One path `(l₁,p₁) ⊗ (l₂,p₂) → (l_out,p_out)` of a tensor product: the
/// indices of the entries in the three irreps lists (e3nn/allegro
/// "instruction" `(i_1, i_2, i_out)`) and the irreps themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TpPath {
    /// Entry index in `irreps_in1`.
    pub in1: usize,
    /// Entry index in `irreps_in2`.
    pub in2: usize,
    /// Entry index in `irreps_out`.
    pub out: usize,
    /// Irrep of input 1.
    pub ir1: Irrep,
    /// Irrep of input 2.
    pub ir2: Irrep,
    /// Irrep of the output.
    pub ir_out: Irrep,
}

impl std::fmt::Display for TpPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} x {} -> {}", self.ir1, self.ir2, self.ir_out)
    }
}

/// All paths of the strided tensor product in allegro's order, which fixes
/// the layout of the path weights `θ[.., p]` and of the `w3j` buffer:
/// for each output entry, for each input-1 entry, for each input-2 entry, the
/// path exists if `ir_out ∈ ir₁ ⊗ ir₂` (triangle rule and `p_out = p₁·p₂`).
/// Multiplicities are ignored (each entry is one irrep in the strided layout).
pub fn strided_paths(irreps_in1: &Irreps, irreps_in2: &Irreps, irreps_out: &Irreps) -> Vec<TpPath> {
    let mut paths = Vec::new();
    for (out, mo) in irreps_out.iter().enumerate() {
        for (in1, m1) in irreps_in1.iter().enumerate() {
            for (in2, m2) in irreps_in2.iter().enumerate() {
                if m1.ir.couples_to(m2.ir, mo.ir) {
                    paths.push(TpPath {
                        in1,
                        in2,
                        out,
                        ir1: m1.ir,
                        ir2: m2.ir,
                        ir_out: mo.ir,
                    });
                }
            }
        }
    }
    paths
}
