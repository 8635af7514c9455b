//! Ready-made metrics managers with nequip's names: `EnergyForceLoss`,
//! `EnergyForceStressLoss`, `EnergyForceMetrics`, `EnergyForceStressMetrics`.
//!
//! The seed's loss, `EnergyForceLoss(per_atom_energy = true, coeffs = {1, 1})`, is
//! `L = ½·mean_frames(((E − E*)/N)²) + ½·mean_{atoms,xyz}((F − F*)²)` (docs/model.md §11).

use allegro_core::Backend;

use crate::error::{Result, config_error};
use crate::field::Field;
use crate::manager::{MetricEntry, MetricsManager};
use crate::metrics::{Mae, MaxAbs, Mse, Rmse};

/// Coefficients of an energy/force(/stress) loss, before normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossCoeffs {
    /// Energy term (`total_energy` in nequip's `coeffs`).
    pub energy: f64,
    /// Force term.
    pub forces: f64,
    /// Stress term (`None`: no stress term).
    pub stress: Option<f64>,
}

impl Default for LossCoeffs {
    /// nequip's default `{total_energy: 1, forces: 1}`.
    fn default() -> Self {
        LossCoeffs {
            energy: 1.0,
            forces: 1.0,
            stress: None,
        }
    }
}

/// The MSE loss on energy (per atom when `per_atom_energy`), forces and optionally stress
/// (missing stress labels skipped): entries `per_atom_energy_mse` (or
/// `total_energy_mse`), `forces_mse`, `stress_mse`, then `extra`.
pub fn energy_force_loss<B: Backend>(
    coeffs: LossCoeffs,
    per_atom_energy: bool,
    type_names: &[String],
    extra: Vec<MetricEntry<B>>,
) -> Result<MetricsManager<B>> {
    let energy = if per_atom_energy {
        Field::PerAtomEnergy
    } else {
        Field::TotalEnergy
    };
    let mut entries = vec![
        MetricEntry::new(energy, Mse).coeff(coeffs.energy),
        MetricEntry::new(Field::Forces, Mse).coeff(coeffs.forces),
    ];
    if let Some(s) = coeffs.stress {
        entries.push(MetricEntry::new(Field::Stress, Mse).coeff(s));
    }
    entries.extend(extra);
    MetricsManager::new(entries, type_names)
}

/// Names of the metrics of [`energy_force_metrics`] (with stress: also `stress_rmse`,
/// `stress_mae`, `stress_maxabserr`).
pub const ENERGY_FORCE_METRICS: [&str; 9] = [
    "total_energy_rmse",
    "total_energy_mae",
    "per_atom_energy_rmse",
    "per_atom_energy_mae",
    "forces_rmse",
    "forces_mae",
    "total_energy_maxabserr",
    "per_atom_energy_maxabserr",
    "forces_maxabserr",
];

