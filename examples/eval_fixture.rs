//! Evaluates a model given in the fixture JSON layout (`config` + `state_dict` +
//! `frames`, optionally `loss_gradient`) against the reference numbers it carries.
//!
//! ```text
//! cargo run --release --example eval_fixture -- FIXTURE.json [--save MODEL.allegro]
//! ```
//!
//! Works on `../shared/fixtures/*.json` and on what `tools/export_nequip.py` writes.
//! Each frame is evaluated with its own edge list; one line per frame, then, as the last
//! line, one JSON object:
//! `{"frames", "energy_rel_err", "per_atom_energy_max_abs_err", "forces_max_abs_err",
//! "stress_max_abs_err", "grad_max_rel_err"}` (maxima over frames; `null` where nothing
//! was compared). The gradient error is the largest over parameter tensors of
//! `max|g − g_ref| / max|g_ref|` for the fixture's loss
//! `mean over atoms and xyz of (F − F_label)² + (E/N − e_label)²`.
//!
//! `--save` also writes the model as an `.allegro` file, reloads it, and checks that
//! the reloaded model predicts every frame bit for bit the same.
//!
//! Errors print one message and exit with code 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::{DType, Tensor, grad};
use allegro_data::AtomicGraph;
use allegro_nn::import::{STATE_DICT_PREFIX, load_reference_json};
use allegro_nn::{ModelFile, Prediction, Predictor};
use serde_json::Value;

type Res<T> = Result<T, String>;

struct Args {
    fixture: PathBuf,
    save: Option<PathBuf>,
}

const USAGE: &str = "usage: eval_fixture FIXTURE.json [--save MODEL.allegro]";

fn parse_args() -> Res<Args> {
    let mut fixture = None;
    let mut save = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--save" => save = Some(PathBuf::from(it.next().ok_or("--save needs a file name")?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`\n{USAGE}")),
            s if fixture.is_none() => fixture = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument `{s}`\n{USAGE}")),
        }
    }
    Ok(Args {
        fixture: fixture.ok_or(USAGE)?,
        save,
    })
}

/// Flattened numbers of `frame[key]`, or `None` when absent or null.
fn numbers(v: &Value, key: &str, label: &str) -> Res<Option<Vec<f64>>> {
    fn walk(v: &Value, out: &mut Vec<f64>) -> bool {
        match v {
            Value::Array(a) => a.iter().all(|x| walk(x, out)),
            Value::Number(n) => n.as_f64().map(|x| out.push(x)).is_some(),
            Value::Bool(b) => {
                out.push(if *b { 1.0 } else { 0.0 });
                true
            }
            _ => false,
        }
    }
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => {
            let mut out = Vec::new();
            if walk(x, &mut out) {
                Ok(Some(out))
            } else {
                Err(format!("{label}: `{key}` is not numeric"))
            }
        }
    }
}

fn required(v: &Value, key: &str, label: &str) -> Res<Vec<f64>> {
    numbers(v, key, label)?.ok_or_else(|| format!("{label}: no `{key}`"))
}

fn index(x: f64, bound: usize, what: &str, label: &str) -> Res<u32> {
    if x >= 0.0 && x.fract() == 0.0 && (x as usize) < bound {
        Ok(x as u32)
    } else {
        Err(format!("{label}: {what} {x} out of range (0..{bound})"))
    }
}

