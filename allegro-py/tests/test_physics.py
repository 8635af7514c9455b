"""Physics through ASE: forces are −dE/dx and stress is (1/V) dE/dε by central
differences, per-atom energies add up, open systems have no stress, velocity-Verlet
conserves energy and BFGS converges."""

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS


def energy(calc, atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy()


def alloy(seed: int = 0):
    """A rattled 2×2×2 fcc cell of 32 Cu, Ag and Au atoms."""
    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=4.0, cubic=True).repeat(2)
    atoms.numbers = rng.choice([29, 47, 79], size=len(atoms))
    atoms.rattle(0.05, seed=seed)
    return atoms


def cluster():
    """13 atoms, open boundaries."""
    atoms = alloy(1)[:13]
    atoms.pbc = False
    atoms.cell = np.zeros((3, 3))
    return atoms


def check_forces_by_differences(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    h = 1e-4
    for i in range(0, len(atoms), 5):
        for d in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, d] += h
            minus.positions[i, d] -= h
            fd = -(energy(calc, plus) - energy(calc, minus)) / (2 * h)
            assert abs(fd - forces[i, d]) <= 1e-6 * np.max(np.abs(forces)), (i, d)


@pytest.mark.parametrize("make", [alloy, cluster])
def test_forces_are_minus_energy_gradient(calc, make):
    check_forces_by_differences(calc, make())


def test_forces_are_minus_energy_gradient_network_only(water_calc, water):
    # The water model has no pair potential: the network's own forces, periodic and open.
    check_forces_by_differences(water_calc, water)
    molecules = water.copy()
    molecules.pbc = False
    check_forces_by_differences(water_calc, molecules)


def test_stress_is_strain_derivative(calc):
    atoms = alloy()
    atoms.calc = calc
    stress = atoms.get_stress(voigt=False)
    volume = atoms.get_volume()
    h = 1e-5
    for a, b in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]:
        e = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[a, b] += sign * h / 2
            strain[b, a] += sign * h / 2
            deformed = atoms.copy()
            deformed.set_cell(atoms.cell.array @ strain, scale_atoms=True)
            e.append(energy(calc, deformed))
        fd = (e[0] - e[1]) / (2 * h) / volume
        assert abs(fd - stress[a, b]) <= 1e-6 * np.max(np.abs(stress)), (a, b)


def test_energies_add_up_and_forces_sum_to_zero(calc):
    for atoms in (alloy(), cluster()):
        atoms.calc = calc
        assert np.isclose(atoms.get_potential_energies().sum(), atoms.get_potential_energy())
        assert np.max(np.abs(atoms.get_forces().sum(axis=0))) < 1e-10


def test_open_system_has_no_stress(calc):
    atoms = cluster()
    atoms.calc = calc
    atoms.get_forces()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_velocity_verlet_conserves_energy(calc):
    atoms = alloy(2)
    atoms.calc = calc
    thermalize_momenta(atoms, 300, rng=np.random.default_rng(0))
    total = []
    dyn = VelocityVerlet(atoms, timestep=2 * units.fs)
    dyn.attach(lambda: total.append(atoms.get_total_energy()), interval=10)
    dyn.run(500)
    total = np.array(total)
    kinetic = 1.5 * len(atoms) * units.kB * 300
    # Drift and fluctuation of the total energy, as a share of the kinetic energy.
    assert np.ptp(total) < 0.01 * kinetic, np.ptp(total)


def test_bfgs_relaxation_converges(calc):
    atoms = alloy(3)
    atoms.calc = calc
    e0 = atoms.get_potential_energy()
    assert BFGS(atoms, logfile=None).run(fmax=0.01, steps=300)
    assert np.max(np.linalg.norm(atoms.get_forces(), axis=1)) < 0.01
    assert atoms.get_potential_energy() < e0
