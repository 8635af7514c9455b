/*
 * allegro.h - C ABI of allegro-rs (Allegro equivariant interatomic potentials).
 *
 * Generated from the crate allegro-ffi by cbindgen (allegro-ffi/cbindgen.toml); do not
 * edit by hand.
 *
 * Usage: allegro_model_open() a `.allegro` file, read its metadata, call
 * allegro_compute() (periodic or open cell) or allegro_compute_lammps() (local + ghost
 * atoms, full neighbor list), then allegro_model_free(). Link with -lallegro_ffi.
 *
 * Conventions: every function returning int returns ALLEGRO_OK (0) or an ALLEGRO_ERR_*
 * code; on failure allegro_last_error() holds a message. No Rust panic crosses into C.
 * Units: Angstrom, eV, eV/Angstrom. Arrays are row-major double (or int) buffers owned
 * by the caller.
 *
 * Thread safety: one handle per thread at a time - calls on the same AllegroModel must
 * not overlap; open one handle per thread to compute in parallel. The last-error message
 * is kept per thread.
 */

#ifndef ALLEGRO_H
#define ALLEGRO_H

#include <stddef.h>
#include <stdint.h>

/**
 * Version of this C ABI. It changes whenever a signature or a meaning changes, so a
 * program built against one header can refuse a library of another
 * (`allegro_abi_version`).
 *
 * 2: `allegro_model_open_device`, `allegro_model_device`, and the `atom_virial` output
 * of `allegro_compute_lammps`. 3: `allegro_model_set_max_edges_per_pass`.
 */
#define ALLEGRO_ABI_VERSION 3

/**
 * Success.
 */
#define ALLEGRO_OK 0

/**
 * A required pointer was null.
 */
#define ALLEGRO_ERR_NULL 1

/**
 * An argument is invalid (size, type name, non-UTF-8 path ...).
 */
#define ALLEGRO_ERR_INVALID 2

/**
 * The model file could not be read.
 */
#define ALLEGRO_ERR_MODEL_FILE 3

/**
 * The computation failed (bad structure, neighbor list ...).
 */
#define ALLEGRO_ERR_COMPUTE 4

/**
 * A bug: a panic was caught at the boundary.
 */
#define ALLEGRO_ERR_PANIC 5

/**
 * The device asked for is not usable: not built into this library, or it could not
 * start (no driver, no such device).
 */
#define ALLEGRO_ERR_DEVICE 6

/**
 * Model features are computed in IEEE binary32 (geometry and forces stay binary64).
 */
#define ALLEGRO_DTYPE_FLOAT32 32

/**
 * Model features are computed in IEEE binary64.
 */
#define ALLEGRO_DTYPE_FLOAT64 64

/**
 * An opened model (opaque to C). One handle may be used from one thread at a time;
 * open one handle per thread for parallel use.
 */
typedef struct AllegroModel AllegroModel;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The ABI version of the loaded library; compare with the header's
 * `ALLEGRO_ABI_VERSION`.
 */
int32_t allegro_abi_version(void);

/**
 * Computes a configuration of `n_atoms` atoms for codes without their own neighbor
 * list. `types[i]` are model type indices; `positions` is `[n_atoms][3]` (Å); `cell`
 * is `[3][3]` (rows = lattice vectors) or null for an open system; `pbc` is `[3]` or
 * null (all periodic when a cell is given). Outputs: `*energy` (eV), and when non-null
 * `atomic_energies[n_atoms]`, `forces[n_atoms][3]` (eV/Å), `virial[3][3]` (eV).
 *
 * # Safety
 * Every non-null pointer must be valid for the sizes above.
 */
int32_t allegro_compute(const AllegroModel *model,
                        size_t n_atoms,
                        const int32_t *types,
                        const double *positions,
                        const double *cell,
                        const int32_t *pbc,
                        double *energy,
                        double *atomic_energies,
                        double *forces,
                        double *virial);

/**
 * The message of the last failed call on this thread (empty if none). The pointer is
 * valid until the next failing call on the same thread.
 */
const char *allegro_last_error(void);

/**
 * Computes `nlocal` local atoms with `nghost` ghosts.
 *
 * Inputs: `types[nlocal + nghost]` (model type indices), `x[(nlocal + nghost) * 3]`
 * (Å), and LAMMPS's full neighbor list: `inum` centers `ilist[inum]` (local indices),
 * `numneigh[inum]`, `firstneigh[inum]` (each an array of `numneigh[k]` atom indices,
 * LAMMPS's neighbor mask bits are stripped). Pairs beyond the model's cutoff for their
 * types are skipped (they would contribute exactly zero). A rank with no local atoms,
 * or local atoms without neighbors, is valid input.
 *
 * On a GPU, positions, types and the kept pairs go to the device once per call and the
 * edge vectors are built there; with `allegro_model_set_max_edges_per_pass` the edges
 * are evaluated in passes of bounded memory. A failed GPU allocation is
 * `ALLEGRO_ERR_DEVICE`.
 *
 * Outputs: `*energy`, the sum over local atoms; `atomic_energies[nlocal]` (or null);
 * `forces[(nlocal + nghost) * 3]` on local and ghost atoms (reverse-communicate ghost
 * forces to their owners, LAMMPS `newton on`); `virial[9]` (or null), `−Σ_z v ⊗ ∂E/∂v`
 * symmetrised, from the same edge vectors; `atom_virial[(nlocal + nghost) * 9]` (or
 * null), each atom's share `W_a = −½ Σ_{z ∋ a} v_z ⊗ ∂E/∂v_z` (row-major 3 × 3, not
 * symmetrised: LAMMPS's centroid form; symmetrise it for `compute stress/atom`), on
 * ghost atoms too (reverse-communicate them like forces). Over all atoms the
 * symmetrised shares add up to `virial`.
 *
 * # Safety
 * Every pointer must be valid for the sizes above (`atomic_energies`, `virial`,
 * `atom_virial` may be null).
 */
