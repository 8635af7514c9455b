//! Sparse and dense coupling coefficients of a strided contraction.

use super::{IrrepNormalization, TpPath, strided_paths};
use crate::e3::{E3Error, Irreps, wigner_3j};

/// One nonzero coupling coefficient of a path: `C[i1, i2, out] = value`, with
/// indices into the full (base, multiplicity-1) layouts of the two inputs and
/// the output, i.e. already shifted by the irreps' offsets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CouplingEntry {
    /// Component index in input 1 (`0..dim1`).
    pub i1: usize,
    /// Component index in input 2 (`0..dim2`).
    pub i2: usize,
    /// Component index in the output (`0..dim_out`).
    pub out: usize,
    /// `W3j(l₁,l₂,l_out)[m₁,m₂,m_out] · normalisation(l_out)`.
    pub value: f64,
}

/// A dense coupling buffer with its shape, flat row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct W3jBuffer {
    /// Shape: `[P, i, j, k]`, `[P, i, k]`, `[i, j, k]` or `[i, k]` (see
    /// [`StridedContraction::w3j_buffer`]).
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

/// The constants of allegro's `Contracter`: three irreps lists (one irrep per
/// entry; the channel axis is separate), the ordered paths, and per path the
/// nonzero normalised coupling coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct StridedContraction {
    /// Irreps of input 1 (the edge's tensor features), multiplicities 1.
    pub irreps_in1: Irreps,
    /// Irreps of input 2 (the environment), multiplicities 1.
    pub irreps_in2: Irreps,
    /// Irreps of the output, multiplicities 1.
    pub irreps_out: Irreps,
    /// Paths in the reference's order ([`strided_paths`]).
    pub paths: Vec<TpPath>,
    /// Per path, its nonzero coefficients in row-major `(i1, i2, out)` order
    /// (the order of `torch.nonzero`).
    pub couplings: Vec<Vec<CouplingEntry>>,
}

impl StridedContraction {
    /// The contraction with all allowed paths ([`strided_paths`]) and the given
    /// normalisation. Multiplicities of the inputs are ignored (allegro uses
    /// `1x` per entry).
    ///
    /// # Errors
    /// If there is no path (allegro asserts "No TP paths available").
    pub fn new(
        irreps_in1: &Irreps,
        irreps_in2: &Irreps,
        irreps_out: &Irreps,
        normalization: IrrepNormalization,
    ) -> Result<StridedContraction, E3Error> {
        let paths = strided_paths(irreps_in1, irreps_in2, irreps_out);
        Self::with_paths(irreps_in1, irreps_in2, irreps_out, paths, normalization)
    }

    /// The contraction with explicit paths (allegro's `instructions`).
    ///
    /// # Errors
    /// If `paths` is empty, or a path's indices or irreps do not match the
    /// irreps lists, or a path violates the selection rule.
    pub fn with_paths(
        irreps_in1: &Irreps,
        irreps_in2: &Irreps,
        irreps_out: &Irreps,
        paths: Vec<TpPath>,
        normalization: IrrepNormalization,
    ) -> Result<StridedContraction, E3Error> {
        let (in1, in2, out) = (
            irreps_in1.with_unit_mul(),
            irreps_in2.with_unit_mul(),
            irreps_out.with_unit_mul(),
        );
        if paths.is_empty() {
            return Err(E3Error::InvalidArgument(format!(
                "no tensor-product paths for {in1} x {in2} -> {out}"
            )));
        }
        let mut couplings = Vec::with_capacity(paths.len());
        for p in &paths {
            let ok = in1.entries().get(p.in1).is_some_and(|m| m.ir == p.ir1)
                && in2.entries().get(p.in2).is_some_and(|m| m.ir == p.ir2)
                && out.entries().get(p.out).is_some_and(|m| m.ir == p.ir_out)
                && p.ir1.couples_to(p.ir2, p.ir_out);
            if !ok {
                return Err(E3Error::InvalidArgument(format!(
                    "path {p} ({}, {}, {}) is not valid for {in1} x {in2} -> {out}",
                    p.in1, p.in2, p.out
                )));
            }
            let (d1, d2, d3) = (p.ir1.dim(), p.ir2.dim(), p.ir_out.dim());
            let (o1, o2, o3) = (in1.offset(p.in1), in2.offset(p.in2), out.offset(p.out));
            let c = wigner_3j(p.ir1.l, p.ir2.l, p.ir_out.l);
            let f = normalization.factor(p.ir_out.l);
            let mut entries = Vec::new();
            for a in 0..d1 {
                for b in 0..d2 {
                    for k in 0..d3 {
                        let v = c[(a * d2 + b) * d3 + k];
                        if v != 0.0 {
                            entries.push(CouplingEntry {
                                i1: o1 + a,
                                i2: o2 + b,
                                out: o3 + k,
                                value: v * f,
                            });
                        }
                    }
                }
            }
            couplings.push(entries);
        }
        Ok(StridedContraction {
            irreps_in1: in1,
            irreps_in2: in2,
            irreps_out: out,
            paths,
            couplings,
        })
    }

