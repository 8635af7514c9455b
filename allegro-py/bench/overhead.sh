#!/usr/bin/env bash
# Python calling overhead on the 192-atom water box (docs/perf.md, "Python"): the Rust
# predictor's own time (`time_predict` example: predict_structure, neighbor list + model)
# and the same structure through the wheel (`overhead.py`), in one command on one
# machine. Needs allegro-py/test.sh to have run (the venv with the wheel, the models).
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${CARGO_TARGET_DIR:-$PWD/target}
MODEL=$T/allegro-py-tests/water-f64.allegro
DATA=${ALLEGRO_SHARED_DIR:-../shared}/data/water-192.xyz
REPEATS=${1:-300}
lscpu | grep 'Model name'
cargo run --release --quiet -p allegro-py --example time_predict -- "$MODEL" "$DATA" "$REPEATS"
.ci/pyvenv/bin/python allegro-py/bench/overhead.py "$MODEL" "$DATA" "$REPEATS"
cargo run --release --quiet -p allegro-py --example time_predict -- "$MODEL" "$DATA" "$REPEATS"
