/* solver.h - integrators of the probability-flow ODE, each a const table entry (the way
 * GSL's gsl_odeiv2_step_type is), found by name in one registry (solvers/registry.c).
 *
 * A solver integrates xbar from sigmas[0] to sigmas[steps] on the given grid (either
 * direction: decreasing sigma samples, increasing sigma encodes). It calls only the ODE
 * (ode.h), which counts NFE. Adaptive rows read only sigmas[0] and sigmas[steps].
 *
 * On failure solve() returns a status, ode->err says which solver, step and sigma failed,
 * and xbar holds the state at the last completed step. */
#ifndef DIFFODE_SOLVER_H
#define DIFFODE_SOLVER_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "diffode/grid.h"
#include "diffode/ode.h"

/* Options every solver receives; each reads the ones it knows (dode_solver_opts_init
 * sets the defaults, which are the official codes' defaults). */
typedef struct {
    dode_variable variable;  /* generic integrators (euler, heun, rk4, gsl:*): default sigma */
    /* ddim */
    double eta;              /* >= 0; eta > 0 needs rng */
    int ddim_xspace;         /* 1: DDIM eq. 12 on x = xbar a_t (same method, other rounding) */
    gsl_rng *rng;            /* borrowed; noise for stochastic steps */
    /* adaptive (gsl:*, dpm-adaptive*) */
    double rtol, atol;       /* default 1e-6, 1e-6 (gsl); dpm-adaptive: 0.05, 0.0078 */
    double h_init;           /* initial step in the integration variable; 0 = solver's own */
    size_t max_steps;        /* step budget of adaptive solvers (default 100000) */
    /* DPM-Solver family (MATH.md section 6) */
    int taylor;              /* 0 = "dpmsolver" update form (official default), 1 = "taylor" */
    int d2_taylor;           /* 3M second difference: 0 = official (c = 1), 1 = Taylor (c = 2) */
    int lower_order_final;   /* default 1 */
    size_t lower_order_threshold; /* lower_order_final applies when steps < this (default 10) */
    int denoise_to_zero;     /* finish with an x0-prediction jump from sigmas[steps] to 0 */
    double r1, r2;           /* singlestep inner fractions; NaN = the grid's own points */
    dode_spacing spacing;    /* the spacing that made the grid: singlestep DPM-Solver places
                                a step's inner points on it, as the official code does */
    double rho;              /* karras exponent of that spacing (default 7) */
    int unipc_bh;            /* UniPC B(h): 1 = bh1, 2 = bh2 (default) */
    /* thresholding of x0 predictions (DPM-Solver++): 0 none, 1 static clip, 2 dynamic */
    int thresholding;
    double clip_value;       /* static clip / dynamic max value (default 1) */
    double dynamic_ratio;    /* dynamic thresholding percentile (default 0.995) */
} dode_solver_opts;

void dode_solver_opts_init(dode_solver_opts *o);

/* Optional per-solve record: the trajectory at every grid point (if xbar != NULL and
 * cap > 0) and the step statistics every solver fills. */
typedef struct {
    size_t cap;            /* points the arrays below can hold */
    size_t count;          /* points recorded (the start point included) */
    double *sigma;         /* [cap] */
    double *xbar;          /* [cap][n][dim] */
    size_t accepted;       /* steps taken (accepted, for adaptive solvers) */
    size_t rejected;       /* steps rejected by an adaptive controller */
} dode_trace;

/* Appends (sigma, xbar) if there is room; counts silently otherwise. trace may be NULL. */
void dode_trace_record(dode_trace *trace, double sigma, const double *xbar, size_t len);

typedef int (*dode_solve_fn)(dode_ode *ode, const double *sigmas, size_t steps,
                             double *xbar /* in: at sigmas[0]; out: at sigmas[steps] */,
                             const dode_solver_opts *opts, dode_trace *trace);

typedef struct dode_solver_type {
    const char *name;        /* the one name used by CLI, configs, CSV and tests */
    const char *family;      /* "classical", "ddim", "gsl", "dpm", "dpm++", "unipc" */
    int order;               /* theoretical order; 0 for adaptive */
    int evals_per_step;      /* NFE per step on a fixed grid; 0 for adaptive */
    int adaptive;            /* 1: reads only sigmas[0] and sigmas[steps] */
    const char *summary;     /* one line for `diffode list` */
    dode_solve_fn solve;
    const void *data;        /* per-entry constants (e.g. a gsl step type, an order) */
} dode_solver_type;

/* The registry: NULL-terminated, in the order `diffode list` prints. */
const dode_solver_type *const *dode_solvers(void);
/* By name; NULL if unknown. */
const dode_solver_type *dode_solver_find(const char *name);

/* Checks the grid and options, then runs solver on ode. The entry point callers use:
 * it validates once (steps >= 1, finite monotone sigmas, finite xbar, options in range)
 * and writes any failure into err (and ode->err), prefixed with the solver's name.
 * It resets ode->nfe and ode->njac to 0 (afterwards they are this solve's cost) and the
 * trace's count, accepted and rejected; records the start point; and applies
 * opts->denoise_to_zero itself (one more NFE and trace point, at sigma = 0; decreasing
 * grids only; for the "dpm++" and "unipc" families that final x0 is thresholded as
 * opts->thresholding says, like their own x0 predictions). opts may be NULL (the defaults). Adaptive gsl:* solvers record every
 * accepted step in the trace, fixed-grid solvers every grid point. */
int dode_solve(const dode_solver_type *solver, dode_ode *ode, const double *sigmas,
               size_t steps, double *xbar, const dode_solver_opts *opts,
               dode_trace *trace, char *err, size_t errlen);

/* Steps a fixed-step solver takes for an NFE budget (nfe / evals_per_step, >= 1);
 * 0 if the budget is below one step. */
size_t dode_solver_steps_for_nfe(const dode_solver_type *solver, size_t nfe);

#endif
