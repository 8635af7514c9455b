#!/usr/bin/env bash
# Issue "11 · multi-GPU", what one GPU allows: NCCL built, loaded and its all-reduce
# called with one rank. Packed by tools/pack-device-nccl.sh; on the device machine:
#   bash tools/device-nccl-run.sh        (logs to $OUT)
# 1. data_parallel's `nccl_one_rank_sums_and_trains` (ALLEGRO_REQUIRE_NCCL=1: no skip);
# 2. the seed config, 2 epochs on the GPU: one process against `mpirun -np 1 ... --mpi`
#    with `process_group_backend=nccl` (the same run, its sums through NCCL);
# 3. `mpirun -np 2` with NCCL on the one GPU: NCCL refuses two ranks on one GPU, and the
#    run must stop with that reason, not hang or crash.
set -u
cd "$(dirname "$0")/.."
D=$PWD/.devbin/nccl
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0   # NVLink multicast stays off on these machines
NCCL_LIB=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null \
  || dirname "$(find / -name 'libnccl.so.2' 2>/dev/null | head -1)")
[ -x /tmp/nccl/pydeps/bin/mpirun ] || { mkdir -p /tmp/nccl && tar xJf $D/pydeps.tar.xz -C /tmp/nccl; }
# cudarc opens `libnccl.so`; the wheel has `libnccl.so.2` alone.
mkdir -p /tmp/nccl/lib && ln -sf "$NCCL_LIB/libnccl.so.2" /tmp/nccl/lib/libnccl.so
export LD_LIBRARY_PATH=/tmp/nccl/pydeps/lib:/tmp/nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
MPIRUN=/tmp/nccl/pydeps/bin/mpirun
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
ls "$NCCL_LIB" | tee -a "$OUT/gpu.txt"
echo "== 1. nccl_one_rank_sums_and_trains"
ALLEGRO_SHARED_DIR=$D ALLEGRO_REQUIRE_NCCL=1 NCCL_DEBUG=VERSION timeout 120 $D/data_parallel nccl_one_rank --nocapture 2>&1 \
  | tee "$OUT/test.log" | grep -vE "^\s*$" | tail -n 15
common=(++data.train_dataset.file_path=$D/data/xtb-train.lmdb
        ++data.val_dataset.file_path=$D/data/xtb-val.lmdb
        ++data.test_dataset.0.file_path=$D/data/xtb-val.lmdb trainer.max_epochs=2)
echo "== 2. seed config, 2 epochs: one process, then one MPI rank summing over NCCL"
rm -rf /tmp/run1 /tmp/run2
/usr/bin/time -f "1 process: %e s" timeout 90 $D/nequip $D/seed-demo.yaml --device cuda \
  "${common[@]}" batch_size=16 hydra.run.dir=/tmp/run1 2>&1 | grep -E "^epoch|^rank|error|process"
/usr/bin/time -f "1 rank, NCCL: %e s" timeout 90 $MPIRUN -np 1 $D/nequip $D/seed-demo.yaml \
  --device cuda --mpi trainer.strategy.process_group_backend=nccl "${common[@]}" batch_size=16 \
  hydra.run.dir=/tmp/run2 2>&1 | grep -E "^epoch|^rank|error|NCCL|rank,"
cp /tmp/run1/metrics.csv "$OUT/metrics-1process.csv"; cp /tmp/run2/metrics.csv "$OUT/metrics-1rank-nccl.csv"
echo "== 3. two ranks with NCCL on one GPU: a clear error"
timeout 60 $MPIRUN -np 2 $D/nequip $D/seed-demo.yaml --device cuda --mpi \
  trainer.strategy.process_group_backend=nccl "${common[@]}" batch_size=8 hydra.run.dir=/tmp/run3 2>&1 \
  | grep -E "error|NCCL|rank" | head -n 6
echo "exit status of mpirun: ${PIPESTATUS[0]}"
