/* grid_ays.h - Align Your Steps (Sabour, Fidler, Kreis 2024, arXiv 2404.14507v1): the
 * sampling schedule that minimises the KL-divergence upper bound (KLUB, their Eq. 10)
 * between the true reverse SDE and the one Stochastic-DDIM solves exactly on each step,
 *
 *   KLUB(grid) = sum_i int_{s_{i+1}}^{s_i} sigma^-3 E || D(xbar_sigma, sigma) -
 *                D(xbar_{s_i}, s_i) ||^2 d sigma,    xbar_{s_i} = xbar_sigma + sqrt(s_i^2 -
 *                sigma^2) z     (the forward process: the pair is drawn jointly)
 *
 * over the interior sigmas, by their Algorithm 1 (one point at a time, 11 candidates
 * around it including itself, so the estimate never rises) with early stopping. D is the
 * denoiser x0h = xbar - sigma epsh in diffode's xbar, EDM's (s = 1, sigma = t) frame; the
 * KL is unchanged by that rescaling of the state, so the bound is the same on every
 * schedule. The paper's constant (2, and s(t)^2) is dropped: it moves no minimiser.
 *
 * Also the two closed forms for Gaussian data N(mu, c^2 I) (mu drops out of both):
 *  - the KLUB-optimal grid (their App. A.3): sigma^2 / (c^2 + sigma^2) is geometric in
 *    the index. Derived here (grid_ays.c); the paper's printed recursion (Eq. 31 and the
 *    one below it) is not dimensionally consistent and is not this;
 *  - Theorem 3.1, the grid on which Euler (= DDIM) on the probability-flow ODE ends
 *    closest to the exact flow: arctan(sigma / c) uniform in the index. */
#ifndef DIFFODE_EXP_GRID_AYS_H
#define DIFFODE_EXP_GRID_AYS_H

#include <stddef.h>
#include "grid_opt.h"

/* The Monte Carlo KLUB of one model on a fixed sample: n rows of xbar at sigma_min (the
 * data, noised to sigma_min) and two fixed N(0, I) draws per row, so every grid is judged
 * on the same numbers (common random numbers: the search compares like with like and is
 * reproducible). Each interval's integral is Gauss-Legendre in log sigma on `nodes`
 * points (the paper importance-samples sigma instead; a fixed rule has no sigma noise). */
typedef struct exp_klub exp_klub;

/* x_min [n][dim] is copied; seed draws the noise (from its own stream, seed ^ a constant,
 * so that it never repeats an x_T batch drawn with the same seed). NULL with a message
 * when out of memory or for n = 0, nodes outside 2..64, sigma_min <= 0. */
exp_klub *exp_klub_new(const dode_model *model, const dode_schedule *schedule, size_t n,
                       const double *x_min, double sigma_min, unsigned long seed,
                       size_t nodes, char *err, size_t errlen);
void exp_klub_free(exp_klub *k);                    /* accepts NULL */
size_t exp_klub_evals(const exp_klub *k);           /* model calls (batches) so far */

/* int_a^b sigma^-3 E||D(xbar_sigma) - D(xbar_b)||^2 d sigma (sum over dimensions, mean
 * over rows) for sigma_min <= a < b. */
int exp_klub_interval(exp_klub *k, double a, double b, double *out, char *err,
                      size_t errlen);

/* The sum over the steps of the decreasing grid sigma[0 .. steps]. */
int exp_klub_total(exp_klub *k, const double *sigma, size_t steps, double *out, char *err,
                   size_t errlen);

/* What the search did (exp_ays_optimise). */
typedef struct {
    double klub_start, klub_end;   /* the start grid's KLUB and the last sweep's grid's */
    size_t sweeps;                 /* passes over the interior points */
    size_t best_sweep;             /* the sweep early stopping kept (0: the start) */
    double train_rmse;             /* the kept grid's error on p (NaN without p) */
} exp_ays_report;

/* Algorithm 1 on the interior of sigma[0 .. steps] (in: the start; out: the grid early
 * stopping keeps). Point k's candidates are log sigma_k + j h_k, j = -5 .. 5, h_k = scale
 * (log sigma_{k-1} - log sigma_{k+1}) / 12, so they stay between the neighbours; scale
 * starts at 1 and halves after a sweep that moved nothing, until it is below tol or
 * max_sweeps sweeps ran. Early stopping (App. A.3 shows the KLUB minimum is not the KL
 * minimum, so the paper stops early by a quality proxy): after every sweep the solver's
 * error on p, the exact teacher on the training batch, and the best sweep's grid is kept;
 * with patience > 0 the search ends after `patience` sweeps without a better one.
 * last[steps + 1] (may be NULL) gets the last sweep's grid: the KLUB's converged grid
 * when patience is 0. p NULL: no early stopping, sigma gets the last grid. */
int exp_ays_optimise(exp_klub *k, exp_grid_problem *p, double *sigma, size_t steps,
                     size_t max_sweeps, double tol, size_t patience, double *last,
                     exp_ays_report *rep, char *err, size_t errlen);

/* The Gaussian closed forms (data N(mu, c^2 I), dim dimensions), for checks:
 * the KLUB of one interval, dim c^4 int_a^b sigma^-3 (1/(c^2+sigma^2) - 1/(c^2+b^2)); */
double exp_klub_gaussian(double c, size_t dim, double a, double b);
/* its minimising grid of `steps` steps from sigma_max down to sigma_min; */
void exp_ays_gaussian_grid(double c, double sigma_max, double sigma_min, size_t steps,
                           double *sigma);
/* Theorem 3.1's grid (Euler's best): c tan of a uniform grid in arctan(sigma / c). */
void exp_euler_gaussian_grid(double c, double sigma_max, double sigma_min, size_t steps,
                             double *sigma);

#endif
