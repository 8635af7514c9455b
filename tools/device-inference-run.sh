#!/usr/bin/env bash
# The GPU checks and timings of the no-tape inference path (docs/perf.md, docs/gpu.md),
# as run on the device machine (H200) over a copy of the repository, one stage per call
# (each stays well inside a call's 10 minutes).
#
# Here:  cargo build --release --features cuda,vulkan --example bench_gpu
#        cargo test --release --features cuda,vulkan -p allegro-core --test gpu --no-run
#        cargo test --release --features cuda,vulkan -p allegro-nn --test gpu_model --no-run
#        tools/pack-device-bins.sh      (strips them into .devbin/bins.tar.xz and copies
#                                        ../shared/{fixtures,data,reference} to .devbin/shared)
# There: bash tools/device-inference-run.sh STAGE     (logs and JSON lines go to $OUT)
#   check   CUDA op suite and model tests (SIMT and 3xTF32 products), quick timings
#   quick   the inference ops and no-tape model tests, timings with stage profile
#   bench   reference and ours in one lease: 192, 3,000, 23,559 atoms, and l_max 3
#   ncu     Nsight Compute kernel breakdown at 23,559 atoms
#   sweep   water boxes from 192 atoms up (O(N) and the largest that fits)
set -u
cd "$(dirname "$0")/.."
D=.devbin
mkdir -p /tmp/b && tar xJf $D/bins.tar.xz -C /tmp/b
export ALLEGRO_SHARED_DIR=$PWD/$D/shared ALLEGRO_REQUIRE_GPU=1 RUST_BACKTRACE=0
W=$D/shared/data
B="/tmp/b/bench_gpu --json $OUT/bench.jsonl"
quiet() { grep -v "^thread\|^called\|^No backtrace\|^note:\|^$"; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
case "${1:-check}" in
check)
  echo "== op suite, inference ops (SIMT products; TF32 case on tensor cores)"
  timeout 150 /tmp/b/gpu --test-threads 1 cuda:: > $OUT/ops.log 2>&1
  grep -E "test result|FAILED|panicked" -A2 $OUT/ops.log | head -20
  echo "== inference ops with 3xTF32 products"
  ALLEGRO_GPU_MATMUL=tf32x3 timeout 60 /tmp/b/gpu --test-threads 1 cuda::fused_linear > $OUT/ops-tf32x3.log 2>&1
  grep -E "test result|FAILED|panicked" -A3 $OUT/ops-tf32x3.log | head -20
  echo "== model tests (cuda)"
  timeout 120 /tmp/b/gpu_model --test-threads 1 --nocapture cuda:: > $OUT/model.log 2>&1
  grep -E "test result|panicked|no-tape" $OUT/model.log | head -20
  ALLEGRO_GPU_MATMUL=tf32x3 timeout 60 /tmp/b/gpu_model --test-threads 1 --nocapture cuda::no_tape > $OUT/model-tf32x3.log 2>&1
  grep -E "test result|panicked|no-tape" $OUT/model-tf32x3.log | head -8
  echo "== quick timings"
  for mode in simt tf32x3; do
    ALLEGRO_GPU_MATMUL=$mode timeout 100 $B --reps 5 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
    ALLEGRO_GPU_MATMUL=$mode timeout 100 $B --reps 3 --max-edges 524288 $W/water-23559.xyz 2>&1 | quiet
  done
  timeout 100 $B --reps 3 --tf32 --max-edges 524288 $W/water-3000.xyz $W/water-23559.xyz 2>&1 | quiet
  timeout 100 $B --reps 3 --tape $W/water-3000.xyz 2>&1 | quiet
  ;;
quick)
  timeout 100 /tmp/b/gpu --test-threads 1 cuda::fused_linear cuda::segment > $OUT/ops.log 2>&1
  grep -E "test result|FAILED|panicked" -A2 $OUT/ops.log | head -12
  ALLEGRO_GPU_MATMUL=tf32x3 timeout 60 /tmp/b/gpu --test-threads 1 cuda::fused_linear > $OUT/ops-tf32x3.log 2>&1
  grep -E "test result|FAILED|panicked" -A2 $OUT/ops-tf32x3.log | head -12
  timeout 100 /tmp/b/gpu_model --test-threads 1 --nocapture cuda::no_tape > $OUT/model.log 2>&1
  grep -E "test result|panicked|float32\): no-tape" $OUT/model.log | head -8
  ALLEGRO_PROFILE=1 timeout 100 $B --reps 3 $W/water-3000.xyz 2>&1 | quiet
  ALLEGRO_PROFILE=1 timeout 100 $B --reps 3 --max-edges 524288 $W/water-23559.xyz 2>&1 | quiet
  for mode in simt tf32x3; do
    ALLEGRO_GPU_MATMUL=$mode timeout 100 $B --reps 5 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
    ALLEGRO_GPU_MATMUL=$mode timeout 100 $B --reps 3 --max-edges 524288 $W/water-23559.xyz 2>&1 | quiet
  done
  timeout 100 $B --reps 3 --tf32 --max-edges 524288 $W/water-23559.xyz 2>&1 | quiet
  ;;