    /// Number of paths `P`.
    pub fn num_paths(&self) -> usize {
        self.paths.len()
    }

    /// The couplings as the backends' sparse contraction (slots `[in1, in2, out]`, one
    /// entry per nonzero coefficient, its path the weight's column).
    pub fn contraction_spec(&self) -> crate::backend::ContractionSpec {
        let entries = self
            .couplings
            .iter()
            .enumerate()
            .flat_map(|(p, cs)| {
                cs.iter().map(move |c| crate::backend::ContractEntry {
                    slots: [c.i1 as u32, c.i2 as u32, c.out as u32],
                    path: p as u32,
                    coeff: c.value,
                })
            })
            .collect();
        crate::backend::ContractionSpec {
            entries,
            dims: [self.dim1(), self.dim2(), self.dim_out()],
            num_paths: self.num_paths(),
        }
    }

    /// Dimension of input 1 (per channel).
    pub fn dim1(&self) -> usize {
        self.irreps_in1.dim()
    }

    /// Dimension of input 2 (per channel).
    pub fn dim2(&self) -> usize {
        self.irreps_in2.dim()
    }

    /// Dimension of the output (per channel).
    pub fn dim_out(&self) -> usize {
        self.irreps_out.dim()
    }

    /// allegro's `w3j_is_ij_diagonal`: the two inputs have the same dimension
    /// and every nonzero coefficient of every path has `i1 == i2`. Then the
    /// contraction only needs the elementwise product `x1 ⊙ x2`.
    pub fn is_ij_diagonal(&self) -> bool {
        self.dim1() == self.dim2() && self.couplings.iter().flatten().all(|e| e.i1 == e.i2)
    }

    /// The dense `[P, dim1, dim2, dim_out]` array of all paths' coefficients
    /// (always four axes), flat row-major.
    pub fn dense_pijk(&self) -> Vec<f64> {
        let (d1, d2, d3) = (self.dim1(), self.dim2(), self.dim_out());
        let mut out = vec![0.0; self.num_paths() * d1 * d2 * d3];
        for (p, entries) in self.couplings.iter().enumerate() {
            for e in entries {
                out[((p * d1 + e.i1) * d2 + e.i2) * d3 + e.out] = e.value;
            }
        }
        out
    }

    /// The `w3j` buffer exactly as allegro's `Contracter` stores it in the
    /// state dict (`allegro.tps.{k}.w3j`):
    /// - `[P, i, k]` with `C[p,i,j,k] = δ_ij B[p,i,k]` when
    ///   [`is_ij_diagonal`](Self::is_ij_diagonal), else `[P, i, j, k]`;
    /// - the leading `P` axis removed when `P = 1`.
    pub fn w3j_buffer(&self) -> W3jBuffer {
        let (d1, d2, d3) = (self.dim1(), self.dim2(), self.dim_out());
        let p = self.num_paths();
        let (mut shape, data) = if self.is_ij_diagonal() {
            let mut data = vec![0.0; p * d1 * d3];
            for (ip, entries) in self.couplings.iter().enumerate() {
                for e in entries {
                    data[(ip * d1 + e.i1) * d3 + e.out] = e.value;
                }
            }
            (vec![p, d1, d3], data)
        } else {
            (vec![p, d1, d2, d3], self.dense_pijk())
        };
        if p == 1 {
            shape.remove(0);
        }
        W3jBuffer { shape, data }
    }

    /// Shape of the path weights `θ` (`allegro.tps.{k}.weights`) for `mul`
    /// channels: `[mul, P]` with path–channel coupling, `[P]` without; the `P`
    /// axis is dropped when `P = 1` (so `[mul]` or `[]`).
    pub fn weight_shape(&self, mul: usize, path_channel_coupling: bool) -> Vec<usize> {
        let mut shape = Vec::new();
        if path_channel_coupling {
            shape.push(mul);
        }
        if self.num_paths() > 1 {
            shape.push(self.num_paths());
        }
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_dot_product_is_diagonal_and_normalised() {
        let i: Irreps = "0e+1o".parse().unwrap();
        let o: Irreps = "0e".parse().unwrap();
        let c = StridedContraction::new(&i, &i, &o, IrrepNormalization::Component).unwrap();
        assert_eq!(c.num_paths(), 2);
        assert!(c.is_ij_diagonal());
        let b = c.w3j_buffer();
        assert_eq!(b.shape, vec![2, 4, 1]);
        // path 1: 1o x 1o -> 0e, δ_ij/√3 · √1
        assert!((b.data[4 + 1] - 1.0 / 3f64.sqrt()).abs() < 1e-15);
        assert_eq!(c.weight_shape(8, false), vec![2]);
        assert_eq!(c.weight_shape(8, true), vec![8, 2]);
    }

    #[test]
    fn no_paths_is_an_error() {
        let i: Irreps = "0e".parse().unwrap();
        let o: Irreps = "1o".parse().unwrap();
        assert!(StridedContraction::new(&i, &i, &o, IrrepNormalization::Component).is_err());
    }
}
