//! A physics test battery for energy models (after nequip's `model_tests_basic.py`),
//! generic over the model and its backend, with random structures to run it on.
//!
//! Each check evaluates a model on related structures and returns how far apart the
//! results are, so a test asserts its own named tolerances and can report the errors it
//! saw. The invariants, for total energy E, per-atom energies Eᵢ, forces F, stress σ and
//! `G = ∂E/∂ε` (virial −G):
//! - [`rotation`]: an orthogonal Q (det ±1) applied to positions and cell rows leaves E
//!   and Eᵢ unchanged, maps F to Q F and σ (and G) to Q σ Qᵀ;
//! - [`translation`] changes nothing; [`permutation`] of the atoms permutes Eᵢ and Fᵢ;
//! - [`locality`]: Eᵢ depends only on the atoms j closer than `c(tᵢ, tⱼ)` to atom i,
//!   whatever edges beyond that the graph holds; [`extra_edges`]: a longer neighbor list
//!   changes nothing;
//! - [`batching`]: a batch gives every structure its own results;
//! - [`lattice_images`]: atoms moved by lattice vectors change nothing; [`supercell`]:
//!   a replicated cell has the same Eᵢ, Fᵢ and σ on every replica, E times the copies;
//! - [`force_differences`]: `F = −∂E/∂r`; [`strain_differences`]: `σ = (1/V) ∂E/∂ε`
//!   (G for a structure without a cell), by central differences.
//!
//! Deviations are relative: the largest absolute difference of a quantity divided by the
//! largest magnitude of that quantity in the expected results ([`Deviation`]).

use allegro_core::Backend;
use allegro_core::e3::{Matrix3, mat3_vec, rotation_from_uniform};
use allegro_core::rng::SplitMix64;
use allegro_data::{AtomicGraph, Mat3, NeighborOptions, Species, Structure, TypeMapper};

use crate::error::{Error, Result};
use crate::predictor::Prediction;

/// What the battery needs from a model (public as [`crate::EnergyModel`]).
pub use crate::energy_model::EnergyModel;

fn data_error(e: allegro_data::Error) -> Error {
    Error::Input(e.to_string())
}

/// The graph of `s` with every pair closer than `neighbor_cutoff` as an edge.
pub fn graph<M: EnergyModel>(
    model: &M,
    s: &Structure,
    neighbor_cutoff: f64,
) -> Result<AtomicGraph> {
    let mapper = TypeMapper::new(&model.type_names()).map_err(data_error)?;
    AtomicGraph::from_structure(s, &mapper, &NeighborOptions::new(neighbor_cutoff))
        .map_err(data_error)
}

/// Evaluates one structure with a neighbor list at the model's largest cutoff.
pub fn evaluate<M: EnergyModel>(model: &M, s: &Structure) -> Result<Prediction> {
    model.predict_structure(s)
}

/// How far a prediction is from the expected one, each quantity relative to its largest
/// expected magnitude: `max |got − want| / max |want|` (the plain difference where the
/// expected values are all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Deviation {
    /// Total energies.
    pub energy: f64,
    /// Per-atom energies.
    pub atomic_energies: f64,
    /// Forces.
    pub forces: f64,
    /// Stress, or the virial of structures without a cell.
    pub stress: f64,
}

impl Deviation {
    /// The largest of the four.
    pub fn max(&self) -> f64 {
        self.energy
            .max(self.atomic_energies)
            .max(self.forces)
            .max(self.stress)
    }

    /// Elementwise maximum with `other` (the worst of several checks).
    pub fn worst(self, other: Deviation) -> Deviation {
        Deviation {
            energy: self.energy.max(other.energy),
            atomic_energies: self.atomic_energies.max(other.atomic_energies),
            forces: self.forces.max(other.forces),
            stress: self.stress.max(other.stress),
        }
    }
}

