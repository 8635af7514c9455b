#!/usr/bin/env python3
"""Tests of the torch-free parts of export_nequip.py: `python3 tools/test_export_nequip.py`."""

import contextlib
import io
import json
import os
import pathlib
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_nequip as ex  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
# The shared folder beside the repository, or where ALLEGRO_SHARED_DIR says.
_SHARED = os.environ.get("ALLEGRO_SHARED_DIR")
FIXTURES = [d for d in ((pathlib.Path(_SHARED) / "fixtures") if _SHARED else None,
                        HERE / "../../shared/fixtures", HERE / "../shared/fixtures")
            if d is not None and d.is_dir()]

SMALL = {
    "_target_": "allegro.model.AllegroModel",
    "seed": 1, "model_dtype": "float32", "type_names": ["H", "O"], "r_max": 5.0,
    "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
                              "num_bessels": 8},
    "l_max": 1, "num_layers": 1, "compile_mode": "eager",
}


def no_nested(kind, path):
    raise AssertionError(f"unexpected nested load {kind} {path}")


class ConfigMapping(unittest.TestCase):
    def test_fixture_configs_map_to_themselves(self):
        if not FIXTURES:
            self.skipTest("shared/fixtures not found")
        for name in ("small_noparity.json", "seed_lmax2.json"):
            cfg = json.loads((FIXTURES[0] / name).read_text())["config"]
            with_target = dict(cfg, _target_="allegro.model.AllegroModel")
            got = ex.rust_config(ex.allegro_config(with_target, no_nested, []))
            self.assertEqual(got, cfg, name)

    def test_builder_keys_dropped_at_their_defaults(self):
        cfg = dict(SMALL, do_derivatives=True, weight_individual_irreps=True)
        out = ex.rust_config(ex.allegro_config(cfg, no_nested, []))
        for key in ("_target_", "compile_mode", "do_derivatives", "weight_individual_irreps"):
            self.assertNotIn(key, out)
        self.assertEqual(out["type_names"], ["H", "O"])
        self.assertEqual(out["radial_chemical_embed"]["_target_"],
                         "allegro.nn.TwoBodyBesselScalarEmbed")

    def test_unsupported_settings_are_refused(self):
        for bad, word in [({"do_derivatives": False}, "do_derivatives"),
                          ({"weight_individual_irreps": False}, "weight_individual_irreps"),
                          ({"irreps_edge_sh": "1x0e"}, "irreps_edge_sh")]:
            with self.assertRaises(ex.ExportError) as e:
                ex.rust_config(dict(SMALL, **bad))
            self.assertIn(word, str(e.exception))
        with self.assertRaises(ex.ExportError) as e:
            ex.allegro_config(dict(SMALL, _target_="nequip.model.NequIPGNNModel"),
                              no_nested, [])
        self.assertIn("NequIPGNNModel", str(e.exception))
        with self.assertRaises(ex.ExportError):
            ex.rust_config({k: v for k, v in SMALL.items() if k != "r_max"})

    def test_modify_and_fine_tuning_are_followed(self):
        notes = []
        wrapped = {"_target_": "nequip.model.modify",
                   "modifiers": [{"modifier": "enable_TritonContracter"}],
                   "model": {"_target_": "nequip.model.ModelFromPackage",
                             "package_path": "/x/base.nequip.zip"}}
        seen = []

        def nested(kind, path):
            seen.append((kind, path))
            return SMALL

        got = ex.rust_config(ex.allegro_config(wrapped, nested, notes))
        self.assertEqual(seen, [("nequip.model.ModelFromPackage", "/x/base.nequip.zip")])
        self.assertEqual(got["r_max"], 5.0)
        self.assertEqual(len(notes), 2)
        self.assertIn("enable_TritonContracter", notes[0])

    def test_plain_converts_tuples_and_mappings(self):
        class Mapping:
            def items(self):
                return [("a", (1, 2)), ("b", {"c": [3]})]

        self.assertEqual(ex.plain(Mapping()), {"a": [1, 2], "b": {"c": [3]}})


class Keys(unittest.TestCase):
    NAMES = ["_empty", "func.edge_norm._rmax_recip",
             "func.radial_chemical_embed.bessel_encode.bessel_weights",
             "func.edge_readout.mlp_module.mlp.0.weight"]

    def test_prefixes_are_normalized(self):
        for outer in ("model.", "sole_model.model.", "model.sole_model.model."):
            names = [outer + n for n in self.NAMES]
            got = ex.normalize_keys(names)
            self.assertNotIn(outer + "_empty", got)
            self.assertEqual(got[outer + "func.edge_norm._rmax_recip"],
                             "model.func.edge_norm._rmax_recip")
            self.assertEqual(sorted(got.values()),
                             sorted("model.func." + n[5:] for n in self.NAMES[1:]))

    def test_fixture_names_are_kept(self):
        if not FIXTURES:
            self.skipTest("shared/fixtures not found")
        sd = json.loads((FIXTURES[0] / "small_noparity.json").read_text())["state_dict"]
        got = ex.normalize_keys(list(sd))
        self.assertEqual({k: v for k, v in got.items() if k != v}, {})
        self.assertEqual(set(sd) - set(got), {"model._empty"})

    def test_non_allegro_state_dict_is_refused(self):
        with self.assertRaises(ex.ExportError):
            ex.normalize_keys(["model.func.convnet.0.weight"])


class Package(unittest.TestCase):
    def write_zip(self, path, files):
        with zipfile.ZipFile(path, "w") as z:
            for name, text in files.items():
                z.writestr(name, text)

    def test_config_from_package(self):
        try:
            import yaml
        except ModuleNotFoundError:
            self.skipTest("PyYAML not installed")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.nequip.zip")
            info = {"training_module": {"_target_": "nequip.train.EMALightningModule",
                                        "model": SMALL}}
            self.write_zip(path, {"m/model/config.yaml": yaml.safe_dump(info),
                                  "m/model/package_metadata.txt": "x: 1\n"})
            self.assertEqual(ex.config_of(path), SMALL)
            self.assertEqual(ex.config_of("nequip.model.ModelFromPackage", path), SMALL)
            bad = os.path.join(d, "bad.nequip.zip")
            self.write_zip(bad, {"m/other.txt": "x"})
            with self.assertRaises(ex.ExportError):
                ex.config_of(bad)

    def test_main_fails_cleanly_without_nequip(self):
        try:
            import yaml
        except ModuleNotFoundError:
            self.skipTest("PyYAML not installed")
        try:
            import nequip  # noqa: F401
            self.skipTest("nequip is installed")
        except ModuleNotFoundError:
            pass
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.nequip.zip")
            self.write_zip(path, {"m/model/config.yaml": yaml.safe_dump(
                {"training_module": {"model": SMALL}})})
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = ex.main([path, os.path.join(d, "out.json")])
            self.assertEqual(rc, 1)
            self.assertIn("pip install nequip", err.getvalue())
            self.assertFalse(os.path.exists(os.path.join(d, "out.json")))


if __name__ == "__main__":
    unittest.main()
