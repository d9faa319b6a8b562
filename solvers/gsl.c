/* gsl.c - GSL's adaptive gsl_odeiv2 steppers (GSL manual, "Ordinary Differential
 * Equations") on the probability-flow ODE d xbar/du = epsh(xbar, sigma(u)) dsigma/du,
 * one registry entry per step type. The whole batch is one system of n*dim equations in
 * u = opts->generic.variable, under gsl_odeiv2_control_standard_new(atol, rtol, 1, 0)
 * (per component: |err| <= atol + rtol |y|).
 *
 * Choices (each a known trade-off):
 *  - The default variable is sigma, as for every generic integrator, but sigma spans
 *    0.01 .. 157 on ddpm-linear and the solution's scale changes with it: log sigma is the
 *    recommended variable (the `diffode reference` solve uses it). A solve in lambda or
 *    log sigma cannot end at sigma = 0 (log 0): it is refused; end at sigma > 0, or use
 *    the variable sigma or t.
 *  - Adaptive rows read only sigmas[0] and sigmas[steps]. First step: opts->adaptive.h_init
 *    if given, else 1e-3 of the interval in u; the budget opts->adaptive.max_steps counts
 *    accepted steps.
 *  - The trace records every accepted step (sigma, xbar); accepted and rejected come
 *    from the evolve loop (rejected = the evolve object's failed_steps).
 *  - The implicit steppers (rk1imp rk2imp rk4imp bsimp msbdf) need the Jacobian, built
 *    dense: dfdy = blockdiag(d epsh/d xbar) dsigma/du, an (n dim)^2 matrix, so they are
 *    refused above n*dim = 2048; dfdt = d epsh/d sigma sigma'^2 + epsh sigma'' (one extra
 *    NFE per Jacobian when sigma'' != 0: lambda and log sigma have sigma'' = sigma; in t
 *    sigma'' is a central difference of dode_var_dsigma_du, which on a discrete schedule
 *    smooths the kinks of its piecewise-linear log a(t)).
 *  - The msadams and msbdf steppers need a driver object linked to their step and
 *    control, so the objects come from gsl_odeiv2_driver_alloc_standard_new; the loop
 *    itself is ours (gsl_odeiv2_evolve_apply), to count steps and enforce the budget.
 *  - GSL's default error handler aborts: dode_solve switches it off (dode_gsl_quiet), and
 *    GSL statuses become DODE_ESOLVER with gsl_strerror's text and the sigma reached. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "solver_impl.h"

/* Largest n*dim for the dense Jacobian of the implicit steppers (2048^2 doubles = 32 MB). */
#define GSL_JAC_MAX 2048

typedef struct {
    const gsl_odeiv2_step_type *const *type;    /* &gsl_odeiv2_step_<name> */
    int implicit;                                 /* needs the Jacobian */
} gsl_stepper;

typedef struct {
    dode_ode *ode;
    dode_variable var;
    int rc;           /* the diffode status behind a GSL_EBADFUNC */
    double *y;        /* [n][dim] the state GSL integrates */
    double *eps;      /* [n][dim] epsh, for dfdt */
    double *deps;     /* [n][dim] d epsh/d sigma */
    double *jac;      /* [n][dim][dim] d epsh/d xbar */
} gsl_ctx;

static int gsl_rhs(double u, const double y[], double dydu[], void *params)
{
    gsl_ctx *c = params;
    c->rc = dode_ode_rhs_in(c->ode, c->var, u, y, dydu);
    return c->rc == DODE_OK ? GSL_SUCCESS : GSL_EBADFUNC;
}

/* d^2 sigma / du^2 (see the file comment for t). */
static double sigma_second(const dode_schedule *s, dode_variable var, double u)
{
    switch (var) {
    case DODE_VAR_LAMBDA:   return exp(-u);
    case DODE_VAR_LOGSIGMA: return exp(u);
    case DODE_VAR_T: {
        const double h = 1e-5 * (1.0 + fabs(u));
        return (dode_var_dsigma_du(s, var, u + h) - dode_var_dsigma_du(s, var, u - h))
               / (2.0 * h);
    }
    case DODE_VAR_SIGMA:    break;
    }
    return 0.0;
}