fn relative(got: impl IntoIterator<Item = f64>, want: impl IntoIterator<Item = f64>) -> f64 {
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    let mut got = got.into_iter();
    for w in want {
        let g = got.next().unwrap_or(f64::NAN);
        let d = (g - w).abs();
        // NaN anywhere makes the deviation NaN (and any `≤ tol` check fail).
        diff = if d.is_nan() || diff.is_nan() {
            f64::NAN
        } else {
            diff.max(d)
        };
        scale = scale.max(w.abs());
    }
    if got.next().is_some() {
        return f64::NAN;
    }
    if scale > 0.0 { diff / scale } else { diff }
}

/// Stress where the structure has one, else the virial, flattened per frame.
fn stress_or_virial(p: &Prediction) -> Vec<f64> {
    p.virial
        .iter()
        .zip(&p.stress)
        .flat_map(|(v, s)| s.unwrap_or(*v).into_iter().flatten())
        .collect()
}

/// Compares `got` with `want` (same frames and atoms).
pub fn compare(got: &Prediction, want: &Prediction) -> Deviation {
    Deviation {
        energy: relative(got.total_energy.clone(), want.total_energy.clone()),
        atomic_energies: relative(got.atomic_energies.clone(), want.atomic_energies.clone()),
        forces: relative(
            got.forces.iter().flatten().copied(),
            want.forces.iter().flatten().copied(),
        ),
        stress: relative(stress_or_virial(got), stress_or_virial(want)),
    }
}

/// Largest magnitudes of a prediction's per-atom energies, forces and stress (or
/// virial): a check is only meaningful where these are not negligible.
pub fn magnitudes(p: &Prediction) -> [f64; 3] {
    let max = |v: Vec<f64>| v.into_iter().fold(0.0, |m: f64, x| m.max(x.abs()));
    [
        max(p.atomic_energies.clone()),
        max(p.forces.iter().flatten().copied().collect()),
        max(stress_or_virial(p)),
    ]
}

// ---------------------------------------------------------------- geometry helpers

fn conjugate(q: &Matrix3, m: &Mat3) -> Mat3 {
    // Q M Qᵀ
    std::array::from_fn(|a| {
        std::array::from_fn(|b| {
            (0..3)
                .map(|i| (0..3).map(|j| q[a][i] * m[i][j] * q[b][j]).sum::<f64>())
                .sum()
        })
    })
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|d| a[d] + b[d])
}

fn lattice_vector(cell: &Mat3, n: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|d| (0..3).map(|k| n[k] * cell[k][d]).sum())
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>().sqrt()
}

/// `s` with positions and cell rows mapped by `f`.
fn map_vectors(s: &Structure, f: impl Fn([f64; 3]) -> [f64; 3]) -> Structure {
    let mut out = s.clone();
    out.positions = s.positions.iter().map(|&p| f(p)).collect();
    out.cell = s.cell.map(|c| c.map(&f));
    out
}

/// `s` deformed by `I + ε`: every position and cell row `x → x + x ε`.
pub fn strained(s: &Structure, eps: &Mat3) -> Structure {
    map_vectors(s, |x| {
        std::array::from_fn(|b| x[b] + (0..3).map(|a| x[a] * eps[a][b]).sum::<f64>())
    })
}

// ---------------------------------------------------------------- the checks

/// Q applied to `s` (positions and cell rows); Q may be improper (a reflection).
pub fn rotation<M: EnergyModel>(model: &M, s: &Structure, q: &Matrix3) -> Result<Deviation> {
    let p = evaluate(model, s)?;
    let got = evaluate(model, &map_vectors(s, |x| mat3_vec(q, &x)))?;
    let want = Prediction {
        forces: p.forces.iter().map(|f| mat3_vec(q, f)).collect(),
        virial: p.virial.iter().map(|v| conjugate(q, v)).collect(),
        stress: p
            .stress
            .iter()
            .map(|s| s.map(|s| conjugate(q, &s)))
            .collect(),
        ..p
    };
    Ok(compare(&got, &want))
}

/// Every atom moved by `t`.
pub fn translation<M: EnergyModel>(model: &M, s: &Structure, t: [f64; 3]) -> Result<Deviation> {
    let p = evaluate(model, s)?;
    let mut moved = s.clone();
    moved.positions = s.positions.iter().map(|&x| add(x, t)).collect();
    Ok(compare(&evaluate(model, &moved)?, &p))
}

