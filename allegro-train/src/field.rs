//! Which model output a metric compares with which label, and the per-atom modifier.
//!
//! Every field is flattened to one number per entry: `total_energy` and
//! `per_atom_energy` have one per frame, `forces` three per atom, `stress` nine per frame.
//! Missing labels (`None` in [`BatchLabels`](allegro_data::BatchLabels)) become NaN
//! targets; the metrics manager masks them out or reports them.

use allegro_core::e3::det3;
use allegro_core::{Backend, DType, Tensor};
use allegro_data::AtomicGraph;
use allegro_nn::Outputs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A predicted quantity with a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Energy of each frame, `E` (eV).
    TotalEnergy,
    /// `E / N` of each frame (eV/atom): nequip's `PerAtomModifier(total_energy)`.
    PerAtomEnergy,
    /// Force components of each atom (eV/Å).
    Forces,
    /// Stress of each frame, `G / V` with `G = ∂E/∂ε` (eV/Å³, ASE sign).
    Stress,
}

impl Field {
    /// The name used in metric names: `total_energy`, `per_atom_energy`, `forces`, `stress`.
    pub fn name(self) -> &'static str {
        match self {
            Field::TotalEnergy => "total_energy",
            Field::PerAtomEnergy => "per_atom_energy",
            Field::Forces => "forces",
            Field::Stress => "stress",
        }
    }

    /// The field called `name` (as [`Field::name`] writes it).
    pub fn parse(name: &str) -> Option<Field> {
        [
            Field::TotalEnergy,
            Field::PerAtomEnergy,
            Field::Forces,
            Field::Stress,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    /// Whether entries belong to atoms (so per-type metrics apply).
    pub fn is_per_atom(self) -> bool {
        matches!(self, Field::Forces)
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Predictions and labels of one field for a batch, flattened to 1-D.
#[derive(Clone, Debug)]
pub struct FieldValues<B: Backend> {
    /// Predictions `[n]`, float64, differentiable when the outputs are.
    pub pred: Tensor<B>,
    /// The same predictions on the host.
    pub pred_host: Vec<f64>,
    /// Labels `[n]`; NaN where missing.
    pub target: Vec<f64>,
    /// Atom type of each entry (per-atom fields only).
    pub atom_types: Option<Vec<u32>>,
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::Labels(format!(
            "{got} {what} labels for {want} entries of the batch"
        )));
    }
    Ok(())
}

/// The predictions and labels of `field` for the batch `graph`, whose model outputs are
/// `outputs`.
pub fn field_values<B: Backend>(
    field: Field,
    outputs: &Outputs<B>,
    graph: &AtomicGraph,
) -> Result<FieldValues<B>> {
    Ok(fields_values(&[field], outputs, graph)?.remove(0))
}

/// [`field_values`] of several fields, their predictions read back to the host in one
/// transfer (on a GPU each read is a wait for the device).
pub fn fields_values<B: Backend>(
    fields: &[Field],
    outputs: &Outputs<B>,
    graph: &AtomicGraph,
) -> Result<Vec<FieldValues<B>>> {
    let mut values = fields
        .iter()
        .map(|&f| unread_field_values(f, outputs, graph))
        .collect::<Result<Vec<_>>>()?;
    // Flattened: the fields' shapes differ ([frames], [atoms, 3], ...).
    let preds: Vec<Tensor<B>> = values
        .iter()
        .map(|v| v.pred.detach().reshape(&[v.pred.numel()]))
        .collect();
    let parts: Vec<&Tensor<B>> = preds.iter().collect();
    let host = match parts.len() {
        0 => Vec::new(),
        _ => Tensor::concat(&parts, 0).to_vec_f64(),
    };
    let mut at = 0;
    for v in &mut values {
        let n = v.pred.numel();
        v.pred_host = host[at..at + n].to_vec();
        at += n;
    }
    Ok(values)
}

/// [`field_values`] without `pred_host` (left empty for [`fields_values`] to fill).
pub(crate) fn unread_field_values<B: Backend>(
    field: Field,
    outputs: &Outputs<B>,
    graph: &AtomicGraph,
) -> Result<FieldValues<B>> {
    let (nf, na) = (graph.n_frames(), graph.n_atoms());
    let labels = &graph.labels;
    let device = outputs.total_energy.device();
    let (pred, target, atom_types) = match field {
        Field::TotalEnergy | Field::PerAtomEnergy => {
            check_len("total_energy", labels.total_energy.len(), nf)?;
            let mut target: Vec<f64> = labels
                .total_energy
                .iter()
                .map(|e| e.unwrap_or(f64::NAN))
                .collect();
            let mut pred = outputs.total_energy.reshape(&[nf]);
            if field == Field::PerAtomEnergy {
                let counts = graph.atoms_per_frame();
                let inv: Vec<f64> = counts.iter().map(|&n| 1.0 / n.max(1) as f64).collect();
                for (t, s) in target.iter_mut().zip(&inv) {
                    *t *= s;
                }
                pred = pred.mul(&Tensor::from_f64(&inv, &[nf], DType::F64, &device)?);
            }
            (pred, target, None)
        }
        Field::Forces => {
            check_len("forces", labels.forces.len(), na)?;
            let target = labels
                .forces
                .iter()
                .flat_map(|f| f.unwrap_or([f64::NAN; 3]))
                .collect();
            let types = graph.atom_types.iter().flat_map(|&t| [t, t, t]).collect();
            (outputs.forces.reshape(&[na * 3]), target, Some(types))
        }
        Field::Stress => {
            check_len("stress", labels.stress.len(), nf)?;
            let mut inv = vec![0.0; nf];
            let mut target = Vec::with_capacity(9 * nf);
            for f in 0..nf {
                let volume = det3(&graph.cells[f]).abs();
                let periodic = graph.pbc[f].iter().any(|&p| p) && volume > 0.0;
                match labels.stress[f] {
                    Some(s) if !periodic => {
                        if s.iter().flatten().any(|x| !x.is_nan()) {
                            return Err(Error::Labels(format!(
                                "frame {f} of the batch has a stress label but no periodic cell"
                            )));
                        }
                        target.extend([f64::NAN; 9]);
                    }
                    Some(s) => {
                        inv[f] = 1.0 / volume;
                        target.extend(s.iter().flatten());
                    }
                    None => target.extend([f64::NAN; 9]),
                }
            }
            let inv = Tensor::from_f64(&inv, &[nf, 1], DType::F64, &device)?;
            let pred = outputs
                .strain_derivative
                .reshape(&[nf, 9])
                .mul(&inv)
                .reshape(&[nf * 9]);
            (pred, target, None)
        }
    };
    Ok(FieldValues {
        pred,
        pred_host: Vec::new(),
        target,
        atom_types,
    })
}
