//! Dataset statistics that set a model's normalisation constants.
//!
//! - mean number of neighbors (edges per atom), globally and per center type — nequip's
//!   `avg_num_neighbors`, per type when keyed by type name;
//! - RMS of force components, globally and per type — `per_type_forces_rms`;
//! - mean per-atom energy (E / N over frames) — `per_atom_energy_mean`;
//! - per-type energy shifts: the least-squares solution b of `E_f ≈ Σ_t N_{f,t} b_t` over
//!   frames with an energy — `per_type_energy_shifts`.
//!
//! The least-squares problem is solved by its normal equations `(XᵀX) b = Xᵀy` in f64 with
//! a Cholesky factorisation. When `XᵀX` is singular (a type that never occurs, or types
//! whose counts are always proportional, as in a dataset of water only) we add a small
//! ridge `λ·I` with `λ = 1e-8 · max(trace/T, 1)` and say so in
//! [`Statistics::energy_shift_ridge`]; a type that never occurs then gets shift 0.

use crate::dataset::{GraphDataset, GraphSource};
use crate::error::{Error, Result};
use crate::graph::AtomicGraph;

/// Statistics of a set of graphs (any mix of single frames and batches).
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// Number of frames.
    pub n_frames: usize,
    /// Number of atoms.
    pub n_atoms: usize,
    /// Number of directed edges.
    pub n_edges: usize,
    /// Atoms of each type, `[n_types]`.
    pub atoms_per_type: Vec<usize>,
    /// Edges per atom, over all atoms.
    pub avg_num_neighbors: f64,
    /// Edges per atom over the atoms of each type (as centers); `None` for an absent type.
    pub per_type_num_neighbors: Vec<Option<f64>>,
    /// RMS of all force components (eV/Å); `None` without forces.
    pub forces_rms: Option<f64>,
    /// RMS of the force components of each type's atoms; `None` where none has a force.
    pub per_type_forces_rms: Vec<Option<f64>>,
    /// Mean over frames with an energy of E / n_atoms (eV/atom).
    pub per_atom_energy_mean: Option<f64>,
    /// Standard deviation (population) of E / n_atoms over the same frames (eV/atom).
    pub per_atom_energy_std: Option<f64>,
    /// Least-squares per-type energy shifts (eV), `[n_types]`; `None` without energies.
    pub per_type_energy_shifts: Option<Vec<f64>>,
    /// The ridge λ added because `XᵀX` was singular (0 when it was not).
    pub energy_shift_ridge: f64,
    /// RMS of the residual `E_f − Σ_t N_{f,t} b_t` (eV), a check of the fit.
    pub energy_shift_residual_rms: Option<f64>,
}

/// Computes [`Statistics`] over `graphs` with types `0..n_types`.
pub fn compute_statistics(graphs: &[AtomicGraph], n_types: usize) -> Result<Statistics> {
    let mut acc = StatsAccumulator::new(n_types);
    for g in graphs {
        acc.add(g)?;
    }
    Ok(acc.finish())
}

/// Frames a streaming statistics pass holds at once.
const STATS_CHUNK: usize = 512;

/// [`compute_statistics`] over a [`GraphSource`]'s frames in one streaming pass (nequip's
/// `training_data_stats` for a dataset larger than memory): frames are read in chunks
/// whose graphs are built in parallel and added in frame order, so the result is bit for
/// bit that of [`compute_statistics`] over the same graphs, with one chunk in memory.
pub fn source_statistics<S: GraphSource + ?Sized>(
    source: &S,
    n_types: usize,
) -> Result<Statistics> {
    use rayon::prelude::*;
    let mut acc = StatsAccumulator::new(n_types);
    let n = source.len();
    for start in (0..n).step_by(STATS_CHUNK) {
        let graphs = (start..(start + STATS_CHUNK).min(n))
            .into_par_iter()
            .map(|i| source.graph(i))
            .collect::<Result<Vec<_>>>()?;
        for g in &graphs {
            acc.add(g)?;
        }
    }
    Ok(acc.finish())
}