/// Atom `i` of the new structure is atom `perm[i]` of `s`.
pub fn permutation<M: EnergyModel>(model: &M, s: &Structure, perm: &[usize]) -> Result<Deviation> {
    let p = evaluate(model, s)?;
    let mut moved = s.clone();
    moved.positions = perm.iter().map(|&i| s.positions[i]).collect();
    moved.species = perm.iter().map(|&i| s.species[i]).collect();
    let want = Prediction {
        atomic_energies: perm.iter().map(|&i| p.atomic_energies[i]).collect(),
        forces: perm.iter().map(|&i| p.forces[i]).collect(),
        ..p
    };
    Ok(compare(&evaluate(model, &moved)?, &want))
}

/// One batched evaluation of `structures` against one evaluation of each.
pub fn batching<M: EnergyModel>(model: &M, structures: &[Structure]) -> Result<Deviation> {
    let graphs = structures
        .iter()
        .map(|s| graph(model, s, model.r_max()))
        .collect::<Result<Vec<_>>>()?;
    let got = model.predict(&AtomicGraph::batch(&graphs))?;
    let mut want = Prediction {
        total_energy: vec![],
        atomic_energies: vec![],
        forces: vec![],
        virial: vec![],
        stress: vec![],
    };
    for g in &graphs {
        let p = model.predict(g)?;
        want.total_energy.extend(p.total_energy);
        want.atomic_energies.extend(p.atomic_energies);
        want.forces.extend(p.forces);
        want.virial.extend(p.virial);
        want.stress.extend(p.stress);
    }
    Ok(compare(&got, &want))
}

/// Atom n moved by the lattice vector `shifts[n] @ cell` (unwrapped images).
pub fn lattice_images<M: EnergyModel>(
    model: &M,
    s: &Structure,
    shifts: &[[i32; 3]],
) -> Result<Deviation> {
    let cell = s
        .cell
        .ok_or_else(|| Error::Input("lattice images need a cell".into()))?;
    let p = evaluate(model, s)?;
    let mut moved = s.clone();
    moved.positions = s
        .positions
        .iter()
        .zip(shifts)
        .map(|(&x, n)| add(x, lattice_vector(&cell, n.map(f64::from))))
        .collect();
    Ok(compare(&evaluate(model, &moved)?, &p))
}

/// The `reps[0] × reps[1] × reps[2]` supercell of a periodic `s` (atom `r·N + n` is atom
/// n in replica r) against `s`: per-atom energies, forces and stress equal, total energy
/// times the number of replicas.
pub fn supercell<M: EnergyModel>(model: &M, s: &Structure, reps: [usize; 3]) -> Result<Deviation> {
    let cell = s
        .cell
        .ok_or_else(|| Error::Input("a supercell needs a cell".into()))?;
    if s.pbc != [true; 3] {
        return Err(Error::Input(
            "a supercell needs pbc in all directions".into(),
        ));
    }
    let p = evaluate(model, s)?;
    let mut big = s.clone();
    big.cell = Some(std::array::from_fn(|k| cell[k].map(|x| x * reps[k] as f64)));
    big.positions.clear();
    big.species.clear();
    let mut copies = 0;
    for a in 0..reps[0] {
        for b in 0..reps[1] {
            for c in 0..reps[2] {
                let t = lattice_vector(&cell, [a as f64, b as f64, c as f64]);
                big.positions.extend(s.positions.iter().map(|&x| add(x, t)));
                big.species.extend_from_slice(&s.species);
                copies += 1;
            }
        }
    }
    let want = Prediction {
        total_energy: vec![p.total_energy[0] * copies as f64],
        atomic_energies: p.atomic_energies.repeat(copies),
        forces: p.forces.repeat(copies),
        virial: vec![p.virial[0].map(|row| row.map(|x| x * copies as f64))],
        stress: p.stress.clone(),
    };
    Ok(compare(&evaluate(model, &big)?, &want))
}

