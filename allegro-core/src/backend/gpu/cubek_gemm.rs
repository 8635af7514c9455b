//! Tracel's cubek-matmul (the matrix-multiplication kernels written for cubecl) on our
//! buffers, for the GEMM comparison of issue 15 (`examples/gpu_gemm.rs`): its SIMT
//! routines next to our `linear_simt` and cuBLAS on the model's product shapes. Not a
//! path of the model (feature `cubek`, off by default); it runs on any cubecl runtime,
//! so its test runs on lavapipe.

use cubecl::prelude::*;
use cubecl::std::tensor::TensorHandle;
use cubek_matmul::definition::{MatmulElems, MatmulGlobalElems};
use cubek_matmul::launch::{Strategy, launch_ref};
use cubek_std::InputBinding;

use super::{GpuRuntime, GpuStorage};
use crate::dtype::DType;

/// Which of cubek-matmul's routines runs the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CubekRoutine {
    /// One tile per unit (thread) on the CUDA cores: exact float32.
    SimpleUnit,
    /// Its double-buffered variant: exact float32.
    DoubleUnit,
    /// The library's default choice: the tensor-core (CMMA) routine where the device
    /// has one, which takes float32 operands as TF32, else `SimpleUnit`.
    Auto,
}

impl CubekRoutine {
    /// Every routine, in table order.
    pub const ALL: [CubekRoutine; 3] = [
        CubekRoutine::SimpleUnit,
        CubekRoutine::DoubleUnit,
        CubekRoutine::Auto,
    ];

    /// The short name of a table row.
    pub fn name(self) -> &'static str {
        match self {
            CubekRoutine::SimpleUnit => "cubek-unit",
            CubekRoutine::DoubleUnit => "cubek-2unit",
            CubekRoutine::Auto => "cubek-auto",
        }
    }

    fn strategy(self) -> Strategy {
        match self {
            CubekRoutine::SimpleUnit => Strategy::SimpleUnit(Default::default()),
            CubekRoutine::DoubleUnit => Strategy::DoubleUnit(Default::default()),
            CubekRoutine::Auto => Strategy::Auto,
        }
    }
}

/// `out = a @ w` for row-major float32 `a` `[rows, k]`, `w` `[k, n]`, `out`
/// `[rows, n]`, by cubek-matmul's `routine`. An error names a routine the device cannot
/// run or a configuration the library rejects.
pub fn cubek_matmul_f32<R: GpuRuntime>(
    a: &GpuStorage<R>,
    w: &GpuStorage<R>,
    out: &mut GpuStorage<R>,
    (rows, k, n): (usize, usize, usize),
    routine: CubekRoutine,
) -> Result<(), String> {
    for (name, s, len) in [
        ("a", a, rows * k),
        ("w", w, k * n),
        ("out", &*out, rows * n),
    ] {
        if s.dtype != DType::F32 || s.len < len {
            return Err(format!(
                "cubek_matmul_f32: {name} holds {} {:?} values, {len} float32 needed",
                s.len, s.dtype
            ));
        }
    }
    let f32_type = f32::as_type_native_unchecked().storage_type();
    let tensor = |s: &GpuStorage<R>, shape: [usize; 2]| {
        TensorHandle::<R>::new(s.handle.clone(), shape, [shape[1], 1], f32_type).binding()
    };
    let client = &a.device.client;
    let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
        lhs: f32_type,
        rhs: f32_type,
        out: f32_type,
    });
    a.device.counters.launch();
    launch_ref(
        &routine.strategy(),
        client,
        InputBinding::Normal(tensor(a, [rows, k]), f32_type),
        InputBinding::Normal(tensor(w, [k, n]), f32_type),
        tensor(out, [rows, n]),
        &mut dtypes,
    )
    .map_err(|e| format!("cubek-matmul {}: {e}", routine.name()))
}

#[cfg(all(test, feature = "vulkan"))]
mod tests {
    use super::*;
    use crate::backend::StorageOps;
    use crate::backend::gpu::{Gpu, WgpuRuntime};
    use crate::dtype::HostData;
    use crate::rng::SplitMix64;
    use crate::testing::gpu_test_device;

    /// cubek's SIMT routines give the host's float32 product to rounding on the model's
    /// shapes (rows not a multiple of any tile).
    #[test]
    fn cubek_products_equal_the_host_product() {
        let Some(device) = gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        type B = Gpu<WgpuRuntime>;
        let mut rng = SplitMix64::new(3);
        for (rows, k, n) in [(1000usize, 64usize, 256usize), (517, 256, 64)] {
            let a: Vec<f32> = (0..rows * k).map(|_| rng.next_f64() as f32 - 0.5).collect();
            let w: Vec<f32> = (0..k * n).map(|_| rng.next_f64() as f32 - 0.5).collect();
            let mut want = vec![0f64; rows * n];
            for r in 0..rows {
                for c in 0..n {
                    want[r * n + c] = (0..k)
                        .map(|i| a[r * k + i] as f64 * w[i * n + c] as f64)
                        .sum();
                }
            }
            let ad = B::from_host(&device, HostData::F32(a));
            let wd = B::from_host(&device, HostData::F32(w));
            for routine in [CubekRoutine::SimpleUnit, CubekRoutine::DoubleUnit] {
                let mut out = B::from_host(&device, HostData::F32(vec![0.0; rows * n]));
                cubek_matmul_f32(&ad, &wd, &mut out, (rows, k, n), routine).unwrap();
                let HostData::F32(got) = B::to_host(&out) else {
                    unreachable!()
                };
                let diff = got
                    .iter()
                    .zip(&want)
                    .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
                assert!(
                    diff <= 1e-4,
                    "{} [{rows}, {k}] @ [{k}, {n}]: {diff:e}",
                    routine.name()
                );
            }
        }
    }
}
