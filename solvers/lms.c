/* lms.c - LMS: k-diffusion's linear multistep method in sigma (crowsonkb/k-diffusion,
 * k_diffusion/sampling.py, sample_lms and linear_multistep_coeff, commit 4601bf08), one
 * NFE a step, order up to 4.
 *
 * With d_j = (xbar - x0h)/sigma = epsh at the last k grid points (MATH.md section 2),
 *     xbar_{i+1} = xbar_i + sum_{j<k} d_{i-j} int_{sigma_i}^{sigma_{i+1}} L_j(tau) dtau,
 * L_j the Lagrange basis through sigma_i, ..., sigma_{i-k+1}; k = min(order, i + 1).
 * k-diffusion integrates L_j with scipy's quad (QUADPACK); here GSL's non-adaptive
 * Gauss-Kronrod (gsl_integration_qng), whose first 21-point rule is already exact for
 * these cubics, so the weights are the exact integrals to rounding and LMS is the
 * variable-step Adams-Bashforth method AB4 in sigma, deis-rhoab3 (checked in
 * tests/check_multistep.c). */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

#include "diffode/status.h"
#include "multistep.h"

typedef struct {
    const double *nodes;
    int k, j;
} lms_basis;

static double lms_basis_at(double tau, void *params)
{
    const lms_basis *b = params;
    return ms_lagrange(b->nodes, b->k, b->j, tau);
}

static int lms_weights(dode_ode *ode, const ms_history *h, double sigma_next, double t_next,
                       int k, double *w, void *ctx)
{
    (void)t_next, (void)ctx;
    for (int j = 0; j < k; j++) {
        lms_basis b = { .nodes = h->sigma, .k = k, .j = j };
        gsl_function f = { .function = lms_basis_at, .params = &b };
        double abserr;
        size_t neval;
        int st = gsl_integration_qng(&f, h->sigma[0], sigma_next, 0.0, 1e-12, &w[j], &abserr,
                                     &neval);
        if (st != GSL_SUCCESS)
            return dode_ode_fail(ode, DODE_ESOLVER, "LMS weight %d of order %d: GSL qng: %s",
                                 j, k, gsl_strerror(st));
    }
    return DODE_OK;
}

static int lms_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    return ms_solve(ode, grid, xbar, opts, trace, *(const int *)self->data, lms_weights, NULL);
}

static const int lms_max_order = 4;      /* sample_lms's default order */

const dode_solver_type dode_solver_lms = {
    .name = "lms", .family = "multistep", .order = 4, .evals_per_step = 1,
    .summary = "k-diffusion LMS: order-4 linear multistep in sigma, Lagrange weights by GSL "
               "quadrature",
    .solve = lms_solve, .data = &lms_max_order,
};
