#!/usr/bin/env bash
# Packs what tools/device-inference-run.sh needs into the git-ignored .devbin/: the
# stripped CUDA binaries (built beforehand, see that script) and a copy of the shared
# fixtures, water boxes and reference scripts (the device copies only the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.devbin/" .git/info/exclude 2>/dev/null || echo "/.devbin/" >> .git/info/exclude
newest() { ls -t target/release/deps/$1-* | grep -v '\.d$' | head -1; }
rm -rf .devbin && mkdir -p .devbin/bin .devbin/shared/data
cp target/release/examples/bench_gpu .devbin/bin/
cp "$(newest gpu)" .devbin/bin/gpu
cp "$(newest gpu_model)" .devbin/bin/gpu_model
strip .devbin/bin/*
tar cJf .devbin/bins.tar.xz -C .devbin/bin . && rm -rf .devbin/bin
cp -r ../shared/fixtures ../shared/reference .devbin/shared/
cp ../shared/data/water-*.xyz .devbin/shared/data/
du -sh .devbin
