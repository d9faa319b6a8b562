/* grid.h - time grids sigma_0 > sigma_1 > ... > sigma_steps (MATH.md section 4).
 *
 *   uniform-t     t_i uniform from t_max to t_min
 *   quadratic-t   sqrt(t_i) uniform
 *   logsnr        lambda_i = -log sigma_i uniform (DPM-Solver's default)
 *   karras        sigma_i = (smax^(1/rho) + i/N (smin^(1/rho) - smax^(1/rho)))^rho (EDM)
 *   ddim-uniform  discrete levels range(0, N, N // S), then abar = 1 (sigma = 0)
 *   ddim-quad     levels int(linspace(0, sqrt(0.8 N), S)^2), then sigma = 0
 *   trailing      diffusers' (Lin et al. 2023, Table 2): levels round(arange(N, 0, -N/S)) - 1,
 *                 from N - 1 down, then sigma = 0 (abar = 1, set_alpha_to_one)
 *   leading       levels arange(S) (N // S) (steps_offset 0), then sigma = 0
 *   linspace      levels round(linspace(0, N - 1, S)), then sigma = 0
 * The first four give steps + 1 points (+1 more, sigma = 0, with to_zero). The level
 * grids (ddim-*, trailing, leading, linspace) are integer sub-sequences of the training
 * levels and always end at sigma = 0: S levels plus the final point (ddim-uniform with
 * S = 15 on 1000 levels gives 16 levels), so their point count may differ from steps + 1:
 * read grid->steps. The grid goes from each level to the next in the list, which is where
 * diffusers' DDIMScheduler goes too (prev = t - N // S) when S divides N.
 * Zero terminal SNR: on ddpm-linear-zsnr, trailing and linspace (and uniform-t or
 * quadratic-t with t-max = 1) start at sigma = inf; logsnr and karras cannot. */
#ifndef DIFFODE_GRID_H
#define DIFFODE_GRID_H

#include <stddef.h>
#include "diffode/schedule.h"

typedef enum {
    DODE_SPACING_UNIFORM_T = 0,
    DODE_SPACING_QUADRATIC_T,
    DODE_SPACING_LOGSNR,
    DODE_SPACING_KARRAS,
    DODE_SPACING_DDIM_UNIFORM,
    DODE_SPACING_DDIM_QUAD,
    DODE_SPACING_TRAILING,      /* the level sequences from here on (a discrete schedule) */
    DODE_SPACING_LEADING,
    DODE_SPACING_LINSPACE
} dode_spacing;

#define DODE_SPACING_COUNT 9

typedef struct {
    dode_spacing spacing;
    double t_max, t_min;    /* the time range; NaN = the schedule's defaults */
    double rho;             /* karras exponent (default 7) */
    int to_zero;            /* append sigma = 0 (k-diffusion style) */
} dode_grid_opts;

typedef struct {
    size_t steps;           /* number of steps: points are steps + 1 */
    double *sigma;          /* [steps + 1], monotone */
    double *t;              /* [steps + 1], t(sigma); may be NULL in a caller-made grid */
    dode_spacing spacing;   /* the spacing that made it: singlestep DPM-Solver places a
                               step's inner points on it, as the official code does
                               (dode_grid_from_sigmas: logsnr, i.e. uniform in lambda) */
    double rho;             /* its karras exponent (7 unless karras said otherwise) */
} dode_grid;

/* Defaults: logsnr, schedule's t range, rho = 7, no zero. */
void dode_grid_opts_init(dode_grid_opts *o);

/* Builds a grid of `steps` steps (>= 1) on schedule s; fills *out (free with
 * dode_grid_free). Fails with a message if t_min >= t_max, a time is outside the
 * schedule's range, rho <= 0, or a ddim spacing is used on a continuous schedule.
 * The ddim spacings ignore t_max, t_min and to_zero (the level sequence fixes both ends).
 * On failure *out is left untouched. */
int dode_grid_make(const dode_schedule *s, const dode_grid_opts *o, size_t steps,
                   dode_grid *out, char *err, size_t errlen);

/* A grid whose sigma values are given (monotone in either direction, repeats allowed but
 * not all equal, finite, >= 0): for callers that have their own. t is filled from the
 * schedule; spacing is logsnr (singlestep inner points uniform in lambda), rho 7. */
int dode_grid_from_sigmas(const dode_schedule *s, const double *sigma, size_t npoints,
                          dode_grid *out, char *err, size_t errlen);

void dode_grid_free(dode_grid *g);     /* frees the arrays; accepts NULL */

const char *dode_spacing_name(dode_spacing sp);
int dode_spacing_parse(const char *name, dode_spacing *out, char *err, size_t errlen);

#endif