/// A neighbor list of `neighbor_cutoff` (beyond the model's cutoffs) against one at the
/// model's largest cutoff: edges beyond a pair's cutoff must change nothing.
pub fn extra_edges<M: EnergyModel>(
    model: &M,
    s: &Structure,
    neighbor_cutoff: f64,
) -> Result<Deviation> {
    let p = evaluate(model, s)?;
    let got = model.predict(&graph(model, s, neighbor_cutoff)?)?;
    Ok(compare(&got, &p))
}

/// What [`locality`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Locality {
    /// Atoms i ≠ k farther than `c(tᵢ, t_k)` from atom k before and after the move.
    pub unaffected: usize,
    /// How many of those were closer than the largest cutoff to k (before or after): only
    /// the per-edge-type cutoff keeps them unaffected.
    pub unaffected_within_r_max: usize,
    /// Largest change of an unaffected atom's energy (eV); exactly local models give 0.
    pub max_change_unaffected: f64,
    /// Largest change of another atom's energy (eV), showing the move does matter.
    pub max_change_affected: f64,
}

/// Moves atom k of a non-periodic `s` to `to`, with a neighbor list 1.5 times the largest
/// cutoff (so the model itself must cut every edge off), and records how the other
/// atoms' energies change.
pub fn locality<M: EnergyModel>(
    model: &M,
    s: &Structure,
    k: usize,
    to: [f64; 3],
) -> Result<Locality> {
    if s.is_periodic() {
        return Err(Error::Input(
            "the locality check takes a structure without pbc".into(),
        ));
    }
    let reach = 1.5 * model.r_max();
    let before = model.predict(&graph(model, s, reach)?)?;
    let mut moved = s.clone();
    moved.positions[k] = to;
    let after = model.predict(&graph(model, &moved, reach)?)?;
    let types = TypeMapper::new(&model.type_names())
        .map_err(data_error)?
        .map(s)
        .map_err(data_error)?;
    let cutoffs = model.cutoffs();
    let t = model.type_names().len();
    let mut out = Locality::default();
    for i in (0..s.n_atoms()).filter(|&i| i != k) {
        let c = cutoffs[types[i] as usize * t + types[k] as usize];
        let (d0, d1) = (
            distance(s.positions[i], s.positions[k]),
            distance(s.positions[i], to),
        );
        let change = (after.atomic_energies[i] - before.atomic_energies[i]).abs();
        if d0 >= c && d1 >= c {
            out.unaffected += 1;
            if d0.min(d1) < model.r_max() {
                out.unaffected_within_r_max += 1;
            }
            out.max_change_unaffected = out.max_change_unaffected.max(change);
        } else {
            out.max_change_affected = out.max_change_affected.max(change);
        }
    }
    Ok(out)
}

/// A derivative against central differences.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FiniteDifference {
    /// Largest absolute difference.
    pub max_abs_error: f64,
    /// Largest magnitude of the derivative (to judge the error against).
    pub scale: f64,
}

fn total_energy<M: EnergyModel>(model: &M, s: &Structure) -> Result<f64> {
    Ok(evaluate(model, s)?.total_energy[0])
}

/// Forces against `−(E(r + h eₙₐ) − E(r − h eₙₐ)) / 2h` for every atom n and direction a.
pub fn force_differences<M: EnergyModel>(
    model: &M,
    s: &Structure,
    h: f64,
) -> Result<FiniteDifference> {
    let p = evaluate(model, s)?;
    let mut out = FiniteDifference::default();
    for n in 0..s.n_atoms() {
        for a in 0..3 {
            let energy = |sign: f64| {
                let mut m = s.clone();
                m.positions[n][a] += sign * h;
                total_energy(model, &m)
            };
            let fd = -(energy(1.0)? - energy(-1.0)?) / (2.0 * h);
            out.max_abs_error = out.max_abs_error.max((p.forces[n][a] - fd).abs());
            out.scale = out.scale.max(p.forces[n][a].abs());
        }
    }
    Ok(out)
}

