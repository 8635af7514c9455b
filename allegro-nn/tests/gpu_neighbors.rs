//! The neighbor list found on a GPU equals the CPU cell list, edge for edge and in the
//! same order (grouped by center), on periodic triclinic cells, cells thinner than the
//! cutoff (several images of one neighbor), slabs, open clusters, atoms outside the cell,
//! per-type cutoffs and no atoms; atoms too close give the CPU list's error.
//!
//! Runs with a GPU runtime feature (`vulkan`, `cuda`); without a device it prints that it
//! was skipped, unless `ALLEGRO_REQUIRE_GPU=1`.

#![cfg(feature = "gpu")]

mod common;

use allegro_core::backend::gpu::{Gpu, GpuDevice, GpuRuntime};
use allegro_core::backend::{StorageOps, unpack_shift};
use allegro_core::testing::gpu_test_device;
use allegro_data::{CutoffTable, FrameView, NeighborList, NeighborOptions, neighbor_list};
use allegro_data::{Species, Structure};
use allegro_nn::gpu_neighbors::neighbor_list_on_gpu;
use allegro_nn::{EnergyModel, Predictor, SplitMix64};

/// One structure to search.
struct Case {
    name: &'static str,
    positions: Vec<[f64; 3]>,
    cell: Option<[[f64; 3]; 3]>,
    pbc: [bool; 3],
    types: Option<Vec<u32>>,
    options: NeighborOptions,
}

