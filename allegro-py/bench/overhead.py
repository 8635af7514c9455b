"""Time per call from Python on one structure (the first frame of DATA), three ways:
``Model.compute`` on ready arrays, an ASE ``get_forces`` after a position change (what
an MD step or an optimiser pays), and ``calculate_batch`` of BATCH copies (per
structure); fastest and median of REPEATS calls (ms). Also the ASE call with the
engine replaced by its precomputed answer (ASE's and the calculator's own cost). Prints
one JSON line. Run by ``overhead.sh`` next to the Rust timing.

``python overhead.py MODEL DATA.xyz [REPEATS [ATOMS [BATCH]]]`` (ATOMS: the first
ATOMS atoms of the frame only)
"""

import json
import statistics
import sys
import time

import numpy as np
from ase.io import read

from allegro import AllegroCalculator
from allegro.calculator import _arrays


def timing_ms(f, repeats: int, per: int = 1) -> dict:
    """Fastest and median time of ``f`` over ``repeats`` calls, divided by ``per``."""
    for _ in range(3):  # warm-up
        f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3 / per)
    return {"min_ms": round(min(times), 3), "median_ms": round(statistics.median(times), 3)}


def main() -> None:
    model, data = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    n = int(sys.argv[4]) if len(sys.argv) > 4 else None
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    atoms = read(data, index=0)[:n]
    calc = AllegroCalculator(model)
    atoms.calc = calc

    arrays = _arrays(atoms)
    compute = timing_ms(lambda: calc.model.compute(*arrays), repeats)

    # Alternate a tiny displacement so every call is a new configuration (ASE caches
    # results of an unchanged one) with the same neighbor list.
    step = np.zeros_like(atoms.positions)
    step[0, 0] = 1e-6
    sign = [1.0]

    def ase_forces():
        sign[0] = -sign[0]
        atoms.positions += sign[0] * step
        atoms.get_forces()

    ase = timing_ms(ase_forces, repeats)

    # The same ASE call with the engine replaced by its precomputed answer: what ASE's
    # bookkeeping and the calculator's array handling cost on their own.
    class Stub:
        def __init__(self, answer):
            self.answer = answer

        def compute(self, *arrays):
            return self.answer

    stub = AllegroCalculator(model)
    stub.model = Stub(calc.model.compute(*arrays))
    atoms.calc = stub
    ase_only = timing_ms(ase_forces, repeats)
    atoms.calc = calc
    images = [atoms.copy() for _ in range(batch)]
    batched = timing_ms(lambda: calc.calculate_batch(images), max(repeats // batch, 5), batch)
    print(
        json.dumps(
            {
                "python": {"atoms": len(atoms), "repeats": repeats},
                "Model.compute": compute,
                "ASE get_forces": ase,
                "ASE get_forces, engine stubbed": ase_only,
                f"calculate_batch of {batch}, per structure": batched,
            }
        )
    )


if __name__ == "__main__":
    main()
