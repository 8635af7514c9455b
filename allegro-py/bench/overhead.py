"""Time per call from Python on one structure (the first frame of DATA), three ways:
``Model.compute`` on ready arrays, an ASE ``get_forces`` after a position change (what
an MD step or an optimiser pays), and ``calculate_batch`` of BATCH copies (per
structure). Prints one JSON line. Run by ``overhead.sh`` next to the Rust timing.

``python overhead.py MODEL DATA.xyz [REPEATS] [BATCH]``
"""

import json
import statistics
import sys
import time

import numpy as np
from ase.io import read

from allegro import AllegroCalculator
from allegro.calculator import _arrays


def median_ms(f, repeats: int) -> float:
    for _ in range(3):  # warm-up
        f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    model, data = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    atoms = read(data, index=0)
    calc = AllegroCalculator(model)
    atoms.calc = calc

    arrays = _arrays(atoms)
    compute = median_ms(lambda: calc.model.compute(*arrays), repeats)

    # Alternate a tiny displacement so every call is a new configuration (ASE caches
    # results of an unchanged one) with the same neighbor list.
    step = np.zeros_like(atoms.positions)
    step[0, 0] = 1e-6
    sign = [1.0]

    def ase_forces():
        sign[0] = -sign[0]
        atoms.positions += sign[0] * step
        atoms.get_forces()

    ase = median_ms(ase_forces, repeats)
    images = [atoms.copy() for _ in range(batch)]
    batched = median_ms(lambda: calc.calculate_batch(images), max(repeats // batch, 5)) / batch
    print(
        json.dumps(
            {
                "atoms": len(atoms),
                "repeats": repeats,
                "model_compute_ms": round(compute, 4),
                "ase_get_forces_ms": round(ase, 4),
                "batch": batch,
                "batch_per_structure_ms": round(batched, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
