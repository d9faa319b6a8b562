/* multistep.h - what the linear multistep baselines share (ipndm.c, deis.c, lms.c,
 * pndm.c; private to solvers/): the history of model values at past grid points, the
 * Lagrange basis through them, and the step loop of an Adams-Bashforth-type method
 *
 *     xbar_{i+1} = xbar_i + sum_{j<k} w_j epsh_{i-j}                     (AB form in sigma)
 *
 * where a method only supplies the weights w_j of a step of order k (the integral of
 * its interpolant of epsh over [sigma_i, sigma_{i+1}], MATH.md section 2). Step i has
 * order min(max_order, i + 1) (lower-order warm start, as every reference does), lowered
 * further while two of its nodes coincide (a repeated grid level: DDIM's quadratic
 * sequence), and a step between equal levels is the identity that still costs its NFE. */
#ifndef DIFFODE_MULTISTEP_H
#define DIFFODE_MULTISTEP_H

#include <stddef.h>
#include "diffode/solver.h"

#define MS_MAX_ORDER 4

/* The model values at the last MS_MAX_ORDER grid points, newest first. */
typedef struct {
    double *eps[MS_MAX_ORDER];     /* [n][dim] each, views into one workspace block */
    double sigma[MS_MAX_ORDER];    /* where they were taken */
    double t[MS_MAX_ORDER];        /* and the schedule's time there */
    size_t count;                  /* valid entries (<= MS_MAX_ORDER) */
} ms_history;

/* A method's weights for step i (sigma[i] -> sigma[i+1]) of order k (1 <= k <= count):
 * w[j] multiplies h->eps[j]. Returns DODE_OK or a status with ode->err filled. */
typedef int (*ms_weights_fn)(dode_ode *ode, const ms_history *h, double sigma_next,
                             double t_next, int k, double *w /* [k] */, void *ctx);

/* Fixed-step Adams-Bashforth weights: row k-1 for order k, newest value first. */
extern const double ms_ab_fixed[MS_MAX_ORDER][MS_MAX_ORDER];

/* Rotates the history and evaluates epsh(xbar, sigma) into the newest slot (one NFE). */
int ms_history_push(dode_ode *ode, ms_history *h, double sigma, double t,
                    const double *xbar);

/* The order of a step: min(max_order, count), lowered while nodes coincide. */
int ms_step_order(const ms_history *h, int max_order);

/* The schedule's time at grid point i (grid->t when the grid has it). */
double ms_grid_t(const dode_ode *ode, const dode_grid *grid, size_t i);

/* L_j(x) = prod_{m<k, m!=j} (x - nodes[m]) / (nodes[j] - nodes[m]). */
double ms_lagrange(const double *nodes, int k, int j, double x);

/* The AB-form loop above with method weights (max_order <= MS_MAX_ORDER); allocates its
 * history once. */
int ms_solve(dode_ode *ode, const dode_grid *grid, double *xbar, const dode_solver_opts *opts,
             dode_trace *trace, int max_order, ms_weights_fn weights, void *ctx);

#endif
