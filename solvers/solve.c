/* solve.c - the one entry point every caller uses to run a solver (dode_solve), the
 * options' defaults, trace recording, and the helpers solver files share (solver_impl.h).
 *
 * Invariant: a solver's solve() is only ever reached through dode_solve with a grid that
 * is finite, >= 0, monotone (repeats allowed, as DDIM's quadratic sequence repeats a
 * level, but not constant), with sigma = 0 only at an end, and a finite starting xbar;
 * a grid from sigma = inf reaches the solver without its first step (zero_snr.c).
 * dode_solve resets ode->nfe and ode->njac to 0, so afterwards they are the solve's cost
 * (denoise_to_zero included). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "../model/gsl_quiet.h"
#include "dpm.h"
#include "solver_impl.h"

void dode_trace_record(dode_trace *trace, double sigma, const double *xbar, size_t len)
{
    if (trace == NULL)
        return;
    if (trace->count < trace->cap) {
        if (trace->sigma != NULL)
            trace->sigma[trace->count] = sigma;
        if (trace->xbar != NULL)
            memcpy(trace->xbar + trace->count * len, xbar, len * sizeof *xbar);
    }
    trace->count++;
}

size_t dode_solver_steps_for_nfe(const dode_solver_type *solver, size_t nfe)
{
    if (solver == NULL || nfe == 0)
        return 0;
    if (solver->evals_per_step <= 0)        /* adaptive: one step, the two endpoints */
        return 1;
    const size_t warm = solver->warmup_evals > 0 ? (size_t)solver->warmup_evals : 0;
    const size_t least = solver->min_steps > 1 ? (size_t)solver->min_steps : 1;
    const size_t steps = nfe > warm ? (nfe - warm) / (size_t)solver->evals_per_step : 0;
    return steps >= least ? steps : 0;
}

double *solver_workspace(dode_ode *ode, size_t nvec, double **views)
{
    const size_t len = solver_len(ode);
    size_t total;
    double *block = NULL;
    if (dode_mul_size(len, nvec, &total) == DODE_OK && total <= SIZE_MAX / sizeof *block)
        block = malloc((total > 0 ? total : 1) * sizeof *block);
    if (block == NULL) {
        dode_ode_fail(ode, DODE_ENOMEM, "cannot allocate a workspace of %zu vectors of "
                      "%zu doubles", nvec, len);
        return NULL;
    }
    for (size_t k = 0; views != NULL && k < nvec; k++)
        views[k] = block + k * len;
    return block;
}

int solver_step_to_zero(dode_ode *ode, double sigma, double *xbar, double *eps)
{
    int rc = dode_ode_rhs(ode, sigma, xbar, eps);
    if (rc != DODE_OK)
        return rc;
    solver_axpy(xbar, -sigma, eps, solver_len(ode));    /* x0h = xbar - sigma epsh */
    return DODE_OK;
}

int solver_step_fail(dode_ode *ode, int rc, size_t i, size_t steps, double sigma,
                     double sigma_next)
{
    char cause[sizeof ode->err];
    memcpy(cause, ode->err, sizeof cause);
    cause[sizeof cause - 1] = '\0';
    return dode_ode_fail(ode, rc, "step %zu of %zu (sigma %g -> %g): %s", i + 1, steps,
                         sigma, sigma_next, cause[0] != '\0' ? cause : dode_strerror(rc));
}

int solver_step_loop(dode_ode *ode, const double *sigmas, size_t steps, double *xbar,
                     const dode_solver_opts *opts, dode_trace *trace, double *const *ws,
                     solver_step_fn step, void *ctx)
{
    int rc = DODE_OK;
    for (size_t i = 0; i < steps && rc == DODE_OK; i++) {
        rc = step(ode, opts, sigmas, i, steps, xbar, ws, ctx);
        if (rc != DODE_OK) {
            rc = solver_step_fail(ode, rc, i, steps, sigmas[i], sigmas[i + 1]);
        } else {
            solver_trace_step(trace);
            dode_trace_record(trace, sigmas[i + 1], xbar, solver_len(ode));
        }
    }
    return rc;
}

int solver_run_steps(dode_ode *ode, const double *sigmas, size_t steps, double *xbar,
                     const dode_solver_opts *opts, dode_trace *trace, size_t nvec,
                     solver_step_fn step, void *ctx)
{
    double *ws[16];
    if (nvec > 16)
        return dode_ode_fail(ode, DODE_EINVAL, "solver_run_steps: %zu workspace vectors "
                             "requested, at most 16", nvec);
    double *block = solver_workspace(ode, nvec, ws);
    if (block == NULL)
        return DODE_ENOMEM;
    int rc = solver_step_loop(ode, sigmas, steps, xbar, opts, trace, ws, step, ctx);
    free(block);
    return rc;
}

