//! Our GEMM against cuBLAS on the model's own product shapes (`--features cuda`).
//!
//! For each shape `[E, K] @ [K, N]` of Allegro's MLPs (seed model: 64 → 256 → 256 → 64,
//! the backward products have the same shapes transposed), float32, prints the time and
//! TFLOP/s of:
//!
//! - `simt`: our `fused_linear` on the CUDA cores (exact float32), plain product;
//! - `simt+silu`: the same with the SiLU epilogue and its derivative (a hidden layer);
//! - `tf32x3`: our split-TF32 tensor-core kernel (float32-accurate);
//! - `tf32`: our kernel with TF32 operands (nequip's `allow_tf32`);
//! - `cublas`: cuBLAS SGEMM, exact float32 (`CUBLAS_DEFAULT_MATH`);
//! - `cublas-tf32`: cuBLAS with TF32 tensor cores;
//! - with `--features cubek`, tracel's cubek-matmul 0.2: `cubek-unit` and `cubek-2unit`
//!   (its SIMT routines, exact float32) and `cubek-auto` (its default, the tensor-core
//!   routine, TF32 operands).
//!
//! and the largest difference of each from cuBLAS's exact product, relative to its
//! largest entry. `gpu_gemm [ROWS ...]` (default 262144 and 2014964, the 23,559-atom box's
//! edges per pass and in all).

#[cfg(feature = "cuda")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use allegro::core::backend::gpu::{
        CublasMath, CudaRuntime, ExactF32Matmul, Gpu, GpuDevice, cublas_matmul_f32,
        set_exact_f32_matmul,
    };
    use allegro::core::backend::{
        Activation, ColumnBlock, InferenceOps, LinearSpec, MatmulPrecision, OutputBlock, StorageOps,
    };
    use allegro::core::{HostData, SplitMix64};
    use std::time::Instant;
    type B = Gpu<CudaRuntime>;

    let device = GpuDevice::<CudaRuntime>::try_default()?;
    let rows_list: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .map(|a| a.parse())
            .collect::<Result<_, _>>()?;
        if args.is_empty() {
            vec![262_144, 2_014_964]
        } else {
            args
        }
    };
    let reps = 10;
    let mut rng = SplitMix64::new(5);
    let mut random =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect() };
    println!(
        "{:>9} {:>4} {:>4} {:<12} {:>9} {:>8} {:>10}",
        "rows", "K", "N", "kernel", "ms", "TFLOP/s", "max rel. diff"
    );
    for &rows in &rows_list {
        for (k, n) in [(64usize, 256usize), (256, 256), (256, 64)] {
            let a = B::from_host(&device, HostData::F32(random(rows * k)));
            let w = B::from_host(&device, HostData::F32(random(k * n)));
            let zeros = || B::from_host(&device, HostData::F32(vec![0.0; rows * n]));
            let flops = 2.0 * rows as f64 * k as f64 * n as f64;
            let mut reference = zeros();
            cublas_matmul_f32(&a, &w, &mut reference, (rows, k, n), CublasMath::Exact)?;
            let want = match B::to_host(&reference) {
                HostData::F32(v) => v,
                HostData::F64(_) => unreachable!(),
            };
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let time = |name: &str,
                        run: &mut dyn FnMut(
                &mut <B as allegro::core::backend::BackendTypes>::Storage,
            )| {
                let mut out = zeros();
                for _ in 0..2 {
                    run(&mut out);
                }
                device.synchronize().expect("sync");
                let start = Instant::now();
                for _ in 0..reps {
                    run(&mut out);
                }
                device.synchronize().expect("sync");
                let t = start.elapsed().as_secs_f64() / reps as f64;
                let got = match B::to_host(&out) {
                    HostData::F32(v) => v,
                    HostData::F64(_) => unreachable!(),
                };
                let diff = got
                    .iter()
                    .zip(&want)
                    .fold(0f32, |m, (g, w)| m.max((g - w).abs()));
                println!(
                    "{rows:>9} {k:>4} {n:>4} {name:<12} {:>9.3} {:>8.1} {:>10.2e}",
                    t * 1e3,
                    flops / t / 1e12,
                    diff / scale
                );
            };
            let spec = |activation: Option<Activation>, precision| LinearSpec {
                rows,
                inputs: vec![ColumnBlock::whole(k)],
                outputs: vec![OutputBlock {
                    block: ColumnBlock::whole(n),
                    accumulate: false,
                }],
                activation,
                masked: false,
                precision,
            };
            let mut derivative = zeros();
            for (name, kind, precision) in [
                ("simt", ExactF32Matmul::Simt, MatmulPrecision::Exact),
                ("tf32x3", ExactF32Matmul::SplitTf32, MatmulPrecision::Exact),
                ("tf32", ExactF32Matmul::Simt, MatmulPrecision::Tf32),
            ] {
                set_exact_f32_matmul(kind);
                let plain = spec(None, precision);
                time(name, &mut |out| {
                    B::fused_linear(&plain, &[&a], &w, None, None, &mut [out])
                });
            }
            set_exact_f32_matmul(ExactF32Matmul::Simt);
            let silu = spec(Some(Activation::Silu), MatmulPrecision::Exact);
            time("simt+silu", &mut |out| {
                B::fused_linear(&silu, &[&a], &w, None, Some(&mut derivative), &mut [out])
            });
            for (name, math) in [
                ("cublas", CublasMath::Exact),
                ("cublas-tf32", CublasMath::Tf32),
            ] {
                time(name, &mut |out| {
                    cublas_matmul_f32(&a, &w, out, (rows, k, n), math).expect("cuBLAS")
                });
            }
            #[cfg(feature = "cubek")]
            for routine in allegro::core::backend::gpu::CubekRoutine::ALL {
                use allegro::core::backend::gpu::cubek_matmul_f32;
                // A routine the device or library refuses is a line, not the end.
                let mut out = zeros();
                match cubek_matmul_f32(&a, &w, &mut out, (rows, k, n), routine) {
                    Ok(()) => time(routine.name(), &mut |out| {
                        cubek_matmul_f32(&a, &w, out, (rows, k, n), routine).expect("cubek")
                    }),
                    Err(e) => println!("{rows:>9} {k:>4} {n:>4} {:<12} {e}", routine.name()),
                }
            }
        }
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn main() {
    eprintln!("gpu_gemm needs --features cuda");
}
