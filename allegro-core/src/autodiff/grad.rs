//! The backward pass.

use std::collections::HashMap;

use super::mode::with_grad_enabled;
use crate::backend::Backend;
use crate::tensor::Tensor;

/// Tracked tensors reachable from `outputs`, inputs before the tensors made from them.
fn topological_order<B: Backend>(outputs: &[&Tensor<B>]) -> Vec<Tensor<B>> {
    let mut order = Vec::new();
    let mut visited = std::collections::HashSet::new();
    // Iterative post-order DFS: graphs of a deep model must not overflow the stack.
    let mut stack: Vec<(Tensor<B>, bool)> = outputs
        .iter()
        .filter(|t| t.is_tracked())
        .map(|t| ((*t).clone(), false))
        .collect();
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !visited.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.node() {
            for input in node.inputs.iter().rev() {
                if input.is_tracked() && !visited.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order
}

/// Gradients of `Σ_k ⟨outputs[k], grad_outputs[k]⟩` with respect to each of `inputs`.
///
/// `grad_outputs` defaults to ones. An input the outputs do not depend on gets zeros.
/// With `create_graph` the returned gradients are tracked (their own backward graph is
/// recorded) and can be differentiated again; without it the backward pass records
/// nothing.
///
/// # Panics
/// If a `grad_outputs` entry does not have its output's shape.
pub fn grad<B: Backend>(
    outputs: &[&Tensor<B>],
    grad_outputs: Option<&[&Tensor<B>]>,
    inputs: &[&Tensor<B>],
    create_graph: bool,
) -> Vec<Tensor<B>> {
    with_grad_enabled(create_graph, || {
        backward_pass(outputs, grad_outputs, inputs)
    })
}

/// Gradient of a single-element tensor with respect to each of `inputs`.
pub fn grad_scalar<B: Backend>(
    output: &Tensor<B>,
    inputs: &[&Tensor<B>],
    create_graph: bool,
) -> Vec<Tensor<B>> {
    assert_eq!(
        output.numel(),
        1,
        "grad_scalar: output has shape {:?}",
        output.shape()
    );
    grad(&[output], None, inputs, create_graph)
}

fn backward_pass<B: Backend>(
    outputs: &[&Tensor<B>],
    grad_outputs: Option<&[&Tensor<B>]>,
    inputs: &[&Tensor<B>],
) -> Vec<Tensor<B>> {
    let order = topological_order(outputs);
    let wanted: std::collections::HashSet<u64> = inputs.iter().map(|t| t.id()).collect();

    // Prune: only walk through tensors from which a wanted input can be reached.
    let mut leads: HashMap<u64, bool> = HashMap::with_capacity(order.len());
    for t in &order {
        let via_inputs = t
            .node()
            .is_some_and(|n| n.inputs.iter().any(|i| leads.get(&i.id()) == Some(&true)));
        leads.insert(t.id(), wanted.contains(&t.id()) || via_inputs);
    }

    let mut grads: HashMap<u64, Tensor<B>> = HashMap::new();
    for (k, out) in outputs.iter().enumerate() {
        let g = match grad_outputs {
            Some(gs) => {
                assert_eq!(
                    gs[k].shape(),
                    out.shape(),
                    "grad: grad_output {k} has the wrong shape"
                );
                gs[k].clone()
            }
            None => out.ones_like(),
        };
        accumulate(&mut grads, out.id(), g);
    }

    for t in order.iter().rev() {
        if leads.get(&t.id()) != Some(&true) {
            continue;
        }
        let Some(node) = t.node() else { continue };
        let g = if wanted.contains(&t.id()) {
            grads.get(&t.id()).cloned()
        } else {
            // Nothing reads this gradient again: free it as soon as it is used.
            grads.remove(&t.id())
        };
        let Some(g) = g else { continue };
        let needs: Vec<bool> = node
            .inputs
            .iter()
            .map(|i| leads.get(&i.id()) == Some(&true))
            .collect();
        if !needs.iter().any(|&n| n) {
            continue;
        }
        let input_grads = node.rule.backward(&node.inputs, t, &g, &needs);
        debug_assert_eq!(
            input_grads.len(),
            node.inputs.len(),
            "rule of {}",
            node.name
        );
        for ((input, gi), need) in node.inputs.iter().zip(input_grads).zip(&needs) {
            if let (Some(gi), true) = (gi, need) {
                debug_assert_eq!(
                    gi.shape(),
                    input.shape(),
                    "gradient shape in rule of {}",
                    node.name
                );
                accumulate(&mut grads, input.id(), gi);
            }
        }
    }

    inputs
        .iter()
        .map(|t| {
            grads
                .get(&t.id())
                .cloned()
                .unwrap_or_else(|| t.zeros_like())
        })
        .collect()
}

fn accumulate<B: Backend>(grads: &mut HashMap<u64, Tensor<B>>, id: u64, g: Tensor<B>) {
    match grads.remove(&id) {
        Some(prev) => {
            grads.insert(id, prev.add(&g));
        }
        None => {
            grads.insert(id, g);
        }
    }
}
