#!/usr/bin/env bash
# Issue "13 · CPU": our CPU path and the reference on the GPU machine's CPU, pinned to
# the same cores in one command. Packed by tools/pack-device-cpu.sh; there:
#   bash tools/device-cpu-run.sh [CORES]        (default 2,3; logs to $OUT; REF_3000=0
#   leaves out the reference at 3,000 atoms)
# Runs bench_cpu (water-192: E+F and a training step), shared/reference/cpu-ref.sh at
# 192 atoms, bench_cpu again (so drift shows), bench_cpu E+F on water-3000, then the
# reference's E+F at 3,000 atoms the way cpu-ref.sh runs it (its training step at that
# size does not fit a call), with one timed repetition after its two warm-up steps.
set -u
cd "$(dirname "$0")/.."
D=$PWD/.devbin/cpu
cores=${1:-2,3}
n=$(echo "$cores" | tr ',' '\n' | wc -l)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed 's/Flags:.*avx512f.*/Flags: … avx512f …/' | tee "$OUT/cpu.txt"
# Runs a command and then prints the peak resident memory of its processes (the
# largest of them, getrusage of the children).
maxrss() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:])
print("{\"peak_rss_mib_of\": \"%s\", \"mib\": %.0f}" % (" ".join(sys.argv[1:])[-60:], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))' "$@"
}
ours() { taskset -c "$cores" env RAYON_NUM_THREADS=$n "$D/bench_cpu" "$@" | tee -a "$OUT/ours.txt"; }
ours "$D/data/water-192.xyz"
maxrss bash "$D/reference/cpu-ref.sh" "$cores" 192 | tee -a "$OUT/ref.txt"
ours "$D/data/water-192.xyz"
ours --ef-only "$D/data/water-3000.xyz"
# cpu-ref.sh's environment and pinning, E+F only at 3,000 atoms (REF_3000=0 skips it when
# the reference's number at that size is already in docs/perf.md).
[ "${REF_3000:-1}" = 0 ] || (cd "$D/reference" && PYTHONPATH=/tmp/ref-site:$D/reference OMP_NUM_THREADS=$n MKL_NUM_THREADS=$n \
  CUDA_VISIBLE_DEVICES= maxrss taskset -c "$cores" timeout 400 python3 ref_bench.py --device cpu \
  --natoms 3000 --reps 1 2>/dev/null | tail -n 2 | tee -a "$OUT/ref.txt")
