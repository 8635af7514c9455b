//! What training needs from a model, as a trait: `allegro_train::Trainer` takes any
//! [`TrainableModel`], so a program can train an architecture of its own with the same
//! loss manager, optimizers, EMA, checkpoints and data-parallel loop.

use allegro_core::Backend;

use crate::forces::Outputs;
use crate::inputs::ModelInputs;
use crate::model::AllegroModel;
use crate::parameters::Parameters;

/// A model whose outputs are differentiable functions of its [`Parameters`].
pub trait TrainableModel {
    /// Number of atom types (the width of the one-hot type input).
    fn num_types(&self) -> usize;
    /// Energies, forces and stress of a batch on the tape; with `create_graph` the forces
    /// (themselves gradients) stay differentiable, which force-matching losses need.
    fn outputs<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
        create_graph: bool,
    ) -> Outputs<B>;
    /// A description of the architecture that checkpoints store: a trainer refuses to
    /// resume from a checkpoint written for a model with another description.
    fn describe(&self) -> String;
}

impl TrainableModel for AllegroModel {
    fn num_types(&self) -> usize {
        AllegroModel::num_types(self)
    }
    fn outputs<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
        create_graph: bool,
    ) -> Outputs<B> {
        AllegroModel::outputs(self, params, inputs, create_graph)
    }
    /// The `AllegroConfig` as JSON.
    fn describe(&self) -> String {
        serde_json::to_string(self.config()).expect("configs serialise")
    }
}
