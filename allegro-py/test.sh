#!/usr/bin/env bash
# The Python package end to end, as .ci/run runs it: build the wheel (maturin, release
# profile, the workspace's target folder, so the crates the workspace build compiled are
# reused), install it into a virtual environment with ASE (.ci/pyvenv, git-ignored,
# created when missing with the pinned versions of allegro-py/tests/requirements.txt),
# write the test models and the Rust reference predictions (`--example test_models`),
# and run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${CARGO_TARGET_DIR:-$PWD/target}
V=.ci/pyvenv
if [ ! -x "$V/bin/pytest" ]; then
  python3 -m venv --clear "$V"
  "$V/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r allegro-py/tests/requirements.txt
fi
rm -rf "$T/wheels"
"$V/bin/maturin" build --release --quiet -m allegro-py/Cargo.toml \
  --interpreter "$V/bin/python" --out "$T/wheels"
"$V/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
  --no-deps "$T"/wheels/allegro_rs-*.whl
cargo run --release --quiet -p allegro-py --example test_models -- \
  "$T/allegro-py-tests" "${ALLEGRO_SHARED_DIR:-../shared}/data/emt-cuagau.xyz"
ALLEGRO_PY_TEST_DATA="$T/allegro-py-tests" "$V/bin/python" -m pytest -q allegro-py/tests
