/* pair_style allegro: Allegro potentials from allegro-rs model files (.allegro), as a
 * LAMMPS plugin. The model runs in Rust behind the C ABI of include/allegro.h; this
 * class only hands LAMMPS's atoms and full neighbor list across and adds the results
 * back. Usage:
 *
 *   plugin load /path/to/allegroplugin.so
 *   pair_style allegro
 *   pair_coeff * * model.allegro H O      # one model type name per LAMMPS type
 *
 * Requirements: units metal, newton pair on (forces on ghost atoms are reverse
 * communicated to their owners). */

#ifndef LMP_PAIR_ALLEGRO_RS_H
#define LMP_PAIR_ALLEGRO_RS_H

#include "pair.h"

#include <vector>

struct AllegroModel;

namespace LAMMPS_NS {

/** Pair style backed by an allegro-rs model: energy, forces on local and ghost atoms,
 * per-atom energies and the global virial. */
class PairAllegro : public Pair {
 public:
  explicit PairAllegro(class LAMMPS *);
  ~PairAllegro() override;
  /** Evaluates the model on this rank's local atoms (ghosts as neighbors). */
  void compute(int, int) override;
  /** `pair_style allegro` takes no arguments. */
  void settings(int, char **) override;
  /** `pair_coeff * * MODEL NAME...`: opens the model, maps LAMMPS types by name. */
  void coeff(int, char **) override;
  /** Requests a full neighbor list; checks newton pair and units. */
  void init_style() override;
  /** The model's cutoff for the two types (the larger of both directions). */
  double init_one(int, int) override;

 private:
  void allocate();

  AllegroModel *model = nullptr;
  /** LAMMPS type (1-based) -> model type index. */
  std::vector<int> type_map;
  /** Per-step buffers, kept to avoid reallocating every step. */
  std::vector<int> types;
  std::vector<double> forces, atom_energies;
};

}    // namespace LAMMPS_NS

#endif
