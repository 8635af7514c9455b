//! O(N) neighbor search with cell lists (linked bins) in fractional coordinates.

use super::{FrameView, Geometry, NeighborList, NeighborOptions};
use crate::error::{Error, Result};

/// Most periodic images one atom may look through; beyond this the cell is absurdly thin
/// for the cutoff and we refuse rather than run for hours.
const MAX_IMAGE_BINS: f64 = 1e6;

/// Largest span of atoms along an open direction (Å); more is corrupt input, and would
/// overflow the bin arithmetic.
const MAX_EXTENT: f64 = 1e9;

/// Bins are made this much thicker than the cutoff so that rounding in fractional
/// coordinates can never push a true neighbor one bin beyond the search reach.
const BIN_SLACK: f64 = 1.0 + 1e-9;

/// Bins per cutoff length (measured, see docs/perf.md).
const BINS_PER_CUTOFF: f64 = 1.0;

/// Builds the neighbor list of one frame with cell lists; see the [module](super) docs.
///
/// Errors: a singular or missing periodic cell, non-finite positions, atoms closer than
/// `min_distance`, more than `max_edges` edges, per-type cutoffs without types.
pub fn neighbor_list(frame: &FrameView, options: &NeighborOptions) -> Result<NeighborList> {
    let Some((geom, grid, bins, frac_offset)) = binned(frame, options)? else {
        return Ok(NeighborList::default());
    };
    let n = frame.positions.len();
    let rc = options.cutoff;
    let table = options.per_type_cutoff.as_ref().zip(frame.types);
    let offset = &frac_offset;
    // Wrapped Cartesian positions in bin order, for contiguous inner loops.
    let wrapped = |i: usize| {
        let t = geom.translation(offset[i]);
        let r = frame.positions[i];
        [r[0] - t[0], r[1] - t[1], r[2] - t[2]]
    };
    let sorted_pos: Vec<[f64; 3]> = bins.order.iter().map(|&i| wrapped(i as usize)).collect();
    let (reach, nbins, start, order) = (grid.reach, grid.nbins, &bins.start, &bins.order);

    let rc2 = rc * rc;
    let min2 = options.min_distance.map(|d| d * d);
    let mut out = NeighborList::default();
    let guess = n * 64;
    out.center.reserve(guess);
    out.neighbor.reserve(guess);
    out.shift.reserve(guess);

    for i in 0..n {
        let bi = bins.atom_bin[i];
        let ri = wrapped(i);
        let ti = table.map(|(_, t)| t[i] as usize);
        for d0 in -reach[0]..=reach[0] {
            let Some((b0, s0)) = step(bi[0] + d0, nbins[0], geom.pbc[0]) else {
                continue;
            };
            for d1 in -reach[1]..=reach[1] {
                let Some((b1, s1)) = step(bi[1] + d1, nbins[1], geom.pbc[1]) else {
                    continue;
                };
                for d2 in -reach[2]..=reach[2] {
                    let Some((b2, s2)) = step(bi[2] + d2, nbins[2], geom.pbc[2]) else {
                        continue;
                    };
                    let image = [s0, s1, s2];
                    let t = geom.translation(image);
                    let base = [t[0] - ri[0], t[1] - ri[1], t[2] - ri[2]];
                    let l = grid.linear([b0, b1, b2]);
                    let (a, b) = (start[l] as usize, start[l + 1] as usize);
                    for (rj, &j) in sorted_pos[a..b].iter().zip(&order[a..b]) {
                        let v = [rj[0] + base[0], rj[1] + base[1], rj[2] + base[2]];
                        let d2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                        if d2 >= rc2 * (1.0 + 1e-10) {
                            continue;
                        }
                        let j = j as usize;
                        if j == i && image == [0, 0, 0] {
                            continue;
                        }
                        let oi = offset[i];
                        let oj = offset[j];
                        let shift = [
                            image[0] + oi[0] - oj[0],
                            image[1] + oi[1] - oj[1],
                            image[2] + oi[2] - oj[2],
                        ];
                        let cut2 = match (table, ti) {
                            (Some((tab, types)), Some(ti)) => {
                                let c = tab.get(ti, types[j] as usize);
                                c * c
                            }
                            _ => rc2,
                        };
                        // The wrapped positions round differently from the vector a model
                        // computes (pos[j] - pos[i] + shift @ cell); decide edges near the
                        // cutoff with the latter so both agree on every edge.
                        let d2 = if (d2 - cut2).abs() <= 1e-9 * cut2 {
                            let t = geom.translation(shift);
                            let (pi, pj) = (frame.positions[i], frame.positions[j]);
                            let w = [
                                pj[0] - pi[0] + t[0],
                                pj[1] - pi[1] + t[1],
                                pj[2] - pi[2] + t[2],
                            ];
                            w[0] * w[0] + w[1] * w[1] + w[2] * w[2]
                        } else {
                            d2
                        };
                        if d2 >= cut2 {
                            continue;
                        }
                        if let Some(m2) = min2
                            && d2 < m2
                        {
                            return Err(Error::AtomsTooClose {
                                origin: frame.describe(),
                                i,
                                j,
                                shift,
                                distance: d2.sqrt(),
                                min_distance: options.min_distance.unwrap_or(0.0),
                            });
                        }
                        out.center.push(i as u32);
                        out.neighbor.push(j as u32);
                        out.shift.push(shift);
                    }
                }
            }
        }
        if let Some(max) = options.max_edges
            && out.len() > max
        {
            return Err(Error::TooManyEdges {
                origin: frame.describe(),
                max_edges: max,
            });
        }
    }
    Ok(out)
}

