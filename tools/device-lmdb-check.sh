#!/usr/bin/env bash
# nequip 0.19.1 itself reads the LMDB files our writer made (issue "9 · The seed's
# workflow"): run on the device machine, which has torch; the nequip wheels come from
# the reference's wheels/ (packed by tools/pack-device-lammps.sh into .devbin/sub).
# Here, beforehand: xyz2lmdb IN.xyz .devbin/sub/lmdb/NAME.lmdb [--float32] for each
# .devbin/sub/lmdb/NAME.xyz (see docs/accuracy.md, "LMDB files").
set -u
cd "$(dirname "$0")/.."
D=.devbin/sub
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/ref-site \
  $D/reference/wheels/*.whl > /dev/null 2>&1 || { echo "installing the wheels failed"; exit 1; }
export PYTHONPATH=/tmp/ref-site
for f in $D/lmdb/*.lmdb; do
  xyz=${f%.lmdb}; xyz=${xyz%-f32}.xyz
  echo "$(basename $f): $(timeout 120 python3 tools/check_lmdb_nequip.py $f $xyz 2>&1 | tail -n 1)"
done
