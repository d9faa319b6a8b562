/* ddim.c - DDIM (Song et al. 2021, eq. 12) with eta >= 0, first order, one NFE a step.
 * Always in the variable sigma (opts->generic.variable is not read). MATH.md section 6:
 *
 *   x0h = xbar - sigma epsh,   su = eta sigma' sqrt(1 - sigma'^2/sigma^2),
 *   xbar' = x0h + sqrt(sigma'^2 - su^2) epsh + su z,     z ~ N(0, I)
 *
 * With eta = 0 this is Euler in sigma. With opts->ddim.xspace the same method is written
 * as DDIM eq. 12 on x = xbar sqrt(abar), abar = 1/(1 + sigma^2), keeping x through the
 * loop and converting back to xbar only for trace points and at the end (the DDIM
 * repository's own arithmetic; it differs from the xbar form by rounding only).
 * Noise: when eta > 0, step i (from 0) takes draw i of opts->noise (noise.h: one [n][dim]
 * slice, after the model call), including steps that add none (su = 0 on the last step
 * to sigma = 0 and on steps where sigma does not decrease), so a run of S steps takes
 * exactly S draws and both forms read the same ones. With eta = 0 nothing is drawn (the
 * noise source is not read). This is the project's one DDPM / DDIM-eta implementation:
 * eta = 1 is DDPM's ancestral sampler (Ho et al. 2020, eq. 11 / Song et al. 2021 eq. 16). */
#include <math.h>
#include <stdlib.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "solver_impl.h"

/* The DDIM noise scale su on sigma -> sigma' (0 unless sigma decreases). */
static double ddim_su(double eta, double s, double sn)
{
    if (!(eta > 0) || !(sn < s))
        return 0.0;
    const double r = sn / s;
    return eta * sn * sqrt(1.0 - r * r);
}

/* eta > 1 can make sigma'^2 - su^2 negative: refuse before any step is taken. */
static int ddim_check_eta(dode_ode *ode, double eta, const double *sigmas, size_t steps)
{
    for (size_t i = 0; i < steps; i++) {
        const double sn = sigmas[i + 1], su = ddim_su(eta, sigmas[i], sn);
        if (su * su > sn * sn * (1.0 + 1e-12))
            return dode_ode_fail(ode, DODE_EINVAL, "eta = %g is too large for step %zu "
                                 "(sigma %g -> %g): sigma'^2 - su^2 < 0", eta, i + 1,
                                 sigmas[i], sn);
    }
    return DODE_OK;
}

/* Draw i of the noise into z (eta > 0 only; the source was checked before the first step). */
static int ddim_draw(dode_ode *ode, const dode_solver_opts *opts, size_t i, double *z)
{
    if (!(opts->ddim.eta > 0))
        return DODE_OK;
    if (dode_noise_fill(opts->noise, i, ode->n, ode->dim, z) != DODE_OK)
        return dode_ode_fail(ode, DODE_EINVAL, "noise draw %zu is not available", i);
    return DODE_OK;
}

/* Before any step: eta > 0 needs `steps` draws of (n, dim). */
static int ddim_check_noise(dode_ode *ode, const dode_solver_opts *opts, size_t steps)
{
    char why[400];
    if (!(opts->ddim.eta > 0)
        || dode_noise_require(opts->noise, steps, ode->n, ode->dim, why, sizeof why) == DODE_OK)
        return DODE_OK;
    return dode_ode_fail(ode, DODE_EINVAL, "eta = %g: %s", opts->ddim.eta, why);
}

/* xbar form. ws[0]: epsh, ws[1]: z. */
static int ddim_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                     size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    (void)ctx;
    const size_t len = solver_len(ode);
    const double s = sigmas[i], sn = sigmas[i + 1];
    int rc = dode_ode_rhs(ode, s, xbar, ws[0]);
    if (rc != DODE_OK)
        return rc;
    if ((rc = ddim_draw(ode, opts, i, ws[1])) != DODE_OK)
        return rc;
    const double su = ddim_su(opts->ddim.eta, s, sn);
    const double c = sqrt(fmax(0.0, sn * sn - su * su));
    size_t k = 0;       /* pairs as GNU C vectors, element-wise the scalar roundings */
    const double *e = ws[0], *z = ws[1];
    for (; k + 2 <= len; k += 2) {
        const solver_v2 ek = solver_ld2(e + k), x0h = solver_ld2(xbar + k) - s * ek;
        const solver_v2 zero = { 0.0, 0.0 };
        solver_st2(xbar + k, x0h + c * ek + (su > 0 ? su * solver_ld2(z + k) : zero));
    }
    for (; k < len; k++) {
        const double x0h = xbar[k] - s * e[k];
        xbar[k] = x0h + c * e[k] + (su > 0 ? su * z[k] : 0.0);
    }
    return DODE_OK;
}

