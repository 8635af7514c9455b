//! Forward + backward of a 3-layer MLP (width 256, SiLU) on 100k rows, the shape of
//! Allegro's per-edge latent MLPs. Prints GFLOP/s (GEMM flops only) for f32 and f64;
//! criterion then reports the same throughput as "elem/s" = FLOP/s.

use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::core::testing::SplitMix64;
use allegro::core::{DType, Tensor, grad};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ROWS: usize = 100_000;
const WIDTH: usize = 256;
const LAYERS: usize = 3;

struct Mlp {
    x: Tensor<Cpu>,
    weights: Vec<Tensor<Cpu>>,
}

impl Mlp {
    fn new(dtype: DType) -> Self {
        let mut rng = SplitMix64::new(1);
        let mut t = |shape: &[usize], scale: f64| {
            let n = shape.iter().product();
            let v: Vec<f64> = (0..n).map(|_| rng.uniform_in(-scale, scale)).collect();
            Tensor::from_f64(&v, shape, dtype, &CpuDevice).unwrap()
        };
        let x = t(&[ROWS, WIDTH], 1.0);
        let weights = (0..LAYERS)
            .map(|_| t(&[WIDTH, WIDTH], 3f64.sqrt()).tracked())
            .collect();
        Mlp { x, weights }
    }

    /// Forward, then gradients of the summed output with respect to every weight.
    fn step(&self) -> Vec<Tensor<Cpu>> {
        let mut h = self.x.clone();
        for (k, w) in self.weights.iter().enumerate() {
            // Forward normalisation as in ScalarMlp: scale the weight, not the activations.
            h = h.matmul(&w.mul_scalar(1.0 / (WIDTH as f64).sqrt()));
            if k + 1 < LAYERS {
                h = h.silu();
            }
        }
        let loss = h.sum_all();
        let refs: Vec<&Tensor<Cpu>> = self.weights.iter().collect();
        grad(&[&loss], None, &refs, false)
    }
}

/// GEMM flops of one step: 3 forward products, 3 weight gradients, 2 input gradients
/// (the input itself needs none).
fn flops() -> f64 {
    let one = 2.0 * ROWS as f64 * WIDTH as f64 * WIDTH as f64;
    one * (LAYERS + LAYERS + (LAYERS - 1)) as f64
}

fn bench(c: &mut Criterion) {
    allegro::core::backend::cpu::keep_freed_buffers();
    let threads = rayon::current_num_threads();
    for dtype in [DType::F32, DType::F64] {
        let mlp = Mlp::new(dtype);
        mlp.step();
        let reps = 5;
        let start = std::time::Instant::now();
        for _ in 0..reps {
            std::hint::black_box(mlp.step());
        }
        let secs = start.elapsed().as_secs_f64() / reps as f64;
        println!(
            "mlp 3x{WIDTH} silu fwd+bwd, {ROWS} rows, {dtype}, {threads} threads: {:.1} ms, {:.1} GFLOP/s",
            secs * 1e3,
            flops() / secs / 1e9
        );
        let mut group = c.benchmark_group("mlp_fwd_bwd");
        group
            .sample_size(10)
            .throughput(Throughput::Elements(flops() as u64));
        group.bench_function(format!("{dtype}"), |b| b.iter(|| mlp.step()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
