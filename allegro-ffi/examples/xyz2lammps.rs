//! Converts the first frame of an extxyz file into a LAMMPS data file for
//! `pair_style allegro`:
//!
//! `cargo run -p allegro-ffi --release --example xyz2lammps -- IN.xyz OUT.data H O`
//!
//! The type names after OUT.data fix the LAMMPS type order (type 1 = first name); list
//! them in the same order in `pair_coeff * * MODEL.allegro H O`.

use allegro_data::extxyz::{ReadOptions, open_extxyz};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: xyz2lammps IN.xyz OUT.data TYPE...".into());
    }
    let frame = open_extxyz(&args[0], &ReadOptions::default())?
        .next()
        .ok_or("the file has no frame")??;
    let names: Vec<&str> = args[2..].iter().map(String::as_str).collect();
    std::fs::write(
        &args[1],
        allegro_ffi::lammps_data::lammps_data(&frame, &names)?,
    )?;
    println!(
        "{}: {} atoms, types {}",
        args[1],
        frame.n_atoms(),
        names.join(" ")
    );
    Ok(())
}
