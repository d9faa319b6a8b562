/* rk4.c - the classical fourth-order Runge-Kutta method (Kutta 1901; the tableau of GSL's
 * ode-initval2/rk4.c) on d xbar/du = epsh dsigma/du in the variable u = opts->generic.variable
 * (MATH.md section 6). Order 4, four NFE a step.
 * A final step to sigma = 0 in lambda or log sigma (u' infinite) is the x0 prediction
 * xbar - sigma epsh (one NFE, first order for that step: cost 4S - 3, and the global
 * order on such grids is limited by that last step); in sigma or t it is a full RK4 step. */
#include "diffode/solver.h"
#include "diffode/status.h"
#include "solver_impl.h"

/* ws[0..3]: the stages k1..k4, ws[4]: the stage state. */
static int rk4_step(dode_ode *ode, dode_variable var, double u, double un, int to_zero,
                    double *xbar, double *const *ws)
{
    static const double c[4] = { 0.0, 0.5, 0.5, 1.0 };   /* nodes; a_{j,j-1} = c_j */
    static const double b[4] = { 1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6 };
    (void)to_zero;
    const size_t len = solver_len(ode);
    const double du = un - u;
    for (int j = 0; j < 4; j++) {
        const double *y = xbar;
        if (j > 0) {
            solver_axpy_to(ws[4], xbar, c[j] * du, ws[j - 1], len);
            y = ws[4];
        }
        /* the last node is the grid point itself, not u + du (rounding) */
        const double uj = j == 3 ? un : u + c[j] * du;
        int rc = dode_ode_rhs_in(ode, var, uj, y, ws[j]);
        if (rc != DODE_OK)
            return rc;
    }
    size_t k = 0;       /* pairs as GNU C vectors, element-wise the scalar roundings */
    for (; k + 2 <= len; k += 2)
        solver_st2(xbar + k, solver_ld2(xbar + k)
                   + du * (b[0] * solver_ld2(ws[0] + k) + b[1] * solver_ld2(ws[1] + k)
                           + b[2] * solver_ld2(ws[2] + k) + b[3] * solver_ld2(ws[3] + k)));
    for (; k < len; k++)
        xbar[k] += du * (b[0] * ws[0][k] + b[1] * ws[1][k] + b[2] * ws[2][k]
                         + b[3] * ws[3][k]);
    return DODE_OK;
}

static const solver_var_method rk4_method = { .step = rk4_step, .nvec = 5 };

const dode_solver_type dode_solver_rk4 = {
    .name = "rk4", .family = "classical", .order = 4, .evals_per_step = 4,
    .summary = "classical Runge-Kutta 4 in the chosen variable",
    .solve = solver_var_solve, .data = &rk4_method,
};
