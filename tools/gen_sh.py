#!/usr/bin/env python3
"""Regenerate allegro-core/tests/e3_data/sh_high_l.json.

Evaluates e3nn 0.6.0's hard-coded real spherical harmonics
(`e3nn/o3/_spherical_harmonics.py::_spherical_harmonics`, l <= 11, component
normalisation, no input normalisation) at a few vectors in plain Python floats,
without torch: the function body is executed with a tiny stand-in for the three
torch calls it uses. The Rust generator (allegro_core::e3::ShPolynomials) is
tested against these values for every l up to 11, beyond the l <= 3 that
fixtures/e3nn.json pins.

Usage: python3 tools/gen_sh.py /path/to/unzipped/e3nn [> output]
(get the wheel with `pip download --no-deps e3nn==0.6.0` and unzip it).
"""
import json
import math
import sys
import types


class Num(float):
    """A float with the tensor methods the generated code calls."""

    def pow(self, k):
        return Num(float(self) ** k)

    def __mul__(self, o):
        return Num(float(self) * float(o))

    __rmul__ = __mul__

    def __add__(self, o):
        return Num(float(self) + float(o))

    __radd__ = __add__

    def __sub__(self, o):
        return Num(float(self) - float(o))

    def __rsub__(self, o):
        return Num(float(o) - float(self))

    def __neg__(self):
        return Num(-float(self))

    def __truediv__(self, o):
        return Num(float(self) / float(o))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    src = open(f"{root}/e3nn/o3/_spherical_harmonics.py").read()
    body = src[src.index("def _spherical_harmonics(") :]
    torch = types.SimpleNamespace(
        Tensor=Num,
        ones_like=lambda x: Num(1.0),
        stack=lambda items, dim=-1: [float(v) for v in items],
    )
    env = {"torch": torch, "math": math}
    exec(body, env)
    sh = env["_spherical_harmonics"]
    vectors = [[0.3, -0.7, 1.1], [-0.9, 0.2, 0.4], [0.1, 0.8, -0.5]]
    out = {str(l): [sh(l, *(Num(c) for c in v)) for v in vectors] for l in range(12)}
    json.dump(
        {
            "source": "e3nn 0.6.0 o3/_spherical_harmonics.py::_spherical_harmonics, "
            "component normalisation, normalize=False, Python float64 (tools/gen_sh.py)",
            "vectors": vectors,
            "sh": out,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
