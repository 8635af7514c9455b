#!/usr/bin/env bash
# Packs what tools/device-cpu-run.sh needs into the git-ignored .devbin/cpu (carry it:
# `carry: [".devbin/cpu"]`): the stripped CPU build of bench_cpu (built beforehand with
# `cargo build --release --example bench_cpu`; it picks AVX-512/AVX2 at run time), the
# water boxes, and the reference's scripts and wheels (shared/reference).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.devbin/" .git/info/exclude 2>/dev/null || echo "/.devbin/" >> .git/info/exclude
S=${ALLEGRO_SHARED_DIR:-../shared}
D=.devbin/cpu
rm -rf $D && mkdir -p $D/data
cp target/release/examples/bench_cpu $D/ && strip $D/bench_cpu
cp $S/data/water-192.xyz $S/data/water-3000.xyz $D/data/
cp -r $S/reference $D/reference && chmod -R u+w $D/reference
du -sh $D
