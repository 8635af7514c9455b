//! Cell geometry for neighbor search: which directions are periodic, a full-rank basis
//! for binning, fractional coordinates and the spacing of lattice planes.

use crate::structure::{Mat3, cross, det3, norm};

/// The geometry a neighbor search works in.
///
/// `basis` has the lattice vectors of the periodic directions as rows; each open
/// direction gets a unit vector orthogonal to the periodic ones instead (the user's
/// vector there, if any, plays no role: atoms are never imaged along an open
/// direction). With no periodic direction the basis is the identity, i.e. a Cartesian
/// bounding box.
#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    /// The true cell (rows), zero rows where there is none; shifts multiply this.
    pub cell: Mat3,
    /// Full-rank basis for fractional coordinates (read by tests only; kept for debugging).
    #[allow(dead_code)]
    pub basis: Mat3,
    /// Inverse of `basis`: `s = r · inv`, i.e. `s[k] = Σ_a r[a]·inv[a][k]`.
    pub inv: Mat3,
    /// Distance between neighboring lattice planes per unit of fractional coordinate:
    /// `|det basis| / |b_l × b_m|`. Two points closer than `rc` differ by less than
    /// `rc / heights[k]` in fractional coordinate k.
    pub heights: [f64; 3],
    /// Periodic directions.
    pub pbc: [bool; 3],
}

impl Geometry {
    /// Builds the geometry; `Err` says why the cell is unusable.
    pub fn new(cell: Option<&Mat3>, pbc: [bool; 3]) -> Result<Geometry, String> {
        let n_periodic = pbc.iter().filter(|&&p| p).count();
        let cell = match cell {
            Some(c) => *c,
            None if n_periodic > 0 => return Err(format!("pbc {pbc:?} but no cell")),
            None => [[0.0; 3]; 3],
        };
        if !cell.iter().flatten().all(|x| x.is_finite()) {
            return Err(format!("non-finite cell {cell:?}"));
        }
        check_cell(&cell, pbc)?;
        let periodic: Vec<usize> = (0..3).filter(|&k| pbc[k]).collect();
        let open: Vec<usize> = (0..3).filter(|&k| !pbc[k]).collect();
        let mut basis = [[0.0; 3]; 3];
        for &k in &periodic {
            basis[k] = cell[k];
        }
        match n_periodic {
            3 => {}
            2 => basis[open[0]] = unit(cross(cell[periodic[0]], cell[periodic[1]])),
            1 => {
                let a = unit(cell[periodic[0]]);
                // The Cartesian axis least aligned with a is never parallel to it.
                let k = (0..3)
                    .min_by(|&x, &y| a[x].abs().total_cmp(&a[y].abs()))
                    .unwrap_or(0);
                let mut e = [0.0; 3];
                e[k] = 1.0;
                let u = unit(cross(a, e));
                basis[open[0]] = u;
                basis[open[1]] = cross(a, u);
            }
            _ => basis = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
        let det = det3(&basis);
        let inv = inverse(&basis, det);
        let mut heights = [0.0; 3];
        for k in 0..3 {
            heights[k] = det.abs() / norm(cross(basis[(k + 1) % 3], basis[(k + 2) % 3]));
        }
        Ok(Geometry {
            cell,
            basis,
            inv,
            heights,
            pbc,
        })
    }

    /// Fractional coordinates of a Cartesian point in `basis`.
    #[inline]
    pub fn frac(&self, r: [f64; 3]) -> [f64; 3] {
        let m = &self.inv;
        [
            r[0] * m[0][0] + r[1] * m[1][0] + r[2] * m[2][0],
            r[0] * m[0][1] + r[1] * m[1][1] + r[2] * m[2][1],
            r[0] * m[0][2] + r[1] * m[1][2] + r[2] * m[2][2],
        ]
    }

    /// `shift @ cell` for an integer shift.
    #[inline]
    pub fn translation(&self, s: [i32; 3]) -> [f64; 3] {
        let c = &self.cell;
        let (a, b, d) = (s[0] as f64, s[1] as f64, s[2] as f64);
        [
            a * c[0][0] + b * c[1][0] + d * c[2][0],
            a * c[0][1] + b * c[1][1] + d * c[2][1],
            a * c[0][2] + b * c[1][2] + d * c[2][2],
        ]
    }
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = norm(v);
    [v[0] / n, v[1] / n, v[2] / n]
}

fn inverse(m: &Mat3, det: f64) -> Mat3 {
    let mut inv = [[0.0; 3]; 3];
    for r in 0..3 {
        for c in 0..3 {
            // Cofactor of (c, r) over the determinant (adjugate transpose).
            let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
            let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
            inv[r][c] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
        }
    }
    inv
}

/// Checks that the lattice vectors of the periodic directions are independent. Zero
/// length, or a volume (area for two directions) below 1e-10 of the product of the
/// lengths, is singular.
pub(crate) fn check_cell(c: &Mat3, pbc: [bool; 3]) -> Result<(), String> {
    let periodic: Vec<usize> = (0..3).filter(|&k| pbc[k]).collect();
    for &k in &periodic {
        if norm(c[k]).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(format!("lattice vector {k} is {:?} but periodic", c[k]));
        }
    }
    let (measure, scale) = match periodic.len() {
        3 => (det3(c).abs(), norm(c[0]) * norm(c[1]) * norm(c[2])),
        2 => (
            norm(cross(c[periodic[0]], c[periodic[1]])),
            norm(c[periodic[0]]) * norm(c[periodic[1]]),
        ),
        _ => return Ok(()),
    };
    if !measure.is_finite() || !scale.is_finite() {
        return Err(format!("cell {c:?} is so large its volume overflows"));
    }
    if measure <= 1e-10 * scale {
        return Err(format!(
            "singular cell {c:?} for pbc {pbc:?} (volume {measure:e})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_and_heights() {
        let cell = [[7.5, 0.0, 0.0], [1.9, 7.2, 0.0], [-1.1, 2.3, 7.7]];
        let g = Geometry::new(Some(&cell), [true; 3]).unwrap();
        for k in 0..3 {
            let s = g.frac(cell[k]);
            for l in 0..3 {
                assert!((s[l] - if k == l { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
        // Orthorhombic: heights are the lengths.
        let g = Geometry::new(
            Some(&[[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]]),
            [true; 3],
        )
        .unwrap();
        assert_eq!(g.heights, [2.0, 3.0, 4.0]);
    }

    #[test]
    fn partial_pbc_completes_the_basis() {
        let cell = [[3.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]];
        let g = Geometry::new(Some(&cell), [true, false, false]).unwrap();
        assert!(det3(&g.basis).abs() > 1.0);
        let g = Geometry::new(
            Some(&[[3.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0; 3]]),
            [true, true, false],
        )
        .unwrap();
        assert!((det3(&g.basis).abs() - 6.0).abs() < 1e-12);
        assert!(Geometry::new(None, [false; 3]).is_ok());
    }

    #[test]
    fn singular_cells() {
        assert!(
            check_cell(
                &[[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                [true; 3]
            )
            .is_err()
        );
        assert!(
            check_cell(
                &[[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                [true, true, false]
            )
            .is_err()
        );
        assert!(
            check_cell(
                &[[1.0, 0.0, 0.0], [0.0; 3], [0.0, 0.0, 1.0]],
                [true, false, true]
            )
            .is_ok()
        );
        assert!(check_cell(&[[0.0; 3]; 3], [false; 3]).is_ok());
        assert!(Geometry::new(None, [true, false, false]).is_err());
    }
}