/// The graph of one fixture frame, with the frame's own edges and cell shifts.
fn frame_graph(frame: &Value, num_types: usize, label: &str) -> Res<AtomicGraph> {
    let types = required(frame, "atom_types", label)?;
    let n = types.len();
    let atom_types = types
        .iter()
        .map(|&t| index(t, num_types, "atom type", label))
        .collect::<Res<Vec<u32>>>()?;
    let pos = required(frame, "positions", label)?;
    if pos.len() != 3 * n {
        return Err(format!(
            "{label}: {} position values for {n} atoms",
            pos.len()
        ));
    }
    let cell = numbers(frame, "cell", label)?.unwrap_or_else(|| vec![0.0; 9]);
    if cell.len() != 9 {
        return Err(format!("{label}: `cell` has {} values, not 9", cell.len()));
    }
    let pbc = numbers(frame, "pbc", label)?.unwrap_or_else(|| vec![0.0; 3]);
    if pbc.len() != 3 {
        return Err(format!("{label}: `pbc` has {} values, not 3", pbc.len()));
    }
    let ei = required(frame, "edge_index", label)?;
    if ei.len() % 2 != 0 {
        return Err(format!("{label}: `edge_index` is not 2 × E"));
    }
    let e = ei.len() / 2;
    let mut shifts = numbers(frame, "edge_cell_shift", label)?.unwrap_or_default();
    if shifts.is_empty() {
        shifts = vec![0.0; 3 * e];
    }
    if shifts.len() != 3 * e {
        return Err(format!(
            "{label}: `edge_cell_shift` has {} values for {e} edges",
            shifts.len()
        ));
    }
    let ends = |s: &[f64]| -> Res<Vec<u32>> {
        s.iter().map(|&x| index(x, n, "edge atom", label)).collect()
    };
    Ok(AtomicGraph {
        positions: pos.chunks(3).map(|c| [c[0], c[1], c[2]]).collect(),
        atom_types,
        batch: vec![0; n],
        frame_ptr: vec![0, n],
        cells: vec![std::array::from_fn(|a| {
            std::array::from_fn(|b| cell[3 * a + b])
        })],
        pbc: vec![[pbc[0] != 0.0, pbc[1] != 0.0, pbc[2] != 0.0]],
        edge_center: ends(&ei[..e])?,
        edge_neighbor: ends(&ei[e..])?,
        edge_cell_shift: shifts
            .chunks(3)
            .map(|s| [s[0] as i32, s[1] as i32, s[2] as i32])
            .collect(),
        labels: Default::default(),
    })
}

fn max_abs_diff(a: &[f64], b: &[f64], what: &str, label: &str) -> Res<f64> {
    if a.len() != b.len() {
        return Err(format!(
            "{label}: {what} has {} reference values, the model gives {}",
            b.len(),
            a.len()
        ));
    }
    Ok(a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max))
}

/// Running maximum that stays `None` until something is compared.
fn bump(slot: &mut Option<f64>, v: f64) {
    *slot = Some(slot.map_or(v, |m| m.max(v)));
}

#[derive(Default)]
struct Errors {
    energy_rel: Option<f64>,
    per_atom: Option<f64>,
    forces: Option<f64>,
    stress: Option<f64>,
}

fn compare(frame: &Value, p: &Prediction, label: &str, err: &mut Errors) -> Res<String> {
    let mut line = format!("{label}: {} atoms", p.atomic_energies.len());
    if let Some(e_ref) = numbers(frame, "total_energy", label)? {
        let d = max_abs_diff(&p.total_energy, &e_ref, "total_energy", label)?;
        let rel = if e_ref[0] != 0.0 {
            d / e_ref[0].abs()
        } else {
            d
        };
        bump(&mut err.energy_rel, rel);
        line += &format!(", E {:.12} (|ΔE/E| {rel:.1e})", p.total_energy[0]);
    }
    if let Some(r) = numbers(frame, "atomic_energy", label)? {
        let d = max_abs_diff(&p.atomic_energies, &r, "atomic_energy", label)?;
        bump(&mut err.per_atom, d);
        line += &format!(", per-atom {d:.1e}");
    }
    if let Some(r) = numbers(frame, "forces", label)? {
        let f: Vec<f64> = p.forces.iter().flatten().copied().collect();
        let d = max_abs_diff(&f, &r, "forces", label)?;
        bump(&mut err.forces, d);
        line += &format!(", forces {d:.1e}");
    }
    if let (Some(r), Some(Some(s))) = (numbers(frame, "stress", label)?, p.stress.first()) {
        let s: Vec<f64> = s.iter().flatten().copied().collect();
        let d = max_abs_diff(&s, &r, "stress", label)?;
        bump(&mut err.stress, d);
        line += &format!(", stress {d:.1e}");
    }
    Ok(line)
}

