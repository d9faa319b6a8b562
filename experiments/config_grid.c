/* config_grid.c - a config's spacing k as a grid: a named spacing (dode_grid_make) or
 * a grid file, `spacings = file:PATH` (grid_file.h). A file fixes the step count, so every
 * (solver, nfe) of a sweep using it must take exactly the file's steps; the sweep checks
 * every combination before its first run (sweep.c, check_grids). */
#include <string.h>

#include "diffode/status.h"

#include "config.h"
#include "grid_file.h"

const char *exp_config_spacing_name(const exp_config *cfg, size_t k)
{
    return cfg->spacing_files[k][0] != '\0' ? cfg->spacing_files[k]
                                             : dode_spacing_name(cfg->spacings[k]);
}

int exp_config_grid(const exp_config *cfg, size_t k, const dode_schedule *s, size_t steps,
                    dode_grid *g, char *err, size_t errlen)
{
    const char *file = cfg->spacing_files[k];
    if (file[0] == '\0') {
        dode_grid_opts go;
        dode_grid_opts_init(&go);
        go.spacing = cfg->spacings[k];
        go.t_max = cfg->t_max;
        go.t_min = cfg->t_min;
        go.rho = cfg->rho;
        go.to_zero = cfg->to_zero;
        return dode_grid_make(s, &go, steps > 0 ? steps : 1, g, err, errlen);
    }
    dode_grid fg;
    int rc = exp_grid_file_read("spacing", file + strlen("file:"), s, &fg, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (steps > 0 && fg.steps != steps) {
        const size_t have = fg.steps;
        dode_grid_free(&fg);
        return dode_fail(err, errlen, DODE_EINVAL, "spacing %s has %zu steps, not the %zu this "
                         "solver takes at this nfe (a grid file fixes the steps)", file, have,
                         steps);
    }
    *g = fg;
    return DODE_OK;
}