/* A solver_step_fn around a var_method (ctx): sigmas -> u, and the x0 limit at sigma = 0. */
static int var_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                    size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    const solver_var_method *m = ctx;
    const dode_variable var = opts->generic.variable;
    const double s = sigmas[i], sn = sigmas[i + 1];
    if (sn == 0 && solver_var_singular_at_zero(var))
        return solver_step_to_zero(ode, s, xbar, ws[0]);
    const double u = dode_var_from_sigma(ode->schedule, var, s);
    const double un = dode_var_from_sigma(ode->schedule, var, sn);
    return m->step(ode, var, u, un, sn == 0, xbar, ws);
}

int solver_var_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const solver_var_method *m = self->data;
    return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, m->nvec,
                            var_step, (void *)m);
}

/* The grid: finite, >= 0, monotone, not constant; sigma = 0 only at an end, and in
 * lambda / log sigma only at the last point (log 0 elsewhere); sigmas[0] may be inf
 * (zero terminal SNR) when sigmas[1] is finite. */
static int check_grid(const double *sigmas, size_t steps, dode_variable var, char *err,
                      size_t errlen)
{
    const double dir = sigmas[steps] - sigmas[0];
    for (size_t i = 0; i <= steps; i++) {
        if (i == 0 && sigmas[0] == INFINITY && steps >= 1 && sigmas[1] < INFINITY)
            continue;       /* zero terminal SNR: the driver's first step (zero_snr.c) */
        if (!(sigmas[i] >= 0) || !isfinite(sigmas[i]))
            return dode_fail(err, errlen, DODE_EINVAL, "sigmas[%zu] = %g is not a finite "
                             "value >= 0", i, sigmas[i]);
        if (sigmas[i] == 0 && i != 0 && i != steps)
            return dode_fail(err, errlen, DODE_EINVAL, "sigmas[%zu] = 0 inside the grid "
                             "(sigma = 0 may only be an end point)", i);
    }
    if (!(dir != 0))
        return dode_fail(err, errlen, DODE_EINVAL, "sigmas are not monotone: sigmas[0] = "
                         "sigmas[%zu] = %g", steps, sigmas[0]);
    for (size_t i = 0; i < steps; i++)
        if ((sigmas[i + 1] - sigmas[i]) * dir < 0)
            return dode_fail(err, errlen, DODE_EINVAL, "sigmas are not monotone: sigmas[%zu]"
                             " = %g, sigmas[%zu] = %g", i, sigmas[i], i + 1, sigmas[i + 1]);
    if (solver_var_singular_at_zero(var) && sigmas[0] == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "sigmas[0] = 0 cannot start a solve in "
                         "the variable %s (log 0); use sigma or t", dode_variable_name(var));
    return DODE_OK;
}

/* What the table cannot say alone: the options' ranges and choices (dode_solver_opts_check)
 * and the direction denoise_to_zero needs. */
static int check_opts(const dode_solver_opts *o, const double *sigmas, size_t steps,
                      char *err, size_t errlen)
{
    if (o->denoise_to_zero && sigmas[steps] > sigmas[0])
        return dode_fail(err, errlen, DODE_EINVAL, "denoise_to_zero needs a decreasing "
                         "grid (sigma %g -> %g increases)", sigmas[0], sigmas[steps]);
    return dode_solver_opts_check(o, err, errlen);
}

/* sigma = inf is a time of the schedule only where it reaches zero SNR at its last t. */
static int check_zero_snr(const dode_schedule *s, char *err, size_t errlen)
{
    const double top = dode_schedule_sigma(s, dode_schedule_t_limit(s));
    if (top == INFINITY)
        return DODE_OK;
    return dode_fail(err, errlen, DODE_EINVAL, "sigmas[0] = inf, but schedule %s never "
                     "reaches zero SNR (sigma at its largest t is %g)",
                     dode_schedule_name(s), top);
}