/// What a cell-list search of `frame` needs before its pair loop: the checks of
/// [`neighbor_list`], the geometry, the bin grid, the atoms sorted into it and each
/// atom's wrapping offset; `None` without atoms.
#[allow(clippy::type_complexity)]
fn binned(
    frame: &FrameView,
    options: &NeighborOptions,
) -> Result<Option<(Geometry, BinGrid, BinnedAtoms, Vec<[i32; 3]>)>> {
    let n = frame.positions.len();
    let max_type = frame.types.and_then(|t| t.iter().copied().max());
    options.validate(max_type)?;
    let bad_cell = |message: String| Error::BadCell {
        origin: frame.describe(),
        message,
    };
    let geom = Geometry::new(frame.cell, frame.pbc).map_err(bad_cell)?;
    match (&options.per_type_cutoff, frame.types) {
        (Some(_), Some(types)) if types.len() == n => {}
        (Some(_), _) => {
            return Err(Error::InvalidStructure {
                origin: frame.describe(),
                message: "per-type cutoffs need one atom type per atom".into(),
            });
        }
        (None, _) => {}
    }
    if let Some(i) = frame
        .positions
        .iter()
        .position(|p| !p.iter().all(|x| x.is_finite()))
    {
        return Err(Error::InvalidStructure {
            origin: frame.describe(),
            message: format!(
                "atom {i} has a non-finite position {:?}",
                frame.positions[i]
            ),
        });
    }
    if n == 0 {
        return Ok(None);
    }
    let (frac, offset) = wrap_into_cell(frame, &geom)?;
    let grid = BinGrid::plan(frame, &geom, &frac, options.cutoff)?;
    let bins = grid.sort(&frac);
    Ok(Some((geom, grid, bins, offset)))
}

/// The host half of a cell-list search, for a pair loop that runs elsewhere (on a GPU):
/// the atoms wrapped into the cell and sorted into bins at least one cutoff thick, and
/// how many bins a search looks through. An atom in bin `b` finds its neighbors among
/// the atoms of bins `b + d` with `|d[k]| ≤ reach[k]`; along a periodic direction a bin
/// index wraps (`b.rem_euclid(n)`), crossing `b.div_euclid(n)` periods, and along an
/// open one a bin outside `0..n` is skipped. Edge shifts then follow as in
/// [`neighbor_list`]: `image + offset[i] − offset[j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellBins {
    /// Bins per direction.
    pub nbins: [u32; 3],
    /// Bins looked through on each side, per direction.
    pub reach: [u32; 3],
    /// Periodic directions.
    pub pbc: [bool; 3],
    /// `order[start[l]..start[l + 1]]` are the atoms of bin `l = (b₀·n₁ + b₁)·n₂ + b₂`,
    /// `[bins + 1]`.
    pub start: Vec<u32>,
    /// Atoms sorted by bin, `[N]`.
    pub order: Vec<u32>,
    /// Bin of each atom, `[N]`.
    pub atom_bin: Vec<[u32; 3]>,
    /// Whole cells the wrapping removed from each atom, `[N]`.
    pub offset: Vec<[i32; 3]>,
    /// Wrapped positions in bin order: entry `k` is atom `order[k]`'s, `[N]`.
    pub sorted_positions: Vec<[f64; 3]>,
    /// The cell (rows; zero rows where there is none): an image `s` is `s @ cell` away.
    pub cell: [[f64; 3]; 3],
}

