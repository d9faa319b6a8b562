/* sde_ancestral.c - Euler ancestral with eta (k-diffusion sample_euler_ancestral and
 * get_ancestral_step, k_diffusion/sampling.py at 4601bf0), first order, one NFE a step.
 * k-diffusion's x and denoised D are diffode's xbar and x0h = xbar - sigma epsh (its
 * sigmas are ours, its to_d(x, sigma, D) is epsh), so step i from sigma to sigma' is
 *
 *   sigma_up   = min(sigma', eta sqrt(sigma'^2 (sigma^2 - sigma'^2) / sigma^2)),
 *   sigma_down = sqrt(sigma'^2 - sigma_up^2),
 *   xbar'      = xbar + (sigma_down - sigma) epsh(xbar, sigma) + s_noise sigma_up z_i
 *
 * with z_i draw i of opts->noise, taken after the model call and only when sigma' > 0
 * (k-diffusion adds no noise on a step to 0). eta = 0 is Euler in sigma, with Euler's own
 * arithmetic. For eta <= 1, sigma_up is DDIM's su and sigma_down its sqrt(sigma'^2 - su^2),
 * so euler-a is DDIM eq. 12 with the same eta (eta = 1: DDPM, and SDE-DPM-Solver++1).
 * Strong order 1 (additive noise), weak order 1. */
#include <math.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

void sde_ancestral_sizes(double eta, double s, double sn, double *down, double *up)
{
    if (!(eta > 0) || !(sn < s)) {
        *down = sn;
        *up = 0.0;
        return;
    }
    *up = fmin(sn, eta * sqrt(sn * sn * (s * s - sn * sn) / (s * s)));
    *down = sqrt(sn * sn - *up * *up);
}

/* ws[0]: epsh, ws[1]: the draw. ctx: eta. */
static int ancestral_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                          size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    const double eta = *(const double *)ctx, s = sigmas[i], sn = sigmas[i + 1];
    const size_t len = solver_len(ode);
    double down, up;
    int rc = dode_ode_rhs(ode, s, xbar, ws[0]);
    if (rc != DODE_OK)
        return rc;
    sde_ancestral_sizes(eta, s, sn, &down, &up);
    const int noisy = sn > 0 && up > 0;
    if (noisy && (rc = sde_draw(ode, opts, i, ws[1])) != DODE_OK)
        return rc;
    solver_axpy(xbar, down - s, ws[0], len);          /* Euler to sigma_down */
    if (noisy)
        solver_axpy(xbar, up, ws[1], len);
    return DODE_OK;
}

static int ancestral_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                           double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    double eta = sde_eta(opts);
    int rc = sde_begin(ode, grid, opts, eta > 0 ? grid->steps : 0);
    if (rc != DODE_OK)
        return rc;
    return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 2,
                            ancestral_step, &eta);
}

const dode_solver_type dode_solver_euler_a = {
    .name = "euler-a", .family = "sde", .order = 1, .evals_per_step = 1,
    .summary = "Euler ancestral with eta (k-diffusion; eta 0: euler, eta 1: DDPM)",
    .solve = ancestral_solve,
};
