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
#include "diffode/grid.h"
#include "diffode/ode.h"
#include "diffode/options.h"

/* The options a solver reads (dode_solver_opts) and their table are in options.h. */

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

typedef struct dode_solver_type dode_solver_type;

/* A solver integrates xbar along grid->sigma[0 .. grid->steps]; self is its own table entry
 * (as GSL passes a step type its own constants), so one function serves every entry of a
 * family through self->data. */
typedef int (*dode_solve_fn)(const dode_solver_type *self, dode_ode *ode,
                             const dode_grid *grid,
                             double *xbar /* in: at sigma[0]; out: at sigma[steps] */,
                             const dode_solver_opts *opts, dode_trace *trace);

struct dode_solver_type {
    const char *name;        /* the one name used by CLI, configs, CSV and tests */
    const char *family;      /* "classical", "ddim", "gsl", "dpm", "dpm++", "unipc",
                                "multistep" */
    int order;               /* theoretical order; 0 for adaptive */
    int evals_per_step;      /* NFE per step on a fixed grid; 0 for adaptive */
    int adaptive;            /* 1: reads only sigma[0] and sigma[steps] */
    int data_prediction;     /* 1: steps on x0 predictions, which opts->threshold clips
                                (and so does the final denoise_to_zero jump) */
    const char *summary;     /* one line for `diffode list` */
    int warmup_evals;        /* NFE a solve spends beyond evals_per_step * steps (PNDM's
                                Runge-Kutta start, PLMS's corrector on its first step) */
    int min_steps;           /* fewest steps the method takes (0 or 1: any) */
    dode_solve_fn solve;
    const void *data;        /* the family's per-entry constants (a gsl step type, a
                                dpm_entry), read by solve through self */
    /* The theoretical order under given options, for an entry whose options change it
     * (DPM-Solver-3M: d2 = taylor raises 2 to 3); NULL: always `order`. Read it through
     * dode_solver_order. */
    int (*order_with)(const dode_solver_type *self, const dode_solver_opts *opts);
};

/* The one source of a solver's theoretical order (listings, run tables, figures, tests):
 * solver->order, or what order_with says for these options (opts NULL: the defaults). */
int dode_solver_order(const dode_solver_type *solver, const dode_solver_opts *opts);

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
 * grids only; for data-prediction solvers that final x0 is thresholded as opts->threshold
 * says, like their own x0 predictions). opts may be NULL (the defaults). Adaptive gsl:*
 * solvers record every accepted step in the trace, fixed-grid solvers every grid point.
 * Zero terminal SNR: sigma[0] may be inf (a grid from t = 1 on ddpm-linear-zsnr or flow)
 * if the schedule reaches it; xbar then holds x_T itself, and dode_solve takes the first
 * step to sigma[1] as DDIM's x0 step (one NFE; the model must predict x0, v or a flow
 * velocity, an eps model fails with a message saying why), then runs the solver on the
 * rest of the grid (an adaptive solver from sigma[1] to the end). */
int dode_solve(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
               double *xbar, const dode_solver_opts *opts, dode_trace *trace, char *err,
               size_t errlen);

/* Steps a fixed-step solver takes for an NFE budget ((nfe - warmup_evals) /
 * evals_per_step, >= min_steps and >= 1); 0 if the budget is below that. */
size_t dode_solver_steps_for_nfe(const dode_solver_type *solver, size_t nfe);

#endif
