"""Bad input raises a Python exception that says what is wrong, never a crash: missing,
unreadable and corrupt model files, unknown species, arrays of the wrong dtype or
shape, devices this build lacks."""

import numpy as np
import pytest
from ase import Atoms

import allegro
from allegro import (
    AllegroCalculator,
    AllegroError,
    DeviceError,
    Model,
    ModelFileError,
    UnknownSpeciesError,
)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.allegro"
    with pytest.raises(FileNotFoundError) as e:
        AllegroCalculator(path)
    assert e.value.filename == str(path)


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        Model(tmp_path)


@pytest.mark.parametrize(
    "corrupt, what",
    [
        (lambda b: b"not a model file at all", "not an allegro-rs model file"),
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:100] + bytes([b[100] ^ 0xFF]) + b[101:], "checksum"),
        (lambda b: b"", "truncated"),
    ],
)
def test_corrupt_file(tmp_path, model_path, corrupt, what):
    path = tmp_path / "bad.allegro"
    path.write_bytes(corrupt(model_path.read_bytes()))
    with pytest.raises(ModelFileError) as e:
        AllegroCalculator(path)
    message = str(e.value)
    assert str(path) in message
    assert what in message.lower(), message
    assert isinstance(e.value, AllegroError)


def test_unregistered_custom_part(test_data):
    """A model that names parts written outside the crates (examples/custom_parts/) loads
    only in a program that registered them; the Python package has not, so it refuses
    the file by the part's name."""
    path = test_data / "custom-parts.allegro"
    with pytest.raises(AllegroError) as e:
        AllegroCalculator(path)
    message = str(e.value)
    assert "custom_parts.GaussianEmbedding" in message, message
    assert "register" in message, message


def test_unknown_species(calc):
    atoms = Atoms("Cu2Fe", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]])
    atoms.calc = calc
    with pytest.raises(UnknownSpeciesError) as e:
        atoms.get_potential_energy()
    message = str(e.value)
    assert "atom 2" in message and "Fe" in message and "Cu, Ag, Au" in message


def test_unknown_species_in_batch(calc):
    good = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])
    bad = Atoms("CuH", positions=[[0, 0, 0], [1.5, 0, 0]])
    with pytest.raises(UnknownSpeciesError, match="structure 1: atom 1 is H"):
        calc.calculate_batch([good, bad])


def test_wrong_arrays(model_path):
    model = Model(model_path)
    numbers = np.array([29, 47], dtype=np.int64)
    positions = np.array([[0.0, 0, 0], [2.5, 0, 0]])
    assert "energy" in model.compute(numbers, positions)
    with pytest.raises(TypeError):
        model.compute(numbers, positions.astype(np.float32))
    with pytest.raises(TypeError):
        model.compute(numbers.astype(np.int32), positions)
    with pytest.raises(TypeError):
        model.compute(numbers, positions.tolist())
    with pytest.raises(ValueError, match="shape"):
        model.compute(numbers, positions[:1])
    with pytest.raises(ValueError, match="shape"):
        model.compute(numbers, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="cell"):
        model.compute(numbers, positions, np.eye(2), (True, True, True))
    with pytest.raises(ValueError, match="atomic number"):
        model.compute(np.array([29, 300]), positions)
    with pytest.raises(ValueError, match="non-finite"):
        model.compute(numbers, np.array([[0.0, 0, 0], [np.nan, 0, 0]]))


def test_bad_structures(model_path):
    """The bad-input battery (as allegro-nn/tests/bad_inputs.rs runs it in Rust): an
    infinite position, a cell of zero volume and two atoms at the same place are
    ValueErrors that say what is wrong (NaN positions and unknown species: above)."""
    model = Model(model_path)
    numbers = np.array([29, 47], dtype=np.int64)
    positions = np.array([[0.0, 0, 0], [2.5, 0, 0]])
    with pytest.raises(ValueError, match="non-finite"):
        model.compute(numbers, np.array([[0.0, 0, 0], [np.inf, 0, 0]]))
    flat = np.array([[5.0, 0, 0], [0, 5.0, 0], [5.0, 5.0, 0]])
    with pytest.raises(ValueError, match="cell"):
        model.compute(numbers, positions, flat, (True, True, True))
    with pytest.raises(ValueError, match="atoms 0 and 1 .* apart"):
        model.compute(numbers, np.array([[1.0, 1, 1], [1.0, 1, 1]]))


def test_periodic_without_cell(calc):
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]], pbc=True)
    atoms.calc = calc
    with pytest.raises(ValueError, match="cell"):
        atoms.get_potential_energy()


def test_devices(model_path):
    with pytest.raises(ValueError, match="device"):
        Model(model_path, device="tpu")
    with pytest.raises(ValueError, match="device"):
        Model(model_path, device="cuda:x")
    assert "cpu" in allegro.backends
    gpus = ["cuda", "cuda:1", "hip", "vulkan"]
    missing = [d for d in gpus if d.split(":")[0] not in allegro.backends]
    assert missing, "a build with every GPU backend: nothing to check here"
    for gpu in missing:
        # A backend this wheel was built without: a clear error, not a crash.
        with pytest.raises(DeviceError, match="backend"):
            Model(model_path, device=gpu)


def test_model_metadata(model_path):
    model = Model(model_path)
    assert model.type_names == ["Cu", "Ag", "Au"]
    assert model.dtype == "float64"
    assert model.device == "cpu"
    assert model.r_max == 4.5
    assert str(model.path) == str(model_path)
    assert "Cu" in repr(model)
    assert allegro.__version__