bench)
  timeout 90 /tmp/b/gpu_model --test-threads 1 --nocapture cuda::no_tape cuda::seed > $OUT/model.log 2>&1
  grep -E "test result|panicked|float32\): no-tape" $OUT/model.log | head -6
  echo "== reference"
  timeout 240 bash $D/shared/reference/device-ref.sh 192 3000 23559
  (cd $D/shared/reference && PYTHONPATH=/tmp/ref-site:$PWD timeout 150 python3 ref_bench.py \
     --device cuda --natoms 23559 --lmax 3 --reps 3 --kernel triton 2>/dev/null | tail -n 1 | tee -a $OUT/ref.jsonl)
  echo "== ours"
  R="--reference $OUT/ref.jsonl"
  timeout 60 $B $R --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
  for m in 262144 524288; do timeout 90 $B $R --reps 5 --max-edges $m $W/water-23559.xyz 2>&1 | quiet | tail -1; done
  for m in 131072 262144; do timeout 90 $B --reps 3 --lmax 3 --max-edges $m $W/water-23559.xyz 2>&1 | quiet | tail -1; done
  timeout 60 $B $R --reps 5 --tf32 --max-edges 262144 $W/water-3000.xyz $W/water-23559.xyz 2>&1 | quiet
  ;;
final)
  # Everything docs/perf.md reports, in one lease: checks, reference, ours, kernel
  # breakdown, size sweep (largest last).
  timeout 80 /tmp/b/gpu_model --test-threads 1 --nocapture cuda::no_tape cuda::seed > $OUT/model.log 2>&1
  grep -E "test result|panicked|float32\): no-tape" $OUT/model.log | head -6
  echo "== reference"
  timeout 200 bash $D/shared/reference/device-ref.sh 192 3000 23559
  (cd $D/shared/reference && PYTHONPATH=/tmp/ref-site:$PWD timeout 100 python3 ref_bench.py \
     --device cuda --natoms 23559 --lmax 3 --reps 3 --kernel triton 2>/dev/null | tail -n 1 | tee -a $OUT/ref.jsonl)
  echo "== ours"
  R="--reference $OUT/ref.jsonl"
  timeout 40 $B $R --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
  for m in 262144 524288; do timeout 40 $B $R --reps 5 --max-edges $m $W/water-23559.xyz 2>&1 | quiet | tail -1; done
  for m in 131072 262144; do timeout 40 $B --reps 3 --lmax 3 --max-edges $m $W/water-23559.xyz 2>&1 | quiet | tail -1; done
  timeout 40 $B $R --reps 5 --tf32 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -1
  ALLEGRO_PROFILE=1 timeout 40 $B --reps 3 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -32 > $OUT/profile.txt
  echo "== ncu"
  N=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu | head -1)
  timeout 90 $N --clock-control none --metrics gpu__time_duration.sum --csv /tmp/b/bench_gpu \
    --reps 1 --warmup 0 --max-edges 262144 $W/water-23559.xyz > $OUT/ncu.csv 2> $OUT/ncu.err; tail -n 2 $OUT/ncu.err
  echo "== sweep"
  timeout 60 $B --reps 3 --max-edges 1048576 --water 33333 --water 100000 2>&1 | quiet
  timeout 100 $B --reps 2 --warmup 1 --max-edges 1048576 --water 333334 2>&1 | quiet | tail -1
  ;;
malloc)
  # Host allocations on this VM: glibc returns large blocks to the system (mmap/munmap),
  # and touching fresh pages is slow here; the tunables keep them in the heap.
  T="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184"
  timeout 70 bash $D/shared/reference/device-ref.sh 23559
  R="--reference $OUT/ref.jsonl"
  timeout 30 $B $R --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -1
  GLIBC_TUNABLES=$T timeout 30 $B $R --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -1
  GLIBC_TUNABLES=$T timeout 30 $B $R --reps 5 --max-edges 524288 $W/water-23559.xyz 2>&1 | quiet | tail -1
  GLIBC_TUNABLES=$T timeout 60 $B --reps 1 --warmup 1 --max-edges 1048576 --water 333334 2>&1 | quiet | tail -1
  ;;
ncu)
  N=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu | head -1)
  timeout 500 $N --clock-control none --metrics gpu__time_duration.sum --csv \
    /tmp/b/bench_gpu --reps 1 --max-edges ${MAX_EDGES:-524288} $W/water-23559.xyz > $OUT/ncu.csv 2> $OUT/ncu.err
  tail -n 3 $OUT/ncu.err; wc -l $OUT/ncu.csv
  ;;
sweep)
  timeout 560 $B --reps 3 --max-edges ${MAX_EDGES:-1048576} $W/water-192.xyz $W/water-3000.xyz \
    $W/water-23559.xyz --water 33333 --water 100000 --water 333333 ${SWEEP_EXTRA:-} 2>&1 | quiet
  ;;
esac