/// Streaming form of [`compute_statistics`]: add graphs one at a time (e.g. from an LMDB
/// source larger than memory), then [`finish`](Self::finish).
/// Memory is O(T²): the least-squares fit keeps only `XᵀX`, `Xᵀy` and `yᵀy`.
#[derive(Clone, Debug)]
pub struct StatsAccumulator {
    n_types: usize,
    n_frames: usize,
    n_atoms: usize,
    n_edges: usize,
    atoms_per_type: Vec<usize>,
    edges_per_type: Vec<usize>,
    f2: Vec<f64>,
    f_count: Vec<usize>,
    xtx: Vec<Vec<f64>>,
    xty: Vec<f64>,
    yty: f64,
    n_energies: usize,
    // Welford running mean and sum of squared deviations of E / N.
    epa_n: usize,
    epa_mean: f64,
    epa_m2: f64,
}

impl StatsAccumulator {
    /// An empty accumulator over types `0..n_types`.
    pub fn new(n_types: usize) -> Self {
        StatsAccumulator {
            n_types,
            n_frames: 0,
            n_atoms: 0,
            n_edges: 0,
            atoms_per_type: vec![0; n_types],
            edges_per_type: vec![0; n_types],
            f2: vec![0.0; n_types],
            f_count: vec![0; n_types],
            xtx: vec![vec![0.0; n_types]; n_types],
            xty: vec![0.0; n_types],
            yty: 0.0,
            n_energies: 0,
            epa_n: 0,
            epa_mean: 0.0,
            epa_m2: 0.0,
        }
    }

    /// Adds every frame of a graph.
    pub fn add(&mut self, g: &AtomicGraph) -> Result<()> {
        let n_types = self.n_types;
        if let Some(&t) = g.atom_types.iter().find(|&&t| t as usize >= n_types) {
            return Err(Error::InvalidArgument(format!(
                "atom type {t} but statistics over {n_types} types"
            )));
        }
        self.n_frames += g.n_frames();
        self.n_atoms += g.n_atoms();
        self.n_edges += g.n_edges();
        for (i, &t) in g.atom_types.iter().enumerate() {
            self.atoms_per_type[t as usize] += 1;
            if let Some(f) = g.labels.forces[i] {
                self.f2[t as usize] += f[0] * f[0] + f[1] * f[1] + f[2] * f[2];
                self.f_count[t as usize] += 3;
            }
        }
        for &i in &g.edge_center {
            self.edges_per_type[g.atom_types[i as usize] as usize] += 1;
        }
        let mut row = vec![0.0; n_types];
        for f in 0..g.n_frames() {
            let Some(e) = g.labels.total_energy[f] else {
                continue;
            };
            let atoms = g.frame_ptr[f]..g.frame_ptr[f + 1];
            row.iter_mut().for_each(|x| *x = 0.0);
            for &t in &g.atom_types[atoms.clone()] {
                row[t as usize] += 1.0;
            }
            for p in 0..n_types {
                if row[p] == 0.0 {
                    continue;
                }
                self.xty[p] += row[p] * e;
                for q in 0..n_types {
                    self.xtx[p][q] += row[p] * row[q];
                }
            }
            self.yty += e * e;
            self.n_energies += 1;
            if !atoms.is_empty() {
                let x = e / atoms.len() as f64;
                self.epa_n += 1;
                let d = x - self.epa_mean;
                self.epa_mean += d / self.epa_n as f64;
                self.epa_m2 += d * (x - self.epa_mean);
            }
        }
        Ok(())
    }

    /// The statistics of everything added.
    pub fn finish(&self) -> Statistics {
        let n_types = self.n_types;
        let ratio = |num: f64, den: usize| (den > 0).then(|| num / den as f64);
        let (shifts, ridge, residual) = if self.n_energies == 0 {
            (None, 0.0, None)
        } else {
            let (b, ridge) = solve_normal_equations(self.xtx.clone(), &self.xty);
            // |y − Xb|² = yᵀy − 2 bᵀXᵀy + bᵀXᵀXb (from the sufficient statistics).
            let bxty: f64 = b.iter().zip(&self.xty).map(|(b, v)| b * v).sum();
            let bxtxb: f64 = (0..n_types)
                .map(|p| {
                    (0..n_types)
                        .map(|q| b[p] * self.xtx[p][q] * b[q])
                        .sum::<f64>()
                })
                .sum();
            let r2 = (self.yty - 2.0 * bxty + bxtxb).max(0.0);
            (Some(b), ridge, Some((r2 / self.n_energies as f64).sqrt()))
        };
        Statistics {
            n_frames: self.n_frames,
            n_atoms: self.n_atoms,
            n_edges: self.n_edges,
            avg_num_neighbors: ratio(self.n_edges as f64, self.n_atoms).unwrap_or(0.0),
            per_type_num_neighbors: (0..n_types)
                .map(|t| ratio(self.edges_per_type[t] as f64, self.atoms_per_type[t]))
                .collect(),
            forces_rms: ratio(self.f2.iter().sum(), self.f_count.iter().sum()).map(f64::sqrt),
            per_type_forces_rms: (0..n_types)
                .map(|t| ratio(self.f2[t], self.f_count[t]).map(f64::sqrt))
                .collect(),
            atoms_per_type: self.atoms_per_type.clone(),
            per_atom_energy_mean: (self.epa_n > 0).then_some(self.epa_mean),
            per_atom_energy_std: ratio(self.epa_m2, self.epa_n).map(f64::sqrt),
            per_type_energy_shifts: shifts,
            energy_shift_ridge: ridge,
            energy_shift_residual_rms: residual,
        }
    }
}