/// `n` atoms uniform in the parallelepiped of `box_rows`, shifted by `shift` cells.
fn atoms(n: usize, box_rows: [[f64; 3]; 3], shift: f64, rng: &mut SplitMix64) -> Vec<[f64; 3]> {
    (0..n)
        .map(|_| {
            let f = [0; 3].map(|_| rng.uniform_in(shift, 1.0 + shift));
            std::array::from_fn(|d| (0..3).map(|k| f[k] * box_rows[k][d]).sum())
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let mut rng = SplitMix64::new(11);
    let triclinic = [[6.0, 0.0, 0.0], [1.5, 5.5, 0.0], [0.7, 0.9, 5.8]];
    let thin = [[2.6, 0.0, 0.0], [0.3, 2.4, 0.0], [0.2, 0.1, 2.9]];
    let slab = [[9.0, 0.0, 0.0], [0.0, 12.0, 0.0], [0.0, 0.0, 8.0]];
    let big = [[18.0, 0.0, 0.0], [2.0, 17.0, 0.0], [1.0, 1.5, 19.0]];
    let mut table = CutoffTable::uniform(2, 4.0);
    table.set(0, 1, 3.0);
    table.set(1, 0, 3.0);
    table.set(1, 1, 2.5);
    let typed = NeighborOptions {
        per_type_cutoff: Some(table),
        ..NeighborOptions::new(4.0)
    };
    let types: Vec<u32> = (0..60).map(|i| (i % 3 == 0) as u32).collect();
    vec![
        Case {
            name: "periodic triclinic",
            positions: atoms(40, triclinic, 0.0, &mut rng),
            cell: Some(triclinic),
            pbc: [true; 3],
            types: None,
            options: NeighborOptions::new(4.0),
        },
        Case {
            name: "atoms outside the cell",
            positions: atoms(40, triclinic, -1.7, &mut rng),
            cell: Some(triclinic),
            pbc: [true; 3],
            types: None,
            options: NeighborOptions::new(4.0),
        },
        Case {
            name: "cell thinner than the cutoff",
            positions: atoms(3, thin, 0.0, &mut rng),
            cell: Some(thin),
            pbc: [true; 3],
            types: None,
            options: NeighborOptions::new(5.0),
        },
        Case {
            name: "slab, open along y",
            positions: atoms(30, slab, 0.0, &mut rng),
            cell: Some(slab),
            pbc: [true, false, true],
            types: None,
            options: NeighborOptions::new(3.7),
        },
        Case {
            name: "open cluster",
            positions: atoms(50, slab, 0.0, &mut rng),
            cell: None,
            pbc: [false; 3],
            types: None,
            options: NeighborOptions::new(3.5),
        },
        Case {
            name: "per-type cutoffs",
            positions: atoms(60, triclinic, 0.3, &mut rng),
            cell: Some(triclinic),
            pbc: [true; 3],
            types: Some(types),
            options: typed,
        },
        Case {
            name: "2,000 atoms",
            positions: atoms(2000, big, 0.0, &mut rng),
            cell: Some(big),
            pbc: [true; 3],
            types: None,
            options: NeighborOptions {
                min_distance: None,
                ..NeighborOptions::new(4.5)
            },
        },
        Case {
            name: "no atoms",
            positions: Vec::new(),
            cell: Some(triclinic),
            pbc: [true; 3],
            types: None,
            options: NeighborOptions::new(4.0),
        },
    ]
}

/// The device's edges as a host list.
fn downloaded<R: GpuRuntime>(
    edges: &allegro_core::backend::gpu::DeviceEdges<R>,
) -> (NeighborList, Vec<u32>) {
    let list = NeighborList {
        center: Gpu::<R>::indices_to_host(&edges.centers)[..edges.n_edges].to_vec(),
        neighbor: Gpu::<R>::indices_to_host(&edges.neighbors)[..edges.n_edges].to_vec(),
        shift: Gpu::<R>::indices_to_host(&edges.shifts)[..edges.n_edges]
            .iter()
            .map(|&p| unpack_shift(p).map(|c| c as i32))
            .collect(),
    };
    (list, Gpu::<R>::indices_to_host(&edges.center_offsets))
}

fn frame(case: &Case) -> FrameView<'_> {
    FrameView {
        positions: &case.positions,
        cell: case.cell.as_ref(),
        pbc: case.pbc,
        types: case.types.as_deref(),
        origin: None,
    }
}

fn lists_match<R: GpuRuntime>() {
    let Some(device) = gpu_test_device::<R>() else {
        return;
    };
    for case in cases() {
        let cpu = neighbor_list(&frame(&case), &case.options).unwrap();
        let edges = neighbor_list_on_gpu(&frame(&case), &case.options, &device)
            .unwrap()
            .unwrap_or_else(|| panic!("{}: shifts beyond the packed form", case.name));
        let (gpu, offsets) = downloaded(&edges);
        assert!(
            !cpu.is_empty() || case.positions.is_empty(),
            "{}",
            case.name
        );
        assert_eq!(
            gpu.sorted_triples(),
            cpu.sorted_triples(),
            "{}: edge sets differ",
            case.name
        );
        assert_eq!(gpu, cpu, "{}: same edges, another order", case.name);
        let mut want = vec![0u32; case.positions.len() + 1];
        for &c in &cpu.center {
            want[c as usize + 1] += 1;
        }
        for a in 0..case.positions.len() {
            want[a + 1] += want[a];
        }
        assert_eq!(offsets, want, "{}: center offsets", case.name);
        eprintln!("{} on {}: {} edges match", case.name, R::NAME, cpu.len());
    }
    too_close_is_the_cpu_error(&device);
    predictions_match(&device);
    verlet_list_in_an_md_loop(&device);
}

/// A structure, and `predictor`'s prediction of it with the device's list against the
/// CPU list's: the largest differences of energy and forces, relative.
fn differences<R: GpuRuntime>(predictor: &Predictor<Gpu<R>>, s: &Structure) -> (f64, f64) {
    let want = predictor.predict(&predictor.graph_of(s).unwrap()).unwrap(); // the CPU list
    let got = predictor.predict_structure_on_device(s).unwrap();
    let scale = want
        .forces
        .iter()
        .flatten()
        .fold(1e-12f64, |m, f| m.max(f.abs()));
    let df = want
        .forces
        .iter()
        .flatten()
        .zip(got.forces.iter().flatten())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    let e = want.total_energy[0];
    (
        (e - got.total_energy[0]).abs() / e.abs().max(1.0),
        df / scale,
    )
}

/// An MD-like loop with a Verlet skin of 1 Å (float32, so that lavapipe uploads nothing
/// of its own): while no atom has moved 0.5 Å the list is kept and a call uploads the
/// positions and a few constants only; a larger move rebuilds it; every prediction
/// equals the CPU list's (the same edges; their order within a center may differ).
fn verlet_list_in_an_md_loop<R: GpuRuntime>(device: &GpuDevice<R>) {
    let (model, params, _) = common::load("small_noparity.json");
    let predictor = Predictor::new(model, &params.to_backend::<Gpu<R>>(device), device.clone())
        .with_dtype(allegro_core::DType::F32);
    assert_eq!(predictor.neighbor_skin(), 1.0, "the default skin");
    let mut rng = SplitMix64::new(9);
    let cell = [[8.0, 0.0, 0.0], [0.6, 8.4, 0.0], [0.3, 0.2, 8.8]];
    let n = 40;
    let names = ["C", "H", "O", "N"];
    let species = (0..n)
        .map(|i| Species::new(names[i % 4]).unwrap())
        .collect();
    let mut s = Structure::new(
        species,
        atoms(n, cell, 0.0, &mut rng),
        Some(cell),
        [true; 3],
    );
    predictor.predict_structure_on_device(&s).unwrap(); // builds the list
    let tol = 1e-5; // float32
    for step in 0..4 {
        // Every atom moves up to 0.14 Å in each direction per step: at most 0.49 Å in
        // all from where the list was built... except in the last step, which moves
        // atom 5 by 0.6 Å.
        for p in &mut s.positions {
            for c in p.iter_mut() {
                *c += rng.uniform_in(-0.04, 0.04);
            }
        }
        if step == 3 {
            s.positions[5][0] += 0.6;
        }
        let before = device.device_counts();
        let (de, df) = differences(&predictor, &s);
        let counts = device.device_counts() - before;
        eprintln!(
            "MD step {step} on {}: ΔE {de:.1e}, ΔF {df:.1e}; {counts:?}",
            R::NAME
        );
        assert!(de <= tol && df <= tol, "step {step}: ΔE {de:e}, ΔF {df:e}");
    }
    // A kept list: the device call alone uploads 24 bytes an atom and a few kB of
    // constants (cell, cutoff, padded tables), and waits twice: the edge count and the
    // results.
    s.positions[0][1] += 0.01;
    predictor.predict_structure_on_device(&s).unwrap();
    let before = device.device_counts();
    predictor.predict_structure_on_device(&s).unwrap();
    let counts = device.device_counts() - before;
    eprintln!("a call with a kept list: {counts:?}");
    assert!(
        counts.bytes_to_device <= 24 * n as u64 + 4096,
        "{} bytes uploaded for {n} atoms with a kept list",
        counts.bytes_to_device
    );
    assert_eq!(counts.synchronizations, 2, "{counts:?}");
}

/// A model's energy, forces and stress with the device's list equal those with the
/// CPU's (the same edges in the same order: equal to rounding), in one pass and in
/// passes, and the call uploads O(atoms) bytes: nothing per edge.
fn predictions_match<R: GpuRuntime>(device: &GpuDevice<R>) {
    let (model, params, _) = common::load("small_noparity.json");
    // No skin: a list built every call, the CPU's edges in the CPU's order.
    let predictor = Predictor::new(model, &params.to_backend::<Gpu<R>>(device), device.clone())
        .with_neighbor_skin(0.0);
    let mut rng = SplitMix64::new(5);
    let cell = [[9.0, 0.0, 0.0], [1.0, 8.5, 0.0], [0.5, 0.7, 9.5]];
    let names = ["C", "H", "O", "N"];
    let n = 48;
    let species = (0..n)
        .map(|i| Species::new(names[i % 4]).unwrap())
        .collect();
    let structure = Structure::new(
        species,
        atoms(n, cell, -0.2, &mut rng),
        Some(cell),
        [true; 3],
    );
    // Float32 as well: lavapipe runs float64 transcendentals on the host (a round trip
    // of their arrays each), so the upload count is read in float32.
    let f32_predictor = predictor.with_dtype(allegro_core::DType::F32);
    for (predictor, max_edges) in [
        (&predictor, None),
        (&predictor, Some(700)),
        (&f32_predictor, None),
    ] {
        let p = match max_edges {
            Some(m) => predictor.clone().with_max_edges_per_pass(m),
            None => predictor.clone(),
        };
        let want = p.predict(&p.graph_of(&structure).unwrap()).unwrap(); // the CPU list
        p.predict_structure_on_device(&structure).unwrap(); // constant tables go up once
        let before = device.device_counts();
        let got = p.predict_structure_on_device(&structure).unwrap();
        let counts = device.device_counts() - before;
        let scale = want
            .forces
            .iter()
            .flatten()
            .fold(0.0f64, |m, f| m.max(f.abs()));
        let df = want
            .forces
            .iter()
            .flatten()
            .zip(got.forces.iter().flatten())
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        let de = (want.total_energy[0] - got.total_energy[0]).abs();
        eprintln!(
            "prediction with the device's list on {} (passes of {max_edges:?} edges): \
             |ΔE| {de:.1e}, max |ΔF| {df:.1e} of {scale:.2}; {counts:?}",
            R::NAME
        );
        assert!(
            de <= 1e-10 * want.total_energy[0].abs().max(1.0),
            "energy {de:e}"
        );
        assert!(df <= 1e-10 * scale, "forces {df:e}");
        let stress = |p: &allegro_nn::Prediction| p.stress[0].unwrap();
        for (a, b) in stress(&want)
            .iter()
            .flatten()
            .zip(stress(&got).iter().flatten())
        {
            assert!(
                (a - b).abs() <= 1e-10 * a.abs().max(1e-6),
                "stress {a} vs {b}"
            );
        }
        // Positions, types, bins and tables: well under 200 bytes an atom, whatever
        // the edge count (the host list would send 12 bytes for each of its edges).
        if p.model().dtype() == allegro_core::DType::F32 {
            assert!(
                counts.bytes_to_device < 200 * n as u64 + 4096,
                "{} bytes for {n} atoms",
                counts.bytes_to_device
            );
        }
    }
}

/// Two atoms at 1e-5 Å: the error names them as the CPU list does.
fn too_close_is_the_cpu_error<R: GpuRuntime>(device: &GpuDevice<R>) {
    let mut case = cases().remove(0);
    case.positions[7] = case.positions[3];
    case.positions[7][0] += 1e-5;
    let cpu = neighbor_list(&frame(&case), &case.options).unwrap_err();
    let gpu = match neighbor_list_on_gpu(&frame(&case), &case.options, device) {
        Err(e) => e,
        Ok(_) => panic!("atoms 1e-5 Å apart passed"),
    };
    assert!(
        gpu.to_string().contains(&cpu.to_string()),
        "{gpu} is not the CPU's {cpu}"
    );
}

#[cfg(feature = "vulkan")]
#[test]
fn gpu_neighbor_list_matches_cpu_vulkan() {
    lists_match::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn gpu_neighbor_list_matches_cpu_cuda() {
    lists_match::<allegro_core::backend::gpu::CudaRuntime>();
}
