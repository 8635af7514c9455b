//! [`ReadOptions`]: where a reader finds the labels.

/// Which comment-line keys and `Properties` columns hold the labels. Each list is tried in
/// order; the first key present wins and the others stay in `info`/`arrays` untouched.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Total energy keys (default `energy`, `total_energy`, `REF_energy`).
    pub energy_keys: Vec<String>,
    /// Force columns (default `forces`, `REF_forces`, `force`).
    pub forces_keys: Vec<String>,
    /// Stress keys, 9 or 6 (Voigt) numbers (default `stress`, `REF_stress`).
    pub stress_keys: Vec<String>,
    /// Virial keys, 9 or 6 numbers (default `virial`, `REF_virial`).
    pub virial_keys: Vec<String>,
    /// Per-atom energy columns (default `energies`, `atomic_energy`, `atomic_energies`).
    pub atomic_energy_keys: Vec<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            energy_keys: strings(&["energy", "total_energy", "REF_energy"]),
            forces_keys: strings(&["forces", "REF_forces", "force"]),
            stress_keys: strings(&["stress", "REF_stress"]),
            virial_keys: strings(&["virial", "REF_virial"]),
            atomic_energy_keys: strings(&["energies", "atomic_energy", "atomic_energies"]),
        }
    }
}

impl ReadOptions {
    /// Default options with a single energy key (e.g. `"REF_energy"`).
    pub fn with_energy_key(key: &str) -> Self {
        ReadOptions {
            energy_keys: vec![key.to_string()],
            ..Default::default()
        }
    }
}
