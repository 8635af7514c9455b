//! Host↔device transfer rates of the GPU backend (`--features cuda`): uploads through
//! `Tensor::from_host` (pinned staging, or pageable with `ALLEGRO_GPU_UPLOAD=pageable`)
//! and downloads through `to_host`, for a few sizes, each repeated so the first (cold
//! pools) and later (warm) calls show apart. Prints one line per size and direction.

#[cfg(feature = "cuda")]
fn main() {
    use allegro::core::backend::gpu::{Gpu, GpuDevice};
    use allegro::core::{HostData, Tensor};
    use std::time::Instant;
    type B = Gpu<allegro::core::backend::gpu::CudaRuntime>;
    let device = GpuDevice::try_default().expect("a CUDA device");
    for mb in [1usize, 8, 32, 128] {
        let n = mb * (1 << 20) / 8;
        let mut up = Vec::new();
        let mut down = Vec::new();
        for rep in 0..6 {
            let host = vec![rep as f64 + 0.5; n];
            let start = Instant::now();
            let t = Tensor::<B>::from_host(HostData::F64(host), &[n], &device).unwrap();
            device.synchronize().unwrap();
            up.push(start.elapsed().as_secs_f64());
            let start = Instant::now();
            let back = t.to_vec_f64();
            down.push(start.elapsed().as_secs_f64());
            assert_eq!(back[n - 1], rep as f64 + 0.5);
        }
        let rate = |s: f64| mb as f64 / 1024.0 / s;
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|s| format!("{:.2} ms ({:.1} GB/s)", s * 1e3, rate(*s)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("{mb:>4} MiB upload:   {}", fmt(&up));
        println!("{mb:>4} MiB download: {}", fmt(&down));
    }
}

#[cfg(not(feature = "cuda"))]
fn main() {
    eprintln!("gpu_transfer needs --features cuda");
}
