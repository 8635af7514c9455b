#!/usr/bin/env python3
"""Export a trained nequip-allegro model to the JSON layout allegro-rs imports.

    python tools/export_nequip.py MODEL OUT.json [--xyz FRAMES.xyz] [--max-frames N]
                                  [--loss-gradient] [--model-key sole_model]

MODEL is a nequip training checkpoint (``.ckpt``, Lightning; the config is its
``hyper_parameters``) or a packaged model (``.nequip.zip`` from ``nequip-package``; the
config is its ``model/config.yaml``). OUT.json gets the layout of the fixtures in
``shared/fixtures``::

    {"config": {model hyper-parameters, nequip key names},
     "state_dict": {"model.func.<module>.<tensor>": nested lists, ...},
     "frames": [...], "loss_gradient": {...}}     # only with --xyz / --loss-gradient

Weights are read from the model nequip itself loads (``load_saved_model``), so EMA
weights, fine-tuning from another checkpoint or package, and persistent modifiers are
what nequip would evaluate. With ``--xyz`` every structure of the file (ASE-readable) is
evaluated by nequip and stored with its edge list, energies, forces and stress, so

    cargo run --release --example eval_fixture -- OUT.json [--save MODEL.allegro]

checks that allegro-rs reproduces the model, and writes the ``.allegro`` file.

Needs ``pip install nequip==0.19.1 nequip-allegro==0.8.3`` (torch, ase come with them).
The config mapping (``allegro_config``, ``rust_config``, ``normalize_keys``,
``package_config``) is plain Python, tested by ``tools/test_export_nequip.py`` without
torch.
"""

import argparse
import json
import sys
import zipfile

PREFIX = "model.func."

# Keys of allegro-rs's `AllegroConfig` (allegro-nn/src/config.rs), nequip's names.
RUST_KEYS = {
    "seed", "model_dtype", "type_names", "r_max", "per_edge_type_cutoff",
    "radial_chemical_embed", "radial_chemical_embed_dim",
    "scalar_embed_mlp_hidden_layers_depth", "scalar_embed_mlp_hidden_layers_width",
    "scalar_embed_mlp_nonlinearity", "l_max", "parity", "tp_path_channel_coupling",
    "forward_normalize", "num_layers", "num_scalar_features", "num_tensor_features",
    "allegro_mlp_hidden_layers_depth", "allegro_mlp_hidden_layers_width",
    "allegro_mlp_nonlinearity", "readout_mlp_hidden_layers_depth",
    "readout_mlp_hidden_layers_width", "readout_mlp_nonlinearity", "avg_num_neighbors",
    "per_type_energy_shifts", "per_type_energy_scales",
    "per_type_energy_scales_trainable", "per_type_energy_shifts_trainable",
    "pair_potential",
}
# Builder arguments allegro-rs does not take: dropped when at the value it assumes.
DROPPED_AT = {"compile_mode": None, "do_derivatives": True, "weight_individual_irreps": True}

ALLEGRO_TARGETS = {"allegro.model.AllegroModel"}
MODIFY_TARGET = "nequip.model.modify"
NESTED_TARGETS = {
    "nequip.model.ModelFromCheckpoint": "checkpoint_path",
    "nequip.model.ModelFromPackage": "package_path",
}


class ExportError(Exception):
    """A model this script (or allegro-rs) cannot export."""


def plain(x):
    """Nested dicts/lists/tuples (OmegaConf containers included) as plain JSON types."""
    if hasattr(x, "items"):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) or type(x).__name__ == "ListConfig":
        return [plain(v) for v in x]
    return x


def allegro_config(model_cfg, load_nested, notes):
    """The `allegro.model.AllegroModel` block behind a training module's `model` config.

    Follows `nequip.model.modify` (its `model`) and fine-tuning loaders
    (`ModelFromCheckpoint` / `ModelFromPackage`, whose config `load_nested(kind, path)`
    returns). `notes` collects remarks for the user.
    """
    cfg = plain(model_cfg)
    for _ in range(16):
        target = cfg.get("_target_", "allegro.model.AllegroModel")
        if target in ALLEGRO_TARGETS:
            return cfg
        if target == MODIFY_TARGET:
            mods = [m.get("modifier", "?") for m in cfg.get("modifiers", [])]
            notes.append(f"modifiers {mods} were applied by nequip; the weights include "
                         "them, the config is the unmodified model's")
            cfg = plain(cfg["model"])
        elif target in NESTED_TARGETS:
            path = cfg[NESTED_TARGETS[target]]
            notes.append(f"architecture read from {path} (the model was fine-tuned from it)")
            cfg = plain(load_nested(target, path))
        else:
            raise ExportError(
                f"model `_target_` is `{target}`: only allegro.model.AllegroModel "
                "(possibly behind nequip.model.modify / ModelFromCheckpoint / "
                "ModelFromPackage) maps to allegro-rs")
    raise ExportError("model config nests too deeply")


