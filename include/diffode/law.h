/* law.h - the exact law of a sampler's output on Gaussian data, with no sampling error.
 *
 * On data N(mu, s^2 I) (the gaussian: model) epsh is affine in xbar and acts on each
 * coordinate alike, so every sampler here, ODE or stochastic, maps xbar_T and its noise
 * draws z_k affinely, coordinate by coordinate:
 *     xbar_end = A xbar_T + sum_k B_k z_k + c.
 * dode_affine_law measures A, B_k and c by running the sampler itself on probe rows (a
 * start of 0 or +-sqrt(v_T) with no noise, and one unit draw at a time from a noise array, so each
 * draw k of the convention in docs/stochastic.md is probed), and returns the output's mean
 * A m_T + c and variance A^2 v_T + sum_k B_k^2 for a start N(m_T, v_T) per coordinate
 * (Pierret and Galerne 2025 propagate the same affine maps in closed form). */
#ifndef DIFFODE_LAW_H
#define DIFFODE_LAW_H

#include <stddef.h>
#include "diffode/grid.h"
#include "diffode/model.h"
#include "diffode/schedule.h"
#include "diffode/solver.h"

/* Mean and variance ([dim] each) of xbar at grid->sigma[steps] when solver runs from
 * xbar_T ~ N(mean_T, var_T) per coordinate ([dim] each) on model, with opts (its noise
 * source is replaced by the probes; denoise_to_zero is applied as dode_solve does). Each
 * draw the solver announces is probed (one a step for most samplers, K for restart):
 * costs one solve of one row (which counts the draws) and one of draws + 3 rows. DODE_EUNSUPPORTED if the map is not affine (the starts
 * +-sqrt(v_T) do not move the end symmetrically to 1e-9 relative: thresholding, a
 * non-Gaussian model). On failure mean and var are untouched. */
int dode_affine_law(const dode_solver_type *solver, const dode_model *model,
                    const dode_schedule *schedule, const dode_grid *grid,
                    const dode_solver_opts *opts, const double *mean_T, const double *var_T,
                    double *mean, double *var, char *err, size_t errlen);

/* The 2-Wasserstein distance between N(m1, diag v1) and N(m2, diag v2) in dim
 * coordinates: sqrt(sum_j (m1 - m2)^2 + (sqrt v1 - sqrt v2)^2). */
double dode_w2_diag(const double *m1, const double *v1, const double *m2, const double *v2,
                    size_t dim);

#endif
