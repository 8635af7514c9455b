//! Neighbor lists: the cell list equals brute force on random triclinic cells (including
//! cells thinner than the cutoff, partial pbc, open boundaries, per-type cutoffs), equals
//! the reference fixtures' edge lists, and counts the edges the issue quotes.

mod common;

use allegro_data::extxyz::{ReadOptions, read_extxyz};
use allegro_data::{
    CutoffTable, Error, FrameView, NeighborList, NeighborOptions, SplitMix64, brute_force,
    neighbor_list,
};

fn random_frame(rng: &mut SplitMix64, n: usize, scale: f64) -> (Vec<[f64; 3]>, [[f64; 3]; 3]) {
    // A random, fairly skewed cell: diagonal in [0.5, 1.5]·scale, off-diagonals up to ±0.6·scale.
    let mut cell = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            cell[a][b] = if a == b {
                (0.5 + rng.next_f64()) * scale
            } else {
                (rng.next_f64() - 0.5) * 1.2 * scale
            };
        }
    }
    // Fractional positions partly outside [0, 1) to exercise wrapping.
    let pos = (0..n)
        .map(|_| {
            let s = [
                rng.next_f64() * 1.6 - 0.3,
                rng.next_f64() * 1.6 - 0.3,
                rng.next_f64() * 1.6 - 0.3,
            ];
            let mut r = [0.0; 3];
            for k in 0..3 {
                for a in 0..3 {
                    r[a] += s[k] * cell[k][a];
                }
            }
            r
        })
        .collect();
    (pos, cell)
}

fn assert_same(a: &NeighborList, b: &NeighborList, what: &str) {
    let (x, y) = (a.sorted_triples(), b.sorted_triples());
    assert_eq!(x.len(), y.len(), "{what}: edge counts differ");
    assert_eq!(x, y, "{what}");
}

#[test]
fn matches_brute_force_on_random_triclinic_cells() {
    let mut rng = SplitMix64::new(2024);
    let pbcs = [
        [true; 3],
        [true, true, false],
        [true, false, false],
        [false; 3],
        [false, true, true],
    ];
    let mut total_edges = 0;
    for trial in 0..60 {
        let n = 1 + rng.below(40) as usize;
        // Cells from much thinner than the cutoff (scale 1.5) to several cutoffs wide.
        let scale = [1.5, 3.0, 6.0, 12.0][trial % 4];
        let pbc = pbcs[trial % pbcs.len()];
        let (pos, cell) = random_frame(&mut rng, n, scale);
        let rc = 2.0 + 3.0 * rng.next_f64();
        let opts = NeighborOptions {
            min_distance: None,
            ..NeighborOptions::new(rc)
        };
        let frame = FrameView {
            positions: &pos,
            cell: Some(&cell),
            pbc,
            types: None,
            origin: None,
        };
        let fast = neighbor_list(&frame, &opts).unwrap();
        let slow = brute_force(&frame, &opts).unwrap();
        assert_same(
            &fast,
            &slow,
            &format!("trial {trial}: n={n} scale={scale} pbc={pbc:?} rc={rc}"),
        );
        // Both directions: (i, j, S) ⇔ (j, i, −S).
        let set: std::collections::HashSet<_> = fast.sorted_triples().into_iter().collect();
        for &(i, j, s) in &set {
            assert!(set.contains(&(j, i, [-s[0], -s[1], -s[2]])));
        }
        total_edges += fast.len();
    }
    assert!(
        total_edges > 10_000,
        "the random cases should exercise many edges, got {total_edges}"
    );
}