/// `G = ∂E/∂ε` against central differences under the symmetric strain with
/// `ε_ab = ε_ba = h/2` (`ε_aa = h`), which changes E by `G_ab h` for symmetric G;
/// compared as stress `G / V` for a periodic `s`, as G otherwise.
pub fn strain_differences<M: EnergyModel>(
    model: &M,
    s: &Structure,
    h: f64,
) -> Result<FiniteDifference> {
    let p = evaluate(model, s)?;
    // The reported stress where there is one (V = |det cell|), else G = −virial.
    let (target, volume) = match (p.stress[0], s.volume()) {
        (Some(st), Some(v)) => (st, v),
        _ => (p.virial[0].map(|row| row.map(|x| -x)), 1.0),
    };
    let mut out = FiniteDifference::default();
    for a in 0..3 {
        for b in 0..3 {
            let energy = |sign: f64| {
                let mut eps = [[0.0; 3]; 3];
                eps[a][b] += sign * h / 2.0;
                eps[b][a] += sign * h / 2.0;
                total_energy(model, &strained(s, &eps))
            };
            let fd = (energy(1.0)? - energy(-1.0)?) / (2.0 * h * volume);
            out.max_abs_error = out.max_abs_error.max((target[a][b] - fd).abs());
            out.scale = out.scale.max(target[a][b].abs());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- random structures

/// A uniformly random rotation (det +1).
pub fn random_rotation(rng: &mut SplitMix64) -> Matrix3 {
    rotation_from_uniform([rng.next_f64(), rng.next_f64(), rng.next_f64()])
}

/// A mirror through a random plane followed by a random rotation: an improper
/// orthogonal map (det −1), `Q (I − 2 n nᵀ)` for a random unit n.
pub fn random_reflection(rng: &mut SplitMix64) -> Matrix3 {
    let q = random_rotation(rng);
    let n = [(); 3].map(|_| rng.normal());
    let norm = n.iter().map(|x| x * x).sum::<f64>().sqrt();
    let n = n.map(|x| x / norm);
    std::array::from_fn(|a| {
        std::array::from_fn(|b| {
            (0..3)
                .map(|c| q[a][c] * (f64::from(u8::from(c == b)) - 2.0 * n[c] * n[b]))
                .sum()
        })
    })
}

/// A random permutation of `0..n`.
pub fn random_permutation(rng: &mut SplitMix64, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i as u64 + 1) as usize);
    }
    p
}

fn random_species(rng: &mut SplitMix64, species: &[&str], n: usize) -> Vec<Species> {
    (0..n)
        .map(|_| {
            Species::new(species[rng.below(species.len() as u64) as usize])
                .expect("species labels are valid")
        })
        .collect()
}

const MAX_TRIES: usize = 100_000;

/// `n` atoms of random species uniform in a cube of side `size`, no two closer than
/// `min_distance`; no cell.
pub fn random_molecule(
    rng: &mut SplitMix64,
    species: &[&str],
    n: usize,
    size: f64,
    min_distance: f64,
) -> Structure {
    let mut positions: Vec<[f64; 3]> = Vec::with_capacity(n);
    for _ in 0..MAX_TRIES {
        if positions.len() == n {
            break;
        }
        let x = [(); 3].map(|_| rng.uniform_in(0.0, size));
        if positions.iter().all(|&y| distance(x, y) >= min_distance) {
            positions.push(x);
        }
    }
    assert_eq!(
        positions.len(),
        n,
        "could not place {n} atoms in a {size} Å cube"
    );
    Structure::new(random_species(rng, species, n), positions, None, [false; 3])
}

/// A random triclinic cell `length · (I + skew·U)`, U uniform in [−1, 1]³ˣ³, with volume
/// at least half of `length³`.
pub fn random_cell(rng: &mut SplitMix64, length: f64, skew: f64) -> Mat3 {
    loop {
        let c: Mat3 = std::array::from_fn(|a| {
            std::array::from_fn(|b| {
                length * (f64::from(u8::from(a == b)) + skew * rng.uniform_in(-1.0, 1.0))
            })
        });
        if allegro_data::structure::det3(&c) >= 0.5 * length.powi(3) {
            return c;
        }
    }
}

