/* grid_fit.h - a grid fitted to the exact teacher, LD3 / DM-NonUniform style: the grid's
 * log-sigma decrements as parameters (LD3's softmax parameterisation), the solver's
 * final-state RMSE on a training batch of x_T as the loss, minimised by quasi-Newton
 * (GSL's vector_bfgs2 on central finite-difference gradients) from the logsnr grid. One
 * deterministic descent, unlike the optimum's multistart simplex: what a practitioner
 * would run, judged on held-out x_T by the caller. */
#ifndef DIFFODE_EXP_GRID_FIT_H
#define DIFFODE_EXP_GRID_FIT_H

#include <stddef.h>
#include "grid_opt.h"

/* sigma[steps + 1] from u[steps - 1]: the log-sigma decrements are
 * log(sigma_max / sigma_min) softmax(u_0, ..., u_{steps-2}, 0) (the last logit fixed at
 * 0, so the map is one-to-one); u = 0 is the logsnr grid, and every u a strictly
 * decreasing grid with the fixed ends. */
void exp_grid_from_softmax(const double *u, size_t steps, double sigma_max, double sigma_min,
                           double *sigma);

/* What the fit did. */
typedef struct {
    double start_rmse;     /* the logsnr grid's RMSE on the training batch */
    double rmse;           /* the fitted grid's (never above start_rmse) */
    size_t iterations;     /* BFGS iterations */
} exp_fit_report;

/* Fits the grid of `steps` steps (>= 2) from sigma_max to sigma_min on p: at most
 * max_iter iterations, stopping when the gradient norm is below tol or the line search
 * makes no progress. sigma[steps + 1]: the fitted grid. Deterministic: the same batch
 * gives the same grid. DODE_EINVAL for steps < 2 (nothing to fit). */
int exp_grid_fit(exp_grid_problem *p, double sigma_max, double sigma_min, size_t steps,
                 size_t max_iter, double tol, double *sigma, exp_fit_report *rep, char *err,
                 size_t errlen);

#endif