static int gsl_jac(double u, const double y[], double *dfdy, double dfdt[], void *params)
{
    gsl_ctx *c = params;
    dode_ode *ode = c->ode;
    const size_t d = ode->dim, len = solver_len(ode);
    const double sigma = dode_var_to_sigma(ode->schedule, c->var, u);
    const double ds = dode_var_dsigma_du(ode->schedule, c->var, u);
    const double d2 = sigma_second(ode->schedule, c->var, u);
    c->rc = dode_ode_jacobian(ode, sigma, y, c->jac, c->deps);
    if (c->rc == DODE_OK && d2 != 0)
        c->rc = dode_ode_rhs(ode, sigma, y, c->eps);
    if (c->rc != DODE_OK)
        return GSL_EBADFUNC;
    memset(dfdy, 0, len * len * sizeof *dfdy);
    for (size_t i = 0; i < ode->n; i++)          /* block i: rows and columns i*d .. */
        for (size_t a = 0; a < d; a++)
            for (size_t b = 0; b < d; b++)
                dfdy[(i * d + a) * len + i * d + b] = c->jac[(i * d + a) * d + b] * ds;
    for (size_t k = 0; k < len; k++)
        dfdt[k] = c->deps[k] * ds * ds + (d2 != 0 ? c->eps[k] * d2 : 0.0);
    return GSL_SUCCESS;
}

/* What this stepper cannot do here, refused before anything is changed. */
static int gsl_check(const gsl_stepper *st, dode_ode *ode, dode_variable var,
                     double sigma_end)
{
    if (sigma_end == 0 && solver_var_singular_at_zero(var))
        return dode_ode_fail(ode, DODE_EINVAL, "cannot integrate to sigma = 0 in the "
                             "variable %s (log 0): end at sigma > 0, or use the variable "
                             "sigma or t", dode_variable_name(var));
    if (!st->implicit)
        return DODE_OK;
    if (ode->model->jacobian == NULL)
        return dode_ode_fail(ode, DODE_EUNSUPPORTED, "this implicit stepper needs d epsh/"
                             "d xbar, but model %s has no Jacobian; use an explicit one "
                             "(gsl:rk8pd, gsl:rkf45, gsl:msadams)", ode->model->name);
    if (solver_len(ode) > GSL_JAC_MAX)
        return dode_ode_fail(ode, DODE_EUNSUPPORTED, "this implicit stepper builds a dense "
                             "Jacobian of (n*dim)^2 entries; n*dim = %zu exceeds %d: use "
                             "fewer rows or an explicit stepper", solver_len(ode),
                             GSL_JAC_MAX);
    return DODE_OK;
}

/* A failed gsl_odeiv2_evolve_apply: the model's own message, or GSL's. */
static int gsl_fail(gsl_ctx *c, int status, double u, size_t taken)
{
    dode_ode *ode = c->ode;
    const double sigma = dode_var_to_sigma(ode->schedule, c->var, u);
    if (status == GSL_EBADFUNC && c->rc != DODE_OK) {
        char cause[sizeof ode->err];
        memcpy(cause, ode->err, sizeof cause);
        cause[sizeof cause - 1] = '\0';
        return dode_ode_fail(ode, c->rc, "after %zu steps, at sigma = %g: %s", taken,
                             sigma, cause);
    }
    return dode_ode_fail(ode, DODE_ESOLVER, "gsl_odeiv2_evolve_apply failed after %zu "
                         "steps at sigma = %g (%s = %g): %s (GSL status %d)", taken, sigma,
                         dode_variable_name(c->var), u, gsl_strerror(status), status);
}

/* The evolve loop from u0 to u1; xbar follows every accepted step. */
static int gsl_evolve(gsl_odeiv2_driver *d, gsl_ctx *c, double u0, double u1, double h,
                      double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const size_t len = solver_len(c->ode);
    const double dir = u1 > u0 ? 1.0 : -1.0;
    double u = u0;
    size_t taken = 0;
    int rc = DODE_OK;
    while (rc == DODE_OK && (u1 - u) * dir > 0) {
        if (taken >= opts->adaptive.max_steps) {
            rc = dode_ode_fail(c->ode, DODE_EMAXITER, "step budget max_steps = %zu "
                               "exhausted at sigma = %g before sigma = %g", opts->adaptive.max_steps,
                               dode_var_to_sigma(c->ode->schedule, c->var, u),
                               dode_var_to_sigma(c->ode->schedule, c->var, u1));
            break;
        }
        int status = gsl_odeiv2_evolve_apply(d->e, d->c, d->s, d->sys, &u, u1, &h, c->y);
        if (status != GSL_SUCCESS) {
            rc = gsl_fail(c, status, u, taken);
            break;
        }
        taken++;
        memcpy(xbar, c->y, len * sizeof *xbar);
        solver_trace_step(trace);
        dode_trace_record(trace, dode_var_to_sigma(c->ode->schedule, c->var, u), xbar, len);
    }
    if (trace != NULL)
        trace->rejected = d->e->failed_steps;
    return rc;
}