/// Solves the normal equations `A b = r` of the shift fit; returns b and the ridge that
/// had to be added (0 if none).
fn solve_normal_equations(mut a: Vec<Vec<f64>>, rhs: &[f64]) -> (Vec<f64>, f64) {
    let t = rhs.len();
    if let Some(b) = cholesky_solve(&a, rhs) {
        return (b, 0.0);
    }
    let trace: f64 = (0..t).map(|k| a[k][k]).sum();
    let ridge = 1e-8 * (trace / t.max(1) as f64).max(1.0);
    for k in 0..t {
        a[k][k] += ridge;
    }
    // With λ > 0 the matrix is positive definite; the fallback is for pathological input.
    let b = cholesky_solve(&a, rhs).unwrap_or_else(|| vec![0.0; t]);
    (b, ridge)
}

/// Solves `A b = r` for symmetric positive definite A; `None` if a pivot is not clearly
/// positive (relative to the largest diagonal), i.e. A is singular to working precision.
fn cholesky_solve(a: &[Vec<f64>], r: &[f64]) -> Option<Vec<f64>> {
    let n = r.len();
    let scale = (0..n).map(|k| a[k][k]).fold(0.0, f64::max);
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 1e-12 * scale || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (r[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut b = vec![0.0; n];
    for i in (0..n).rev() {
        b[i] = (z[i] - (i + 1..n).map(|k| l[k][i] * b[k]).sum::<f64>()) / l[i][i];
    }
    Some(b)
}

impl GraphDataset {
    /// Statistics over the frames `indices` (all frames if `None`), e.g. the training set.
    pub fn statistics(&self, indices: Option<&[usize]>) -> Result<Statistics> {
        match indices {
            None => compute_statistics(&self.graphs, self.type_names.len()),
            Some(idx) => {
                let picked: Vec<AtomicGraph> =
                    idx.iter().map(|&i| self.graph(i)).collect::<Result<_>>()?;
                compute_statistics(&picked, self.type_names.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn least_squares_shifts(x: &[Vec<f64>], y: &[f64], t: usize) -> (Vec<f64>, f64) {
        let mut a = vec![vec![0.0; t]; t];
        let mut r = vec![0.0; t];
        for (row, e) in x.iter().zip(y) {
            for p in 0..t {
                r[p] += row[p] * e;
                for q in 0..t {
                    a[p][q] += row[p] * row[q];
                }
            }
        }
        solve_normal_equations(a, &r)
    }

    #[test]
    fn exact_fit_and_ridge() {
        // E = 2·n0 − 3·n1 exactly.
        let x = vec![vec![1.0, 2.0], vec![3.0, 1.0], vec![2.0, 2.0]];
        let y: Vec<f64> = x.iter().map(|r| 2.0 * r[0] - 3.0 * r[1]).collect();
        let (b, ridge) = least_squares_shifts(&x, &y, 2);
        assert_eq!(ridge, 0.0);
        assert!((b[0] - 2.0).abs() < 1e-12 && (b[1] + 3.0).abs() < 1e-12);
        // Type 2 never occurs: singular, ridge, its shift is 0.
        let x3: Vec<Vec<f64>> = x.iter().map(|r| vec![r[0], r[1], 0.0]).collect();
        let (b, ridge) = least_squares_shifts(&x3, &y, 3);
        assert!(ridge > 0.0);
        assert!((b[0] - 2.0).abs() < 1e-6 && (b[1] + 3.0).abs() < 1e-6 && b[2] == 0.0);
    }
}
