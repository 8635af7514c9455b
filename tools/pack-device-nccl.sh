#!/usr/bin/env bash
# Packs what tools/device-nccl-run.sh needs into the git-ignored .devbin/nccl (carry it:
# `carry: [".devbin/nccl"]`): the CUDA + MPI + NCCL builds of allegro-train's
# data_parallel test binary and of the nequip example (feature `nccl`), a slim copy of the
# MPICH wheel of .ci/pydeps (mpirun and libmpi), the seed config and the xTB LMDB files.
# NCCL itself is not packed: the device machine's PyTorch brings libnccl.so.2.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.devbin/" .git/info/exclude 2>/dev/null || echo "/.devbin/" >> .git/info/exclude
P=$PWD/.ci/pydeps
export LIBCLANG_PATH=$(ls -d "$P"/lib/python3*/site-packages/clang/native)
export PATH="$P/bin:$PATH" LD_LIBRARY_PATH="$P/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo build --release --features nccl --example nequip
T=$(cargo test --release -p allegro-train --features nccl --test data_parallel --no-run \
  --message-format=json 2>/dev/null | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "data_parallel" and m.get("executable"):
        print(m["executable"])')
D=.devbin/nccl
rm -rf $D && mkdir -p $D/data
cp "$T" $D/data_parallel && cp target/release/examples/nequip $D/nequip
strip $D/data_parallel $D/nequip
# MPICH, xz-packed (the carry limit is 64 MiB for everything): the launcher and libmpi.
rm -rf /tmp/nccl-pydeps && mkdir -p /tmp/nccl-pydeps/pydeps/bin /tmp/nccl-pydeps/pydeps/lib
cp -a "$P"/bin/{mpirun,mpiexec,mpiexec.hydra,hydra_pmi_proxy} /tmp/nccl-pydeps/pydeps/bin/
cp -a "$P"/lib/libmpi.so* "$P/lib/mpich" /tmp/nccl-pydeps/pydeps/lib/
tar cJf $D/pydeps.tar.xz -C /tmp/nccl-pydeps pydeps
cp ../shared/reference/seed-demo.yaml $D/
cp ../shared/data/nequip-lmdb/xtb-*.lmdb ../shared/data/xtb-organics.xyz $D/data/
du -sh $D
