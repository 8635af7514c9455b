//! Host time per kernel launch of the GPU backend (`--features cuda`, else `vulkan`), the
//! cost a training step pays hundreds of times (issue 16: the step is bound by the host,
//! 12–15 µs per launch on an H100).
//!
//! Each case enqueues `N` small elementwise ops (256 elements, so the device's work is
//! negligible) and prints the host time per op until the last was enqueued, and per op
//! until the device had finished them all:
//!
//! - `unary, untracked`: `x = x · c`, the intermediates dropped as they go;
//! - `unary, 2,000 live`: the same while 2,000 other buffers are alive (a tape's worth),
//!   which the allocator's pools may have to scan;
//! - `binary, untracked`: `x = x + y`;
//! - `unary, tracked`: `x = x · c` recorded for autodiff, every intermediate kept alive by
//!   the graph (what the forward pass of a training step does);
//! - `fill`: `Tensor::zeros`, an allocation and a fill;
//! - `… on the device thread`: the unary and tracked cases run by cubecl's device
//!   thread itself ([`GpuDevice::on_device_thread`]), where a launch is a call, not a
//!   message to that thread.
//!
//! `cargo run --release --features cuda --example gpu_launch_cost [N]`

#[cfg(any(feature = "cuda", feature = "vulkan"))]
fn main() {
    #[cfg(feature = "cuda")]
    type R = allegro::core::backend::gpu::CudaRuntime;
    #[cfg(all(feature = "vulkan", not(feature = "cuda")))]
    type R = allegro::core::backend::gpu::WgpuRuntime;
    use allegro::core::backend::gpu::{Gpu, GpuDevice};
    use allegro::core::{DType, Tensor};
    use std::time::Instant;
    type B = Gpu<R>;

    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N is a count"))
        .unwrap_or(2000);
    let device = GpuDevice::<R>::try_default().expect("a GPU device");
    let x0 = Tensor::<B>::from_f64(&vec![1.0; 256], &[256], DType::F32, &device).unwrap();
    let y = x0.clone();
    // Each case runs twice; the first compiles its kernels and fills the pools.
    let case = |name: &str, f: &dyn Fn() -> Vec<Tensor<B>>| {
        for round in 0..2 {
            let before = device.device_counts();
            let start = Instant::now();
            let keep = f();
            let host = start.elapsed().as_secs_f64();
            device.synchronize().unwrap();
            let total = start.elapsed().as_secs_f64();
            drop(keep);
            let launches = (device.device_counts() - before).launches.max(1) as f64;
            if round == 1 {
                println!(
                    "{name:<22} {launches:>6} launches: host {:>6.2} µs per launch, {:>6.2} µs until done",
                    host / launches * 1e6,
                    total / launches * 1e6
                );
            }
        }
    };
    case("unary, untracked", &|| {
        let mut x = x0.clone();
        for _ in 0..n {
            x = x.mul_scalar(1.0001);
        }
        vec![x]
    });
    let live: Vec<Tensor<B>> = (0..2000).map(|_| x0.mul_scalar(2.0)).collect();
    case("unary, 2,000 live", &|| {
        let mut x = x0.clone();
        for _ in 0..n {
            x = x.mul_scalar(1.0001);
        }
        vec![x]
    });
    drop(live);
    case("binary, untracked", &|| {
        let mut x = x0.clone();
        for _ in 0..n {
            x = x.add(&y);
        }
        vec![x]
    });
    case("unary, tracked", &|| {
        let mut x = x0.tracked();
        for _ in 0..n {
            x = x.mul_scalar(1.0001);
        }
        vec![x]
    });
    case("unary, device thread", &|| {
        device
            .on_device_thread(|| {
                let mut x = x0.clone();
                for _ in 0..n {
                    x = x.mul_scalar(1.0001);
                }
                vec![x]
            })
            .unwrap()
    });
    case("tracked, device thread", &|| {
        device
            .on_device_thread(|| {
                let mut x = x0.tracked();
                for _ in 0..n {
                    x = x.mul_scalar(1.0001);
                }
                vec![x]
            })
            .unwrap()
    });
    case("fill", &|| {
        (0..n)
            .map(|_| Tensor::<B>::zeros(&[256], DType::F32, &device))
            .collect()
    });
}

#[cfg(not(any(feature = "cuda", feature = "vulkan")))]
fn main() {
    eprintln!("gpu_launch_cost needs --features cuda (or vulkan)");
}
