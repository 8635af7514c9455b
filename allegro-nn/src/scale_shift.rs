//! Per-type energy scale and shift (nequip's `PerTypeScaleShift`), in float64.

use allegro_core::{Backend, DType, Indices, Tensor};

use crate::parameters::Parameters;

/// Name of the scales tensor.
pub const SCALES: &str = "per_type_energy_scale_shift.scales";
/// Name of the shifts tensor.
pub const SHIFTS: &str = "per_type_energy_scale_shift.shifts";

/// `e_n ← shift[t_n] + scale[t_n]·e_n`; each of scale and shift is absent, one number
/// (`[1, 1]`) or one per type (`[T, 1]`), fixed or trainable.
#[derive(Clone, Debug)]
pub struct ScaleShift {
    scales: Option<(Vec<f64>, bool)>,
    shifts: Option<(Vec<f64>, bool)>,
}

impl ScaleShift {
    /// Values (length 1 or T) and whether each is trainable.
    pub fn new(scales: Option<(Vec<f64>, bool)>, shifts: Option<(Vec<f64>, bool)>) -> Self {
        ScaleShift { scales, shifts }
    }

    /// Adds the tensors (always float64).
    pub fn init<B: Backend>(&self, params: &mut Parameters<B>, device: &B::Device) {
        for (name, entry) in [(SCALES, &self.scales), (SHIFTS, &self.shifts)] {
            if let Some((v, trainable)) = entry {
                let t = Tensor::from_f64(v, &[v.len(), 1], DType::F64, device).expect("shape");
                params.insert(name, t, *trainable);
            }
        }
    }

    /// Expected names and shapes.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        [(SCALES, &self.scales), (SHIFTS, &self.shifts)]
            .into_iter()
            .filter_map(|(n, e)| e.as_ref().map(|(v, _)| (n.to_string(), vec![v.len(), 1])))
            .collect()
    }

    /// `∂e_n/∂e_n^raw = scale[t_n]` per atom (`[N]`, float64), or `None` without scales.
    pub(crate) fn per_atom_scale<B: Backend>(
        &self,
        params: &Parameters<B>,
        types: &Indices<B>,
    ) -> Option<Tensor<B>> {
        self.scales.as_ref()?;
        let t = params.get(SCALES).cast(DType::F64);
        Some(if t.dim(0) == 1 {
            t.reshape(&[1]).broadcast_to(&[types.len()])
        } else {
            t.reshape(&[t.dim(0)]).index_select(0, types)
        })
    }

    /// Applies to per-atom energies `e` (`[N]`, float64).
    pub fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        e: &Tensor<B>,
        types: &Indices<B>,
    ) -> Tensor<B> {
        let per_atom = |name: &str| {
            let t = params.get(name).cast(DType::F64);
            if t.dim(0) == 1 {
                t.reshape(&[1])
            } else {
                t.reshape(&[t.dim(0)]).index_select(0, types)
            }
        };
        let mut out = e.clone();
        if self.scales.is_some() {
            out = out.mul(&per_atom(SCALES));
        }
        if self.shifts.is_some() {
            out = out.add(&per_atom(SHIFTS));
        }
        out
    }
}
