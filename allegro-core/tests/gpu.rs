//! The generic op suite (`allegro_core::testing::suite`) on the GPU backend, for each
//! runtime feature that is on (`vulkan`, `cuda`, `hip`).
//!
//! Without a usable device the tests print that they were skipped, unless
//! `ALLEGRO_REQUIRE_GPU=1` is set (CI sets it for lavapipe), when they fail.

#![cfg(feature = "gpu")]

use allegro_core::backend::gpu::{GpuDevice, GpuRuntime};

/// The default device of `R`, or `None` (with a message) when there is none.
fn device<R: GpuRuntime>() -> Option<GpuDevice<R>> {
    match GpuDevice::<R>::try_default() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("ALLEGRO_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("ALLEGRO_REQUIRE_GPU=1 but {e}")
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

macro_rules! gpu_suite {
    ($runtime_mod:ident, $runtime:ty; $($module:ident :: $check:ident),* $(,)?) => {
        mod $runtime_mod {
            use allegro_core::backend::gpu::Gpu;
            use allegro_core::testing::suite;
            $(
                #[test]
                fn $check() {
                    if let Some(d) = super::device::<$runtime>() {
                        suite::$module::$check::<Gpu<$runtime>>(&d);
                    }
                }
            )*
        }
    };
}

macro_rules! all_checks {
    ($runtime_mod:ident, $runtime:ty) => {
        gpu_suite! { $runtime_mod, $runtime;
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
    };
}

#[cfg(feature = "vulkan")]
all_checks!(vulkan, allegro_core::backend::gpu::WgpuRuntime);

#[cfg(feature = "cuda")]
all_checks!(cuda, allegro_core::backend::gpu::CudaRuntime);

#[cfg(feature = "hip")]
all_checks!(hip, allegro_core::backend::gpu::HipRuntime);
