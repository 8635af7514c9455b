#!/usr/bin/env bash
# Wave 3 (issues 15 and 16) on the device machine, over a copy of the repository, with
# .devbin/w3 carried (tools/pack-device-wave3.sh). Logs go to $OUT.
#
# bash tools/device-wave3-run.sh [STAGE ...], stages run in the order given:
#   model     the CUDA model tests (no-tape vs tape, seed fixture, device-built inputs)
#   transfer  examples/gpu_transfer (staged, in place, cubecl, host copy)
#   bench     bench_gpu of this tree and of any bench_gpu-COMMIT baseline
#   profile   the stage profile (ALLEGRO_PROFILE) at 23,559 atoms
#   train     EPOCHS (2) epochs of the seed recipe by this tree and every train-COMMIT
#   gemm      examples/gpu_gemm (ours against cuBLAS on the model's shapes)
#   ops       the CUDA op suite
#   ref       the reference (device-ref.sh 192 3000 23559, ref_bench.py --lmax 3; needs
#             REF=1 when packing) and bench_gpu of this tree, in one lease
#   steps     the fused optimizer and pad kernels and the training-step tests on CUDA
#   train_profile  2 epochs of the seed recipe with ALLEGRO_PROFILE (stage table per epoch)
#   memory    training and bench_gpu with cubecl's sliced pools and exclusive pages
#   train_ref nequip-train as the seed runs it (compile_mode: compile), each epoch timed
#             by tools/ref_epoch_timer.py (REF_EPOCHS, default 5; needs REF=1)
#   session6  steps, training (this tree and baselines), train_profile, bench, train_ref
#   launch    examples/gpu_launch_cost: host time per launch, with and without live buffers
#   host      launch, then 2 epochs with the stage profile and the host's sampled profile
#             (pack with HOST=1), from the main thread and on cubecl's device thread
#   ncu       Nsight Compute: kernel time per call at 23,559 atoms (tools/ncu_table.py),
#             then the segment kernels' and a product's sections at 3,000 atoms
#   session7  fused_linear on CUDA (cuBLAS by default, then our kernel), training (this
#             tree and baselines), the reference (REF=1), bench_gpu with cuBLAS (MD loop
#             included) and with our kernel (ALLEGRO_GPU_MATMUL=simt), in one lease
#   session8  session7b, a call's bytes and waits on CUDA (caller's list, kept device
#             list), the GEMM table with cubek-matmul's routines, 2 epochs of the seed recipe
#   session8b the new kernels against their oracles and the model tests on CUDA,
#             bench_gpu at three sizes (MD loop at 3,000), 2 epochs: under ten minutes
#   neighbors the device neighbor list's tests (edges vs the CPU list, physics with the
#             Verlet skin), the enqueued training step's counts, bench_gpu with its MD loop
#             (--md: the list found and kept on the GPU) and 2 epochs of the seed recipe
set -u
cd "$(dirname "$0")/.."
D=.devbin/w3
mkdir -p /tmp/b && tar xJf $D/bins.tar.xz -C /tmp/b
export ALLEGRO_SHARED_DIR=$PWD/testdata ALLEGRO_REQUIRE_GPU=1 RUST_BACKTRACE=0
# cuBLAS for gpu_gemm: CUDA's own, else PyTorch's wheel.
L=$(dirname "$(ls /usr/local/cuda/lib64/libcublas.so* /usr/local/cuda*/lib64/libcublas.so* \
  $(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__file__))' 2>/dev/null)/*/lib/libcublas.so* \
  2>/dev/null | head -1)" 2>/dev/null)
