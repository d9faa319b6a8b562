/* sample.h - the one sampling path every command, the sweep, the pictures and the bench
 * use, and the one reference flow they measure against.
 *
 * A run moves a batch from the grid's first point to its last: x_T in x-space becomes
 * xbar_T = x_T / a_T (sqrt(1 + sigma_T^2) on VP schedules), the solver integrates
 * d xbar/d sigma = epsh (MATH.md section 4), and x_0 = a_0 xbar. The two scalings below are the only
 * place in the project that converts between x and xbar. A decreasing grid samples, an
 * increasing one encodes (the inversion study); nothing here depends on the direction.
 *
 * The reference is the model's exact flow where it has one, otherwise gsl:rk8pd at a
 * stated tolerance in log sigma (in sigma when an end is sigma = 0, which log sigma cannot
 * reach). */
#ifndef DIFFODE_SAMPLE_H
#define DIFFODE_SAMPLE_H

#include <stddef.h>
#include "diffode/grid.h"
#include "diffode/model.h"
#include "diffode/ode.h"
#include "diffode/schedule.h"
#include "diffode/solver.h"

/* xbar = x / a on schedule s (x sqrt(1 + sigma^2) on VP schedules, x (1 + sigma) on flow;
 * dode_schedule_xbar_scale) and its inverse, over len values (in place allowed). At
 * sigma = inf both copy: there the state is x_T itself (zero SNR, dode_solve). */
void dode_x_to_xbar(const dode_schedule *s, double sigma, const double *x, double *xbar,
                    size_t len);
void dode_xbar_to_x(const dode_schedule *s, double sigma, const double *xbar, double *x,
                    size_t len);

/* x_T ~ N(0, I): len draws from GSL's mt19937 seeded with seed, by the ziggurat method.
 * This is how every diffode command draws a start (`sample --seed S` draws exactly these
 * values), so a seed names the same x_T in C, on the command line and in the bindings.
 * DODE_ENOMEM if the generator cannot be allocated. */
int dode_draw_x_T(unsigned long seed, double *x_T, size_t len, char *err, size_t errlen);

/* What a run cost and where it ended. */
typedef struct {
    size_t nfe, njac;         /* model and Jacobian evaluations the ODE counted */
    size_t accepted, rejected;/* steps taken, and rejected by an adaptive controller */
    double sigma_end;         /* sigma of the result: the grid's end, or 0 after
                                 opts->denoise_to_zero */
    double seconds;           /* wall time of the solve alone (CLOCK_MONOTONIC) */
} dode_run_stats;

/* Solves xbar (in: at grid->sigma[0]; out: at stats->sigma_end) with solver on ode's
 * model, schedule and batch (dode_solve: the grid and options are checked there). opts and
 * trace may be NULL; stats may be NULL. On failure xbar holds the last completed step and
 * err says which solver, step and sigma failed. */
int dode_run_xbar(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
                  const dode_solver_opts *opts, double *xbar /* [n][dim] */,
                  dode_trace *trace, dode_run_stats *stats, char *err, size_t errlen);

/* The same in x-space: x_T ([n][dim], at grid->sigma[0]) to x_0 ([n][dim], at
 * stats->sigma_end); x_0 may be x_T. On failure x_0 is unspecified. The trace (if any)
 * holds xbar, as the solvers record it. */
int dode_sample(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
                const dode_solver_opts *opts, const double *x_T, double *x_0,
                dode_trace *trace, dode_run_stats *stats, char *err, size_t errlen);

typedef enum {
    DODE_REFERENCE_AUTO = 0,  /* the exact flow if the model has one, else rk8pd */
    DODE_REFERENCE_EXACT,     /* the model's exact flow (DODE_EUNSUPPORTED if none) */
    DODE_REFERENCE_RK8PD      /* gsl:rk8pd at rtol / atol */
} dode_reference_method;

#define DODE_REFERENCE_TOL 1e-12    /* the default rk8pd tolerance (rtol = atol) */

typedef struct {
    dode_reference_method method;
    double rtol, atol;        /* rk8pd tolerances (default DODE_REFERENCE_TOL) */
    size_t max_steps;         /* rk8pd step budget; 0 = the solver's default */
    int in_sigma;             /* 1: integrate in sigma even when log sigma could be used */
} dode_reference_opts;

void dode_reference_opts_init(dode_reference_opts *o);

/* The reference flow of n rows xbar_from at sigma_from to sigma_to (xbar_to may be
 * xbar_from). o may be NULL (the defaults); stats may be NULL (else its nfe and njac are
 * rk8pd's cost, 0 for the exact flow); *exact (may be NULL) is 1 when the exact flow was
 * used. On failure xbar_to is unspecified and err says why. From sigma_from = inf (zero
 * SNR; xbar_from holds x_T) only an exact flow serves: rk8pd gets DODE_EUNSUPPORTED. */
int dode_reference(const dode_model *model, const dode_schedule *schedule, size_t n,
                   double sigma_from, double sigma_to, const double *xbar_from,
                   double *xbar_to, const dode_reference_opts *o, dode_run_stats *stats,
                   int *exact, char *err, size_t errlen);

#endif