def rust_config(cfg):
    """An AllegroModel block as allegro-rs's config: builder-only keys dropped, unknown
    keys refused (allegro-rs would refuse them too, with less context)."""
    out = {}
    for key, value in plain(cfg).items():
        if key == "_target_":
            continue
        if key in DROPPED_AT:
            default = DROPPED_AT[key]
            if default is not None and value != default:
                raise ExportError(f"`{key}: {value}` is not supported by allegro-rs "
                                  f"(only {default})")
            continue
        if key not in RUST_KEYS:
            raise ExportError(f"config key `{key}` is not supported by allegro-rs")
        out[key] = value
    for key in ("type_names", "r_max", "l_max", "radial_chemical_embed"):
        if key not in out:
            raise ExportError(f"config has no `{key}`")
    return out


def normalize_keys(names):
    """Map of state_dict names to allegro-rs's `model.func.<module>...` names.

    Whatever wraps the Allegro modules (`GraphModel.model.func`, a `ModuleDict` entry,
    a Lightning `model.sole_model.` prefix) is replaced by `model.func.`; entries
    outside it (e.g. `model._empty`) are left out.
    """
    anchors = ("edge_norm.", "radial_chemical_embed.", "edge_readout.")
    prefix = None
    for name in names:
        for a in anchors:
            i = name.find(a)
            if i >= 0 and (i == 0 or name[i - 1] == "."):
                prefix = name[:i]
                break
        if prefix is not None:
            break
    if prefix is None:
        raise ExportError("no Allegro modules (edge_norm, radial_chemical_embed, "
                          "edge_readout) in the state dict: is this an Allegro model?")
    return {n: PREFIX + n[len(prefix):] for n in names if n.startswith(prefix)}


def package_config(path):
    """The `training_module.model` block of a `.nequip.zip` (its `model/config.yaml`)."""
    import yaml

    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.namelist() if m.endswith("model/config.yaml")]
            if not members:
                raise ExportError(f"{path}: no model/config.yaml (not a nequip package?)")
            info = yaml.safe_load(z.read(members[0]).decode())
    except zipfile.BadZipFile:
        raise ExportError(f"{path}: not a zip archive (not a nequip package?)") from None
    try:
        return info["training_module"]["model"]
    except (KeyError, TypeError):
        raise ExportError(f"{path}: config.yaml has no training_module.model") from None


