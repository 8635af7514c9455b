//! O(N²) reference neighbor search: every pair, every image that can be in range.

use super::{FrameView, Geometry, NeighborList, NeighborOptions};
use crate::error::{Error, Result};

/// Builds the neighbor list by checking every pair (i, j) and every cell shift that can
/// bring j within the cutoff of i. Slow (O(N²) times the images), simple, and the oracle
/// for [`neighbor_list`](super::neighbor_list). Ignores `min_distance` and `max_edges`.
/// Edges come sorted by (i, j, shift).
pub fn brute_force(frame: &FrameView, options: &NeighborOptions) -> Result<NeighborList> {
    options.validate(frame.types.and_then(|t| t.iter().copied().max()))?;
    let geom = Geometry::new(frame.cell, frame.pbc).map_err(|message| Error::BadCell {
        origin: frame.describe(),
        message,
    })?;
    let rc = options.cutoff;
    let pos = frame.positions;
    let mut out = NeighborList::default();
    for i in 0..pos.len() {
        for j in 0..pos.len() {
            let d = [
                pos[j][0] - pos[i][0],
                pos[j][1] - pos[i][1],
                pos[j][2] - pos[i][2],
            ];
            let ds = geom.frac(d);
            // |d + S·cell| < rc needs |ds[k] + S[k]| < rc / heights[k]; one more on each
            // side for rounding (the distance test below decides).
            let mut range = [(0i64, 0i64); 3];
            for k in 0..3 {
                if geom.pbc[k] {
                    let r = rc / geom.heights[k];
                    range[k] = (
                        (-ds[k] - r).floor() as i64 - 1,
                        (-ds[k] + r).ceil() as i64 + 1,
                    );
                }
            }
            let cut = match (&options.per_type_cutoff, frame.types) {
                (Some(t), Some(types)) => t.get(types[i] as usize, types[j] as usize),
                _ => rc,
            };
            for s0 in range[0].0..=range[0].1 {
                for s1 in range[1].0..=range[1].1 {
                    for s2 in range[2].0..=range[2].1 {
                        let s = [s0 as i32, s1 as i32, s2 as i32];
                        if i == j && s == [0, 0, 0] {
                            continue;
                        }
                        let t = geom.translation(s);
                        let v = [d[0] + t[0], d[1] + t[1], d[2] + t[2]];
                        if v[0] * v[0] + v[1] * v[1] + v[2] * v[2] < cut * cut {
                            out.center.push(i as u32);
                            out.neighbor.push(j as u32);
                            out.shift.push(s);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}
