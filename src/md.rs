//! Molecular dynamics with a trained model: velocity Verlet (NVE) in ASE's units
//! (eV, Å, u; time in fs). The neighbor list is the model's: on a GPU predictor it is
//! found on the device and kept between steps with a Verlet skin.

use allegro_data::{AtomicGraph, NeighborOptions, SplitMix64, Structure, TypeMapper, atomic_mass};
use allegro_nn::{EnergyModel, Error, Result};

/// One femtosecond in the time unit of eV·Å·u (`Å·√(u/eV)`), as ASE's `units.fs`.
pub const FEMTOSECOND: f64 = 0.098_226_947_884_640_63;
/// Boltzmann constant in eV/K.
pub const BOLTZMANN: f64 = 8.617_333_262e-5;

/// Positions, velocities and forces of a running simulation.
#[derive(Clone, Debug)]
pub struct MdState {
    /// The structure (positions are updated in place).
    pub structure: Structure,
    /// Velocities in Å per internal time unit.
    pub velocities: Vec<[f64; 3]>,
    /// Forces at the current positions (eV/Å).
    pub forces: Vec<[f64; 3]>,
    /// Potential energy at the current positions (eV).
    pub potential_energy: f64,
    /// Steps taken.
    pub step: usize,
}

/// A velocity-Verlet integrator driven by any [`EnergyModel`] (a
/// [`Predictor`](allegro_nn::Predictor) on any backend, or a model of your own).
pub struct VelocityVerlet<'a, M: EnergyModel> {
    model: &'a M,
    mapper: &'a TypeMapper,
    options: NeighborOptions,
    masses: Vec<f64>,
    dt: f64,
}

impl<'a, M: EnergyModel> VelocityVerlet<'a, M> {
    /// An integrator with time step `dt_fs` for structures like `structure` (masses are
    /// taken from its species, which must be elements).
    pub fn new(
        model: &'a M,
        mapper: &'a TypeMapper,
        structure: &Structure,
        dt_fs: f64,
    ) -> Result<Self> {
        let masses = structure
            .species
            .iter()
            .map(|s| {
                s.atomic_number().and_then(atomic_mass).ok_or_else(|| {
                    Error::Input(format!("species `{s}` has no standard atomic mass"))
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        let options = NeighborOptions::new(model.r_max());
        Ok(VelocityVerlet {
            model,
            mapper,
            options,
            masses,
            dt: dt_fs * FEMTOSECOND,
        })
    }

    fn evaluate(&self, structure: &Structure) -> Result<(f64, Vec<[f64; 3]>)> {
        // Typed as the model types and cut at its cutoff: the model's own route (on a GPU,
        // a neighbor list found and kept on the device with a Verlet skin).
        let p = if self.mapper.type_names() == self.model.type_names()
            && self.options.cutoff == self.model.r_max()
        {
            self.model.predict_structure(structure)?
        } else {
            let graph = AtomicGraph::from_structure(structure, self.mapper, &self.options)?;
            self.model.predict(&graph)?
        };
        Ok((p.total_energy[0], p.forces))
    }

    /// The initial state with Maxwell–Boltzmann velocities at `temperature_k` (zero
    /// total momentum), seeded.
    pub fn start(&self, structure: Structure, temperature_k: f64, seed: u64) -> Result<MdState> {
        let mut rng = SplitMix64::new(seed);
        let mut velocities: Vec<[f64; 3]> = self
            .masses
            .iter()
            .map(|m| {
                let sigma = (BOLTZMANN * temperature_k / m).sqrt();
                std::array::from_fn(|_| sigma * rng.normal())
            })
            .collect();
        let total_mass: f64 = self.masses.iter().sum();
        let momentum: [f64; 3] = std::array::from_fn(|d| {
            velocities
                .iter()
                .zip(&self.masses)
                .map(|(v, m)| v[d] * m)
                .sum::<f64>()
        });
        for v in &mut velocities {
            for d in 0..3 {
                v[d] -= momentum[d] / total_mass;
            }
        }
        let (potential_energy, forces) = self.evaluate(&structure)?;
        Ok(MdState {
            structure,
            velocities,
            forces,
            potential_energy,
            step: 0,
        })
    }

    /// One step: half kick, drift, new forces, half kick.
    pub fn step(&self, state: &mut MdState) -> Result<()> {
        let dt = self.dt;
        for ((v, f), m) in state
            .velocities
            .iter_mut()
            .zip(&state.forces)
            .zip(&self.masses)
        {
            for d in 0..3 {
                v[d] += 0.5 * dt * f[d] / m;
            }
        }
        for (x, v) in state.structure.positions.iter_mut().zip(&state.velocities) {
            for d in 0..3 {
                x[d] += dt * v[d];
            }
        }
        let (potential_energy, forces) = self.evaluate(&state.structure)?;
        for ((v, f), m) in state.velocities.iter_mut().zip(&forces).zip(&self.masses) {
            for d in 0..3 {
                v[d] += 0.5 * dt * f[d] / m;
            }
        }
        state.forces = forces;
        state.potential_energy = potential_energy;
        state.step += 1;
        Ok(())
    }

    /// `steps` steps of NVE; `each(state, e_tot − e_0)` sees the state after every
    /// step. Returns the largest |E_tot − E_0| (eV), the energy-conservation check.
    pub fn run(
        &self,
        state: &mut MdState,
        steps: usize,
        mut each: impl FnMut(&MdState, f64),
    ) -> Result<f64> {
        let e0 = state.potential_energy + self.kinetic_energy(state);
        let mut max_dev = 0.0f64;
        for _ in 0..steps {
            self.step(state)?;
            let drift = state.potential_energy + self.kinetic_energy(state) - e0;
            max_dev = max_dev.max(drift.abs());
            each(state, drift);
        }
        Ok(max_dev)
    }

    /// Kinetic energy (eV).
    pub fn kinetic_energy(&self, state: &MdState) -> f64 {
        state
            .velocities
            .iter()
            .zip(&self.masses)
            .map(|(v, m)| 0.5 * m * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]))
            .sum()
    }

    /// Instantaneous temperature (K), with 3N − 3 degrees of freedom.
    pub fn temperature(&self, state: &MdState) -> f64 {
        let dof = (3 * self.masses.len()).saturating_sub(3).max(1) as f64;
        2.0 * self.kinetic_energy(state) / (dof * BOLTZMANN)
    }
}
