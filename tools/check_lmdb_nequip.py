#!/usr/bin/env python3
"""Check an LMDB dataset written by allegro-rs against nequip itself.

    python tools/check_lmdb_nequip.py OUT.lmdb IN.xyz [--index ::10]
                                      [--key-mapping REF_energy=total_energy ...]

OUT.lmdb is what ``cargo run --release --example xyz2lmdb -- IN.xyz OUT.lmdb`` (or
``allegro_data::lmdb::write_nequip_lmdb``) wrote from IN.xyz. The script opens it with
nequip's own ``nequip.data.dataset.NequIPLMDBDataset`` and, for every frame, compares the
dict nequip loads with what nequip builds from the same ASE frame
(``nequip.data.ase.from_ase``, under torch's default dtype set to the file's float
dtype): same dtype, shape and values, exactly (``torch.equal``), for every key in the
file. It also compares positions, numbers, cell and pbc with the raw ``ase.Atoms``
(to float32 rounding when the file is float32), and ``__metadata__`` (``num_frames``,
``num_atoms_per_entry``, ``num_edges_per_entry``) with the frames.

Prints one JSON line, ``{"ok": true|false, ...}``, and exits 0 when ok, 1 otherwise.

Needs torch, ase and nequip 0.19.1 (``pip install nequip==0.19.1``; the wheels are in
``shared/reference/wheels``). Energies under another comment-line key than ``energy``
or ``total_energy`` need ``--key-mapping KEY=total_energy``.
"""

import argparse
import json
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("lmdb", help="the LMDB file to check")
    p.add_argument("xyz", help="the extxyz file it was written from")
    p.add_argument(
        "--index",
        default=":",
        help="ase.io.read index of the frames that were written (default ':', all)",
    )
    p.add_argument(
        "--key-mapping",
        action="append",
        default=[],
        metavar="ASE_KEY=NEQUIP_KEY",
        help="extra from_ase key_mapping entries (total_energy=total_energy is always set)",
    )
    p.add_argument(
        "--max-report", type=int, default=5, help="mismatches to list (default 5)"
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    import ase.io
    import numpy as np
    import torch

    import nequip
    from nequip.data.ase import from_ase
    from nequip.data.dataset import NequIPLMDBDataset

    key_mapping = {"total_energy": "total_energy"}
    for item in args.key_mapping:
        k, _, v = item.partition("=")
        key_mapping[k] = v

    dataset = NequIPLMDBDataset(file_path=args.lmdb)
    atoms_list = ase.io.read(args.xyz, index=args.index)
    if not isinstance(atoms_list, list):
        atoms_list = [atoms_list]

    problems = []
    only_in_nequip = set()
    keys = None
    dtype = None

    def report(frame, what):
        problems.append({"frame": frame, "problem": what})

    n = len(dataset)
    if n != len(atoms_list):
        report(None, f"{n} frames in the LMDB, {len(atoms_list)} in the extxyz selection")

    for i in range(min(n, len(atoms_list))):
        ours = dataset[i]
        atoms = atoms_list[i]
        if keys is None:
            keys = list(ours.keys())
            dtype = ours["pos"].dtype
        if ours["pos"].dtype != dtype:
            report(i, f"pos is {ours['pos'].dtype}, frame 0's is {dtype}")

        # What nequip itself makes of this frame, in the file's float dtype.
        include = [k for k in ("virial",) if k in atoms.info]
        previous = torch.get_default_dtype()
        torch.set_default_dtype(ours["pos"].dtype)
        try:
            ref = from_ase(atoms, key_mapping=key_mapping, include_keys=include)
        finally:
            torch.set_default_dtype(previous)

        for k, v in ours.items():
            if k not in ref:
                report(i, f"`{k}` is in the LMDB but nequip's from_ase makes none")
                continue
            r = ref[k]
            if v.dtype != r.dtype or tuple(v.shape) != tuple(r.shape):
                report(
                    i,
                    f"`{k}`: {v.dtype} {tuple(v.shape)} vs nequip's {r.dtype} {tuple(r.shape)}",
                )
            elif not torch.equal(v, r):
                diff = (v.double() - r.double()).abs().max().item()
                report(i, f"`{k}` differs from nequip's (max abs difference {diff:.3e})")
        only_in_nequip.update(set(ref.keys()) - set(ours.keys()))

        # Independently of from_ase: the raw ASE frame.
        tol = 0.0 if ours["pos"].dtype == torch.float64 else 1e-6
        pos = ours["pos"].double().numpy()
        if pos.shape != atoms.positions.shape or not np.allclose(
            pos, atoms.positions, rtol=tol, atol=tol
        ):
            report(i, "positions differ from ase's")
        if ours["atomic_numbers"].tolist() != atoms.numbers.tolist():
            report(i, "atomic numbers differ from ase's")
        cell = ours["cell"].double().numpy().reshape(3, 3)
        if not np.allclose(cell, np.asarray(atoms.cell), rtol=tol, atol=tol):
            report(i, "cell differs from ase's")
        if ours["pbc"].reshape(3).tolist() != [bool(p) for p in atoms.pbc]:
            report(i, "pbc differs from ase's")

    metadata_ok = True
    num_frames = dataset.get_metadata("num_frames")
    if num_frames != n:
        metadata_ok = False
        report(None, f"__metadata__ num_frames = {num_frames}, the dataset has {n}")
    num_atoms = dataset.get_metadata("num_atoms_per_entry")
    want_atoms = [len(a) for a in atoms_list]
    if num_atoms is None or [int(x) for x in num_atoms] != want_atoms:
        metadata_ok = False
        report(None, "__metadata__ num_atoms_per_entry differs from the frames' atom counts")
    num_edges = dataset.get_metadata("num_edges_per_entry")
    if num_edges is None or len(num_edges) != n or any(x is not None for x in num_edges):
        metadata_ok = False
        report(None, "__metadata__ num_edges_per_entry is not None for every frame")

    verdict = {
        "ok": not problems,
        "lmdb": args.lmdb,
        "xyz": args.xyz,
        "frames": n,
        "xyz_frames": len(atoms_list),
        "float_dtype": str(dtype) if dtype is not None else None,
        "keys": keys,
        "keys_only_in_nequip": sorted(only_in_nequip),
        "metadata_ok": metadata_ok,
        "problems": len(problems),
        "first_problems": problems[: args.max_report],
        "nequip": getattr(nequip, "__version__", None),
        "torch": torch.__version__,
    }
    print(json.dumps(verdict))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