[ -n "$L" ] && export LD_LIBRARY_PATH=$L:${LD_LIBRARY_PATH:-}
W=testdata/data
quiet() { grep -v "^thread\|^called\|^No backtrace\|^note:\|^$\|XDG_RUNTIME"; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
echo "cublas from: ${L:-not found}"
train() { # binary label [epochs]: the seed recipe, fresh run directory per label
  sed -e "s#^output_dir: runs#output_dir: /tmp/runs-$2#" -e "s#^max_epochs: .*#max_epochs: ${3:-2}#" \
    examples/configs/seed-xtb.yaml > /tmp/seed-$2.yaml
  local t0=$(date +%s.%N)
  timeout ${TRAIN_TIMEOUT:-60} $1 /tmp/seed-$2.yaml --device cuda > /tmp/train-$2.log 2>/tmp/train-$2.err
  echo "train $2: rc=$? wall $(python3 -c "import time; print(round(time.time()-$t0,1))") s; $(grep -E '^epoch|moved' /tmp/train-$2.log | sed 's/  lr.*(/ (/' | tr '\n' ' ')"
  grep -iE "error" /tmp/train-$2.err | head -2
}
stage_model() {
  echo "== model tests (cuda)"
  timeout 90 /tmp/b/gpu_model --test-threads 1 cuda::no_tape cuda::seed cuda::device_built > $OUT/model.log 2>&1
  grep -E "test result|panicked|FAILED" $OUT/model.log | head -8
}
stage_transfer() {
  echo "== transfers"; timeout 90 /tmp/b/gpu_transfer 2>&1 | quiet | tee $OUT/transfer.log
}
stage_bench() {
  echo "== bench_gpu: this tree, then the baseline"
  for b in /tmp/b/bench_gpu /tmp/b/bench_gpu-*; do
    [ -x $b ] || continue; echo "-- $b"
    timeout 60 $b --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet | tail -n 5
    timeout 60 $b --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 2
  done 2>&1 | tee $OUT/bench.log
}
stage_profile() {
  echo "== stage profile at 23,559 atoms (this tree)"
  ALLEGRO_PROFILE=1 timeout 40 /tmp/b/bench_gpu --reps 3 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 40 | tee $OUT/profile.log
}
stage_train() {
  echo "== training, ${EPOCHS:-2} epochs of the seed recipe"
  { train /tmp/b/train this-tree ${EPOCHS:-2}
    for b in /tmp/b/train-*; do train $b ${b#/tmp/b/train-} ${EPOCHS:-2}; done; } 2>&1 | tee $OUT/train.log
}
stage_gemm() {
  echo "== GEMM"; timeout 80 /tmp/b/gpu_gemm 2>&1 | quiet | tee $OUT/gemm.log
}
stage_ops() {
  echo "== op suite (cuda)"
  timeout 100 /tmp/b/gpu --test-threads 1 cuda > $OUT/ops.log 2>&1
  grep -E "test result|panicked|FAILED" $OUT/ops.log | head -12
}
stage_ref() {
  echo "== reference"
  timeout 240 bash $D/shared/reference/device-ref.sh 192 3000 23559
  (cd $D/shared/reference && PYTHONPATH=/tmp/ref-site:$PWD timeout 150 python3 ref_bench.py \
     --device cuda --natoms 23559 --lmax 3 --reps 3 --kernel triton 2>/dev/null | tail -n 1 | tee -a $OUT/ref.jsonl)
  echo "== ours"
  B="/tmp/b/bench_gpu --json $OUT/bench.jsonl --reference $OUT/ref.jsonl"
  timeout 60 $B --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
  for m in 262144 524288; do timeout 60 $B --reps 5 --max-edges $m $W/water-23559.xyz 2>&1 | quiet | tail -n 2; done
  timeout 60 $B --reps 3 --lmax 3 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 2
}
stage_final() { # the last lease's set, short: training fixed?, model, reference and ours
  echo "== training, 2 epochs: this tree"
  TRAIN_TIMEOUT=40 train /tmp/b/train this-tree 2 2>&1 | tee $OUT/train.log
  echo "== model tests (cuda)"
  timeout 40 /tmp/b/gpu_model --test-threads 1 cuda::passes cuda::no_tape > $OUT/model.log 2>&1
  grep -E "test result|panicked|FAILED" $OUT/model.log | head -8
  echo "== reference"
  timeout 110 bash $D/shared/reference/device-ref.sh 3000 23559
  echo "== ours"
  B="/tmp/b/bench_gpu --json $OUT/bench.jsonl --reference $OUT/ref.jsonl"
  timeout 30 $B --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
  timeout 25 $B --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 2
}
stage_steps() { # the fused optimizer kernels and the training step on CUDA
  echo "== optimizer kernels and training steps (cuda)"
  timeout 60 /tmp/b/gpu --test-threads 1 cuda::adamw_step cuda::lerp cuda::concat_narrow cuda::unary_ops cuda::third_order > $OUT/ops.log 2>&1
  grep -E "test result|panicked|FAILED" $OUT/ops.log | head -6
  timeout 60 /tmp/b/gpu_step --test-threads 1 --nocapture cuda 2>&1 | grep -E "one training|step [0-9] on|test result|panicked" | tee $OUT/step.log
}
stage_memory() { # training and inference with cubecl's two memory configurations
  echo "== training, ${EPOCHS:-2} epochs: this tree with each memory configuration, then the baselines"
  { train /tmp/b/train this-tree ${EPOCHS:-2}
    ALLEGRO_CUDA_MEMORY=exclusive train /tmp/b/train exclusive ${EPOCHS:-2}
    for b in /tmp/b/train-*; do train $b ${b#/tmp/b/train-} ${EPOCHS:-2}; done; } 2>&1 | tee $OUT/train.log
  echo "== bench_gpu: this tree, exclusive pages, baselines"
  for v in subslices exclusive; do for b in /tmp/b/bench_gpu /tmp/b/bench_gpu-*; do
    [ -x $b ] || continue; echo "-- $b ($v)"
    ALLEGRO_CUDA_MEMORY=$v timeout 60 $b --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet | tail -n 5
    ALLEGRO_CUDA_MEMORY=$v timeout 60 $b --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 2
  done; done 2>&1 | tee $OUT/bench.log
}
stage_train_profile() { # where a training step's time goes (ALLEGRO_PROFILE), per epoch
  echo "== training stages (ALLEGRO_PROFILE), this tree, 2 epochs"
  sed -e "s#^output_dir: runs#output_dir: /tmp/runs-prof#" -e "s#^max_epochs: .*#max_epochs: 2#" \
    examples/configs/seed-xtb.yaml > /tmp/seed-prof.yaml
  ALLEGRO_PROFILE=1 timeout 90 /tmp/b/train /tmp/seed-prof.yaml --device cuda 2>/dev/null | tee $OUT/train-profile.log
}
stage_train_ref() { # nequip-train as the seed runs it (compile_mode: compile), epochs timed
  echo "== reference training: nequip-train, compile_mode compile, ${REF_EPOCHS:-5} epochs"
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/ref-site \
    $D/shared/reference/wheels/*.whl > /dev/null 2>&1 || { echo "reference wheels did not install"; return; }
  mkdir -p /tmp/refdata /tmp/refcfg && cp examples/data/xtb-organics.xyz /tmp/refdata/
  PYTHONPATH=/tmp/ref-site python3 tools/ref_epoch_timer.py $D/shared/reference/nequip-xtb.yaml \
    /tmp/refcfg/nequip-xtb-timed.yaml || return
  local t0=$(date +%s.%N)
  (cd /tmp/refcfg && DATA_DIR=/tmp/refdata PYTHONPATH=/tmp/ref-site:$OLDPWD/tools timeout ${REF_TIMEOUT:-330} \
    python3 -c 'import sys; from nequip.scripts.train import main; sys.argv[0] = "nequip-train"; main()' \
    -cp /tmp/refcfg -cn nequip-xtb-timed max_epochs=${REF_EPOCHS:-5} "run=[train,val]" "~data.test_dataset" \
    ++training_module.model.compile_mode=compile hydra.run.dir=/tmp/refrun > /tmp/ref-train.log 2>&1)
  echo "nequip-train compile: rc=$? wall $(python3 -c "import time; print(round(time.time()-$t0,1))") s"
  grep -E "^epoch [0-9]+:|TRAIN RUN START|Error|error:" /tmp/ref-train.log | cut -c1-160 | tee $OUT/train-ref.log
  tail -n 2 /tmp/refrun/lightning_logs/version_0/metrics.csv 2>/dev/null | cut -c1-200
  cp /tmp/ref-train.log $OUT/ 2>/dev/null
}
stage_launch() {
  echo "== host time per launch"; timeout 60 /tmp/b/gpu_launch_cost 2000 2>&1 | quiet | tee $OUT/launch.log
}
stage_host() { # where the host's time goes in a training step, and the device thread
  stage_launch
  sed -e "s#^max_epochs: .*#max_epochs: 2#" examples/configs/seed-xtb.yaml > /tmp/seed-host.yaml
  for dt in 0 1; do
    echo "== training, 2 epochs, ALLEGRO_DEVICE_THREAD=$dt (stage profile, host profile)"
    sed -i "s#^output_dir: .*#output_dir: /tmp/runs-host-$dt#" /tmp/seed-host.yaml
    ALLEGRO_DEVICE_THREAD=$dt ALLEGRO_PROFILE=1 ALLEGRO_HOST_PROFILE=$OUT/host-$dt.txt timeout 90 \
      /tmp/b/train /tmp/seed-host.yaml --device cuda 2>/dev/null | tee $OUT/train-host-$dt.log | grep -vE "^ *$" | tail -n 32
    head -n 45 $OUT/host-$dt.txt 2>/dev/null
  done
}
stage_session6() { # this session's second lease: tests, training (ours, baselines), reference
  [ "${KEEP_NOVEMBER:-0}" = 1 ] || rm -f /tmp/b/train-3f081cf
  stage_steps
  echo "== training, 2 epochs: this tree (exclusive pages by default), sliced pools, baselines"
  { train /tmp/b/train this-tree 2
    [ "${SUBSLICES:-0}" = 1 ] && ALLEGRO_CUDA_MEMORY=subslices train /tmp/b/train subslices 2
    for b in /tmp/b/train-*; do train $b ${b#/tmp/b/train-} 2; done; } 2>&1 | tee $OUT/train.log
  stage_train_profile
  echo "== bench_gpu: this tree, then the baseline"
  for b in /tmp/b/bench_gpu /tmp/b/bench_gpu-*; do
    [ -x $b ] || continue; echo "-- $b"
    timeout 60 $b --reps 10 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet | tail -n 4
    timeout 60 $b --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 1
  done 2>&1 | tee $OUT/bench.log
  stage_train_ref
}
stage_neighbors() {
  echo "== device neighbor list and enqueued steps (cuda)"
  for t in gpu_neighbors gpu_neighbors_physics gpu_step; do
    timeout 180 /tmp/b/$t --nocapture --test-threads 1 2>&1 |
      grep -E "test result|panicked|FAILED|match|MD step|kept list|on cuda|one " | head -40
  done 2>&1 | tee $OUT/neighbors.log
  echo "== bench_gpu with the MD loop (device list, Verlet skin)"
  { timeout 120 /tmp/b/bench_gpu --reps 10 --md 20 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet | tail -n 12
    timeout 120 /tmp/b/bench_gpu --reps 5 --md 10 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 6
  } | tee $OUT/md.log
  echo "== training, 2 epochs (steps enqueued, settled every 50)"
  train /tmp/b/train this-tree 2 | tee $OUT/train.log
}
stage_ncu() {
  local N=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
  [ -n "$N" ] || { echo "ncu not found"; return; }
  echo "== ncu: kernel time of one call at 23,559 atoms (passes of 262,144 edges)"
  timeout ${NCU_TIMEOUT:-150} $N --clock-control none --metrics gpu__time_duration.sum --csv /tmp/b/bench_gpu \
    --reps 1 --warmup 0 --max-edges 262144 $W/water-23559.xyz > $OUT/ncu.csv 2> $OUT/ncu.err
  tail -n 2 $OUT/ncu.err; python3 tools/ncu_table.py $OUT/ncu.csv 1 | head -n 25 | tee $OUT/ncu-table.txt
  echo "== ncu: sections of the segment kernels and a product, 3,000 atoms"
  timeout ${NCU_DETAIL_TIMEOUT:-120} $N --clock-control none -k regex:'segment_|linear_|cublas|gemm|sgemm' --launch-count 8 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --section MemoryWorkloadAnalysis /tmp/b/bench_gpu --reps 1 --warmup 0 $W/water-3000.xyz > $OUT/ncu-detail.txt 2>&1
  grep -E "^  [a-z_]|Duration|Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Shared Memory Config|Block Size|Grid Size|Stall|Warp Cycles Per Issued|L1/TEX Hit|L2 Hit|DRAM Throughput" \
    $OUT/ncu-detail.txt | head -n 120
}
stage_session7() {
  echo "== fused_linear on CUDA: cuBLAS (default), then ours"
  for m in vendor simt; do
    ALLEGRO_GPU_MATMUL=$m timeout 60 /tmp/b/gpu --test-threads 1 cuda::fused_linear cuda::harmonics 2>&1 |
      grep -E "test result|panicked|FAILED" | sed "s/^/$m: /"
  done | tee $OUT/ops.log
  echo "== training, 2 epochs: this tree, then the baselines"
  { train /tmp/b/train this-tree 2
    for b in /tmp/b/train-*; do train $b ${b#/tmp/b/train-} 2; done; } 2>&1 | tee $OUT/train.log
  echo "== reference"
  timeout 240 bash $D/shared/reference/device-ref.sh 192 3000 23559
  (cd $D/shared/reference && PYTHONPATH=/tmp/ref-site:$PWD timeout 150 python3 ref_bench.py \
     --device cuda --natoms 23559 --lmax 3 --reps 3 --kernel triton 2>/dev/null | tail -n 1 | tee -a $OUT/ref.jsonl)
  for m in vendor simt; do
    echo "== ours, ALLEGRO_GPU_MATMUL=$m"
    B="/tmp/b/bench_gpu --json $OUT/bench-$m.jsonl --reference $OUT/ref.jsonl"
    export ALLEGRO_GPU_MATMUL=$m
    timeout 90 $B --reps 10 --md 20 $W/water-192.xyz $W/water-3000.xyz 2>&1 | quiet
    timeout 90 $B --reps 5 --md 10 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 4
    timeout 60 $B --reps 3 --lmax 3 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 2
  done
  unset ALLEGRO_GPU_MATMUL
}
stage_session7b() { # cuBLAS's fused_linear on CUDA, then bench_gpu (MD loop included)
  echo "== fused_linear through cuBLAS against the CPU"
  timeout ${TEST_TIMEOUT:-150} /tmp/b/gpu --test-threads 1 fused_linear_through_cublas 2>&1 |
    grep -E "^test |test result|panicked|FAILED|skipped" | tee $OUT/ops.log
  echo "== bench_gpu (cuBLAS from 131,072 rows), MD loop"
  B="/tmp/b/bench_gpu --json $OUT/bench.jsonl"
  timeout 60 $B --reps 10 --md 20 $W/water-3000.xyz 2>&1 | quiet
  [ "${SHORT:-0}" = 1 ] ||
    timeout 90 $B --reps 5 --md 10 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 4
}
stage_session8() { # session 8's changes on CUDA, then the GEMM table with cubek, MD, training
  stage_session7b
  echo "== a call's bytes and waits (caller's list, kept device list), seed fixture on CUDA"
  timeout 120 /tmp/b/gpu_model --test-threads 1 --nocapture cuda::counts_of_a_call \
    cuda::bytes_of_a_callers_list cuda::seed 2>&1 | grep -E "^test |test result|panicked|one call|inputs of" |
    tee $OUT/model.log
  timeout 120 /tmp/b/gpu_neighbors --test-threads 1 --nocapture 2>&1 |
    grep -E "^test |test result|panicked|kept list" | tee $OUT/neighbors.log
  echo "== GEMM table: ours, cuBLAS, cubek-matmul (pack with the cubek feature)"
  timeout 240 /tmp/b/gpu_gemm 262144 2>&1 | quiet | tee $OUT/gemm.log
  echo "== training, seed recipe"; train /tmp/b/train this
}
stage_session8b() { # session 8 in under ten minutes: the new CUDA kernels against their
  # oracles, the model tests and a call's counts on CUDA, bench_gpu (MD loop at 3,000), training
  echo "== fused front and cuBLAS on CUDA (op suite)"
  timeout 100 /tmp/b/gpu --test-threads 1 cuda::bessel_cutoff cuda::harmonics_fused \
    fused_linear_through_cublas 2>&1 | grep -E "^test |test result|panicked|FAILED" | tee $OUT/ops.log
  echo "== model tests on CUDA (fixtures, no-tape vs tape, counts, a caller's list)"
  timeout 150 /tmp/b/gpu_model --test-threads 1 --nocapture cuda:: 2>&1 |
    grep -E "^test |test result|panicked|one call|inputs of" | tee $OUT/model.log
  echo "== bench_gpu"
  B="/tmp/b/bench_gpu --json $OUT/bench.jsonl"
  timeout 70 $B --reps 10 $W/water-192.xyz 2>&1 | quiet
  timeout 70 $B --reps 10 --md 20 $W/water-3000.xyz 2>&1 | quiet
  timeout 80 $B --reps 5 --max-edges 262144 $W/water-23559.xyz 2>&1 | quiet | tail -n 4
  echo "== training, seed recipe"; train /tmp/b/train this
}
# Stages in the order given (default: the first lease's set).
for stage in ${@:-model transfer bench profile train gemm ops}; do "stage_$stage"; done
