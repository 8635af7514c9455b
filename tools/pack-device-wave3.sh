#!/usr/bin/env bash
# Packs what tools/device-wave3-run.sh needs into the git-ignored .devbin/w3 (carry it:
# `carry: [".devbin/w3"]`): this tree's CUDA builds (op suite and model tests,
# training-step tests, bench_gpu, train, gpu_transfer, gpu_gemm), any baseline builds left in
# .devbin/bisect (bench_gpu-COMMIT, train-COMMIT: other commits built the same way, for
# before/after and the training bisect), stripped and xz-packed. Fixtures and water boxes
# come from the tree's testdata/. Everything that travels (the tree is ~44 MB) must stay
# under the device's 64 MiB. With REF=1 also the reference's wheels and scripts
# (shared/reference) for device-ref.sh and nequip-train.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.devbin/" .git/info/exclude 2>/dev/null || echo "/.devbin/" >> .git/info/exclude
# HOST=1: `train` built with `host-profile` (ALLEGRO_HOST_PROFILE) and its symbols kept.
# cubek: cubek-matmul's routines as rows of gpu_gemm (not used by the model).
F=${F:-cuda,vulkan,cubek}
cargo build --release --features $F --example bench_gpu \
  --example gpu_transfer --example gpu_gemm --example gpu_launch_cost
if [ "${HOST:-0}" = 1 ]; then cargo build --release --features $F,host-profile --example train
else cargo build --release --features $F --example train; fi
# The test binaries' crates have no `cubek` feature (only allegro-core and the root do).
TF=${F//,cubek/}
exe() { cargo test --release --features $TF -p "$1" --test "$2" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$2"; }
GPU=$(exe allegro-core gpu); MODEL=$(exe allegro-nn gpu_model); STEP=$(exe allegro-train gpu_step)
NEIGH=$(exe allegro-nn gpu_neighbors); NPHYS=$(exe allegro-nn gpu_neighbors_physics)
D=.devbin/w3
rm -rf $D /tmp/w3bin && mkdir -p $D/shared /tmp/w3bin
cp "$GPU" /tmp/w3bin/gpu && cp "$MODEL" /tmp/w3bin/gpu_model && cp "$STEP" /tmp/w3bin/gpu_step
cp "$NEIGH" /tmp/w3bin/gpu_neighbors && cp "$NPHYS" /tmp/w3bin/gpu_neighbors_physics
for e in bench_gpu train gpu_transfer gpu_gemm gpu_launch_cost; do cp target/release/examples/$e /tmp/w3bin/; done
cp .devbin/bisect/* /tmp/w3bin/ 2>/dev/null || true
# LEAN=1: only what the training and inference stages run (the tree, testdata/ included,
# and the carried folder must stay under the device's 64 MiB together).
if [ "${LEAN:-0}" = 1 ]; then rm -f /tmp/w3bin/gpu_gemm /tmp/w3bin/gpu_transfer /tmp/w3bin/gpu_model; fi
# ONLY="bench_gpu train …": just these binaries (and the baselines), when the reference's
# wheels must travel too.
if [ -n "${ONLY:-}" ]; then
  for b in /tmp/w3bin/*; do n=${b##*/}; case " $ONLY " in *" $n "*|*" ${n%%-*} "*) ;; *) rm -f $b;; esac; done
fi
# The host profile names functions from the symbol table: keep it in `train`.
for b in /tmp/w3bin/*; do if [ "${HOST:-0}" = 1 ] && [ "${b##*/}" = train ]; then strip -g $b; else strip $b; fi; done
XZ_OPT=-9e tar cJf $D/bins.tar.xz -C /tmp/w3bin .
# The fixtures and water boxes travel in the tree (testdata/, which the device script
# points ALLEGRO_SHARED_DIR at); the reference's wheels and scripts only with REF=1.
if [ "${REF:-0}" = 1 ]; then
  mkdir -p $D/shared/reference
  cp -r ../shared/reference/wheels ../shared/reference/*.sh ../shared/reference/*.py \
    ../shared/reference/nequip-xtb.yaml $D/shared/reference/
fi
du -sh $D
