#!/usr/bin/env bash
# Python calling overhead on the 192-atom water box (docs/perf.md, "Python"): the Rust
# predictor's own time (`time_predict` example: predict_structure, neighbor list + model)
# and the same structure through the wheel (`overhead.py`), in one command on one
# machine, on the whole box and on its first 3 atoms (where the engine has almost nothing
# to do, so the per-call cost of the binding shows). Needs allegro-py/test.sh to have run
# (the venv with the wheel, the models). `allegro-py/bench/overhead.sh [REPEATS] [ROUNDS]`
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${CARGO_TARGET_DIR:-$PWD/target}
MODEL=$T/allegro-py-tests/water-f64.allegro
DATA=${ALLEGRO_SHARED_DIR:-testdata}/data/water-192.xyz
REPEATS=${1:-200}
ROUNDS=${2:-3}
cargo build --release --quiet -p allegro-py --example time_predict
lscpu | grep 'Model name'
uptime
# Rounds of Rust then Python, so that load from elsewhere falls on both alike.
for atoms in 192 3; do
  for _ in $(seq "$ROUNDS"); do
    "$T/release/examples/time_predict" "$MODEL" "$DATA" "$REPEATS" "$atoms"
    .ci/pyvenv/bin/python allegro-py/bench/overhead.py "$MODEL" "$DATA" "$REPEATS" "$atoms"
  done
done
uptime
