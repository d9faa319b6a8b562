/* sde_em.c - Euler-Maruyama on the reverse SDE, the plain baseline of the stochastic
 * samplers. xbar = x0 + sigma n follows the forward SDE d xbar = sqrt(2 sigma) dW in the
 * time sigma (the variance-exploding form of every schedule, MATH.md section 2); its
 * reverse (Anderson 1982; Song et al. 2021 eq. 6; Karras et al. 2022 eq. 6 with
 * beta = dsigma/dt / sigma), with score -epsh / sigma, is
 *
 *   d xbar = 2 epsh(xbar, sigma) dsigma + sqrt(2 sigma) dW      (sigma decreasing),
 *
 * and one Euler-Maruyama step from sigma to sigma' < sigma is
 *
 *   xbar' = xbar + 2 (sigma' - sigma) epsh(xbar, sigma) + s_noise sqrt(2 sigma (sigma - sigma')) z_i
 *
 * (z_i: draw i, after the model call; every step draws, also the one to sigma' = 0).
 * The noise is additive, so the strong order is 1 (Kloeden and Platen 1992, section 10.2);
 * weak order 1. Compare sde-dpm1, which integrates the same SDE with epsh frozen exactly:
 * its noise variance is sigma^2 - sigma'^2, EM's 2 sigma (sigma - sigma'). */
#include <math.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

/* ws[0]: epsh, ws[1]: the draw. */
static int em_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                   size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    (void)ctx;
    const double s = sigmas[i], sn = sigmas[i + 1];
    int rc = dode_ode_rhs(ode, s, xbar, ws[0]);
    if (rc != DODE_OK || sn == s)
        return rc;
    if ((rc = sde_draw(ode, opts, i, ws[1])) != DODE_OK)
        return rc;
    const size_t len = solver_len(ode);
    solver_axpy(xbar, 2.0 * (sn - s), ws[0], len);
    solver_axpy(xbar, sqrt(2.0 * s * (s - sn)), ws[1], len);
    return DODE_OK;
}

static int em_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    int rc = sde_begin(ode, grid, opts, grid->steps);
    if (rc != DODE_OK)
        return rc;
    return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 2, em_step,
                            NULL);
}

const dode_solver_type dode_solver_euler_maruyama = {
    .name = "euler-maruyama", .family = "sde", .order = 1, .evals_per_step = 1,
    .summary = "Euler-Maruyama on the reverse SDE in sigma (the plain baseline)",
    .solve = em_solve,
};
