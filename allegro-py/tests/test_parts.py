"""Parts of one's own through Python: an extension module whose init registered them
(``allegro-py/parts-demo``, built and installed by ``allegro-py/test.sh``) loads a model
file that names them and predicts what the Rust predictor predicted with the parts
passed directly; the plain ``allegro`` package refuses the same file by the part's name
(``test_errors.py::test_unregistered_custom_part``)."""

import json

import numpy as np

import _allegro_parts_demo as demo


def test_registered_parts_load_and_predict_as_rust(test_data):
    reference = json.loads((test_data / "custom-parts-reference.json").read_text())
    model = demo.Model(test_data / "custom-parts.allegro")
    out = model.compute(
        np.array(reference["numbers"], dtype=np.int64),
        np.array(reference["positions"], dtype=np.float64),
    )
    energy = reference["energy"]
    assert abs(out["energy"] - energy) <= 1e-10 * abs(energy), (out["energy"], energy)
    forces = np.array(reference["forces"])
    assert np.abs(forces).max() > 1e-6, "forces are not all zero"
    np.testing.assert_allclose(out["forces"], forces, rtol=0, atol=1e-10)
