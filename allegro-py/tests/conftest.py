"""Fixtures of the Python tests: the model files and Rust reference predictions that
``cargo run --release -p allegro-py --example test_models`` writes (``allegro-py/test.sh``
runs it and points ``ALLEGRO_PY_TEST_DATA`` at the folder), and the shared data
(``$ALLEGRO_SHARED_DIR``, else ``testdata/`` of the repository)."""

import json
import os
import pathlib

import pytest
from ase.io import read

from allegro import AllegroCalculator

REPO = pathlib.Path(__file__).resolve().parents[2]


def _dir_from_env(name: str, default: pathlib.Path | None, hint: str) -> pathlib.Path:
    value = os.environ.get(name)
    path = pathlib.Path(value) if value else default
    if path is None or not path.is_dir():
        pytest.fail(f"{name} is not set or not a folder ({path}): {hint}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def test_data() -> pathlib.Path:
    """The folder of the test models (``test_models`` example)."""
    return _dir_from_env(
        "ALLEGRO_PY_TEST_DATA",
        None,
        "run allegro-py/test.sh, or set it to the OUT_DIR of "
        "`cargo run --release -p allegro-py --example test_models -- OUT_DIR EMT.xyz`",
    )


@pytest.fixture(scope="session")
def shared() -> pathlib.Path:
    """The shared data folder."""
    return _dir_from_env(
        "ALLEGRO_SHARED_DIR", REPO / "testdata", "it is testdata/ of the repository"
    )


@pytest.fixture(scope="session")
def model_path(test_data) -> pathlib.Path:
    """The float64 Cu/Ag/Au model (initialised weights, ZBL)."""
    return test_data / "cuagau-f64.allegro"


@pytest.fixture(scope="session")
def reference(test_data) -> dict:
    """The Rust predictions of the model on the first frames of emt-cuagau.xyz."""
    return json.loads((test_data / "cuagau-f64-reference.json").read_text())


@pytest.fixture(scope="session")
def emt_frames(shared, reference) -> list:
    """The frames of emt-cuagau.xyz the reference covers, as ASE reads them."""
    n = len(reference["frames"])
    return read(shared / "data" / "emt-cuagau.xyz", index=f":{n}")


@pytest.fixture
def calc(model_path) -> AllegroCalculator:
    """A fresh calculator of the Cu/Ag/Au model on the CPU."""
    return AllegroCalculator(model_path)


@pytest.fixture
def water_calc(test_data) -> AllegroCalculator:
    """A calculator of the H/O model: no ZBL, so its forces are the network's alone."""
    return AllegroCalculator(test_data / "water-f64.allegro")


@pytest.fixture(scope="session")
def water(shared):
    """The first 24 atoms (8 molecules) of the shared 192-atom water box, still periodic."""
    return read(shared / "data" / "water-192.xyz", index=0)[:24]