/* x form, DDIM eq. 12: x' = sqrt(abar') x0 + c2 e + c1 z. e, z: workspace. */
static int ddim_x_step(dode_ode *ode, const dode_solver_opts *opts, size_t i, double s,
                       double sn, double *x, double *e, double *z)
{
    const size_t len = solver_len(ode);
    const double at = 1.0 / (1.0 + s * s), an = 1.0 / (1.0 + sn * sn);
    int rc = dode_ode_eps_x(ode, dode_schedule_t(ode->schedule, s), s, x, e);
    if (rc != DODE_OK)
        return rc;
    if ((rc = ddim_draw(ode, opts, i, z)) != DODE_OK)
        return rc;
    const double c1 = opts->ddim.eta > 0 && an > at
        ? opts->ddim.eta * sqrt((1.0 - at / an) * (1.0 - an) / (1.0 - at)) : 0.0;
    const double c2 = sqrt(fmax(0.0, 1.0 - an - c1 * c1));
    const double sa = sqrt(at), sb = sqrt(1.0 - at), sna = sqrt(an);
    size_t k = 0;
    for (; k + 2 <= len; k += 2) {
        const solver_v2 ek = solver_ld2(e + k), x0 = (solver_ld2(x + k) - sb * ek) / sa;
        const solver_v2 zero = { 0.0, 0.0 };
        solver_st2(x + k, sna * x0 + c2 * ek + (c1 > 0 ? c1 * solver_ld2(z + k) : zero));
    }
    for (; k < len; k++) {
        const double x0 = (x[k] - sb * e[k]) / sa;
        x[k] = sna * x0 + c2 * e[k] + (c1 > 0 ? c1 * z[k] : 0.0);
    }
    return DODE_OK;
}

/* xbar = x / sqrt(abar) = x sqrt(1 + sigma^2). */
static void ddim_to_xbar(const double *x, double sigma, double *xbar, size_t len)
{
    const double scale = sqrt(1.0 + sigma * sigma);
    for (size_t k = 0; k < len; k++)
        xbar[k] = x[k] * scale;
}

static int ddim_x_loop(dode_ode *ode, const double *sigmas, size_t steps, double *xbar,
                       const dode_solver_opts *opts, dode_trace *trace, double *const *ws)
{
    const size_t len = solver_len(ode);
    double *x = ws[0];
    const double a0 = 1.0 / sqrt(1.0 + sigmas[0] * sigmas[0]);
    for (size_t k = 0; k < len; k++)
        x[k] = a0 * xbar[k];
    for (size_t i = 0; i < steps; i++) {
        int rc = ddim_x_step(ode, opts, i, sigmas[i], sigmas[i + 1], x, ws[1], ws[2]);
        if (rc != DODE_OK) {
            ddim_to_xbar(x, sigmas[i], xbar, len);      /* the last completed step */
            return solver_step_fail(ode, rc, i, steps, sigmas[i], sigmas[i + 1]);
        }
        solver_trace_step(trace);
        if (trace != NULL && trace->count < trace->cap) {
            ddim_to_xbar(x, sigmas[i + 1], ws[3], len);
            dode_trace_record(trace, sigmas[i + 1], ws[3], len);
        } else {
            dode_trace_record(trace, sigmas[i + 1], x, len);   /* counts only */
        }
    }
    ddim_to_xbar(x, sigmas[steps], xbar, len);
    return DODE_OK;
}

static int ddim_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                      double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    const double *sigmas = grid->sigma;
    const size_t steps = grid->steps;
    int rc = ddim_check_eta(ode, opts->ddim.eta, sigmas, steps);
    if (rc == DODE_OK)
        rc = ddim_check_noise(ode, opts, steps);
    if (rc != DODE_OK || !opts->ddim.xspace)
        return rc != DODE_OK ? rc
            : solver_run_steps(ode, sigmas, steps, xbar, opts, trace, 2, ddim_step, NULL);
    double *ws[4];
    double *block = solver_workspace(ode, 4, ws);
    if (block == NULL)
        return DODE_ENOMEM;
    rc = ddim_x_loop(ode, sigmas, steps, xbar, opts, trace, ws);
    free(block);
    return rc;
}

const dode_solver_type dode_solver_ddim = {
    .name = "ddim", .family = "ddim", .order = 1, .evals_per_step = 1,
    .summary = "DDIM eq. 12 with eta (eta = 0: Euler in sigma); ddim_xspace for x-space",
    .solve = ddim_solve,
};
