/* pair_style allegro: see pair_allegro.h. */

#include "pair_allegro.h"

#include "allegro.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace LAMMPS_NS;

PairAllegro::PairAllegro(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  // The virial comes from the model (edge vectors x dE/dv), so no fdotr pass is needed.
  no_virial_fdotr_compute = 1;
  // Per-atom shares of the virial come unsymmetrised (edge by edge), the centroid form.
  centroidstressflag = CENTROID_AVAIL;
}

PairAllegro::~PairAllegro()
{
  allegro_model_free(model);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairAllegro::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

/* The local rank of this process on its node, from the launchers' variables, or -1. */
static int local_rank()
{
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                           "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "PALS_LOCAL_RANKID",
                           "PMI_LOCAL_RANK"}) {
    const char *v = getenv(name);
    if (v && *v) return atoi(v);
  }
  return -1;
}

/* Entries of a comma-separated device list variable (0 when unset or empty). */
static int visible_devices(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  int n = 1;
  for (const char *c = v; *c; c++) n += (*c == ',');
  return n;
}

/* "cuda" or "hip" without an index becomes "cuda:N": GPU 0 when the launcher left one
   visible GPU, else the local rank modulo the visible GPUs (when listed). */
static std::string with_local_gpu(const std::string &device)
{
  if (device.find(':') != std::string::npos) return device;
  int visible = 0;
  if (device == "cuda") visible = visible_devices("CUDA_VISIBLE_DEVICES");
  else if (device == "hip" || device == "rocm")
    visible = std::max(visible_devices("ROCR_VISIBLE_DEVICES"),
                       visible_devices("HIP_VISIBLE_DEVICES"));
  else
    return device;
  if (visible == 1) return device + ":0";
  int rank = local_rank();
  if (rank < 0) rank = 0;
  if (visible > 1) rank %= visible;
  return device + ":" + std::to_string(rank);
}

void PairAllegro::settings(int narg, char **arg)
{
  const char *env = getenv("ALLEGRO_DEVICE");
  device = env && *env ? env : "cpu";
  int iarg = 0;
  while (iarg < narg) {
    if (strcmp(arg[iarg], "device") == 0 && iarg + 1 < narg) {
      device = arg[iarg + 1];
      iarg += 2;
    } else if (strcmp(arg[iarg], "edges_per_pass") == 0 && iarg + 1 < narg) {
      edges_per_pass = utils::bnumeric(FLERR, arg[iarg + 1], false, lmp);
      if (edges_per_pass < 0)
        error->all(FLERR, "pair_style allegro: edges_per_pass must be 0 (no bound) or more");
      iarg += 2;
    } else {
      error->all(FLERR,
                 "Illegal pair_style allegro command: expected [device DEVICE] "
                 "[edges_per_pass N], got {}",
                 arg[iarg]);
    }
  }
  device = with_local_gpu(device);
}

void PairAllegro::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "Incorrect args for pair_coeff: expected * * MODEL and {} type names",
               ntypes);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "Incorrect args for pair_coeff: pair_style allegro needs * *");

  if (allegro_abi_version() != ALLEGRO_ABI_VERSION)
    error->all(FLERR, "pair_style allegro was built for allegro ABI {} but loaded ABI {}",
               ALLEGRO_ABI_VERSION, allegro_abi_version());
  allegro_model_free(model);
  model = nullptr;
  if (allegro_model_open_device(arg[2], device.c_str(), &model) != ALLEGRO_OK)
    error->one(FLERR, "pair_style allegro: cannot open {} on {}: {}", arg[2], device,
               allegro_last_error());
  if (allegro_model_set_max_edges_per_pass(model, (uint64_t) edges_per_pass) != ALLEGRO_OK)
    error->one(FLERR, "pair_style allegro: {}", allegro_last_error());
  if (comm->me == 0) {
    utils::logmesg(lmp, "pair_style allegro: {} on {}\n", arg[2], device);
    if (edges_per_pass > 0)
      utils::logmesg(lmp, "pair_style allegro: passes of at most {} edges\n", edges_per_pass);
  }

  // Map LAMMPS types to model types by name, so the order of the model's types does
  // not matter and a wrong name fails here rather than computing nonsense.
  type_map.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const char *name = arg[2 + t];
    if (strcmp(name, "NULL") == 0)
      error->all(FLERR, "pair_style allegro: NULL types (pair_style hybrid) are not supported");
    if (allegro_model_type_index(model, name, &type_map[t]) != ALLEGRO_OK)
      error->all(FLERR, "pair_style allegro: LAMMPS type {}: {}", t, allegro_last_error());
  }
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = 1;
}

