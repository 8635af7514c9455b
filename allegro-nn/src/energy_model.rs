//! What inference needs from a trained model, as a trait: the MD integrator, the test
//! battery (`testing`) and programs that only predict take any [`EnergyModel`], and
//! [`EnergyModel::predict_structure`] is the one route from a structure to its energy and
//! forces (types by the model's names, neighbor list at the model's cutoff, predict).

use allegro_core::Backend;
use allegro_data::{AtomicGraph, NeighborOptions, Structure, TypeMapper};

use crate::error::{Error, Result};
use crate::predictor::{Prediction, Predictor};

/// A trained model that predicts energies, forces and stress of graphs.
pub trait EnergyModel {
    /// Type names in model order (species labels of the structures it takes).
    fn type_names(&self) -> Vec<String>;
    /// Cutoff of an edge by (center type, neighbor type), `T·T`, row = center type.
    fn cutoffs(&self) -> Vec<f64>;
    /// Energies, forces and stress of every structure of a (batched) graph.
    fn predict(&self, graph: &AtomicGraph) -> Result<Prediction>;
    /// The largest cutoff: the neighbor-list radius.
    fn r_max(&self) -> f64 {
        self.cutoffs().into_iter().fold(0.0, f64::max)
    }
    /// The graph of `structure` as this model reads it: atoms typed by
    /// [`EnergyModel::type_names`], every pair closer than [`EnergyModel::r_max`] an edge.
    fn graph_of(&self, structure: &Structure) -> Result<AtomicGraph> {
        let data = |e: allegro_data::Error| Error::Input(e.to_string());
        let mapper = TypeMapper::new(&self.type_names()).map_err(data)?;
        let options = NeighborOptions::new(self.r_max());
        AtomicGraph::from_structure(structure, &mapper, &options).map_err(data)
    }
    /// Energy, forces and stress of one structure: [`EnergyModel::graph_of`], then
    /// [`EnergyModel::predict`].
    fn predict_structure(&self, structure: &Structure) -> Result<Prediction> {
        self.predict(&self.graph_of(structure)?)
    }
}

impl<B: Backend> EnergyModel for Predictor<B> {
    fn type_names(&self) -> Vec<String> {
        self.model().config().type_names.clone()
    }
    fn cutoffs(&self) -> Vec<f64> {
        self.model().cutoffs()
    }
    fn predict(&self, graph: &AtomicGraph) -> Result<Prediction> {
        Predictor::predict(self, graph)
    }
    /// On a GPU, the neighbor list is found on the device and kept with a Verlet skin
    /// (`Predictor::predict_structure_on_device`, with a GPU feature); elsewhere, the
    /// CPU list.
    fn predict_structure(&self, structure: &Structure) -> Result<Prediction> {
        #[cfg(feature = "gpu")]
        if let Some(result) = crate::gpu_neighbors::on_device_if_gpu(self, structure) {
            return result;
        }
        self.predict(&self.graph_of(structure)?)
    }
}
