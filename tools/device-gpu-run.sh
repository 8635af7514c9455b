#!/usr/bin/env bash
# The GPU checks and timings of docs/gpu.md and docs/perf.md, as run on the device
# machine (H100) over a copy of the repository.
#
# Here:  cargo build --release --features cuda,vulkan --example bench_gpu --example train
#        cargo test --release --features cuda,vulkan -p allegro-core --test gpu --no-run
#        cargo test --release --features cuda,vulkan -p allegro-nn --test gpu_model --no-run
#        then strip those four binaries (gpu, gpu_model, bench_gpu, train) into
#        .devbin/bins.tar.xz, and copy ../shared/{fixtures,data,reference} into
#        .devbin/shared/ (git-ignored; carried to the device).
# There: bash tools/device-gpu-run.sh   (writes logs to $OUT)
set -u
cd "$(dirname "$0")/.."
D=.devbin
mkdir -p /tmp/b && tar xJf $D/bins.tar.xz -C /tmp/b
export ALLEGRO_SHARED_DIR=$PWD/$D/shared ALLEGRO_REQUIRE_GPU=1 RUST_BACKTRACE=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "== op suite (cuda)"; timeout 120 /tmp/b/gpu --test-threads 1 cuda:: > $OUT/ops.log 2>&1; grep -E "panicked|test result" -A1 $OUT/ops.log | head -20
echo "== model (cuda)"; timeout 120 /tmp/b/gpu_model --test-threads 1 --nocapture cuda:: 2>&1 | grep -v XDG > $OUT/model.log; grep -E "test result|panicked" $OUT/model.log
echo "== reference"; timeout 240 bash $D/shared/reference/device-ref.sh 192 3000 23559
B="/tmp/b/bench_gpu --reference $OUT/ref.jsonl"
echo "== ours"; { timeout 60 $B --reps 10 $D/shared/data/water-{192,3000}.xyz
timeout 90 $B --reps 5 --max-edges 262144 $D/shared/data/water-3000.xyz $D/shared/data/water-23559.xyz
timeout 120 $B --reps 3 --lmax 3 --max-edges 131072 $D/shared/data/water-23559.xyz; } 2>&1 | grep -v "^thread\|^called\|^No backtrace\|^$" | tee $OUT/bench.log
sed -e 's#^output_dir: runs#output_dir: /tmp/runs#' examples/configs/seed-xtb.yaml > /tmp/seed-gpu.yaml
echo "== seed recipe, 30 epochs on cuda"; timeout 240 /tmp/b/train /tmp/seed-gpu.yaml --device cuda > $OUT/train.log 2>/tmp/train.err; grep -E "^epoch +(0|5|10|15|20|25|29) |trained|validation|test|forces_rmse|per_atom" $OUT/train.log; tail -c 300 /tmp/train.err
