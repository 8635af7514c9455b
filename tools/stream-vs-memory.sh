#!/usr/bin/env bash
# Issue 10's streaming check: one epoch of the seed config (a small Allegro, see below)
# on a large LMDB file, streamed, against the same frames read into memory from extxyz,
# each under /usr/bin/time -v (maximum resident size) in one command.
#
#   cargo build --release --example scale_lmdb --example nequip
#   tools/stream-vs-memory.sh [COPIES=110] [WORK=/tmp/stream-vs-memory]
#
# COPIES jittered copies of examples/data/xtb-organics.xyz (2,253 frames each; 110 give
# 247,830 frames, a 1.03 GB LMDB and a 275 MB extxyz of the same frames). Validation on
# nequip's own xtb-val.lmdb. Both runs must print the same metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-110}
WORK=${2:-/tmp/stream-vs-memory}
SHARED=${ALLEGRO_SHARED_DIR:-../shared}
mkdir -p "$WORK"
[ -f "$WORK/x$COPIES.lmdb" ] || target/release/examples/scale_lmdb examples/data/xtb-organics.xyz \
  "$WORK/x$COPIES.lmdb" --copies "$COPIES" --xyz "$WORK/x$COPIES.xyz"
ls -l "$WORK/x$COPIES.lmdb" "$WORK/x$COPIES.xyz"
V=$SHARED/data/nequip-lmdb/xtb-val.lmdb
for kind in lmdb xyz; do
  echo "== train_dataset x$COPIES.$kind ($([ $kind = lmdb ] && echo streamed || echo in memory))"
  rm -rf "$WORK/run-$kind"
  /usr/bin/time -v target/release/examples/nequip "$SHARED/reference/seed-demo.yaml" \
    ++data.train_dataset.file_path="$WORK/x$COPIES.$kind" ++data.val_dataset.file_path="$V" \
    ++data.test_dataset.0.file_path="$V" 'run=[train]' trainer.max_epochs=1 \
    model_lmax=1 model_numlayers=1 model_num_scalar_features=16 model_num_tensor_features=8 \
    model_allegro_mlp_hidden_layers_width=32 model_readout_mlp_hidden_layers_width=16 \
    model_radial_chemical_embed_dim=8 model_scalar_embed_mlp_hidden_layers_width=16 \
    cutoff_radius=4.0 batch_size=32 hydra.run.dir="$WORK/run-$kind" 2>&1 |
    grep -E "^epoch|error|Maximum resident|Elapsed"
  cut -d, -f1-4 "$WORK/run-$kind/metrics.csv"
done
