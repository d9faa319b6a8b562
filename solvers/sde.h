/* sde.h - private to the stochastic samplers (sde_*.c, family "sde"): their noise, their
 * grid rule and the options they share.
 *
 * Noise convention (docs/stochastic.md): every sampler here takes draw i of opts->noise
 * for step i (from 0), one [n][dim] slice, so a run of S steps announces S draws before
 * its first step (dode_noise_require) and a noise file of S slices replays it. A step
 * that adds no noise (sigma' = 0, eta = 0, no churn) does not read its slice. A sampler
 * whose settings add no noise at all (eta = 0) announces none and never reads the source,
 * which may then be NULL. Each draw is scaled by opts->sde.s_noise. The exception is
 * restart (sde_restart.c): its K restarts take draws 0 .. K-1 and its steps none, so it
 * announces K; whatever a sampler announces, law.h probes each announced draw. */
#ifndef DIFFODE_SOLVERS_SDE_H
#define DIFFODE_SOLVERS_SDE_H

#include <stddef.h>
#include "diffode/ode.h"
#include "diffode/solver.h"

/* eta of the samplers that have one: opts->ddim.eta when given, else 1 (k-diffusion's
 * and DPM-Solver++'s default: the full SDE). */
double sde_eta(const dode_solver_opts *opts);

/* Before any step: a non-increasing grid (samplers run forward in noise level only) and,
 * if draws > 0, a noise source that can make them for the batch. On failure ode->err
 * says why (DODE_EINVAL); nothing has been evaluated. */
int sde_begin(dode_ode *ode, const dode_grid *grid, const dode_solver_opts *opts,
              size_t draws);

/* k-diffusion's get_ancestral_step from sigma s to sn: (sigma_down, sigma_up); eta = 0, or
 * a step that does not go down, gives (sn, 0) (sde_ancestral.c; also cfgpp-euler-a). */
void sde_ancestral_sizes(double eta, double s, double sn, double *down, double *up);

/* z = s_noise * (draw k of opts->noise), [n][dim]. */
int sde_draw(dode_ode *ode, const dode_solver_opts *opts, size_t k, double *z);

#endif
