"""Independent statistics of examples/data/xtb-organics.xyz (ASE 3.29 + NumPy 2.4).

Produced the constants checked by tests/stats.rs. Run from the repository root:
    python allegro-data/tests/reference/xtb_organics_stats.py
"""
import numpy as np
from ase.io import read
from ase.neighborlist import neighbor_list
from ase.data import atomic_numbers

R = 5.0
frames = read("examples/data/xtb-organics.xyz", index=":")
symbols = sorted({s for a in frames for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s])
T = len(symbols)
n_atoms = n_edges = 0
edges_t = np.zeros(T); atoms_t = np.zeros(T); f2 = np.zeros(T); fc = np.zeros(T)
X = []; y = []; epa = []
for a in frames:
    types = np.array([symbols.index(s) for s in a.get_chemical_symbols()])
    i, j = neighbor_list("ij", a, R)
    n_atoms += len(a); n_edges += len(i)
    np.add.at(edges_t, types[i], 1); np.add.at(atoms_t, types, 1)
    F = a.get_forces()
    np.add.at(f2, types, (F ** 2).sum(1)); np.add.at(fc, types, 3)
    E = a.info["total_energy"]
    X.append(np.bincount(types, minlength=T)); y.append(E); epa.append(E / len(a))
b, *_ = np.linalg.lstsq(np.array(X, float), np.array(y), rcond=None)
print("type_names", symbols)
print("frames", len(frames), "atoms", n_atoms, "edges", n_edges)
print("avg_num_neighbors", repr(n_edges / n_atoms))
print("per_type_num_neighbors", [repr(x) for x in edges_t / atoms_t])
print("forces_rms", repr(np.sqrt(f2.sum() / fc.sum())))
print("per_type_forces_rms", [repr(x) for x in np.sqrt(f2 / fc)])
print("per_atom_energy_mean", repr(np.mean(epa)), "std", repr(np.std(epa)))
print("per_type_energy_shifts", [repr(x) for x in b])
