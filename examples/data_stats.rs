//! Prints the dataset statistics that set a model's normalisation constants.
//!
//! `cargo run --release --example data_stats -- [FILE.xyz] [--cutoff R]`
//! (default: examples/data/xtb-organics.xyz at 5 Å). Data larger than memory streams its
//! statistics the same way from nequip's LMDB files (`allegro-nequip`'s `LmdbGraphs`
//! through [`source_statistics`](allegro::data::source_statistics)).

use allegro::data::extxyz::ReadOptions;
use allegro::data::{InMemoryDataset, NeighborOptions, Statistics, TypeMapper};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut file = String::from("examples/data/xtb-organics.xyz");
    let mut cutoff = 5.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cutoff" => cutoff = args.next().ok_or("--cutoff needs a value")?.parse()?,
            _ => file = a,
        }
    }
    let read = ReadOptions::default();
    let options = NeighborOptions::new(cutoff);
    let data = InMemoryDataset::from_extxyz(&file, &read)?;
    let mapper = TypeMapper::from_structures(&data.structures)?;
    let s = data.to_graphs(&mapper, &options)?.statistics(None)?;
    print_stats(&file, cutoff, &mapper, &s);
    Ok(())
}

fn print_stats(file: &str, cutoff: f64, mapper: &TypeMapper, s: &Statistics) {
    println!(
        "{file}: {} frames, {} atoms, {} edges at {cutoff} Å",
        s.n_frames, s.n_atoms, s.n_edges
    );
    println!("avg_num_neighbors: {:.6}", s.avg_num_neighbors);
    println!("forces_rms: {}", fmt(s.forces_rms));
    println!(
        "per_atom_energy_mean: {} (std {})",
        fmt(s.per_atom_energy_mean),
        fmt(s.per_atom_energy_std)
    );
    if s.energy_shift_ridge > 0.0 {
        println!(
            "note: counts matrix singular, ridge {:e} added to the shift fit",
            s.energy_shift_ridge
        );
    }
    println!(
        "{:>6} {:>8} {:>12} {:>12} {:>14}",
        "type", "atoms", "neighbors", "forces_rms", "energy_shift"
    );
    for (t, name) in mapper.type_names().iter().enumerate() {
        println!(
            "{:>6} {:>8} {:>12} {:>12} {:>14}",
            name,
            s.atoms_per_type[t],
            fmt(s.per_type_num_neighbors[t]),
            fmt(s.per_type_forces_rms[t]),
            fmt(s.per_type_energy_shifts.as_ref().map(|v| v[t])),
        );
    }
    println!(
        "energy shift fit residual rms: {} eV",
        fmt(s.energy_shift_residual_rms)
    );
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.6}"))
}