int32_t allegro_compute_lammps(const AllegroModel *model,
                               int nlocal,
                               int nghost,
                               const int *types,
                               const double *x,
                               int inum,
                               const int *ilist,
                               const int *numneigh,
                               const int *const *firstneigh,
                               double *energy,
                               double *atomic_energies,
                               double *forces,
                               double *virial,
                               double *atom_virial);

/**
 * Writes the model's largest cutoff radius (Å) to `*r_max`: the ghost-atom reach a
 * domain decomposition needs.
 *
 * # Safety
 * `model` from `allegro_model_open`; `r_max` writable.
 */
int32_t allegro_model_r_max(const AllegroModel *model,
                            double *r_max);

/**
 * Writes the cutoff (Å) of edges from a center of type `center` to a neighbor of type
 * `neighbor` to `*cutoff` (per-edge-type cutoffs; `r_max` when the model has none).
 * Pairs farther apart than this contribute exactly zero.
 *
 * # Safety
 * `model` from `allegro_model_open`; `cutoff` writable.
 */
int32_t allegro_model_cutoff(const AllegroModel *model,
                             int32_t center,
                             int32_t neighbor,
                             double *cutoff);

/**
 * Writes the number of atom types to `*n`.
 *
 * # Safety
 * `model` from `allegro_model_open`; `n` writable.
 */
int32_t allegro_model_num_types(const AllegroModel *model,
                                int32_t *n);

/**
 * Copies where the model runs (`cpu`, `cuda:0`, …; NUL-terminated) into `buffer` of
 * `len` bytes.
 *
 * # Safety
 * `model` from `allegro_model_open`; `buffer` writable for `len` bytes.
 */
int32_t allegro_model_device(const AllegroModel *model,
                             char *buffer,
                             size_t len);

/**
 * Copies the name of type `index` (NUL-terminated) into `buffer` of `len` bytes.
 *
 * # Safety
 * `model` from `allegro_model_open`; `buffer` writable for `len` bytes.
 */
int32_t allegro_model_type_name(const AllegroModel *model,
                                int32_t index,
                                char *buffer,
                                size_t len);

/**
 * Writes the index of the type called `name` (NUL-terminated, exact match) to
 * `*index`. An unknown name is `ALLEGRO_ERR_INVALID` with a message listing the
 * model's types, so a mistyped `pair_coeff` says what would have worked.
 *
 * # Safety
 * `model` from `allegro_model_open`; `name` a valid C string; `index`
 * writable.
 */
int32_t allegro_model_type_index(const AllegroModel *model,
                                 const char *name,
                                 int32_t *index);

/**
 * Writes the model's feature dtype to `*dtype`: `ALLEGRO_DTYPE_FLOAT32` or
 * `ALLEGRO_DTYPE_FLOAT64`. Inputs and outputs of this ABI are `double` either way.
 *
 * # Safety
 * `model` from `allegro_model_open`; `dtype` writable.
 */
int32_t allegro_model_dtype(const AllegroModel *model,
                            int32_t *dtype);

/**
 * Opens the `.allegro` file at `path` (UTF-8, NUL-terminated) into `*out`, on the CPU.
 *
 * # Safety
 * `path` must be a valid C string; `out` must point to writable storage.
 */
int32_t allegro_model_open(const char *path,
                           AllegroModel **out);

/**
 * Opens the `.allegro` file at `path` into `*out` with its weights on `device`:
 * `"cpu"`, `"cuda"` / `"cuda:N"`, `"hip"` / `"hip:N"` or `"vulkan"` (NUL-terminated).
 * A GPU this library was not built for, or one that cannot start, is
 * `ALLEGRO_ERR_DEVICE` with a message saying which.
 *
 * # Safety
 * `path` and `device` must be valid C strings; `out` must point to writable storage.
 */
int32_t allegro_model_open_device(const char *path,
                                  const char *device,
                                  AllegroModel **out);

/**
 * Bounds the memory of each evaluation: edges are evaluated in passes of at most about
 * `max_edges` (grouped by center atom; exact, the passes add up to one evaluation).
 * `0` removes the bound (one pass, the default). Worth setting on a GPU for large
 * systems: memory grows with the edges of a pass, time barely changes above a few
 * hundred thousand.
 *
 * # Safety
 * `model` must come from `allegro_model_open` (or be null: `ALLEGRO_ERR_NULL`) and not
 * be in use on another thread.
 */
int32_t allegro_model_set_max_edges_per_pass(AllegroModel *model,
                                             uint64_t max_edges);

/**
 * Frees a model opened by `allegro_model_open`; null is ignored. With `ALLEGRO_PROFILE`
 * set, prints the time per stage of its evaluations so far to stderr.
 *
 * # Safety
 * `model` must come from `allegro_model_open` and not be used afterwards.
 */
void allegro_model_free(AllegroModel *model);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* ALLEGRO_H */