/// `n` atoms of random species in `cell` (periodic in all directions), no two closer
/// than `min_distance` counting periodic images; fractional coordinates in [0, 1).
pub fn random_crystal(
    rng: &mut SplitMix64,
    species: &[&str],
    n: usize,
    cell: Mat3,
    min_distance: f64,
) -> Structure {
    let images: Vec<[f64; 3]> = (-2..=2)
        .flat_map(|a| (-2..=2).flat_map(move |b| (-2..=2).map(move |c| [a, b, c])))
        .map(|s: [i32; 3]| lattice_vector(&cell, s.map(f64::from)))
        .collect();
    let self_image = images
        .iter()
        .filter(|v| v.iter().any(|x| *x != 0.0))
        .map(|&v| distance(v, [0.0; 3]))
        .fold(f64::INFINITY, f64::min);
    assert!(
        self_image >= min_distance,
        "cell too small for min_distance"
    );
    let mut positions: Vec<[f64; 3]> = Vec::with_capacity(n);
    for _ in 0..MAX_TRIES {
        if positions.len() == n {
            break;
        }
        let x = lattice_vector(&cell, [(); 3].map(|_| rng.next_f64()));
        let clear = positions.iter().all(|&y| {
            images
                .iter()
                .all(|&v| distance(add(x, v), y) >= min_distance)
        });
        if clear {
            positions.push(x);
        }
    }
    assert_eq!(positions.len(), n, "could not place {n} atoms in the cell");
    Structure::new(
        random_species(rng, species, n),
        positions,
        Some(cell),
        [true; 3],
    )
}

/// How far the inputs built on the device ([`crate::ModelInputs::from_neighbor_list`], through
/// [`crate::predictor::inputs_from_graph`]) are from those built on the host (the
/// oracle, [`crate::predictor::inputs_from_graph_on_host`]): the largest edge-vector
/// difference relative to the longest vector. Errors when any index table, the edge
/// order or the offsets differ, or when the graph's shifts did not fit the packed form.
pub fn device_inputs_deviation<B: Backend>(
    graph: &AtomicGraph,
    num_types: usize,
    device: &B::Device,
) -> Result<f64> {
    use crate::edge_inputs::NeighborListInputs;
    use crate::inputs::ModelInputs;
    let list = NeighborListInputs::of_graph(graph);
    let built = ModelInputs::<B>::from_neighbor_list(num_types, &list, device)?
        .ok_or_else(|| Error::Input("cell shifts beyond the packed form".into()))?;
    let host = crate::predictor::inputs_from_graph_on_host::<B>(graph, num_types, device)?;
    let tables = [
        ("atom types", &built.atom_types, &host.atom_types),
        ("batch", &built.batch, &host.batch),
        ("edge centers", &built.edge_center, &host.edge_center),
        ("edge neighbors", &built.edge_neighbor, &host.edge_neighbor),
        ("center types", &built.center_types, &host.center_types),
        (
            "neighbor types",
            &built.neighbor_types,
            &host.neighbor_types,
        ),
        ("edge types", &built.edge_types, &host.edge_types),
        ("edge structures", &built.edge_batch, &host.edge_batch),
        (
            "center offsets",
            &built.center_offsets,
            &host.center_offsets,
        ),
    ];
    for (name, a, b) in tables {
        if a.to_vec() != b.to_vec() || a.len() != b.len() {
            return Err(Error::Input(format!("{name} differ")));
        }
        let true_max = b.to_vec().into_iter().max();
        if let (Some(m), Some(t)) = (a.max(), true_max)
            && m < t
        {
            return Err(Error::Input(format!("{name}: recorded max {m} below {t}")));
        }
    }
    let (va, vb) = (
        built.edge_vectors.to_vec_f64(),
        host.edge_vectors.to_vec_f64(),
    );
    if va.len() != vb.len() {
        return Err(Error::Input("edge vector counts differ".into()));
    }
    let scale = vb.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = va
        .iter()
        .zip(&vb)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Ok(if scale > 0.0 { diff / scale } else { diff })
}
