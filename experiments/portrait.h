/* portrait.h - pictures of the flow itself, for a sweep whose first model is 1-D or 2-D
 * and has a density (Gaussian, GMM): the tables that plots/trajectories2d.gp,
 * plots/samples2d.gp and plots/flowmap1d.gp draw (docs/experiments.md, "Figures").
 *
 * 2-D: density2d.dat     log p_sigma_end(x) on a 121 x 121 grid ("x y logp" rows, a blank
 *                        line after each x), the box covering the samples
 *      trajectories2d.dat per solver (up to 6) at the first NFE of the list, 12 paths
 *                        x = xbar / sqrt(1 + sigma^2) at every grid point (one block per
 *                        solver, paths separated by single blank lines)
 *      samples2d.dat     512 final samples: the reference flow's (block 0), then those of
 *                        the first three solvers at the first NFE (blocks 1-3)
 * 1-D: flowmap1d.dat     25 paths (log10 sigma, x) of the reference flow from a fan of x_T
 *                        evenly spaced over [-2.5, 2.5], at 161 sigmas
 *      heat1d.dat        the density of x = xbar / sqrt(1 + sigma^2) on a (log10 sigma, x)
 *                        grid: s p_sigma(s x), s = sqrt(1 + sigma^2)
 * The reference flow is the model's exact flow, else gsl:rk8pd at 1e-10 in log sigma.
 * Everything uses the first model, schedule, spacing and seed of the config; nothing is
 * drawn for mode = roundtrip (the pictures are of sampling). */
#ifndef DIFFODE_EXPERIMENTS_PORTRAIT_H
#define DIFFODE_EXPERIMENTS_PORTRAIT_H

#include <stddef.h>

#include "config.h"

/* Writes the tables above into dir (atomically, each); DODE_OK without writing anything
 * when the first model is not 1-D or 2-D or has no log_density. Fails with the status
 * and message of a model, schedule, grid or solve that fails, or DODE_EIO / DODE_ENOMEM. */
int exp_portrait_write(const exp_config *cfg, const char *dir, char *err, size_t errlen);

#endif
