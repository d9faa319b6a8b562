/* dpm_adaptive.c - DPM-Solver-12 and DPM-Solver-23 (Lu et al. 2022, section 4.2 and
 * Alg. 4 and 5), the official dpm_solver_adaptive: each attempt takes a lower-order
 * (1, or 2 with r1 = 1/3) and a higher-order (2 with r1 = 1/2, or 3 with r1 = 1/3,
 * r2 = 2/3) singlestep step from the same point sharing their model values (2 or 3 NFE
 * an attempt), and controls the step in lambda with
 *
 *     delta = max(atol, rtol max(|x_lower|, |x_prev|)),  E = max over samples of the RMS of
 *     (x_higher - x_lower) / delta,  accept if E <= 1,  h <- min(theta h E^(-1/order), rest)
 *
 * in the schedule's x-space (x = a xbar: xbar / sqrt(1 + sigma^2) on VP schedules,
 * dode_schedule_xbar_scale), as the official code measures it, with its
 * defaults h_init = 0.05, atol = 0.0078, rtol = 0.05, theta = 0.9, and its stopping rule
 * |t - t_end| <= t_err = 1e-5 (so the last point may sit within t_err of t(sigmas[steps])).
 * Each of h_init, rtol and atol is the official value unless the user gave it (dpm.h).
 * Order 0 in the registry: the error is set by the tolerances, not by a step count.
 * A solve ending at sigma = 0 runs to the schedule's t_min and then takes the x0
 * prediction (one more NFE). Unlike the official code, h_init is clamped to the interval
 * (it matters only for intervals shorter than h_init in lambda). */
#include <math.h>
#include <stdlib.h>

#include "diffode/schedule.h"
#include "diffode/status.h"
#include "dpm.h"
#include "solver_impl.h"

static const double official_rtol = 0.05, official_atol = 0.0078, official_h_init = 0.05;
static const double theta = 0.9, t_err = 1e-5;

typedef struct {
    dpm_model mod;
    double *m[3], *u, *lower, *higher, *x_prev;
    double rtol, atol;
    int order;                  /* the higher order: 2 or 3 */
} adapt_ws;

/* E of the official controller for the attempt ending at sigma_t. */
static double attempt_error(const adapt_ws *w, double sigma_t)
{
    const dode_ode *ode = w->mod.ode;
    const double a = 1.0 / dode_schedule_xbar_scale(ode->schedule, sigma_t);
    double worst = 0.0;
    for (size_t i = 0; i < ode->n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < ode->dim; j++) {
            const size_t k = i * ode->dim + j;
            const double xl = a * w->lower[k];
            const double delta = fmax(w->atol, w->rtol * fmax(fabs(xl), fabs(w->x_prev[k])));
            const double d = (a * w->higher[k] - xl) / delta;
            s += d * d;
        }
        worst = fmax(worst, sqrt(s / (double)ode->dim));
    }
    return worst;
}

/* One attempt sigma_s -> sigma_t: lower and higher solutions into w->lower, w->higher. */
static int attempt(adapt_ws *w, int taylor, double ss, double st, const double *xbar)
{
    const int lo = w->order - 1;
    const double r1 = w->order == 2 ? 0.5 : 1.0 / 3.0, r2 = 2.0 / 3.0;
    int rc = dpm_single_step(&w->mod, lo, taylor, r1, NAN, ss, st, xbar, w->lower, w->m, 0,
                             w->u);
    if (rc == DODE_OK)
        rc = dpm_single_step(&w->mod, w->order, taylor, r1, r2, ss, st, xbar, w->higher,
                             w->m, lo, w->u);
    return rc;
}

static void accept(adapt_ws *w, double *xbar, double sigma_t)
{
    const double a = 1.0 / dode_schedule_xbar_scale(w->mod.ode->schedule, sigma_t);
    for (size_t k = 0; k < w->mod.len; k++) {
        xbar[k] = w->higher[k];
        w->x_prev[k] = a * w->lower[k];
    }
}