def checkpoint_config(path):
    """The model block of a nequip `.ckpt` (resolved at training time)."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    hp = ckpt.get("hyper_parameters", {})
    if "model" in hp:
        return hp["model"]
    try:
        return hp["info_dict"]["training_module"]["model"]
    except (KeyError, TypeError):
        raise ExportError(f"{path}: no hyper_parameters.model (not a nequip checkpoint?)") from None


def config_of(kind_or_path, path=None):
    """Config of a checkpoint or package, by `_target_` kind or by file name."""
    if path is None:
        path = kind_or_path
        is_package = str(path).endswith(".nequip.zip")
    else:
        is_package = kind_or_path == "nequip.model.ModelFromPackage"
    return package_config(path) if is_package else checkpoint_config(path)


def tensor_list(t):
    return t.detach().cpu().tolist()


def load_model(path, model_key):
    from nequip.utils.global_state import set_global_state
    from nequip.model.saved_models.load_utils import load_saved_model

    set_global_state()
    model = load_saved_model(str(path), compile_mode="eager", model_key=model_key)
    # The frames are built on the CPU: a model saved on a GPU is brought to them (without
    # this, a GPU machine fails with "Expected all tensors to be on the same device").
    model = model.to("cpu")
    model.eval()
    return model


def frames_from_xyz(model, cfg, xyz, max_frames, loss_gradient):
    """Reference frames in the fixture layout, evaluated by nequip (as ref_fixtures.py)."""
    import ase.io
    import torch
    from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase

    type_names = list(cfg["type_names"])
    frames, grad_doc = [], None
    for k, atoms in enumerate(ase.io.iread(xyz, index=":")):
        if max_frames is not None and k >= max_frames:
            break
        syms = atoms.get_chemical_symbols()
        missing = sorted(set(syms) - set(type_names))
        if missing:
            raise ExportError(f"{xyz} frame {k}: elements {missing} are not in "
                              f"type_names {type_names}")
        data = from_ase(atoms)
        types = [type_names.index(s) for s in syms]
        data[AtomicDataDict.ATOM_TYPE_KEY] = torch.tensor(types, dtype=torch.long)
        data = compute_neighborlist_(data, r_max=cfg["r_max"])
        data = AtomicDataDict.with_batch_(data)
        out = model(dict(data))
        shifts = data.get(AtomicDataDict.EDGE_CELL_SHIFT_KEY, torch.zeros(0, 3))
        frame = dict(
            name=f"{k}", symbols=syms, atom_types=types,
            positions=atoms.positions.tolist(), cell=atoms.cell.array.tolist(),
            pbc=[bool(p) for p in atoms.pbc],
            edge_index=tensor_list(data[AtomicDataDict.EDGE_INDEX_KEY]),
            edge_cell_shift=tensor_list(shifts),
            total_energy=tensor_list(out[AtomicDataDict.TOTAL_ENERGY_KEY].reshape(-1)),
            atomic_energy=tensor_list(out[AtomicDataDict.PER_ATOM_ENERGY_KEY].reshape(-1)),
            forces=tensor_list(out[AtomicDataDict.FORCE_KEY]),
        )
        if AtomicDataDict.STRESS_KEY in out and all(atoms.pbc):
            frame["stress"] = tensor_list(out[AtomicDataDict.STRESS_KEY].reshape(3, 3))
            frame["virial"] = tensor_list(out[AtomicDataDict.VIRIAL_KEY].reshape(3, 3))
        frames.append(frame)
        if loss_gradient and grad_doc is None:
            grad_doc = loss_gradient_doc(model, data, out, frame["name"], len(atoms))
    if not frames:
        raise ExportError(f"{xyz}: no structures")
    return frames, grad_doc


def loss_gradient_doc(model, data, out, name, n):
    """Gradient of L = mean((F - F_lab)^2) + (E/N - e_lab)^2 with F_lab = F/2 + 0.1,
    e_lab = 0.999 E/N (fixed numbers), as in shared/reference/ref_fixtures.py."""
    from nequip.data import AtomicDataDict

    e0 = out[AtomicDataDict.TOTAL_ENERGY_KEY].detach().reshape(())
    f_lab = 0.5 * out[AtomicDataDict.FORCE_KEY].detach() + 0.1
    e_lab = 0.999 * e0 / n
    model.train()
    model.zero_grad()
    out2 = model(AtomicDataDict.with_batch_(dict(data)))
    loss = ((out2[AtomicDataDict.FORCE_KEY] - f_lab) ** 2).mean() + \
        (out2[AtomicDataDict.TOTAL_ENERGY_KEY].reshape(()) / n - e_lab) ** 2
    loss.backward()
    model.eval()
    named = dict(model.named_parameters())
    keys = normalize_keys(list(named))
    return dict(frame=name, loss=float(loss), forces_label=tensor_list(f_lab),
                per_atom_energy_label=float(e_lab),
                loss_definition="mean over atoms and xyz of (F - F_label)^2 + (E/N - e_label)^2",
                grads={keys[k]: tensor_list(p.grad) for k, p in named.items()
                       if p.grad is not None and k in keys})


def export(args):
    import os

    if not str(args.model).startswith("nequip.net:") and not os.path.isfile(args.model):
        raise ExportError(f"{args.model}: no such file")
    notes = []
    cfg = rust_config(allegro_config(config_of(args.model), config_of, notes))
    model = load_model(args.model, args.model_key)
    type_names = list(getattr(model, "type_names", cfg["type_names"]))
    if type_names != list(cfg["type_names"]):
        raise ExportError(f"type names of the loaded model {type_names} differ from "
                          f"the config's {cfg['type_names']}")
    sd = model.state_dict()
    keys = normalize_keys(list(sd))
    state_dict = {keys[k]: tensor_list(v) for k, v in sd.items()
                  if k in keys and v.is_floating_point()}
    doc = dict(reference=f"exported by tools/export_nequip.py from {args.model}",
               config=cfg)
    if not args.no_weights:
        doc["state_dict"] = state_dict
    if args.xyz:
        doc["frames"], grad_doc = frames_from_xyz(
            model, cfg, args.xyz, args.max_frames, args.loss_gradient)
        if grad_doc is not None:
            doc["loss_gradient"] = grad_doc
    with open(args.out, "w") as f:
        json.dump(doc, f, allow_nan=False)
    for note in notes:
        print("note:", note, file=sys.stderr)
    print(f"{args.out}: {len(doc.get('state_dict', {}))} tensors, "
          f"{len(doc.get('frames', []))} frames")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="nequip checkpoint (.ckpt) or package (.nequip.zip)")
    p.add_argument("out", help="output JSON (fixture layout)")
    p.add_argument("--xyz", help="structures to evaluate with nequip and store as frames")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--loss-gradient", action="store_true",
                   help="also store the training-loss gradient on the first frame")
    p.add_argument("--no-weights", action="store_true",
                   help="leave the state dict out (nequip's predictions only, e.g. to check "
                        "a model `compile` imported)")
    p.add_argument("--model-key", default="sole_model",
                   help="model of a multi-model ModuleDict (default sole_model)")
    args = p.parse_args(argv)
    if args.loss_gradient and not args.xyz:
        p.error("--loss-gradient needs --xyz")
    try:
        export(args)
    except ExportError as e:
        print(f"export_nequip: {e}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        print(f"export_nequip: {e}: pip install nequip==0.19.1 nequip-allegro==0.8.3",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
