//! Statistics of xtb-organics.xyz against an independent computation: ASE's neighbor
//! list and NumPy's SVD least squares (`tests/reference/xtb_organics_stats.py`).

mod common;

use allegro_data::extxyz::ReadOptions;
use allegro_data::{InMemoryDataset, NeighborOptions, TypeMapper};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

#[test]
fn xtb_organics_statistics_match_ase_numpy() {
    let data = InMemoryDataset::from_extxyz(
        common::data_file("xtb-organics.xyz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let mapper = TypeMapper::from_structures(&data.structures).unwrap();
    assert_eq!(mapper.type_names(), ["H", "C", "N", "O", "F", "S", "Cl"]);
    let graphs = data.to_graphs(&mapper, &NeighborOptions::new(5.0)).unwrap();
    let s = graphs.statistics(None).unwrap();
    assert_eq!((s.n_frames, s.n_atoms, s.n_edges), (2253, 23571, 242284));
    assert!(close(s.avg_num_neighbors, 10.278902040643164, 1e-14));
    let per_type_nn = [
        9.601414898044112,
        11.337278911564626,
        10.54225352112676,
        11.493105087969568,
        7.0,
        8.353333333333333,
        5.977777777777778,
    ];
    for (got, want) in s.per_type_num_neighbors.iter().zip(per_type_nn) {
        assert!(close(got.unwrap(), want, 1e-14), "{got:?} vs {want}");
    }
    assert!(close(s.forces_rms.unwrap(), 1.149193852065776, 1e-12));
    let per_type_f = [
        0.7559937873539884,
        1.4609693724507866,
        1.4746919308398594,
        1.5792525977405205,
        0.7914483112384423,
        0.9999402956716915,
        0.5243530102185834,
    ];
    for (got, want) in s.per_type_forces_rms.iter().zip(per_type_f) {
        assert!(close(got.unwrap(), want, 1e-12), "{got:?} vs {want}");
    }
    assert!(close(
        s.per_atom_energy_mean.unwrap(),
        -42.76532355488432,
        1e-12
    ));
    assert!(close(
        s.per_atom_energy_std.unwrap(),
        10.46570581452738,
        1e-12
    ));
    let shifts = [
        -13.723596468224423,
        -58.27700180313363,
        -79.43559843451668,
        -110.74138174109498,
        -128.6930275518722,
        -87.98037526112833,
        -123.63706150430224,
    ];
    assert_eq!(s.energy_shift_ridge, 0.0);
    // Normal equations vs SVD: agreement to ~1e-10 relative is what f64 allows here.
    for (got, want) in s
        .per_type_energy_shifts
        .as_ref()
        .unwrap()
        .iter()
        .zip(shifts)
    {
        assert!(close(*got, want, 1e-9), "{got} vs {want}");
    }
}