/* The controlled loop from sigma_s to target (> 0). */
static int adapt_loop(adapt_ws *w, const dode_solver_opts *opts, double ss, double target,
                      double *xbar, dode_trace *trace)
{
    const dode_schedule *sch = w->mod.ode->schedule;
    const double lam_end = -log(target), t_end = dode_schedule_t(sch, target);
    const double dir = lam_end > -log(ss) ? 1.0 : -1.0;
    const double h0 = dode_solver_opts_given(opts, DODE_OPT_H_INIT) ? opts->adaptive.h_init
                                                                : official_h_init;
    double h = fmin(h0, fabs(lam_end + log(ss)));
    size_t attempts = 0;
    while (fabs(dode_schedule_t(sch, ss) - t_end) > t_err) {
        if (attempts++ >= opts->adaptive.max_steps)
            return dode_ode_fail(w->mod.ode, DODE_EMAXITER, "%zu attempts (max_steps) did "
                                 "not reach sigma = %g from sigma = %g", opts->adaptive.max_steps,
                                 target, ss);
        const double st = h == fabs(lam_end + log(ss)) ? target : ss * exp(-dir * h);
        int rc = attempt(w, opts->dpm.taylor, ss, st, xbar);
        if (rc != DODE_OK)
            return solver_step_fail(w->mod.ode, rc, attempts - 1, opts->adaptive.max_steps, ss, st);
        const double E = attempt_error(w, st);
        if (!isfinite(E))
            return dode_ode_fail(w->mod.ode, DODE_ENONFINITE, "error estimate %g at sigma "
                                 "%g -> %g", E, ss, st);
        if (E <= 1.0) {
            accept(w, xbar, st);
            ss = st;
            solver_trace_step(trace);
            dode_trace_record(trace, ss, xbar, w->mod.len);
        } else if (trace != NULL) {
            trace->rejected++;
        }
        h = fmin(theta * h * pow(E, -1.0 / w->order), fabs(lam_end + log(ss)));
    }
    return DODE_OK;
}

/* Where the controlled part ends: sigmas[steps], or t_min's sigma if that is 0. */
static double adapt_target(const dode_schedule *sch, double s0, double s1)
{
    if (s1 > 0)
        return s1;
    const double smin = dode_schedule_sigma(sch, dode_schedule_t_min(sch));
    return smin < s0 ? smin : s0;
}

int dpm_adaptive_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                       double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const dpm_entry *e = self->data;
    const double *sigmas = grid->sigma;
    const size_t steps = grid->steps;
    int rc = dpm_check_opts(ode, e, grid, opts);
    if (rc == DODE_OK && e->order < 2)
        rc = dode_ode_fail(ode, DODE_EINVAL, "adaptive DPM-Solver needs order 2 or 3, got %d",
                           e->order);
    if (rc != DODE_OK)
        return rc;
    double *v[8];
    double *block = solver_workspace(ode, 8, v);
    if (block == NULL)
        return DODE_ENOMEM;
    adapt_ws w = { .m = { v[0], v[1], v[2] }, .u = v[3], .lower = v[4], .higher = v[5],
                   .x_prev = v[6], .order = e->order,
                   /* each tolerance the official default unless the user gave it */
                   .rtol = dode_solver_opts_given(opts, DODE_OPT_RTOL) ? opts->adaptive.rtol
                                                                       : official_rtol,
                   .atol = dode_solver_opts_given(opts, DODE_OPT_ATOL) ? opts->adaptive.atol
                                                                       : official_atol };
    dpm_model_init(&w.mod, ode, e->form, opts, v[7]);
    const double a0 = 1.0 / dode_schedule_xbar_scale(ode->schedule, sigmas[0]);
    for (size_t k = 0; k < w.mod.len; k++)
        w.x_prev[k] = a0 * xbar[k];           /* official: x_prev = x at the start */
    const double target = adapt_target(ode->schedule, sigmas[0], sigmas[steps]);
    if (target != sigmas[0])
        rc = adapt_loop(&w, opts, sigmas[0], target, xbar, trace);
    if (rc == DODE_OK && sigmas[steps] == 0) {
        rc = dpm_single_step(&w.mod, 1, 0, NAN, NAN, target, 0.0, xbar, xbar, w.m, 0, w.u);
        if (rc != DODE_OK) {
            rc = solver_step_fail(ode, rc, 0, 1, target, 0.0);
        } else {
            solver_trace_step(trace);
            dode_trace_record(trace, 0.0, xbar, w.mod.len);
        }
    }
    free(block);
    return rc;
}

static const dpm_entry a12_e = { .order = 2, .form = DPM_NOISE };
static const dpm_entry a23_e = { .order = 3, .form = DPM_NOISE };

const dode_solver_type dode_solver_dpm_adaptive12 = {
    .name = "dpm-adaptive12", .family = "dpm", .order = 0, .evals_per_step = 0,
    .adaptive = 1, .summary = "DPM-Solver-12: adaptive step in lambda, orders 1 and 2 "
    "(official controller; rtol 0.05, atol 0.0078)", .solve = dpm_adaptive_solve, .data = &a12_e,
};
const dode_solver_type dode_solver_dpm_adaptive23 = {
    .name = "dpm-adaptive23", .family = "dpm", .order = 0, .evals_per_step = 0,
    .adaptive = 1, .summary = "DPM-Solver-23: adaptive step in lambda, orders 2 and 3 "
    "(official controller; rtol 0.05, atol 0.0078)", .solve = dpm_adaptive_solve, .data = &a23_e,
};
