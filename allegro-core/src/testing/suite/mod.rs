//! Op checks written once, generic over the backend (STYLE rule 6). Each check compares
//! values with a plain loop and gradients of first and second order with central
//! differences; `tests/cpu.rs` instantiates them for the CPU backend, a GPU backend's
//! tests instantiate the same list.

// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in a list of test inputs.
#![allow(clippy::cloned_ref_to_slice_refs)]

pub mod autodiff;
pub mod bessel_cutoff;
pub mod edges_reference;
pub mod elementwise;
pub mod fused;
pub mod fused_reference;
pub mod harmonics;
pub mod index;
pub mod inference;
pub mod inference_reference;
pub mod matmul;
pub mod optimizer;
pub mod reduce;
pub mod segment;
pub mod segment_reference;
pub mod shape;
pub mod transfer;

use super::finite_diff::{TestFn, check_gradients, check_second_order};
use super::tolerance::{F32_VALUE_RTOL, F64_VALUE_RTOL, all_close};
use crate::backend::Backend;
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// A random f64 tensor with entries uniform in `[lo, hi)`.
pub fn random<B: Backend>(
    shape: &[usize],
    lo: f64,
    hi: f64,
    rng: &mut SplitMix64,
    device: &B::Device,
) -> Tensor<B> {
    let n = crate::shape::numel(shape);
    Tensor::from_f64(&rng.vec_uniform(n, lo, hi), shape, DType::F64, device).expect("shape matches")
}

/// Panics with `name` unless the first- and second-order gradients of `f` match central
/// differences at `inputs`.
pub fn assert_gradients<B: Backend>(name: &str, f: &TestFn<'_, B>, inputs: &[Tensor<B>]) {
    if let Err(e) = check_gradients(f, inputs, 7) {
        panic!("{name}: {e}");
    }
    if let Err(e) = check_second_order(f, inputs, 11) {
        panic!("{name}: {e}");
    }
}

/// Panics with `name` unless `f` evaluated in f64 and in f32 matches `want` (computed by a
/// plain f64 loop from the same inputs).
pub fn assert_values<B: Backend>(
    name: &str,
    f: &TestFn<'_, B>,
    inputs: &[Tensor<B>],
    want: &[f64],
) {
    let got = f(inputs);
    if let Err(e) = all_close(&got.to_vec_f64(), want, F64_VALUE_RTOL, 1e-14) {
        panic!("{name} (f64): {e}");
    }
    let inputs32: Vec<Tensor<B>> = inputs.iter().map(|x| x.cast(DType::F32)).collect();
    let got32 = f(&inputs32);
    assert_eq!(
        got32.dtype(),
        DType::F32,
        "{name}: f32 inputs gave {}",
        got32.dtype()
    );
    if let Err(e) = all_close(&got32.to_vec_f64(), want, F32_VALUE_RTOL, 1e-6) {
        panic!("{name} (f32): {e}");
    }
}

/// Row-major offset of a multi-index.
pub(crate) fn offset(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |o, (&i, &d)| o * d + i)
}

/// Every multi-index of `shape`, row-major.
pub(crate) fn multi_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n = crate::shape::numel(shape);
    (0..n)
        .map(|mut k| {
            let mut idx = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                idx[d] = k % shape[d];
                k /= shape[d];
            }
            idx
        })
        .collect()
}

/// Calls `$instantiate! { module::check, ... }` with every check of the suite, so each
/// backend's test file instantiates the same list (a check added here runs everywhere).
#[macro_export]
macro_rules! for_each_suite_check {
    ($instantiate:ident) => {
        $instantiate! {
            elementwise::unary_ops,
            elementwise::piecewise_constant_ops,
            elementwise::binary_ops,
            elementwise::compare_and_where,
            elementwise::composed_nonlinearities,
            elementwise::operator_overloads,
            elementwise::parallel_paths_agree,
            matmul::matmul_variants,
            matmul::matmul_batched_by_shared,
            matmul::mlp_chain,
            matmul::matmul_large,
            matmul::matmul_wide,
            reduce::sums,
            reduce::sum_to_shape_is_adjoint,
            reduce::long_sums,
            index::index_select,
            index::index_add,
            index::index_adjoint_pair,
            index::index_add_large,
            index::index_add_long_segments,
            index::indices_narrow,
            index::index_add_sorted,
            shape::permute_reshape,
            shape::broadcast,
            shape::concat_narrow,
            shape::cast,
            shape::transpose_tiled,
            shape::block_permute_and_last_axis_gather,
            autodiff::no_graph_without_tracking,
            autodiff::third_order,
            autodiff::unused_intermediate_and_reuse,
            autodiff::custom_op,
            fused::channel_contract,
            fused::channel_contract_weight_grad,
            fused::channel_contract_large,
            inference::fused_linear,
            inference::fused_linear_large,
            segment::segment_contract,
            segment::segment_contract_long,
            fused_reference::channel_contract_matches_reference,
            fused_reference::channel_contract_allegro_matches_reference,
            inference_reference::fused_linear_matches_reference,
            segment_reference::segment_contract_matches_reference,
            edges_reference::edge_inputs_matches_reference,
            harmonics::harmonics_fused_vs_composed,
            bessel_cutoff::bessel_cutoff_fused_vs_composed,
            bessel_cutoff::bessel_cutoff_finite_differences,
            transfer::round_trips_and_counts,
            optimizer::adamw_step,
            optimizer::lerp,
        }
    };
}
