/* grid_opt.h - optimised time grids against an exact teacher (`diffode grid`, issue 15):
 * GITS's dynamic programming over a fine candidate grid, and the optimum of the final-state
 * error over the interior sigmas. */
#ifndef DIFFODE_EXP_GRID_OPT_H
#define DIFFODE_EXP_GRID_OPT_H

#include <stddef.h>
#include "diffode/diffode.h"

/* One batch and its teacher: x_T (as xbar at sigma_max) and the teacher's xbar at
 * sigma_min, the solver to judge, and an ODE of n rows for it. */
typedef struct {
    const dode_solver_type *solver;
    const dode_schedule *schedule;
    dode_ode *ode;
    size_t n, dim;
    const double *xbar_T;      /* [n][dim] at sigma_max */
    const double *target;      /* [n][dim] the teacher at sigma_min */
    double *work;              /* [n][dim] scratch */
    size_t evals;              /* solves run so far (for the report) */
} exp_grid_problem;

/* RMSE over the batch of the solver's xbar at sigma[npoints - 1] against the target, on the
 * grid sigma[0 .. npoints) (strictly decreasing; sigma[0] = the batch's sigma_max). */
int exp_grid_rmse(exp_grid_problem *p, const double *sigma, size_t npoints, double *rmse,
                  char *err, size_t errlen);

/* The teacher along a grid: xbar at every cand[i] (i = 0 .. m), from xbar_T at cand[0],
 * by dode_reference (the model's exact flow, else rk8pd at 1e-12) from point to point;
 * traj is [m][n][dim]. */
int exp_teacher_path(const dode_model *model, const dode_schedule *schedule, size_t n,
                     const double *xbar_T, const double *cand, size_t m, double *traj,
                     char *err, size_t errlen);

/* GITS's cost matrix (gits_utils.py, metric 'l2'): cost[i m + j] (i < j) is the batch mean
 * of || step(teacher_i; cand_i -> cand_j) - teacher_j ||_2, one step of `step_solver`
 * (GITS: Euler in sigma, x + (sigma_j - sigma_i) d) from the teacher's state at i. Entries
 * with j <= i are set to inf. */
int exp_gits_costs(const dode_solver_type *step_solver, const dode_schedule *schedule,
                   dode_ode *ode, size_t n, size_t dim,
                   const double *cand, size_t m, const double *traj, double *cost,
                   char *err, size_t errlen);

/* GITS's dynamic programme: the path 0 = p_0 < p_1 < ... < p_steps = m - 1 minimising
 * cost[p_0, p_1] + coeff (cost[p_1, p_2] + coeff (...)) (coeff = 1: the plain sum; GITS
 * takes coeff > 1 to weigh later steps more). path[steps + 1]; *total its cost.
 * DODE_EINVAL if steps is 0 or above m - 1. Ties go to the smallest next index. */
int exp_gits_dp(const double *cost, size_t m, size_t steps, double coeff, size_t *path,
                double *total, char *err, size_t errlen);

/* The optimum: the grid of `steps` steps from sigma_max to sigma_min minimising
 * exp_grid_rmse on p, by GSL's nmsimplex2 from `starts` starting points (the first is
 * logsnr, the others logsnr perturbed by a seeded N(0, 0.5^2)), each until the simplex
 * size falls below tol or max_iter iterations. Parameterisation: u in R^steps, the
 * log-sigma decrements are softplus(u_k) scaled to sum to log(sigma_max / sigma_min), so
 * every u is a strictly decreasing grid with the fixed endpoints. sigma[steps + 1] and
 * *rmse: the best found. */
int exp_grid_optimum(exp_grid_problem *p, double sigma_max, double sigma_min, size_t steps,
                     size_t starts, unsigned long seed, size_t max_iter, double tol,
                     double *sigma, double *rmse, char *err, size_t errlen);

/* sigma[steps + 1] from the parameters u[steps] (the map above). */
void exp_grid_from_params(const double *u, size_t steps, double sigma_max, double sigma_min,
                          double *sigma);

#endif
