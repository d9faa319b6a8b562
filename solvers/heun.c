/* heun.c - Heun's method (explicit trapezoid), EDM Algorithm 1 (Karras et al. 2022), on
 * d xbar/du = epsh dsigma/du in the variable u = opts->generic.variable (MATH.md section 6):
 * Euler predictor, trapezoid corrector. Order 2, two NFE a step. As in EDM, a step that
 * ends at sigma = 0 is the Euler step alone (in lambda or log sigma its limit, the x0
 * prediction), so a grid ending at 0 costs 2S - 1. */
#include "diffode/solver.h"
#include "diffode/status.h"
#include "solver_impl.h"

/* ws[0]: slope at the start, ws[1]: Euler predictor, ws[2]: slope at the predictor. */
static int heun_step(dode_ode *ode, dode_variable var, double u, double un, int to_zero,
                     double *xbar, double *const *ws)
{
    const size_t len = solver_len(ode);
    const double du = un - u;
    int rc = dode_ode_rhs_in(ode, var, u, xbar, ws[0]);
    if (rc != DODE_OK)
        return rc;
    if (to_zero) {                                 /* EDM: the last step is Euler */
        solver_axpy(xbar, du, ws[0], len);
        return DODE_OK;
    }
    solver_axpy_to(ws[1], xbar, du, ws[0], len);
    rc = dode_ode_rhs_in(ode, var, un, ws[1], ws[2]);
    if (rc != DODE_OK)
        return rc;
    /* xbar += (du / 2) (k1 + k2): the divisor 1 leaves ws[2] exact */
    solver_add_scaled_sum(xbar, 0.5 * du, ws[0], ws[2], 1.0, len);
    return DODE_OK;
}

static const solver_var_method heun_method = { .step = heun_step, .nvec = 3 };

const dode_solver_type dode_solver_heun = {
    .name = "heun", .family = "classical", .order = 2, .evals_per_step = 2,
    .summary = "Heun / EDM Algorithm 1 in the chosen variable (last step to 0 is Euler)",
    .solve = solver_var_solve, .data = &heun_method,
};
