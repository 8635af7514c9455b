"""The ASE calculator over :class:`allegro.Model`."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from ._allegro import Model


def _arrays(atoms: Atoms) -> tuple:
    """The arrays :meth:`Model.compute` takes, in the dtypes it requires."""
    return (
        np.ascontiguousarray(atoms.numbers, dtype=np.int64),
        np.ascontiguousarray(atoms.positions, dtype=np.float64),
        np.ascontiguousarray(atoms.cell.array, dtype=np.float64),
        tuple(bool(p) for p in atoms.pbc),
    )


def _ase_results(r: dict) -> dict:
    """A :meth:`Model.compute` dict under ASE's names (stress in Voigt order)."""
    out = {
        "energy": r["energy"],
        "free_energy": r["energy"],
        "energies": r["energies"],
        "forces": r["forces"],
    }
    # Open systems have no stress: ASE then raises PropertyNotImplementedError for it.
    if "stress" in r:
        out["stress"] = full_3x3_to_voigt_6_stress(r["stress"])
    return out


class AllegroCalculator(Calculator):
    """An ASE calculator for an Allegro model file (``.allegro``, from allegro-rs).

    ``AllegroCalculator(model_path, device="cpu")`` loads the model once; ``device`` is
    ``"cpu"``, or ``"cuda"``/``"cuda:N"``, ``"hip"``, ``"vulkan"`` when the wheel was
    built with that backend. Atoms are typed by chemical symbol (the model's type names
    are element symbols); an element the model does not know raises
    :class:`allegro.UnknownSpeciesError`.

    Properties: ``energy`` and ``free_energy`` (eV, equal: the model has no electronic
    entropy), ``energies`` (per atom, eV), ``forces`` (eV/Å) and, for periodic systems,
    ``stress`` (eV/Å³, Voigt order xx yy zz yz xz xy, positive under tension as in ASE).
    Every call computes all of them in one pass.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model_path, device: str = "cpu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = Model(model_path, device=device)

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        self.results = _ase_results(self.model.compute(*_arrays(self.atoms)))

    def calculate_batch(self, images: Sequence[Atoms]) -> list[dict]:
        """Results of every structure of ``images`` from one model pass (their graphs
        batched into one), as one dict per structure with the keys of
        :attr:`Calculator.results`. Faster than one call per structure for many small
        ones. Leaves this calculator's own results and the atoms untouched.
        """
        raw = self.model.compute_batch([_arrays(a) for a in images])
        return [_ase_results(r) for r in raw]
