"""The calculator gives the Rust engine's numbers: energies, per-atom energies, forces
and stress on the shared EMT frames equal those of `predict_structure` (the `evaluate`
route: extxyz read by Rust), one structure at a time and batched."""

import os

import numpy as np
import pytest
from ase.stress import full_3x3_to_voigt_6_stress

import allegro
from allegro import AllegroCalculator, DeviceError

# Relative to the largest entry of each array (robust to entries near zero); the model
# is float64, so only summation order may differ.
TOL = 1e-10


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def check(results: dict, ref: dict) -> None:
    assert rel(results["energy"], ref["energy"]) <= TOL
    assert results["free_energy"] == results["energy"]
    assert rel(results["energies"], ref["energies"]) <= TOL
    assert rel(results["forces"], ref["forces"]) <= TOL
    stress = full_3x3_to_voigt_6_stress(np.array(ref["stress"]))
    assert rel(results["stress"], stress) <= TOL


def test_calculator_matches_rust(calc, emt_frames, reference):
    for atoms, ref in zip(emt_frames, reference["frames"]):
        atoms.calc = calc
        assert np.max(np.abs(atoms.get_forces())) > 1e-3, "forces should not vanish"
        check(
            {
                "energy": atoms.get_potential_energy(),
                "free_energy": calc.get_property("free_energy", atoms),
                "energies": atoms.get_potential_energies(),
                "forces": atoms.get_forces(),
                "stress": atoms.get_stress(),
            },
            ref,
        )


def test_batch_matches_rust(calc, emt_frames, reference):
    results = calc.calculate_batch(emt_frames)
    assert len(results) == len(reference["frames"])
    for r, ref in zip(results, reference["frames"]):
        check(r, ref)


def test_batch_of_mixed_systems_matches_single_calls(calc, emt_frames):
    # Periodic and open structures of different sizes in one pass.
    cluster = emt_frames[1][:7].copy()
    cluster.pbc = False
    cluster.cell = np.zeros((3, 3))
    images = [emt_frames[0], cluster, emt_frames[2][:20]]
    batch = calc.calculate_batch(images)
    for atoms, r in zip(images, batch):
        atoms = atoms.copy()
        atoms.calc = calc
        assert rel(r["energy"], atoms.get_potential_energy()) <= TOL
        assert rel(r["forces"], atoms.get_forces()) <= TOL
        assert rel(r["energies"], atoms.get_potential_energies()) <= TOL
        assert ("stress" in r) == atoms.pbc.any()
        if atoms.pbc.any():
            assert rel(r["stress"], atoms.get_stress()) <= TOL
    assert calc.calculate_batch([]) == []


def test_vulkan_device_matches_rust(model_path, emt_frames, reference):
    """Where the wheel has the Vulkan backend (.ci/run builds it so and runs it on Mesa's
    lavapipe, a CPU Vulkan driver), the GPU code path gives the CPU engine's numbers."""
    if "vulkan" not in allegro.backends:
        pytest.skip("this wheel was built without the vulkan backend")
    try:
        calc = AllegroCalculator(model_path, device="vulkan")
    except DeviceError as e:
        if os.environ.get("ALLEGRO_REQUIRE_GPU"):
            raise
        pytest.skip(f"no Vulkan device here: {e}")
    assert calc.model.device == "vulkan"
    for r, ref in zip(calc.calculate_batch(emt_frames), reference["frames"]):
        check(r, ref)
    atoms = emt_frames[0].copy()
    atoms.calc = calc
    ref = reference["frames"][0]
    assert rel(atoms.get_forces(), ref["forces"]) <= TOL
