//! Times the CPU backend's hot primitives at Allegro-like sizes and prints a table
//! (`cargo run --release --example op_timing`).

use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::core::testing::SplitMix64;
use allegro::core::{DType, Indices, Tensor};

fn time(label: &str, flops: f64, f: impl Fn() -> Tensor<Cpu>) {
    f();
    let reps = 3;
    let start = std::time::Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    let s = start.elapsed().as_secs_f64() / reps as f64;
    let rate = if flops > 0.0 {
        format!("{:8.1} GFLOP/s", flops / s / 1e9)
    } else {
        String::new()
    };
    println!("{label:<40} {:9.2} ms {rate}", s * 1e3);
}

fn main() {
    allegro::core::backend::cpu::keep_freed_buffers();
    let mut rng = SplitMix64::new(1);
    for dtype in [DType::F32, DType::F64] {
        println!("-- {dtype}, {} threads", rayon::current_num_threads());
        let mut t = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            Tensor::<Cpu>::from_f64(&rng.vec_uniform(n, -1.0, 1.0), shape, dtype, &CpuDevice)
                .unwrap()
        };
        let (n, w) = (100_000, 256);
        let x = t(&[n, w]);
        let wt = t(&[w, w]);
        let g = t(&[n, w]);
        let f = 2.0 * (n * w * w) as f64;
        time("matmul [n,256]·[256,256]", f, || x.matmul(&wt));
        time("matmul [n,256]·[256,256]ᵀ", f, || {
            x.matmul_t(&wt, false, true)
        });
        time("matmul [n,256]ᵀ·[n,256]", f, || {
            x.matmul_t(&g, true, false)
        });
        time("silu [n,256]", 0.0, || x.silu());
        time("mul_scalar [n,256]", 0.0, || x.mul_scalar(0.5));
        time("mul [n,256]·[n,256]", 0.0, || x.mul(&g));
        time("mul [n,256]·[1,256]", 0.0, || x.mul(&wt.narrow(0, 0, 1)));
        time("sum axis 0 [n,256]", 0.0, || x.sum(0, false));
        let idx = Indices::new(
            &(0..n as u32).map(|i| (i * 7919) % 5000).collect::<Vec<_>>(),
            &CpuDevice,
        );
        time("index_add [n,256] → [5000,256]", 0.0, || {
            x.index_add(0, &idx, 5000)
        });
        let small = t(&[5000, w]);
        time("index_select [5000,256] → [n,256]", 0.0, || {
            small.index_select(0, &idx)
        });
        time("permute [n,256] → [256,n]", 0.0, || x.t());
    }
}