#[test]
fn tiny_cell_has_many_images_of_one_atom() {
    // One atom in a 1 Å cubic cell at cutoff 2.5: every lattice point within 2.5 Å.
    let cell = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let pos = [[0.3, 0.2, 0.1]];
    let frame = FrameView {
        positions: &pos,
        cell: Some(&cell),
        pbc: [true; 3],
        types: None,
        origin: None,
    };
    let nl = neighbor_list(&frame, &NeighborOptions::new(2.5)).unwrap();
    let mut count = 0;
    for a in -3i32..=3 {
        for b in -3i32..=3 {
            for c in -3i32..=3 {
                let d2 = (a * a + b * b + c * c) as f64;
                if d2 > 0.0 && d2 < 6.25 {
                    count += 1;
                }
            }
        }
    }
    assert_eq!(nl.len(), count);
    assert!(nl.center.iter().all(|&i| i == 0) && nl.neighbor.iter().all(|&j| j == 0));
}

#[test]
fn per_type_cutoffs_match_brute_force() {
    let mut rng = SplitMix64::new(99);
    for trial in 0..20 {
        let n = 5 + rng.below(30) as usize;
        let (pos, cell) = random_frame(&mut rng, n, 5.0);
        let types: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let mut table = CutoffTable::uniform(3, 4.0);
        table.set_center(1, 3.0);
        table.set(2, 0, 2.5);
        let opts = NeighborOptions {
            per_type_cutoff: Some(table),
            min_distance: None,
            ..NeighborOptions::new(4.0)
        };
        let frame = FrameView {
            positions: &pos,
            cell: Some(&cell),
            pbc: [true; 3],
            types: Some(&types),
            origin: None,
        };
        let fast = neighbor_list(&frame, &opts).unwrap();
        assert_same(
            &fast,
            &brute_force(&frame, &opts).unwrap(),
            &format!("trial {trial}"),
        );
        let cell_view = FrameView {
            types: None,
            ..frame
        };
        let full = neighbor_list(
            &cell_view,
            &NeighborOptions {
                min_distance: None,
                ..NeighborOptions::new(4.0)
            },
        )
        .unwrap();
        assert!(fast.len() <= full.len());
    }
}