/// The [`CellBins`] of `frame` with the checks of [`neighbor_list`] (`None` without
/// atoms).
pub fn cell_bins(frame: &FrameView, options: &NeighborOptions) -> Result<Option<CellBins>> {
    let Some((geom, grid, bins, offset)) = binned(frame, options)? else {
        return Ok(None);
    };
    let sorted_positions = bins
        .order
        .iter()
        .map(|&i| {
            let t = geom.translation(offset[i as usize]);
            let r = frame.positions[i as usize];
            [r[0] - t[0], r[1] - t[1], r[2] - t[2]]
        })
        .collect();
    // Bin counts are capped at 8·N (or 64) and reaches by the image limit, so both fit u32.
    Ok(Some(CellBins {
        nbins: grid.nbins.map(|b| b as u32),
        reach: grid.reach.map(|r| r as u32),
        pbc: geom.pbc,
        start: bins.start,
        order: bins.order,
        atom_bin: bins.atom_bin.iter().map(|b| b.map(|c| c as u32)).collect(),
        offset,
        sorted_positions,
        cell: geom.cell,
    }))
}

/// Fractional coordinates of every atom (periodic ones wrapped into [0, 1)) and the
/// integer cell offset each wrap removed.
type Wrapped = (Vec<[f64; 3]>, Vec<[i32; 3]>);

/// The [`Wrapped`] coordinates of the atoms of `frame`.
fn wrap_into_cell(frame: &FrameView, geom: &Geometry) -> Result<Wrapped> {
    // Fractional coordinates; periodic ones wrapped into [0, 1) with the integer offset
    // remembered, so that edge shifts refer to the positions as given.
    let n = frame.positions.len();
    let mut frac = Vec::with_capacity(n);
    let mut offset = Vec::with_capacity(n);
    for (i, &r) in frame.positions.iter().enumerate() {
        let mut s = geom.frac(r);
        let mut o = [0i32; 3];
        for k in 0..3 {
            if geom.pbc[k] {
                let f = s[k].floor();
                if f.abs() > 1e9 {
                    return Err(Error::BadCell {
                        origin: frame.describe(),
                        message: format!("atom {i} is {f:e} cells away from the cell"),
                    });
                }
                o[k] = f as i32;
                s[k] -= f;
            }
        }
        frac.push(s);
        offset.push(o);
    }
    Ok((frac, offset))
}

/// The bins of a search: `nbins[k]` bins of fractional width `width[k]` from `lo[k]`
/// along each cell direction, and how many bins (`reach`) a search looks through.
struct BinGrid {
    lo: [f64; 3],
    width: [f64; 3],
    nbins: [i64; 3],
    reach: [i64; 3],
}

/// Atoms sorted by bin: `order[start[l]..start[l + 1]]` are the atoms of bin `l`.
struct BinnedAtoms {
    atom_bin: Vec<[i64; 3]>,
    start: Vec<u32>,
    order: Vec<u32>,
}

