//! Converts a frame of an extxyz file into a LAMMPS data file for `pair_style allegro`:
//!
//! `cargo run -p allegro-ffi --release --example xyz2lammps -- IN.xyz OUT.data [--frame K] [--box L] TYPE...`
//!
//! The TYPE names fix the LAMMPS type order (type 1 = first name); list them in the same
//! order in `pair_coeff * * MODEL.allegro TYPE...`. Types without atoms are allowed, so
//! one list can serve every frame of a data set. `--frame K` takes frame K (0-based;
//! default 0). `--box L` puts a frame without a cell (a molecule) at the center of a
//! periodic cubic box of side L Å.

use allegro_data::Structure;
use allegro_data::extxyz::{ReadOptions, open_extxyz};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: xyz2lammps IN.xyz OUT.data [--frame K] [--box L] TYPE...";
    let (mut files, mut names, mut frame_index, mut box_side) = (vec![], vec![], 0, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--frame" => frame_index = args.next().ok_or(usage)?.parse()?,
            "--box" => box_side = Some(args.next().ok_or(usage)?.parse::<f64>()?),
            _ if files.len() < 2 => files.push(a),
            _ => names.push(a),
        }
    }
    if files.len() < 2 || names.is_empty() {
        return Err(usage.into());
    }
    let mut frame = open_extxyz(&files[0], &ReadOptions::default())?
        .nth(frame_index)
        .ok_or_else(|| format!("{} has no frame {frame_index}", files[0]))??;
    if let Some(side) = box_side {
        frame = centered_in_box(frame, side)?;
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    std::fs::write(
        &files[1],
        allegro_ffi::lammps_data::lammps_data(&frame, &names)?,
    )?;
    println!(
        "{}: frame {frame_index}, {} atoms, types {}",
        files[1],
        frame.n_atoms(),
        names.join(" ")
    );
    Ok(())
}

/// The structure moved so its bounding box is centered in a periodic cube of `side`.
fn centered_in_box(s: Structure, side: f64) -> Result<Structure, String> {
    if s.cell.is_some() {
        return Err("--box is for frames without a cell".into());
    }
    let center: [f64; 3] = std::array::from_fn(|d| {
        let (lo, hi) = s
            .positions
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), p| {
                (lo.min(p[d]), hi.max(p[d]))
            });
        (lo + hi) / 2.0
    });
    let positions = s
        .positions
        .iter()
        .map(|p| std::array::from_fn(|d| p[d] - center[d] + side / 2.0))
        .collect();
    let cell = [[side, 0.0, 0.0], [0.0, side, 0.0], [0.0, 0.0, side]];
    Ok(Structure::new(s.species, positions, Some(cell), [true; 3]))
}
