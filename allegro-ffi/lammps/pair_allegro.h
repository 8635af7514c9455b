/* pair_style allegro: Allegro potentials from allegro-rs model files (.allegro), as a
 * LAMMPS plugin. The model runs in Rust behind the C ABI of include/allegro.h; this
 * class only hands LAMMPS's atoms and full neighbor list across and adds the results
 * back. Usage:
 *
 *   plugin load /path/to/allegroplugin.so
 *   pair_style allegro [device DEVICE] [edges_per_pass N]
 *                                          # DEVICE: cpu (default), cuda, cuda:N, hip, hip:N
 *   pair_coeff * * model.allegro H O      # one model type name per LAMMPS type
 *
 * With `device cuda` (or hip) and no index, each MPI rank takes the GPU of its local
 * rank on the node (Open MPI, MPICH, MVAPICH, Slurm, PALS variables), or GPU 0 when the
 * launcher already gave the task a single visible GPU (CUDA_VISIBLE_DEVICES /
 * ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES with one entry, e.g. srun --gpu-bind).
 * The environment variable ALLEGRO_DEVICE overrides the default device.
 *
 * Per-atom energies, per-atom virials (compute stress/atom) and centroid virials
 * (compute centroid/stress/atom, heat flux) are available.
 *
 * Requirements: units metal, newton pair on (forces and per-atom virials on ghost atoms
 * are reverse communicated to their owners). */

#ifndef LMP_PAIR_ALLEGRO_RS_H
#define LMP_PAIR_ALLEGRO_RS_H

#include "pair.h"

#include <string>
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
  /** `pair_style allegro [device DEVICE] [edges_per_pass N]`. */
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
  /** The device the model is opened on (`cpu`, `cuda:1` ...). */
  std::string device = "cpu";
  /** Edges per evaluation pass (`edges_per_pass N`; 0: one pass), bounds GPU memory. */
  bigint edges_per_pass = 0;
  /** LAMMPS type (1-based) -> model type index. */
  std::vector<int> type_map;
  /** Per-step buffers, kept to avoid reallocating every step. */
  std::vector<int> types;
  std::vector<double> forces, atom_energies, atom_virial;
};

}    // namespace LAMMPS_NS

#endif
