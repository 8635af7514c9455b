//! LAMMPS data files (`atom_style atomic`) from structures, so an extxyz frame can be
//! run with `pair_style allegro` (Rust API; not part of the C ABI).

use std::fmt::Write;

use allegro_data::{Structure, atomic_mass};

/// The text of a LAMMPS data file holding `structure`; LAMMPS type `t` (1-based) is
/// `type_names[t - 1]`, the order `pair_coeff * * MODEL ...` must then list. Atom ids
/// follow the structure's atom order (id = index + 1); masses are standard atomic
/// masses of the type names.
///
/// The cell must be periodic in all three directions and in LAMMPS's restricted
/// triclinic form (rows a = (ax, 0, 0), b = (bx, by, 0), c = (cx, cy, cz) with ax, by,
/// cz > 0): rotating another cell into that form would rotate the forces too, so it is
/// refused rather than done silently. Numbers are written to round-trip exactly.
pub fn lammps_data(structure: &Structure, type_names: &[&str]) -> Result<String, String> {
    let cell = structure
        .cell
        .filter(|_| structure.pbc == [true; 3])
        .ok_or("a LAMMPS data file needs a cell periodic in x, y and z")?;
    let [a, b, c] = cell;
    if a[1] != 0.0 || a[2] != 0.0 || b[2] != 0.0 || a[0] <= 0.0 || b[1] <= 0.0 || c[2] <= 0.0 {
        return Err(format!(
            "cell {cell:?} is not in LAMMPS's restricted triclinic form (a along x, b in xy)"
        ));
    }
    let mut masses = Vec::new();
    for name in type_names {
        let z = allegro_data::atomic_number(name)
            .ok_or_else(|| format!("type `{name}` is not a chemical symbol (no mass)"))?;
        masses.push(atomic_mass(z).ok_or_else(|| format!("no mass for `{name}`"))?);
    }
    let types = structure
        .species
        .iter()
        .enumerate()
        .map(|(i, s)| {
            type_names
                .iter()
                .position(|t| *t == s.as_str())
                .map(|t| t + 1)
                .ok_or_else(|| format!("atom {i} is {}, not in {type_names:?}", s.as_str()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_body(&mut out, structure, type_names, &masses, &types, cell);
    Ok(out)
}

fn write_body(
    out: &mut String,
    structure: &Structure,
    type_names: &[&str],
    masses: &[f64],
    types: &[usize],
    [a, b, c]: [[f64; 3]; 3],
) -> std::fmt::Result {
    writeln!(out, "LAMMPS data file written by allegro-ffi\n")?;
    writeln!(out, "{} atoms", structure.n_atoms())?;
    writeln!(out, "{} atom types\n", type_names.len())?;
    writeln!(out, "0 {} xlo xhi", a[0])?;
    writeln!(out, "0 {} ylo yhi", b[1])?;
    writeln!(out, "0 {} zlo zhi", c[2])?;
    if b[0] != 0.0 || c[0] != 0.0 || c[1] != 0.0 {
        writeln!(out, "{} {} {} xy xz yz", b[0], c[0], c[1])?;
    }
    writeln!(out, "\nMasses\n")?;
    for (t, (name, m)) in type_names.iter().zip(masses).enumerate() {
        writeln!(out, "{} {m} # {name}", t + 1)?;
    }
    writeln!(out, "\nAtoms # atomic\n")?;
    for (i, (t, p)) in types.iter().zip(&structure.positions).enumerate() {
        writeln!(out, "{} {t} {} {} {}", i + 1, p[0], p[1], p[2])?;
    }
    Ok(())
}