#[test]
fn bad_input_is_an_error() {
    let pos = [[0.0; 3], [0.5, 0.0, 0.0], [0.5, 0.0, 0.00001]];
    let singular = [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]];
    let f = |cell: Option<&'static [[f64; 3]; 3]>, pbc| FrameView {
        positions: &pos,
        cell,
        pbc,
        types: None,
        origin: None,
    };
    let err = neighbor_list(
        &FrameView {
            positions: &pos,
            cell: Some(&singular),
            pbc: [true; 3],
            types: None,
            origin: None,
        },
        &NeighborOptions::new(3.0),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadCell { .. }), "{err}");
    let err = neighbor_list(&f(None, [false; 3]), &NeighborOptions::new(3.0)).unwrap_err();
    match err {
        Error::AtomsTooClose { i: 1, j: 2, .. } => {}
        other => panic!("{other}"),
    }
    let ok = NeighborOptions {
        min_distance: None,
        ..NeighborOptions::new(3.0)
    };
    assert_eq!(neighbor_list(&f(None, [false; 3]), &ok).unwrap().len(), 6);
    let capped = NeighborOptions {
        max_edges: Some(5),
        ..ok.clone()
    };
    assert!(matches!(
        neighbor_list(&f(None, [false; 3]), &capped),
        Err(Error::TooManyEdges { max_edges: 5, .. })
    ));
    assert!(matches!(
        neighbor_list(&f(None, [true; 3]), &ok),
        Err(Error::BadCell { .. })
    ));
    let nan = [[f64::NAN, 0.0, 0.0]];
    let v = FrameView {
        positions: &nan,
        cell: None,
        pbc: [false; 3],
        types: None,
        origin: None,
    };
    assert!(matches!(
        neighbor_list(&v, &ok),
        Err(Error::InvalidStructure { .. })
    ));
    let thin = [[1e-6, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let v = FrameView {
        positions: &pos[..1],
        cell: Some(&thin),
        pbc: [true; 3],
        types: None,
        origin: None,
    };
    assert!(matches!(neighbor_list(&v, &ok), Err(Error::BadCell { .. })));
    assert!(matches!(
        neighbor_list(&v, &NeighborOptions::new(-1.0)),
        Err(Error::InvalidArgument(_))
    ));
}

/// Edge sets of the nequip reference fixtures, as sets of (i, j, shift).
#[test]
fn matches_fixture_edge_lists() {
    let mut checked = 0;
    for name in ["small_noparity.json", "seed_lmax2.json"] {
        let path = common::shared_dir().join("fixtures").join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            panic!("fixture {} missing", path.display());
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let r_max = v["config"]["r_max"].as_f64().unwrap();
        for frame in v["frames"].as_array().unwrap() {
            let m3 = |x: &serde_json::Value| -> Vec<[f64; 3]> {
                x.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let r = r.as_array().unwrap();
                        [
                            r[0].as_f64().unwrap(),
                            r[1].as_f64().unwrap(),
                            r[2].as_f64().unwrap(),
                        ]
                    })
                    .collect()
            };
            let pos = m3(&frame["positions"]);
            let c = m3(&frame["cell"]);
            let cell = [c[0], c[1], c[2]];
            let p: Vec<bool> = frame["pbc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect();
            let pbc = [p[0], p[1], p[2]];
            let ei = frame["edge_index"].as_array().unwrap();
            let shifts = m3(&frame["edge_cell_shift"]);
            let mut want: Vec<(u32, u32, [i32; 3])> = (0..shifts.len())
                .map(|z| {
                    let s = shifts[z];
                    (
                        ei[0][z].as_u64().unwrap() as u32,
                        ei[1][z].as_u64().unwrap() as u32,
                        [s[0] as i32, s[1] as i32, s[2] as i32],
                    )
                })
                .collect();
            want.sort_unstable();
            let view = FrameView {
                positions: &pos,
                cell: pbc.iter().any(|&x| x).then_some(&cell),
                pbc,
                types: None,
                origin: None,
            };
            let got = neighbor_list(&view, &NeighborOptions::new(r_max)).unwrap();
            assert_eq!(got.sorted_triples(), want, "{name} frame {}", frame["name"]);
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}

fn count_edges(file: &str, cutoff: f64) -> usize {
    let frames = read_extxyz(common::data_file(file), &ReadOptions::default()).unwrap();
    frames
        .iter()
        .map(|s| {
            neighbor_list(&FrameView::of(s, None), &NeighborOptions::new(cutoff))
                .unwrap()
                .len()
        })
        .sum()
}

#[test]
fn issue_edge_counts() {
    assert_eq!(count_edges("water-192.xyz", 6.0), 16_408);
    assert_eq!(count_edges("water-3000.xyz", 6.0), 256_634);
    assert_eq!(count_edges("emt-cuagau.xyz", 5.0), 1_049_826);
}

#[test]
fn extreme_input_is_an_error_not_a_panic() {
    let opts = NeighborOptions::new(3.0);
    let far = [[0.0, 0.0, 0.0], [1e300, -1e300, 1e300]];
    let v = FrameView {
        positions: &far,
        cell: None,
        pbc: [false; 3],
        types: None,
        origin: None,
    };
    assert!(matches!(
        neighbor_list(&v, &opts),
        Err(Error::InvalidStructure { .. })
    ));
    let thin = [[1e-300, 0.0, 0.0], [0.0, 1e-300, 0.0], [0.0, 0.0, 1.0]];
    let v = FrameView {
        positions: &far[..1],
        cell: Some(&thin),
        pbc: [true; 3],
        types: None,
        origin: None,
    };
    assert!(neighbor_list(&v, &opts).is_err());
    let huge = [[1e300, 0.0, 0.0], [0.0, 1e300, 0.0], [0.0, 0.0, 1e300]];
    let v = FrameView {
        positions: &far,
        cell: Some(&huge),
        pbc: [true; 3],
        types: None,
        origin: None,
    };
    assert!(
        neighbor_list(&v, &opts)
            .unwrap_err()
            .to_string()
            .contains("overflows")
    );
}