/// `max over tensors of max|g − g_ref| / max|g_ref|` for the fixture's training loss.
fn loss_gradient_error(
    predictor: &Predictor<Cpu>,
    lg: &Value,
    frames: &[Value],
    num_types: usize,
) -> Res<(f64, f64, f64)> {
    let frame_name = lg.get("frame").ok_or("loss_gradient: no `frame`")?;
    let frame = frames
        .iter()
        .find(|f| f.get("name") == Some(frame_name))
        .ok_or_else(|| format!("loss_gradient: frame {frame_name} is not among the frames"))?;
    let label = "loss_gradient";
    let graph = frame_graph(frame, num_types, label)?;
    let inputs = predictor.inputs(&graph).map_err(|e| e.to_string())?;
    let tracked = predictor.parameters().tracked();
    let out = predictor.model().outputs(&tracked, &inputs, true);
    let n = inputs.n_atoms;
    let f_label = required(lg, "forces_label", label)?;
    if f_label.len() != 3 * n {
        return Err(format!(
            "{label}: {} force labels for {n} atoms",
            f_label.len()
        ));
    }
    let f_label = Tensor::<Cpu>::from_f64(&f_label, &[n, 3], DType::F64, &CpuDevice)
        .map_err(|e| e.to_string())?;
    let e_label = required(lg, "per_atom_energy_label", label)?;
    let e_label = *e_label
        .first()
        .ok_or("loss_gradient: empty per_atom_energy_label")?;
    let loss = out.forces.sub(&f_label).square().mean_all().add(
        &out.total_energy
            .mul_scalar(1.0 / n as f64)
            .add_scalar(-e_label)
            .square()
            .sum_all(),
    );
    let grads_ref = lg
        .get("grads")
        .and_then(Value::as_object)
        .ok_or("loss_gradient: no `grads` object")?;
    let mut names = Vec::new();
    for key in grads_ref.keys() {
        let name = key.strip_prefix(STATE_DICT_PREFIX).unwrap_or(key);
        match tracked.entry(name) {
            Some(p) if p.trainable => names.push(name.to_string()),
            Some(_) => {
                return Err(format!(
                    "loss_gradient: the reference differentiates `{key}`, which this model holds fixed"
                ));
            }
            None => return Err(format!("loss_gradient: `{key}` is not a model parameter")),
        }
    }
    let leaves: Vec<&Tensor<Cpu>> = names.iter().map(|n| tracked.get(n)).collect();
    let grads = grad(&[&loss], None, &leaves, false);
    let mut worst = 0.0f64;
    for ((key, reference), g) in grads_ref.iter().zip(&grads) {
        let mut r = Vec::new();
        collect(reference, &mut r).ok_or_else(|| format!("{label}: `{key}` is not numeric"))?;
        let scale = r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let d = max_abs_diff(&g.to_vec_f64(), &r, key, label)?;
        worst = worst.max(if scale > 0.0 { d / scale } else { d });
    }
    let l_ref = lg.get("loss").and_then(Value::as_f64).unwrap_or(f64::NAN);
    Ok((worst, loss.item(), l_ref))
}

fn collect(v: &Value, out: &mut Vec<f64>) -> Option<()> {
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| collect(x, out)),
        Value::Number(n) => {
            out.push(n.as_f64()?);
            Some(())
        }
        _ => None,
    }
}

fn bits(p: &Prediction) -> Vec<u64> {
    let mut out: Vec<u64> = p.total_energy.iter().map(|x| x.to_bits()).collect();
    out.extend(p.atomic_energies.iter().map(|x| x.to_bits()));
    out.extend(p.forces.iter().flatten().map(|x| x.to_bits()));
    out.extend(p.virial.iter().flatten().flatten().map(|x| x.to_bits()));
    out
}

