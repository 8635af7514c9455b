#!/usr/bin/env bash
# Packs what tools/device-wave3-run.sh needs into the git-ignored .devbin/w3 (carry it:
# `carry: [".devbin/w3"]`): this tree's CUDA builds (op suite and model tests,
# bench_gpu, train, gpu_transfer, gpu_gemm), any baseline builds left in
# .devbin/bisect (bench_gpu-COMMIT, train-COMMIT: other commits built the same way, for
# before/after and the training bisect), stripped and xz-packed, and the shared fixtures
# (xz-packed) and water boxes (`ALLEGRO_SHARED_DIR` there). Everything that travels must stay
# under the device's 64 MiB: with six old train builds it is about 60 MiB. With REF=1 also the reference's wheels
# and scripts (shared/reference) for device-ref.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.devbin/" .git/info/exclude 2>/dev/null || echo "/.devbin/" >> .git/info/exclude
F=cuda,vulkan
cargo build --release --features $F --example bench_gpu --example train \
  --example gpu_transfer --example gpu_gemm
exe() { cargo test --release --features $F -p "$1" --test "$2" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$2"; }
GPU=$(exe allegro-core gpu); MODEL=$(exe allegro-nn gpu_model)
D=.devbin/w3
rm -rf $D /tmp/w3bin && mkdir -p $D/shared/data /tmp/w3bin
cp "$GPU" /tmp/w3bin/gpu && cp "$MODEL" /tmp/w3bin/gpu_model
for e in bench_gpu train gpu_transfer gpu_gemm; do cp target/release/examples/$e /tmp/w3bin/; done
cp .devbin/bisect/* /tmp/w3bin/ 2>/dev/null || true
strip /tmp/w3bin/*
XZ_OPT=-9e tar cJf $D/bins.tar.xz -C /tmp/w3bin .
XZ_OPT=-9e tar cJf $D/fixtures.tar.xz -C ../shared fixtures
cp ../shared/data/water-*.xyz $D/shared/data/
if [ "${REF:-0}" = 1 ]; then cp -r ../shared/reference $D/shared/; fi
du -sh $D
