/* euler.c - the explicit Euler method on d xbar/du = epsh(xbar, sigma(u)) dsigma/du in the
 * integration variable u = opts->generic.variable (MATH.md sections 2 and 6). Order 1, one NFE a
 * step (cost S on S steps).
 *
 * In the variable sigma it is DDIM with eta = 0: xbar' = xbar + (sigma' - sigma) epsh
 * (DDIM eq. 12, Song et al. 2021). In t or lambda it is a different first-order method.
 * A step ending at sigma = 0 in lambda or log sigma (where u' is infinite) is the x0
 * prediction xbar - sigma epsh, the limit, never log 0 (MATH.md section 6). */
#include "diffode/solver.h"
#include "diffode/status.h"
#include "solver_impl.h"

/* ws[0]: d xbar/du at the start of the step. (Steps to sigma = 0 in lambda or log sigma
 * never get here: solver_var_solve takes the x0 prediction.) */
static int euler_step(dode_ode *ode, dode_variable var, double u, double un, int to_zero,
                      double *xbar, double *const *ws)
{
    (void)to_zero;
    int rc = dode_ode_rhs_in(ode, var, u, xbar, ws[0]);
    if (rc == DODE_OK)
        solver_axpy(xbar, un - u, ws[0], solver_len(ode));
    return rc;
}

static const solver_var_method euler_method = { .step = euler_step, .nvec = 1 };

const dode_solver_type dode_solver_euler = {
    .name = "euler", .family = "classical", .order = 1, .evals_per_step = 1,
    .summary = "explicit Euler in the chosen variable (in sigma: DDIM with eta = 0)",
    .solve = solver_var_solve, .data = &euler_method,
};