/// Writes the `.allegro` file, reloads it and checks every frame's prediction bit for bit.
fn save_and_check(
    predictor: &Predictor<Cpu>,
    params: &allegro_nn::Parameters<Cpu>,
    json: &Value,
    fixture: &Path,
    graphs: &[(String, AtomicGraph, Prediction)],
    out: &Path,
) -> Res<String> {
    let mut meta = BTreeMap::from([("source".to_string(), fixture.display().to_string())]);
    for key in ["variant", "reference"] {
        if let Some(s) = json.get(key).and_then(Value::as_str) {
            meta.insert(key.to_string(), s.to_string());
        }
    }
    let file = ModelFile::from_model(predictor.model(), params, meta).map_err(|e| e.to_string())?;
    file.save(out).map_err(|e| e.to_string())?;
    let reloaded = ModelFile::load(out)
        .and_then(|f| f.into_predictor::<Cpu>(CpuDevice))
        .map_err(|e| e.to_string())?;
    for (label, graph, before) in graphs {
        let after = reloaded.predict(graph).map_err(|e| e.to_string())?;
        if bits(before) != bits(&after) {
            return Err(format!(
                "{}: {label} predicts differently after reloading",
                out.display()
            ));
        }
    }
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "saved {} ({size} bytes); reloaded model reproduces {} frame(s) bit for bit",
        out.display(),
        graphs.len()
    ))
}

fn run() -> Res<()> {
    let args = parse_args()?;
    let (model, params, json) =
        load_reference_json::<Cpu>(&args.fixture, &CpuDevice).map_err(|e| e.to_string())?;
    let num_types = model.num_types();
    let predictor = Predictor::new(model, &params, CpuDevice);
    let frames: Vec<Value> = match json.get("frames") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("`frames` is not a list".into()),
    };
    let mut err = Errors::default();
    let mut evaluated = Vec::new();
    for (k, frame) in frames.iter().enumerate() {
        let label = match frame.get("name").and_then(Value::as_str) {
            Some(s) => format!("frame {k} ({s})"),
            None => format!("frame {k}"),
        };
        let graph = frame_graph(frame, num_types, &label)?;
        let p = predictor
            .predict(&graph)
            .map_err(|e| format!("{label}: {e}"))?;
        println!("{}", compare(frame, &p, &label, &mut err)?);
        evaluated.push((label, graph, p));
    }
    let grad_err = match json.get("loss_gradient") {
        None | Some(Value::Null) => None,
        Some(lg) => {
            let (g, loss, l_ref) = loss_gradient_error(&predictor, lg, &frames, num_types)?;
            println!(
                "loss gradient: loss {loss:.12} (reference {l_ref:.12}), max relative gradient error {g:.1e}"
            );
            Some(g)
        }
    };
    if let Some(out) = &args.save {
        let line = save_and_check(&predictor, &params, &json, &args.fixture, &evaluated, out)?;
        println!("{line}");
    }
    // Keys in the documented order (serde_json's `json!` would sort them).
    let num = |v: Option<f64>| match v {
        Some(x) if x.is_finite() => Value::from(x).to_string(),
        _ => "null".to_string(),
    };
    println!(
        "{{\"frames\": {}, \"energy_rel_err\": {}, \"per_atom_energy_max_abs_err\": {}, \"forces_max_abs_err\": {}, \"stress_max_abs_err\": {}, \"grad_max_rel_err\": {}}}",
        frames.len(),
        num(err.energy_rel),
        num(err.per_atom),
        num(err.forces),
        num(err.stress),
        num(grad_err),
    );
    Ok(())
}

fn main() -> ExitCode {
    // A panic is a bug, but it still ends as one message and exit code 1.
    std::panic::set_hook(Box::new(|_| {}));
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => {
            eprintln!("eval_fixture: {message}");
            ExitCode::from(1)
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!("eval_fixture: internal error: {message}");
            ExitCode::from(1)
        }
    }
}