static int check_input(const dode_ode *ode, const double *sigmas, size_t steps,
                       const double *xbar, const dode_solver_opts *o, char *err, size_t errlen)
{
    if (steps == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "steps must be >= 1");
    int rc = check_grid(sigmas, steps, o->generic.variable, err, errlen);
    if (rc == DODE_OK && sigmas[0] == INFINITY)
        rc = check_zero_snr(ode->schedule, err, errlen);
    if (rc == DODE_OK)
        rc = check_opts(o, sigmas, steps, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (dode_all_finite(xbar, solver_len(ode)) == DODE_OK)   /* vectorised; the scalar */
        return DODE_OK;                                      /* search only names the bad one */
    for (size_t k = 0; k < solver_len(ode); k++)
        if (!isfinite(xbar[k]))
            return dode_fail(err, errlen, DODE_EINVAL, "xbar[%zu] (row %zu) = %g is not "
                             "finite", k, k / ode->dim, xbar[k]);
    return DODE_OK;
}

/* opts->denoise_to_zero: the x0-prediction jump from sigmas[steps] to 0 (one NFE),
 * x0h = xbar - sigma epsh, thresholded like the solver's own x0 (dpm_threshold, dpm.h). */
static int denoise_to_zero(const dode_solver_type *solver, dode_ode *ode,
                           const dode_solver_opts *opts, double sigma, double *xbar,
                           dode_trace *trace)
{
    double *eps = malloc(solver_len(ode) * sizeof *eps);
    if (eps == NULL)
        return dode_ode_fail(ode, DODE_ENOMEM, "denoise_to_zero: cannot allocate %zu "
                             "doubles", solver_len(ode));
    int rc = solver_step_to_zero(ode, sigma, xbar, eps);
    /* a data-prediction solver thresholds this x0 too, as the official denoise_to_zero_fn
     * does (it returns data_prediction_fn, which applies the x0 correction); eps
     * ([n][dim]) is free scratch */
    if (rc == DODE_OK && solver->data_prediction && opts->threshold.kind != 0)
        dpm_threshold(xbar, ode->n, ode->dim, opts->threshold.kind, opts->threshold.clip_value,
                      opts->threshold.dynamic_ratio, eps);
    free(eps);
    if (rc != DODE_OK)
        return solver_step_fail(ode, rc, 0, 1, sigma, 0.0);
    solver_trace_step(trace);
    dode_trace_record(trace, 0.0, xbar, solver_len(ode));
    return DODE_OK;
}

/* The solver on the grid; from sigma = inf, the zero-SNR first step, then the solver on
 * the rest of the grid (none if the grid was that one step). */
static int solve_from_start(const dode_solver_type *solver, dode_ode *ode,
                            const dode_grid *grid, double *xbar, const dode_solver_opts *opts,
                            dode_trace *trace)
{
    if (grid->sigma[0] < INFINITY)
        return solver->solve(solver, ode, grid, xbar, opts, trace);
    int rc = solver_zero_snr_step(ode, grid, xbar, trace);
    if (rc != DODE_OK || grid->steps == 1)
        return rc;
    dode_grid rest = *grid;
    rest.steps--;
    rest.sigma++;
    if (rest.t != NULL)
        rest.t++;
    return solver->solve(solver, ode, &rest, xbar, opts, trace);
}

int dode_solve(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
               double *xbar, const dode_solver_opts *opts, dode_trace *trace, char *err,
               size_t errlen)
{
    dode_gsl_quiet();    /* the gsl:* odeiv2 drivers */
    if (solver == NULL || solver->solve == NULL || ode == NULL || grid == NULL
        || grid->sigma == NULL || xbar == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "solve: solver, ode, grid and xbar "
                         "must not be NULL");
    const double *sigmas = grid->sigma;
    const size_t steps = grid->steps;
    dode_solver_opts defaults;
    if (opts == NULL) {
        dode_solver_opts_init(&defaults);
        opts = &defaults;
    }
    ode->nfe = ode->njac = 0;
    ode->err[0] = '\0';
    int rc = check_input(ode, sigmas, steps, xbar, opts, ode->err, sizeof ode->err);
    if (rc == DODE_OK) {
        if (trace != NULL)
            trace->count = trace->accepted = trace->rejected = 0;
        dode_trace_record(trace, sigmas[0], xbar, solver_len(ode));
        rc = solve_from_start(solver, ode, grid, xbar, opts, trace);
    }
    if (rc == DODE_OK && opts->denoise_to_zero && sigmas[steps] > 0)
        rc = denoise_to_zero(solver, ode, opts, sigmas[steps], xbar, trace);
    /* an overflow in the last step has no model call after it to catch it (issue 7) */
    if (rc == DODE_OK && dode_all_finite(xbar, solver_len(ode)) != DODE_OK)
        rc = dode_ode_fail(ode, DODE_ENONFINITE, "the final state at sigma = %g is not "
                           "finite: the last step overflowed", opts->denoise_to_zero
                           && sigmas[steps] > 0 ? 0.0 : sigmas[steps]);
    if (rc != DODE_OK) {
        char cause[sizeof ode->err];
        memcpy(cause, ode->err, sizeof cause);
        cause[sizeof cause - 1] = '\0';
        dode_ode_fail(ode, rc, "%s: %s", solver->name, cause);
        return dode_fail(err, errlen, rc, "%s", ode->err);
    }
    return DODE_OK;
}