/// RMSE, MAE and maximum absolute error of total energy, per-atom energy, forces and,
/// with `stress`, stress, in nequip's order and names. `coeffs` gives the metrics that
/// enter `weighted_sum` by name (nequip's default: `total_energy_rmse` and `forces_rmse`,
/// 1 each; the seed uses `per_atom_energy_rmse` and `forces_rmse`). `extra` entries
/// (e.g. per-type force RMSE) come last.
pub fn energy_force_metrics<B: Backend>(
    coeffs: &[(&str, f64)],
    stress: bool,
    type_names: &[String],
    extra: Vec<MetricEntry<B>>,
) -> Result<MetricsManager<B>> {
    let mut entries: Vec<MetricEntry<B>> = Vec::new();
    for field in [Field::TotalEnergy, Field::PerAtomEnergy, Field::Forces] {
        entries.push(MetricEntry::new(field, Rmse));
        entries.push(MetricEntry::new(field, Mae));
    }
    if stress {
        entries.push(MetricEntry::new(Field::Stress, Rmse));
        entries.push(MetricEntry::new(Field::Stress, Mae));
    }
    for field in [Field::TotalEnergy, Field::PerAtomEnergy, Field::Forces] {
        entries.push(MetricEntry::new(field, MaxAbs));
    }
    if stress {
        entries.push(MetricEntry::new(Field::Stress, MaxAbs));
    }
    for &(name, c) in coeffs {
        let e = entries.iter_mut().find(|e| e.name == name).ok_or_else(|| {
            let known: Vec<&str> = ENERGY_FORCE_METRICS.to_vec();
            config_error(
                &format!("metrics.coeffs.{name}"),
                format!(
                    "unknown metric (known: {}{})",
                    known.join(", "),
                    if stress {
                        ", stress_rmse, stress_mae, stress_maxabserr"
                    } else {
                        ""
                    }
                ),
            )
        })?;
        e.coeff = Some(c);
    }
    entries.extend(extra);
    MetricsManager::new(entries, type_names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_core::{DType, Tensor, grad};
    use allegro_data::{AtomicGraph, BatchLabels};
    use allegro_nn::Outputs;

    fn t(v: &[f64], shape: &[usize]) -> Tensor<Cpu> {
        Tensor::from_f64(v, shape, DType::F64, &CpuDevice).unwrap()
    }

    /// Two frames: 1 atom (type 0) and 2 atoms (types 0, 1); frame 1 periodic with a
    /// 2×2×2 cell and a stress label.
    fn batch() -> (AtomicGraph, Outputs<Cpu>) {
        let cell1 = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]];
        let g = AtomicGraph {
            positions: vec![[0.0; 3]; 3],
            atom_types: vec![0, 0, 1],
            batch: vec![0, 1, 1],
            frame_ptr: vec![0, 1, 3],
            cells: vec![[[0.0; 3]; 3], cell1],
            pbc: vec![[false; 3], [true; 3]],
            labels: BatchLabels {
                total_energy: vec![Some(1.0), Some(4.0)],
                forces: vec![
                    Some([0.0, 0.0, 0.0]),
                    Some([1.0, 0.0, 0.0]),
                    Some([0.0, 0.0, 3.0]),
                ],
                stress: vec![
                    None,
                    Some([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
                ],
                virial: vec![None, None],
                atomic_energies: vec![None; 3],
            },
            ..Default::default()
        };
        let mut sd = vec![0.0; 18];
        sd[9] = 8.0; // frame 1, G_xx = 8 → stress 8/8 = 1, error 0.5.
        let out = Outputs {
            atomic_energies: t(&[0.0; 3], &[3]),
            total_energy: t(&[2.0, 5.0], &[2]).tracked(),
            forces: t(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[3, 3]).tracked(),
            strain_derivative: t(&sd, &[2, 3, 3]).tracked(),
            atom_virial: None,
        };
        (g, out)
    }

    #[test]
    fn seed_loss_by_hand_with_gradients() {
        let names = vec!["A".to_string(), "B".to_string()];
        let (g, out) = batch();
        let mut m = energy_force_loss::<Cpu>(LossCoeffs::default(), true, &names, vec![]).unwrap();
        let b = m.loss(&out, &g).unwrap();
        // Per-atom energy errors: (2−1)/1 = 1, (5−4)/2 = 0.5 → MSE = 1.25/2 = 0.625.
        // Force errors: [1,0,0, 0,0,0, 0,0,−2] → MSE = 5/9.
        let (e_mse, f_mse) = (0.625, 5.0 / 9.0);
        assert_eq!(b.values.get("per_atom_energy_mse"), Some(e_mse));
        assert!((b.values.get("forces_mse").unwrap() - f_mse).abs() < 1e-15);
        let loss = b.loss.unwrap();
        assert!((loss.item() - 0.5 * (e_mse + f_mse)).abs() < 1e-15);
        let gr = grad(&[&loss], None, &[&out.total_energy, &out.forces], false);
        // ∂/∂E_f = ½ · 2·err_f/N_f / n_frames.
        let ge = gr[0].to_vec_f64();
        assert!((ge[0] - 0.5 * 2.0 * 1.0 / 1.0 / 2.0).abs() < 1e-15);
        assert!((ge[1] - 0.5 * 2.0 * 0.5 / 2.0 / 2.0).abs() < 1e-15);
        let gf = gr[1].to_vec_f64();
        assert!((gf[0] - 0.5 * 2.0 * 1.0 / 9.0).abs() < 1e-15);
        assert!((gf[8] - 0.5 * 2.0 * -2.0 / 9.0).abs() < 1e-15);
    }

    #[test]
    fn stress_nan_ignored_and_per_type_forces() {
        let names = vec!["A".to_string(), "B".to_string()];
        let (g, out) = batch();
        let coeffs = LossCoeffs {
            energy: 1.0,
            forces: 1.0,
            stress: Some(2.0),
        };
        let mut m = energy_force_loss::<Cpu>(coeffs, false, &names, vec![]).unwrap();
        let b = m.loss(&out, &g).unwrap();
        // Stress: frame 0 has none (skipped), frame 1 errors [0.5, 0 × 8] → MSE 0.25/9.
        let s = b.values.get("stress_mse").unwrap();
        assert!((s - 0.25 / 9.0).abs() < 1e-15);
        let e = b.values.get("total_energy_mse").unwrap();
        assert_eq!(e, 1.0);
        let want = 0.25 * e + 0.25 * 5.0 / 9.0 + 0.5 * s;
        assert!((b.loss.unwrap().item() - want).abs() < 1e-15);

        let extra = vec![
            MetricEntry::new(Field::Forces, Rmse)
                .named("per_type_forces_rmse")
                .per_type(),
        ];
        let mut v = energy_force_metrics::<Cpu>(
            &[("per_atom_energy_rmse", 1.0), ("forces_rmse", 1.0)],
            true,
            &names,
            extra,
        )
        .unwrap();
        let vals = v.update(&out, &g).unwrap();
        // Type A atoms: errors [1,0,0,0,0,0] → RMSE √(1/6); type B: [0,0,−2] → √(4/3).
        let (a, bb) = ((1.0f64 / 6.0).sqrt(), (4.0f64 / 3.0).sqrt());
        assert!((vals.get("per_type_forces_rmse_A").unwrap() - a).abs() < 1e-15);
        assert!((vals.get("per_type_forces_rmse_B").unwrap() - bb).abs() < 1e-15);
        assert!((vals.get("per_type_forces_rmse").unwrap() - 0.5 * (a + bb)).abs() < 1e-15);
        let ws = 0.5 * (0.625f64.sqrt() + (5.0f64 / 9.0).sqrt());
        assert!((vals.weighted_sum().unwrap() - ws).abs() < 1e-15);
        assert_eq!(vals.get("stress_maxabserr"), Some(0.5));
    }

    #[test]
    fn epoch_pooling_coefficients_and_errors() {
        let names = vec!["A".to_string(), "B".to_string()];
        let (g, out) = batch();
        let mut v =
            energy_force_metrics::<Cpu>(&[("forces_rmse", 3.0)], false, &names, vec![]).unwrap();
        assert_eq!(
            v.entries()
                .iter()
                .find(|e| e.name == "forces_rmse")
                .unwrap()
                .coeff,
            Some(1.0)
        );
        // Same batch twice, then a batch with zero force errors: pooled RMSE √(10/27).
        v.update(&out, &g).unwrap();
        v.update(&out, &g).unwrap();
        let mut g0 = g.clone();
        g0.labels.forces = vec![
            Some([1.0, 0.0, 0.0]),
            Some([1.0, 0.0, 0.0]),
            Some([0.0, 0.0, 1.0]),
        ];
        v.update(&out, &g0).unwrap();
        let epoch = v.compute();
        assert!((epoch.get("forces_rmse").unwrap() - (10.0f64 / 27.0).sqrt()).abs() < 1e-15);
        assert_eq!(epoch.weighted_sum(), epoch.get("forces_rmse"));
        v.reset();
        assert!(v.compute().get("forces_rmse").unwrap().is_nan());
        // Missing force label without ignore_nan is an error naming the metric.
        let mut gm = g.clone();
        gm.labels.forces[1] = None;
        let err = v.update(&out, &gm).unwrap_err().to_string();
        assert!(
            err.contains("forces_rmse") && err.contains("ignore_nan"),
            "{err}"
        );
        assert!(
            energy_force_metrics::<Cpu>(&[("force_rmse", 1.0)], false, &names, vec![]).is_err()
        );
    }
}