impl BinGrid {
    /// The grid for atoms at fractional coordinates `frac` and cutoff `rc`.
    fn plan(frame: &FrameView, geom: &Geometry, frac: &[[f64; 3]], rc: f64) -> Result<BinGrid> {
        // Bins per direction: as many as fit with each at least one cutoff thick. Sparse open
        // systems could ask for far more bins than atoms, so the grid is capped.
        let cap = (8 * frac.len() as i64).max(64);
        let mut lo = [0.0; 3];
        let mut width = [1.0; 3];
        let mut nbins = [1i64; 3];
        for k in 0..3 {
            let extent = if geom.pbc[k] {
                1.0
            } else {
                let (mn, mx) = frac
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                        (a.min(s[k]), b.max(s[k]))
                    });
                lo[k] = mn;
                (mx - mn).max(0.0)
            };
            let thickness = extent * geom.heights[k];
            if thickness.partial_cmp(&MAX_EXTENT) != Some(std::cmp::Ordering::Less) {
                return Err(Error::InvalidStructure {
                    origin: frame.describe(),
                    message: format!("atoms spread over {thickness:e} Å along direction {k}"),
                });
            }
            let bins = (thickness * BINS_PER_CUTOFF / (rc * BIN_SLACK)).floor();
            nbins[k] = (bins as i64).clamp(1, cap);
            width[k] = if extent > 0.0 {
                extent / nbins[k] as f64
            } else {
                1.0
            };
        }
        while nbins[0].saturating_mul(nbins[1]).saturating_mul(nbins[2]) > cap {
            let k = (0..3).max_by_key(|&k| nbins[k]).unwrap_or(0);
            let extent = width[k] * nbins[k] as f64;
            nbins[k] = (nbins[k] / 2).max(1);
            width[k] = extent / nbins[k] as f64;
        }
        // Reach in bins: a true neighbor differs by less than rc / heights[k] in s[k].
        let mut reach = [0i64; 3];
        let mut images = 1.0f64;
        for k in 0..3 {
            let physical = width[k] * geom.heights[k];
            let r = if physical > 0.0 {
                (rc / physical).ceil()
            } else {
                0.0
            };
            let r = if geom.pbc[k] {
                r
            } else {
                r.min((nbins[k] - 1) as f64)
            };
            images *= 2.0 * r + 1.0;
            if images.partial_cmp(&MAX_IMAGE_BINS) != Some(std::cmp::Ordering::Less) {
                return Err(Error::BadCell {
                    origin: frame.describe(),
                    message: format!(
                        "cell too thin for cutoff {rc} Å: lattice-plane spacings {:?} Å would \
                         need more than {MAX_IMAGE_BINS:e} image bins per atom",
                        geom.heights
                    ),
                });
            }
            reach[k] = r as i64;
        }
        Ok(BinGrid {
            lo,
            width,
            nbins,
            reach,
        })
    }

    /// The bin of fractional coordinates `s`.
    fn bin_of(&self, s: &[f64; 3]) -> [i64; 3] {
        let mut b = [0i64; 3];
        for k in 0..3 {
            b[k] =
                (((s[k] - self.lo[k]) / self.width[k]).floor() as i64).clamp(0, self.nbins[k] - 1);
        }
        b
    }

    /// The linear index of bin `b`.
    #[inline]
    fn linear(&self, b: [i64; 3]) -> usize {
        ((b[0] * self.nbins[1] + b[1]) * self.nbins[2] + b[2]) as usize
    }

    /// Counting sort of the atoms by bin.
    fn sort(&self, frac: &[[f64; 3]]) -> BinnedAtoms {
        let total_bins = (self.nbins[0] * self.nbins[1] * self.nbins[2]) as usize;
        let atom_bin: Vec<[i64; 3]> = frac.iter().map(|s| self.bin_of(s)).collect();
        let mut start = vec![0u32; total_bins + 1];
        for b in &atom_bin {
            start[self.linear(*b) + 1] += 1;
        }
        for k in 0..total_bins {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut order = vec![0u32; frac.len()];
        for (i, b) in atom_bin.iter().enumerate() {
            let l = self.linear(*b);
            order[fill[l] as usize] = i as u32;
            fill[l] += 1;
        }
        BinnedAtoms {
            atom_bin,
            start,
            order,
        }
    }
}

/// Moves to bin `b` along one direction: wraps it (returning the image crossed) when
/// periodic, or rejects it when outside an open direction.
#[inline]
fn step(b: i64, n: i64, periodic: bool) -> Option<(i64, i32)> {
    if periodic {
        Some((b.rem_euclid(n), b.div_euclid(n) as i32))
    } else if (0..n).contains(&b) {
        Some((b, 0))
    } else {
        None
    }
}
