"""Allegro interatomic potentials from Python, on the allegro-rs engine (Rust).

- :class:`AllegroCalculator`: an ASE calculator over a ``.allegro`` model file
  (energy, free_energy, per-atom energies, forces, stress; periodic and open systems),
  with :meth:`AllegroCalculator.calculate_batch` for many structures in one model pass.
- :class:`Model`: the model itself on NumPy arrays (what the calculator calls).
- Errors: :class:`ModelFileError` (not a valid model file), :class:`UnknownSpeciesError`
  (an element the model has no type for), :class:`DeviceError` (a device this build
  lacks), all :class:`AllegroError`; a missing file is ``FileNotFoundError``.
- ``backends``: the device kinds this build runs on (``["cpu"]``, plus ``"cuda"``,
  ``"hip"`` or ``"vulkan"`` when built with those cargo features).
"""

from ._allegro import (
    AllegroError,
    DeviceError,
    Model,
    ModelFileError,
    UnknownSpeciesError,
    __version__,
    backends,
)
from .calculator import AllegroCalculator

__all__ = [
    "AllegroCalculator",
    "AllegroError",
    "DeviceError",
    "Model",
    "ModelFileError",
    "UnknownSpeciesError",
    "__version__",
    "backends",
]
