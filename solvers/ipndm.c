/* ipndm.c - iPNDM and iPNDM_v: Adams-Bashforth on epsh in the variables (sigma, xbar)
 * (Zhang & Chen 2023, "Fast sampling of diffusion models with exponential integrator",
 * section 4 and appendix: improved PNDM), one NFE a step.
 *
 * iPNDM uses the fixed-step Adams-Bashforth weights whatever the grid,
 *     xbar_{i+1} = xbar_i + (sigma_{i+1} - sigma_i) sum_j b_j epsh_{i-j},
 *     b = 1;  3/2, -1/2;  23/12, -16/12, 5/12;  55/24, -59/24, 37/24, -9/24,
 * with order min(max_order, i + 1) at step i (zju-pi/diff-sampler, diff-solvers-main/
 * solvers.py, ipndm_sampler, commit 68d5ce42; the same weights as qsh-zh/deis th_deis/
 * sampler.py get_sampler_ipndm). On a grid that is not uniform in sigma the fixed
 * weights interpolate epsh at the wrong nodes by O(h) relative, so the method is
 * globally second order there (the local error keeps an h^3 term), whatever max_order.
 *
 * iPNDM_v takes the step ratios into account: its weights are diff-sampler's closed
 * forms (the same file, ipndm_v_sampler), written in h_n = sigma_{i+1} - sigma_i,
 * h_{n-1}, .... Order 2 is the exact variable-step AB2. The order-3 and order-4 forms are
 * not the exact variable-step AB3/AB4 (lms.c, deis.c's rhoAB): they are exact for linear
 * epsh and reduce to the fixed weights on a uniform grid, so on a grid whose step ratios
 * are 1 + O(h) their error in the quadratic term is O(h) h^3 a step, and the method is
 * globally third order (measured 2.96, docs/solvers.md); fourth order on uniform grids. */
#include "diffode/status.h"
#include "multistep.h"

typedef struct {
    int max_order;
    int variable;             /* 0: iPNDM fixed weights; 1: iPNDM_v */
} ipndm_entry;

static int ipndm_weights(dode_ode *ode, const ms_history *h, double sigma_next, double t_next,
                         int k, double *w, void *ctx)
{
    (void)ode, (void)t_next, (void)ctx;
    const double hn = sigma_next - h->sigma[0];
    for (int j = 0; j < k; j++)
        w[j] = hn * ms_ab_fixed[k - 1][j];
    return DODE_OK;
}

/* diff-sampler's ipndm_v_sampler coefficients, order 3 and 4 (its temp, temp1, temp2). */
static void ipndm_v_order3(double hn, double h1, double h2, double c[3])
{
    const double temp = (1 - hn / (3 * (hn + h1)) * (hn * (hn + h1)) / (h1 * (h1 + h2))) / 2;
    c[0] = (2 + hn / h1) / 2 + temp;
    c[1] = -(hn / h1) / 2 - (1 + h1 / h2) * temp;
    c[2] = temp * h1 / h2;
}

static void ipndm_v_order4(double hn, double h1, double h2, double h3, double c[4])
{
    const double s1 = hn + h1, s2 = hn + h1 + h2;
    const double temp1 = (1 - hn / (3 * s1) * (hn * s1) / (h1 * (h1 + h2))) / 2;
    const double temp2 = ((1 - hn / (3 * s1)) / 2 + (1 - hn / (2 * s1)) * hn / (6 * s2))
                         * (hn * s1 * s2) / (h1 * (h1 + h2) * (h1 + h2 + h3));
    const double q = h1 * (h1 + h2) / (h2 * (h2 + h3));
    c[0] = (2 + hn / h1) / 2 + temp1 + temp2;
    c[1] = -(hn / h1) / 2 - (1 + h1 / h2) * temp1 - (1 + h1 / h2 + q) * temp2;
    c[2] = temp1 * h1 / h2 + (h1 / h2 + q * (1 + h2 / h3)) * temp2;
    c[3] = -temp2 * q * h1 / h2;
}

static int ipndm_v_weights(dode_ode *ode, const ms_history *h, double sigma_next,
                           double t_next, int k, double *w, void *ctx)
{
    (void)ode, (void)t_next, (void)ctx;
    const double *s = h->sigma;
    const double hn = sigma_next - s[0];
    double c[MS_MAX_ORDER] = { 1.0, 0.0, 0.0, 0.0 };
    if (k == 2) {
        const double r = hn / (s[0] - s[1]);
        c[0] = (2 + r) / 2, c[1] = -r / 2;
    } else if (k == 3) {
        ipndm_v_order3(hn, s[0] - s[1], s[1] - s[2], c);
    } else if (k == 4) {
        ipndm_v_order4(hn, s[0] - s[1], s[1] - s[2], s[2] - s[3], c);
    }
    for (int j = 0; j < k; j++)
        w[j] = hn * c[j];
    return DODE_OK;
}

static int ipndm_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                       double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const ipndm_entry *e = self->data;
    return ms_solve(ode, grid, xbar, opts, trace, e->max_order,
                    e->variable ? ipndm_v_weights : ipndm_weights, NULL);
}

static const ipndm_entry ip1 = { 1, 0 }, ip2 = { 2, 0 }, ip3 = { 3, 0 }, ip4 = { 4, 0 };
static const ipndm_entry iv1 = { 1, 1 }, iv2 = { 2, 1 }, iv3 = { 3, 1 }, iv4 = { 4, 1 };

#define IPNDM_ENTRY(id, nm, ord, dat, sum)                                                  \
    const dode_solver_type dode_solver_##id = {                                             \
        .name = nm, .family = "multistep", .order = ord, .evals_per_step = 1,               \
        .summary = sum, .solve = ipndm_solve, .data = &dat,                                  \
    }

/* Orders: fixed weights on a non-uniform sigma grid are second order (header comment). */
IPNDM_ENTRY(ipndm1, "ipndm1", 1, ip1, "iPNDM, max order 1: Euler in sigma (= DDIM)");
IPNDM_ENTRY(ipndm2, "ipndm2", 2, ip2, "iPNDM, max order 2: fixed-step AB2 weights in sigma");
IPNDM_ENTRY(ipndm3, "ipndm3", 2, ip3, "iPNDM, max order 3: fixed AB3 weights (order 2 on "
            "non-uniform grids)");
IPNDM_ENTRY(ipndm4, "ipndm4", 2, ip4, "iPNDM (Zhang & Chen): fixed AB4 weights (order 2 on "
            "non-uniform grids)");
IPNDM_ENTRY(ipndm_v1, "ipndm-v1", 1, iv1, "iPNDM_v, max order 1: Euler in sigma (= DDIM)");
IPNDM_ENTRY(ipndm_v2, "ipndm-v2", 2, iv2, "iPNDM_v, max order 2: variable-step AB2 in sigma");
IPNDM_ENTRY(ipndm_v3, "ipndm-v3", 3, iv3, "iPNDM_v, max order 3 (diff-sampler's weights)");
IPNDM_ENTRY(ipndm_v4, "ipndm-v4", 3, iv4, "iPNDM_v (diff-sampler), max order 4 (order 3 on "
            "non-uniform grids)");
