/* Energy, forces and virial of the first frame of an (ext)xyz file through the C ABI
 * of allegro-rs (include/allegro.h).
 *
 *   cargo build -p allegro-ffi --release
 *   g++ -std=c++17 -O2 examples/cpp/predict.cpp -Iinclude -Ltarget/release \
 *       -lallegro_ffi -Wl,-rpath,$PWD/target/release -o predict
 *   ./predict model.allegro structure.xyz
 *
 * Species are mapped to model types by name; a periodic cell is read from the extxyz
 * `Lattice="..."` key (none: an open system). Output: `energy E`, then one
 * `force fx fy fz` line per atom, then `virial` with 9 numbers (eV, eV/A), printed to
 * round-trip exactly. */

#include "allegro.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Turns an error code into an exception carrying the library's message.
void check(int code, const char *what)
{
  if (code != ALLEGRO_OK)
    throw std::runtime_error(std::string(what) + ": " + allegro_last_error());
}

// Owns a model handle (RAII); one handle per thread at a time.
struct ModelDeleter {
  void operator()(AllegroModel *m) const { allegro_model_free(m); }
};
using Model = std::unique_ptr<AllegroModel, ModelDeleter>;

Model open_model(const char *path)
{
  AllegroModel *raw = nullptr;
  check(allegro_model_open(path, &raw), "open model");
  return Model(raw);
}

struct Frame {
  std::vector<std::string> species;
  std::vector<double> positions;    // [n][3]
  std::vector<double> cell;         // [3][3] rows, or empty
};

// The first frame of an (ext)xyz file: only species, positions and Lattice are read.
Frame read_xyz(const char *path)
{
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  std::string line;
  std::getline(in, line);
  size_t n = std::stoul(line);
  std::getline(in, line);
  Frame frame;
  auto lattice = line.find("Lattice=\"");
  if (lattice != std::string::npos) {
    std::istringstream numbers(line.substr(lattice + 9));
    frame.cell.resize(9);
    for (double &x : frame.cell) numbers >> x;
    if (!numbers) throw std::runtime_error("bad Lattice in " + std::string(path));
  }
  for (size_t i = 0; i < n; i++) {
    if (!std::getline(in, line)) throw std::runtime_error("too few atom lines");
    std::istringstream fields(line);
    std::string s;
    double x, y, z;
    if (!(fields >> s >> x >> y >> z)) throw std::runtime_error("bad atom line: " + line);
    frame.species.push_back(s);
    frame.positions.insert(frame.positions.end(), {x, y, z});
  }
  return frame;
}

}    // namespace

int main(int argc, char **argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.allegro STRUCTURE.xyz\n", argv[0]);
    return 2;
  }
  try {
    if (allegro_abi_version() != ALLEGRO_ABI_VERSION)
      throw std::runtime_error("library and header ABI versions differ");
    Model model = open_model(argv[1]);
    double r_max = 0.0;
    int32_t n_types = 0, dtype = 0;
    check(allegro_model_r_max(model.get(), &r_max), "r_max");
    check(allegro_model_num_types(model.get(), &n_types), "num_types");
    check(allegro_model_dtype(model.get(), &dtype), "dtype");
    std::printf("# model: %d types, r_max %g A, float%d\n", n_types, r_max, dtype);

    Frame frame = read_xyz(argv[2]);
    size_t n = frame.species.size();
    std::vector<int32_t> types(n);
    for (size_t i = 0; i < n; i++)
      check(allegro_model_type_index(model.get(), frame.species[i].c_str(), &types[i]),
            "species");

    double energy = 0.0, virial[9];
    std::vector<double> forces(3 * n);
    const double *cell = frame.cell.empty() ? nullptr : frame.cell.data();
    check(allegro_compute(model.get(), n, types.data(), frame.positions.data(), cell, nullptr,
                          &energy, nullptr, forces.data(), virial),
          "compute");

    std::printf("energy %.17g\n", energy);
    for (size_t i = 0; i < n; i++)
      std::printf("force %.17g %.17g %.17g\n", forces[3 * i], forces[3 * i + 1],
                  forces[3 * i + 2]);
    std::printf("virial");
    for (double v : virial) std::printf(" %.17g", v);
    std::printf("\n");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
