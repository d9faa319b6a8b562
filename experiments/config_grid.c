/* config_grid.c - a config's spacing k as a grid: a named spacing (dode_grid_make) or
 * a grid file, `spacings = file:PATH` (grid_file.h). A file fixes the step count, so every
 * (solver, nfe) of a sweep using it must take exactly the file's steps; the sweep checks
 * every combination before its first run (sweep.c, check_grids).
 *
 * A PATH holding `{nfe}` or `{solver}` is a template: each (solver, nfe) of the sweep reads
 * its own file, e.g. `file:grids/{solver}_{nfe}.npy` (as `diffode grid` writes one per
 * solver and NFE). The expanded path is looked up beside the config first, then as given
 * (config_keys.c does this for plain paths when the config is read; a template can only
 * be resolved here, once the nfe is known). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "diffode/status.h"

#include "config.h"
#include "grid_file.h"

const char *exp_config_spacing_name(const exp_config *cfg, size_t k)
{
    return cfg->spacing_files[k][0] != '\0' ? cfg->spacing_files[k]
                                             : dode_spacing_name(cfg->spacings[k]);
}

int exp_config_spacing_is_template(const exp_config *cfg, size_t k)
{
    const char *f = cfg->spacing_files[k];
    return strstr(f, "{nfe}") != NULL || strstr(f, "{solver}") != NULL;
}

/* The template's path for (solver, nfe), beside the config if a file is there. */
static int expand(const exp_config *cfg, const char *tmpl, const char *solver, size_t nfe,
                  char *out, size_t outlen, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t w = 0;
    for (const char *c = tmpl; *c != '\0' && w + 1 < sizeof path;) {
        const int nfe_here = strncmp(c, "{nfe}", 5) == 0;
        const int solver_here = strncmp(c, "{solver}", 8) == 0;
        if (nfe_here || solver_here) {
            const int v = nfe_here ? snprintf(path + w, sizeof path - w, "%zu", nfe)
                                   : snprintf(path + w, sizeof path - w, "%s", solver);
            w += v > 0 ? (size_t)v : 0;
            c += nfe_here ? 5 : 8;
        } else {
            path[w++] = *c++;
        }
    }
    if (w + 1 >= sizeof path)
        return dode_fail(err, errlen, DODE_EINVAL, "spacing file:%s: the path is too long for "
                         "nfe %zu, solver %s", tmpl, nfe, solver);
    path[w] = '\0';
    const char *slash = cfg->path != NULL ? strrchr(cfg->path, '/') : NULL;
    if (path[0] != '/' && slash != NULL) {
        const int v = snprintf(out, outlen, "%.*s/%s", (int)(slash - cfg->path), cfg->path,
                               path);
        if (v > 0 && (size_t)v < outlen && access(out, F_OK) == 0)
            return DODE_OK;
    }
    snprintf(out, outlen, "%s", path);
    return DODE_OK;
}

/* The file's grid, checked to take `steps` steps (0: any). */
static int read_file_grid(const char *spacing, const char *path, const dode_schedule *s,
                          size_t steps, dode_grid *g, char *err, size_t errlen)
{
    dode_grid fg;
    int rc = exp_grid_file_read("spacing", path, s, &fg, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (steps > 0 && fg.steps != steps) {
        const size_t have = fg.steps;
        dode_grid_free(&fg);
        return dode_fail(err, errlen, DODE_EINVAL, "spacing %s (%s) has %zu steps, not the "
                         "%zu this solver takes at this nfe (a grid file fixes the steps)",
                         spacing, path, have, steps);
    }
    *g = fg;
    return DODE_OK;
}

int exp_config_grid_for(const exp_config *cfg, size_t k, const dode_schedule *s,
                        size_t solver, size_t nfe, dode_grid *g, char *err, size_t errlen)
{
    const size_t steps = dode_solver_steps_for_nfe(cfg->solvers[solver].type, nfe);
    if (!exp_config_spacing_is_template(cfg, k))
        return exp_config_grid(cfg, k, s, steps, g, err, errlen);
    char path[PATH_MAX + EXP_CFG_SPEC], why[PATH_MAX + 512];
    const char *file = cfg->spacing_files[k];
    int rc = expand(cfg, file + strlen("file:"), cfg->solvers[solver].name, nfe, path,
                    sizeof path, err, errlen);
    if (rc == DODE_OK && (rc = read_file_grid(file, path, s, steps, g, why, sizeof why))
                             != DODE_OK)
        dode_fail(err, errlen, rc, "%s, solver %s at nfe %zu: %s", file,
                  cfg->solvers[solver].name, nfe, why);
    return rc;
}

/* A template with steps = 0: every (solver, nfe) of the sweep must find its file, with
 * the steps it takes there. */
static int check_template(const exp_config *cfg, size_t k, const dode_schedule *s,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nsolvers; i++)
        for (size_t j = 0; j < cfg->nnfe; j++) {
            dode_grid g = { 0 };
            int rc = exp_config_grid_for(cfg, k, s, i, cfg->nfe[j], &g, err, errlen);
            dode_grid_free(&g);
            if (rc != DODE_OK)
                return rc;
        }
    return DODE_OK;
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
    if (exp_config_spacing_is_template(cfg, k)) {
        if (steps > 0)      /* the caller knows steps but not the (solver, nfe) it needs */
            return dode_fail(err, errlen, DODE_EINVAL, "spacing %s names its file by solver "
                             "and nfe: use exp_config_grid_for", file);
        int rc = check_template(cfg, k, s, err, errlen);
        if (rc == DODE_OK)      /* a placeholder grid for a caller that only checks */
            rc = exp_config_grid_for(cfg, k, s, 0, cfg->nfe[0], g, err, errlen);
        return rc;
    }
    return read_file_grid(file, file + strlen("file:"), s, steps, g, err, errlen);
}
