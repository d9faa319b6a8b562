/* sde_restart.c - the Restart sampler (Xu et al. 2023, "Restart sampling for improving
 * generative processes", Algorithm 1; reference restart_sampler() in
 * benchmarks/generate_restart.py of github.com/Newbeeer/diffusion_restart_sampling at
 * 8cbcb076330381216b2f60578bb6e381ce182683). In diffode's xbar and sigma (EDM's x and t):
 *
 *   main pass   Heun in sigma on the grid (EDM Algorithm 1; the step to sigma' = 0 is
 *               Euler), as heun.c with variable sigma;
 *   restart     after the main step that reaches the grid point sigma_r nearest to
 *               restart_tmin (the reference's argmin |t_steps - t_min|), K times:
 *                 xbar += sqrt(tmax^2 - sigma_r^2) z_k                 (forward jump)
 *                 then restart_steps Heun steps on the Karras (rho = 7) grid from tmax
 *                 down to sigma_r                                      (backward ODE)
 *
 * z_k is s_noise times draw k of opts->noise (k = 0 .. K-1, in the order the restarts
 * happen; the main pass draws nothing), so a run announces K draws, not one a step. The
 * reference's restart_gamma churn inside the backward pass (default 0.05) is not taken:
 * the paper's Algorithm 1 re-solves with the ODE, and with it the backward pass stays a
 * deterministic map (restart_gamma = 0 in the reference). One interval is supported (the
 * reference takes a list).
 *
 * NFE: 2 S (2 S - 1 when the grid ends at 0) for the main pass, plus 2 K restart_steps.
 * An NFE budget is mapped to steps with the default restarts' cost counted (warmup_evals
 * 4 = 2 K restart_steps at K = 1, restart_steps = 2), so at the defaults a run spends its
 * budget exactly; other settings change the total, which the run's nfe reports.
 * With K = 0 this is heun (tested to 1e-12). Order: 2 as the ODE solver it is with K = 0;
 * with restarts the law converges (each restart is an exact forward kernel followed by an
 * order-2 solve) but the method discretises no single SDE, so it has no strong order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

#define RESTART_RHO 7.0     /* the reference's get_steps(..., rho) with EDM's rho */

typedef struct {
    size_t at;              /* grid index of sigma_r (0: no restart) */
    size_t k, steps;        /* K and the backward pass's steps */
    double tmax;
    double *sub;            /* [steps + 1] the backward pass's sigmas, tmax .. sigma_r */
} restart_ctx;

/* Heun in sigma from s to sn (Euler when sn = 0). ws[0]: d, ws[1]: predictor, ws[2]: d'. */
static int restart_heun(dode_ode *ode, double s, double sn, double *xbar, double *const *ws)
{
    const size_t len = solver_len(ode);
    const double du = sn - s;
    int rc = dode_ode_rhs(ode, s, xbar, ws[0]);
    if (rc != DODE_OK)
        return rc;
    if (sn == 0) {
        solver_axpy(xbar, du, ws[0], len);
        return DODE_OK;
    }
    for (size_t k = 0; k < len; k++)
        ws[1][k] = xbar[k] + du * ws[0][k];
    if ((rc = dode_ode_rhs(ode, sn, ws[1], ws[2])) != DODE_OK)
        return rc;
    for (size_t k = 0; k < len; k++)
        xbar[k] += 0.5 * du * (ws[0][k] + ws[2][k]);
    return DODE_OK;
}

/* The K restarts at sigma_r = sigmas[c->at]. ws[3]: the draw. */
static int restart_loop(dode_ode *ode, const dode_solver_opts *opts, const restart_ctx *c,
                        double sr, double *xbar, double *const *ws)
{
    const size_t len = solver_len(ode);
    for (size_t r = 0; r < c->k; r++) {
        int rc = sde_draw(ode, opts, r, ws[3]);
        if (rc != DODE_OK)
            return rc;
        solver_axpy(xbar, sqrt((c->tmax - sr) * (c->tmax + sr)), ws[3], len);
        for (size_t j = 0; j < c->steps; j++)
            if ((rc = restart_heun(ode, c->sub[j], c->sub[j + 1], xbar, ws)) != DODE_OK)
                return rc;
    }
    return DODE_OK;
}

/* A solver_step_fn: the main Heun step i, then the restarts if it reached sigma_r. */
static int restart_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                        size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    const restart_ctx *c = ctx;
    int rc = restart_heun(ode, sigmas[i], sigmas[i + 1], xbar, ws);
    if (rc != DODE_OK || c->k == 0 || i + 1 != c->at)
        return rc;
    return restart_loop(ode, opts, c, sigmas[i + 1], xbar, ws);
}

/* sigma_r: the grid point nearest to tmin (the first of equals, as torch.argmin). It must
 * be reached by a step (index >= 1), be > 0 and lie below tmax, and tmax must be a sigma
 * of the schedule. */
static int restart_place(dode_ode *ode, const dode_grid *grid, const dode_solver_opts *opts,
                         restart_ctx *c)
{
    const double tmin = opts->restart.tmin, tmax = opts->restart.tmax;
    size_t at = 0;
    for (size_t j = 1; j <= grid->steps; j++)
        if (fabs(grid->sigma[j] - tmin) < fabs(grid->sigma[at] - tmin))
            at = j;
    const double sr = grid->sigma[at];
    const double limit = dode_schedule_sigma(ode->schedule, dode_schedule_t_limit(ode->schedule));
    if (at == 0 || !(sr > 0) || !(sr < tmax))
        return dode_ode_fail(ode, DODE_EINVAL, "restart_tmin %g is nearest to the grid point "
                             "sigma %g (index %zu); it must be a point after the start, above "
                             "0 and below restart_tmax %g", tmin, sr, at, tmax);
    if (!(tmax <= limit))
        return dode_ode_fail(ode, DODE_EINVAL, "restart_tmax %g is beyond the schedule's "
                             "largest sigma %g", tmax, limit);
    c->at = at;
    const double a = pow(tmax, 1.0 / RESTART_RHO), b = pow(sr, 1.0 / RESTART_RHO);
    for (size_t j = 0; j < c->steps; j++)
        c->sub[j] = pow(a + (double)j / (double)c->steps * (b - a), RESTART_RHO);
    c->sub[0] = tmax, c->sub[c->steps] = sr;      /* the ends exactly */
    return DODE_OK;
}

static int restart_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                         double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    restart_ctx c = { .k = opts->restart.k, .steps = opts->restart.steps,
                      .tmax = opts->restart.tmax };
    int rc = sde_begin(ode, grid, opts, c.k);
    if (rc != DODE_OK)
        return rc;
    if (c.k == 0)                                 /* heun: the interval is not used */
        return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 4,
                                restart_step, &c);
    if ((c.sub = malloc((c.steps + 1) * sizeof *c.sub)) == NULL)
        return dode_ode_fail(ode, DODE_ENOMEM, "out of memory for %zu restart steps", c.steps);
    rc = restart_place(ode, grid, opts, &c);
    if (rc == DODE_OK)
        rc = solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 4,
                              restart_step, &c);
    free(c.sub);
    return rc;
}

const dode_solver_type dode_solver_restart = {
    .name = "restart", .family = "sde", .order = 2, .evals_per_step = 2,
    .warmup_evals = 4,          /* the default restart: 2 K restart_steps = 2 * 1 * 2 */
    .summary = "Restart sampler (Xu et al. 2023): Heun, K restarts of [restart_tmin, "
               "restart_tmax]",
    .solve = restart_solve,
};
