/* config.h - experiment configs (.ini, parsed with inih) for `diffode run` (issue 5).
 *
 * A config names models, schedules, spacings, solvers (with options), NFE values and seeds;
 * the sweep is their product. The whole file is checked here before any work starts: every
 * section and key must be known, every value well-formed, every name found in its registry
 * (dode_solver_find, dode_spacing_parse) and every model and schedule loadable
 * (dode_model_from_spec, dode_schedule_from_spec), every grid makeable, no key given
 * twice, no list empty. Messages read `FILE:LINE: key 'nfe': "abc" is not a positive
 * integer`. The format is documented in docs/experiments.md:
 *
 *   [experiment]  name, samples, seeds, reference, ref_rtol, ref_atol, t_max, t_min,
 *                 trajectory, baseline, true_samples, projections, order_nfe_min,
 *                 order_floor, mode, noise
 *   [model NAME]  spec (a model spec as `diffode sample --model` takes it)
 *   [solver NAME] base (a registry name) and options (variable, eta, rtol, atol, ...)
 *   [sweep]       models, schedules, spacings, solvers, nfe, to_zero, rho
 */
#ifndef DIFFODE_EXPERIMENTS_CONFIG_H
#define DIFFODE_EXPERIMENTS_CONFIG_H

#include <stddef.h>

#include "diffode/grid.h"
#include "diffode/sample.h"
#include "diffode/solver.h"

#define EXP_CFG_NAME 64        /* longest name (section names, experiment name) + 1 */
#define EXP_CFG_SPEC 256       /* longest model spec + 1 */
#define EXP_CFG_MAX_LIST 64    /* entries per list (models, solvers, nfe, seeds ...) */
#define EXP_CFG_MAX_BYTES ((size_t)1 << 20)  /* a config file: 1 MiB (shipped ones: < 4 KiB) */

typedef struct {
    char name[EXP_CFG_NAME];   /* [model NAME] */
    char spec[EXP_CFG_SPEC];   /* e.g. "gmm:experiments/configs/gmm2d.json" */
    int line;                   /* line of its spec key, for later messages */
} exp_cfg_model;

typedef struct {
    char name[EXP_CFG_NAME];   /* the name rows carry: a registry name or [solver NAME] */
    const dode_solver_type *type;
    dode_solver_opts opts;      /* defaults with this section's options applied */
    char options[EXP_CFG_SPEC];/* "key=value;..." as given (empty for none): CSV column */
    int line;
} exp_cfg_solver;

typedef struct {
    char *path;                 /* the file (or source name) parsed; owned */
    char *text;                 /* its bytes, for the copy in results/NAME/; owned */
    char name[EXP_CFG_NAME];   /* [experiment] name: results/NAME/ (letters, digits, -_.) */
    size_t samples;             /* trajectories per run (default 256) */
    unsigned long seeds[EXP_CFG_MAX_LIST];
    size_t nseeds;              /* default: one seed, 0 */
    dode_reference_method reference;   /* reference = auto | exact | rk8pd (sample.h) */
    double ref_rtol, ref_atol;  /* default 1e-12, 1e-12 */
    double t_max, t_min;        /* NaN = each schedule's defaults */
    int trajectory;             /* record the error at every grid point (default no) */
    char baseline_name[EXP_CFG_NAME];  /* a sweep solver every row is compared with, "" */
    int baseline;               /* its index in solvers[], -1 for none */
    size_t true_samples;        /* samples of the true density for FD / SW2 (default 4096;
                                   0 or 1: no FD / SW2) */
    size_t projections;         /* SW2 directions (default 64) */
    double order_nfe_min;       /* observed order: fit NFE >= this (default 20) */
    double order_floor;         /* ... and error > this (default 1e-13) */
    int roundtrip;              /* mode = roundtrip: each row encodes (sigma_min up to
                                   sigma_max on the reversed grid) then decodes, and
                                   measures the round-trip error (default: mode = sweep) */
    char noise[EXP_CFG_SPEC];   /* noise = PATH: every row's stochastic draws from this
                                   .npy (noise.h); "" (default): each seed's own draws */

    exp_cfg_model models[EXP_CFG_MAX_LIST];         /* the sweep's models, in order */
    size_t nmodels;
    char schedules[EXP_CFG_MAX_LIST][EXP_CFG_NAME];
    size_t nschedules;
    dode_spacing spacings[EXP_CFG_MAX_LIST];
    char spacing_files[EXP_CFG_MAX_LIST][EXP_CFG_SPEC];  /* "file:PATH" (PATH found beside
                                   the config, as specs are) or "" for a named spacing */
    size_t nspacings;
    exp_cfg_solver solvers[EXP_CFG_MAX_LIST];
    size_t nsolvers;
    size_t nfe[EXP_CFG_MAX_LIST];
    size_t nnfe;
    int to_zero;                /* grids end with sigma = 0 (default no) */
    double rho;                 /* karras exponent (default 7) */
} exp_config;

/* Reads and checks the config at path (a regular file of at most EXP_CFG_MAX_BYTES). On
 * success fills *cfg (free with exp_config_free); on failure returns DODE_EIO (unreadable,
 * not a regular file), DODE_EFORMAT (syntax, bad value, unknown or
 * duplicate key), DODE_ENOTFOUND (unknown solver, schedule, spacing, model) or DODE_EINVAL
 * (a missing key or an inconsistent value), with the message naming path:line and key,
 * and *cfg zeroed. */
int exp_config_load(const char *path, exp_config *cfg, char *err, size_t errlen);

/* The same on text in memory; source names it in messages (and becomes cfg->path). */
int exp_config_parse(const char *text, const char *source, exp_config *cfg,
                      char *err, size_t errlen);

/* Frees what a config owns (path, text); accepts NULL and a zeroed config. */
void exp_config_free(exp_config *cfg);

/* The number of runs (rows) of the sweep: models x schedules x spacings x solvers x nfe
 * x seeds. */
size_t exp_config_runs(const exp_config *cfg);

/* Spacing k's name in rows and messages: "logsnr", ... or "file:PATH" (config_grid.c). */
const char *exp_config_spacing_name(const exp_config *cfg, size_t k);

/* Spacing k's grid of `steps` steps on schedule s (t_max, t_min, rho, to_zero of the
 * config). A file spacing is read and checked as `sample --grid` reads it, and used as it
 * is (those four keys apply to the named spacings); its step count must equal `steps`, or
 * steps = 0 to only check the file. */
int exp_config_grid(const exp_config *cfg, size_t k, const dode_schedule *s, size_t steps,
                    dode_grid *g, char *err, size_t errlen);

/* Spacing k's grid for sweep solver `solver` (an index into cfg->solvers) at `nfe`: the
 * steps that solver takes there. A file spacing whose PATH holds `{nfe}` or `{solver}` is
 * a template (one file per NFE and solver, config_grid.c): expanded here, looked up
 * beside the config first, and a missing file is named with the solver and nfe that
 * wanted it. exp_config_grid with steps = 0 checks every (solver, nfe) of such a
 * template; with steps > 0 it refuses one (it cannot tell which file). */
int exp_config_grid_for(const exp_config *cfg, size_t k, const dode_schedule *s,
                        size_t solver, size_t nfe, dode_grid *g, char *err, size_t errlen);

/* Whether spacing k is a file template (`{nfe}` or `{solver}` in its path). */
int exp_config_spacing_is_template(const exp_config *cfg, size_t k);

#endif