void PairAllegro::init_style()
{
  if (force->newton_pair == 0) error->all(FLERR, "Pair style allegro requires newton pair on");
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "Pair style allegro requires units metal (eV, Angstrom)");
  if (!model) error->all(FLERR, "Pair style allegro: pair_coeff * * MODEL ... not given");
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairAllegro::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "All pair coeffs are not set");
  double cij = 0.0, cji = 0.0;
  if (allegro_model_cutoff(model, type_map[i], type_map[j], &cij) != ALLEGRO_OK ||
      allegro_model_cutoff(model, type_map[j], type_map[i], &cji) != ALLEGRO_OK)
    error->all(FLERR, "pair_style allegro: {}", allegro_last_error());
  // The neighbor list must hold pairs within either direction's cutoff; the model
  // itself drops those beyond the cutoff of their (center, neighbor) types.
  return std::max(cij, cji);
}

void PairAllegro::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  int nlocal = atom->nlocal;
  int ntotal = nlocal + atom->nghost;
  // A rank whose domain holds no atoms has nothing to add; local atoms without
  // neighbors still get their per-type energies, so an empty list is evaluated too.
  if (ntotal == 0) return;

  types.resize(ntotal);
  const int *type = atom->type;
  for (int i = 0; i < ntotal; i++) types[i] = type_map[type[i]];
  forces.assign(3 * (size_t) ntotal, 0.0);
  atom_energies.resize(nlocal);
  bool per_atom_virial = vflag_atom || cvflag_atom;
  if (per_atom_virial) atom_virial.assign(9 * (size_t) ntotal, 0.0);

  double energy = 0.0, vir[9] = {0.0};
  int rc = allegro_compute_lammps(
      model, nlocal, atom->nghost, types.data(), ntotal ? &atom->x[0][0] : nullptr, list->inum,
      list->ilist, list->numneigh, list->firstneigh, &energy,
      eflag_atom ? atom_energies.data() : nullptr, forces.data(), vflag_global ? vir : nullptr,
      per_atom_virial ? atom_virial.data() : nullptr);
  if (rc != ALLEGRO_OK) error->one(FLERR, "pair_style allegro: {}", allegro_last_error());

  // Add (not copy): other styles or fixes may already have put forces here. Ghost forces
  // go back to their owners in LAMMPS's reverse communication (newton on).
  double **f = atom->f;
  for (int i = 0; i < ntotal; i++)
    for (int d = 0; d < 3; d++) f[i][d] += forces[3 * (size_t) i + d];

  if (eflag_global) eng_vdwl += energy;
  if (eflag_atom)
    for (int i = 0; i < nlocal; i++) eatom[i] += atom_energies[i];
  if (vflag_global) {
    // LAMMPS's Voigt order: xx, yy, zz, xy, xz, yz.
    virial[0] += vir[0];
    virial[1] += vir[4];
    virial[2] += vir[8];
    virial[3] += vir[1];
    virial[4] += vir[2];
    virial[5] += vir[5];
  }
  // Per-atom shares on local and ghost atoms (LAMMPS reverse-communicates the ghosts'
  // with newton on). W is row-major 3 x 3, not symmetric.
  for (int i = 0; per_atom_virial && i < ntotal; i++) {
    const double *w = &atom_virial[9 * (size_t) i];
    if (vflag_atom) {
      vatom[i][0] += w[0];
      vatom[i][1] += w[4];
      vatom[i][2] += w[8];
      vatom[i][3] += 0.5 * (w[1] + w[3]);
      vatom[i][4] += 0.5 * (w[2] + w[6]);
      vatom[i][5] += 0.5 * (w[5] + w[7]);
    }
    if (cvflag_atom) {
      // xx, yy, zz, xy, xz, yz, yx, zx, zy
      cvatom[i][0] += w[0];
      cvatom[i][1] += w[4];
      cvatom[i][2] += w[8];
      cvatom[i][3] += w[1];
      cvatom[i][4] += w[2];
      cvatom[i][5] += w[5];
      cvatom[i][6] += w[3];
      cvatom[i][7] += w[6];
      cvatom[i][8] += w[7];
    }
  }
}