/* Every entry's solve: self->data is its gsl_stepper. */
static int gsl_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const gsl_stepper *st = self->data;
    const double *sigmas = grid->sigma;
    const size_t steps = grid->steps;
    const size_t len = solver_len(ode);
    int rc = gsl_check(st, ode, opts->generic.variable, sigmas[steps]);
    if (rc != DODE_OK)
        return rc;
    /* y, and for implicit steppers eps, deps and the [n][dim][dim] Jacobian */
    double *block = solver_workspace(ode, st->implicit ? 3 + ode->dim : 1, NULL);
    if (block == NULL)
        return DODE_ENOMEM;
    gsl_ctx c = { .ode = ode, .var = opts->generic.variable, .rc = DODE_OK, .y = block,
                  .eps = block + len, .deps = block + 2 * len, .jac = block + 3 * len };
    memcpy(c.y, xbar, len * sizeof *xbar);
    const double u0 = dode_var_from_sigma(ode->schedule, c.var, sigmas[0]);
    const double u1 = dode_var_from_sigma(ode->schedule, c.var, sigmas[steps]);
    const double h0 = dode_solver_opts_given(opts, DODE_OPT_H_INIT) ? opts->adaptive.h_init
                                                                    : 1e-3 * fabs(u1 - u0);
    const double h = copysign(h0, u1 - u0);
    gsl_odeiv2_system sys = { gsl_rhs, st->implicit ? gsl_jac : NULL, len, &c };
    gsl_odeiv2_driver *d = gsl_odeiv2_driver_alloc_standard_new(
        &sys, *st->type, h, opts->adaptive.atol, opts->adaptive.rtol, 1.0, 0.0);
    if (d == NULL) {        /* gsl_odeiv2_driver_free does not accept NULL (issue 18) */
        rc = dode_ode_fail(ode, DODE_ENOMEM, "out of memory: cannot allocate a GSL %s "
                           "stepper for %zu equations (%zu MiB a state vector)",
                           (*st->type)->name, len, (len * sizeof(double)) >> 20);
    } else {
        rc = gsl_evolve(d, &c, u0, u1, h, xbar, opts, trace);
        gsl_odeiv2_driver_free(d);
    }
    free(block);
    return rc;
}

/* One table entry per GSL step type: its stepper record and the entry. */
#define GSL_ENTRY(id, implicit_, summary_)                                              \
    static const gsl_stepper gsl_stepper_##id = { &gsl_odeiv2_step_##id, implicit_ };   \
    const dode_solver_type dode_solver_gsl_##id = {                                     \
        .name = "gsl:" #id, .family = "gsl", .order = 0, .evals_per_step = 0,           \
        .adaptive = 1, .summary = summary_, .solve = gsl_solve,                         \
        .data = &gsl_stepper_##id,                                                      \
    };

GSL_ENTRY(rk2, 0, "GSL explicit embedded Runge-Kutta (2, 3), adaptive")
GSL_ENTRY(rk4, 0, "GSL classical RK4 with step doubling, adaptive")
GSL_ENTRY(rkf45, 0, "GSL Runge-Kutta-Fehlberg (4, 5), adaptive")
GSL_ENTRY(rkck, 0, "GSL Runge-Kutta Cash-Karp (4, 5), adaptive")
GSL_ENTRY(rk8pd, 0, "GSL Runge-Kutta Prince-Dormand (8, 9), adaptive (reference solves)")
GSL_ENTRY(msadams, 0, "GSL variable-order Adams (orders 1-12), adaptive")
GSL_ENTRY(rk1imp, 1, "GSL implicit Euler with step doubling, adaptive, needs Jacobian")
GSL_ENTRY(rk2imp, 1, "GSL implicit midpoint (Gauss 2), adaptive, needs Jacobian")
GSL_ENTRY(rk4imp, 1, "GSL implicit Gauss RK (order 4), adaptive, needs Jacobian")
GSL_ENTRY(bsimp, 1, "GSL implicit Bulirsch-Stoer (Bader-Deuflhard), adaptive, needs Jacobian")
GSL_ENTRY(msbdf, 1, "GSL variable-order BDF (orders 1-5), adaptive, needs Jacobian")
