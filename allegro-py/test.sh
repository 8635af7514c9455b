#!/usr/bin/env bash
# The Python package end to end, as .ci/run runs it: build the wheel (maturin, release
# profile, the workspace's target folder, so the crates the workspace build compiled are
# reused), install it into a virtual environment with ASE (.ci/pyvenv, git-ignored,
# made anew whenever allegro-py/tests/requirements.txt, the pinned versions, changes),
# write the test models and the Rust reference predictions (`--example test_models`),
# and run pytest. About a minute in CI after the workspace build; the first run also
# downloads the Python packages. ALLEGRO_PY_FEATURES (e.g. `vulkan`) builds with the
# features the workspace build had, so that cargo reuses its crates instead of building
# them again without.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${CARGO_TARGET_DIR:-$PWD/target}
F=()
[ -z "${ALLEGRO_PY_FEATURES:-}" ] || F=(--features "$ALLEGRO_PY_FEATURES")
V=.ci/pyvenv
R=allegro-py/tests/requirements.txt
if ! cmp -s "$R" "$V/requirements.txt"; then
  python3 -m venv --clear "$V"
  "$V/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$R"
  cp "$R" "$V/requirements.txt"
fi
# The models first: the workspace build (cargo test) has just compiled this example, and
# maturin rebuilds PyO3 for an extension module (its env variables differ), after which
# cargo would rebuild PyO3 again for the example.
cargo run --release --quiet -p allegro-py "${F[@]}" --example test_models -- \
  "$T/allegro-py-tests" "${ALLEGRO_SHARED_DIR:-testdata}/data/emt-cuagau.xyz"
rm -rf "$T/wheels"
"$V/bin/maturin" build --release --quiet -m allegro-py/Cargo.toml "${F[@]}" \
  --interpreter "$V/bin/python" --out "$T/wheels"
# The extension module of one's own that registers the example's parts (test_parts.py).
"$V/bin/maturin" build --release --quiet -m allegro-py/parts-demo/Cargo.toml "${F[@]}" \
  --interpreter "$V/bin/python" --out "$T/wheels"
"$V/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
  --no-deps "$T"/wheels/allegro_rs-*.whl "$T"/wheels/allegro_rs_parts_demo-*.whl
ALLEGRO_PY_TEST_DATA="$T/allegro-py-tests" "$V/bin/python" -m pytest -q allegro-py/tests
