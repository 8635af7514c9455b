//! The generic op suite (`allegro_core::testing::suite`) on the CPU backend.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::testing::suite;

macro_rules! cpu_tests {
    ($($module:ident :: $check:ident),* $(,)?) => {
        $( #[test] fn $check() { suite::$module::$check::<Cpu>(&CpuDevice); } )*
    };
}

cpu_tests! {
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
    reduce::sums,
    reduce::sum_to_shape_is_adjoint,
    reduce::long_sums,
    index::index_select,
    index::index_add,
    index::index_adjoint_pair,
    index::index_add_large,
    index::index_add_long_segments,
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
}
