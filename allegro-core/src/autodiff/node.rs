//! What a tracked tensor remembers about the op that made it.

use crate::backend::Backend;
use crate::tensor::Tensor;

/// The backward rule of one op: given the op's inputs, its output and the gradient of a
/// scalar with respect to the output, the gradient with respect to each input.
///
/// `needs[i]` says whether input `i`'s gradient is wanted; return `None` where it is not
/// (or where it is identically zero). A returned gradient has the shape and dtype of its
/// input. Rules must use differentiable [`Tensor`] ops only, never backend primitives, so
/// that gradients can be differentiated again.
///
/// Any `Fn(&[Tensor<B>], &Tensor<B>, &Tensor<B>, &[bool]) -> Vec<Option<Tensor<B>>>`
/// closure is a `BackwardOp`.
pub trait BackwardOp<B: Backend>: Send + Sync {
    /// Gradients with respect to `inputs`.
    fn backward(
        &self,
        inputs: &[Tensor<B>],
        output: &Tensor<B>,
        grad: &Tensor<B>,
        needs: &[bool],
    ) -> Vec<Option<Tensor<B>>>;
}

impl<B, F> BackwardOp<B> for F
where
    B: Backend,
    F: Fn(&[Tensor<B>], &Tensor<B>, &Tensor<B>, &[bool]) -> Vec<Option<Tensor<B>>> + Send + Sync,
{
    fn backward(
        &self,
        inputs: &[Tensor<B>],
        output: &Tensor<B>,
        grad: &Tensor<B>,
        needs: &[bool],
    ) -> Vec<Option<Tensor<B>>> {
        self(inputs, output, grad, needs)
    }
}

/// An op recorded in the graph: its name (for messages), its inputs and its rule.
pub struct Node<B: Backend> {
    pub(crate) name: &'static str,
    pub(crate) inputs: Vec<Tensor<B>>,
    pub(crate) rule: Box<dyn BackwardOp<B>>,
}

impl<B: Backend> Node<B> {
    /// Name of the op that made the tensor.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The op's inputs.
    pub fn inputs(&self) -> &[Tensor<B>] {
        &self.inputs
    }
}

impl<B: Backend> std::fmt::Debug for Node<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({}, {} inputs)", self.name, self.inputs.len())
    }
}
