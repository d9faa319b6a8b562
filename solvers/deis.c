/* deis.c - DEIS, the exponential integrator with polynomial extrapolation of eps
 * (Zhang & Chen 2023, eq. 14-15; qsh-zh/deis, th_deis/multistep.py get_ab_eps_coef and
 * th_deis/sampler.py get_sampler_t_ab / get_sampler_rho_ab, commit a30709f4), one NFE a
 * step.
 *
 * In x-space DEIS writes x_{i+1} = psi(t_i, t_{i+1}) x_i + sum_j C_ij eps_{i-j} with
 * psi = sqrt(abar_{i+1}/abar_i) and C_ij = int_{t_i}^{t_{i+1}} psi(tau, t_{i+1})
 * (-1/2 dlog abar/dtau) / sqrt(1 - abar(tau)) L_j(tau) dtau. The integrand is
 * sqrt(abar_{i+1}) dsigma/dtau, so divided by a_{i+1} the same step reads, in xbar,
 *
 *   tAB-r:   xbar_{i+1} = xbar_i + sum_{j<=r} epsh_{i-j} int_{t_i}^{t_{i+1}} sigma'(tau) L_j(tau) dtau
 *
 * with L_j the Lagrange basis in t through t_i, ..., t_{i-r} (degree r: order r + 1),
 * warm start with degree min(r, i). deis computes the integral with a 10000-point
 * Riemann sum; here GSL's 16-point Gauss-Legendre (gsl_integration_glfixed) after an
 * integration by parts, int sigma' L_j = [sigma L_j] - int sigma L_j', whose integrand
 * is continuous even on a discrete schedule, where sigma'(t) jumps at every level; the
 * rule is applied between those levels, where the integrand is smooth.
 * (deis's discrete SDE interpolates abar linearly in integer time; here t is the
 * schedule's own continuous time, MATH.md section 3.)
 *
 *   rhoAB-r: the same with L_j in rho = sigma_bar = sigma (deis's t2rho with
 * alpha_start = 1): psi = 1 and the integrand is the polynomial L_j itself, so the
 * weights are exact integrals, here by 2-point Gauss-Legendre (exact to degree 3). It
 * is the variable-step Adams-Bashforth method in sigma: rhoAB3 is lms, rhoAB1 is
 * ipndm-v2. */
#include <gsl/gsl_integration.h>
#include <math.h>

#include "diffode/status.h"
#include "multistep.h"

typedef struct {
    int max_order;            /* points of the interpolant: r + 1 */
    int in_t;                 /* 1: tAB (Lagrange in t); 0: rhoAB (in sigma) */
} deis_entry;

enum { DEIS_GL_POINTS = 16, DEIS_CONT_PIECES = 64 };

typedef struct {
    gsl_integration_glfixed_table *gl;    /* made once per solve */
    const dode_schedule *sched;
    const double *nodes;                  /* the t nodes of the step's interpolant */
    int k;
    /* per step, for the Lagrange derivatives: den[j][l] = nodes[j] - nodes[l] and
     * inv[j][m] = 1 / den[j][m], made once a step instead of at every point */
    double den[MS_MAX_ORDER][MS_MAX_ORDER], inv[MS_MAX_ORDER][MS_MAX_ORDER];
} deis_ctx;

typedef double deis_v2 __attribute__((vector_size(16)));

/* L_j'(x) = sum_{m != j} 1/(t_j - t_m) prod_{l != j, m} (x - t_l)/(t_j - t_l) at two points
 * at once, the products and sums in that order on each lane (GNU C vector division and
 * product are the element-wise IEEE ones, so the lanes give the scalar loop's bits). The
 * factor (x - t_l)/(t_j - t_l) does not depend on m, so it is divided once for all m, and
 * 1/(t_j - t_m) once a step (c->inv): k - 1 divisions of pairs instead of (k - 1)^2 (the
 * quadrature's divisions were most of DEIS tAB's cost outside the model, issue 16). */
static inline __attribute__((always_inline)) deis_v2
lagrange_deriv2(const deis_ctx *c, int k, int j, deis_v2 x)
{
    deis_v2 q[MS_MAX_ORDER];
#pragma GCC unroll 4
    for (int l = 0; l < k && k > 2; l++)
        if (l != j)
            q[l] = (x - c->nodes[l]) / c->den[j][l];
    deis_v2 s = { 0.0, 0.0 };
#pragma GCC unroll 4
    for (int m = 0; m < k; m++) {
        if (m == j)
            continue;
        deis_v2 p = { c->inv[j][m], c->inv[j][m] };
#pragma GCC unroll 4
        for (int l = 0; l < k; l++)
            if (l != j && l != m)
                p *= q[l];
        s += p;
    }
    return s;
}

/* acc[j] += sum_q w_q sigma(tau_q) L_j'(tau_q) for the piece's points, two at a time, each
 * still added in order; inlined with a constant k (deis_piece's switch) so that the loops
 * over j, m and l unroll and their tests vanish. */
static inline __attribute__((always_inline)) void
piece_sums(const deis_ctx *c, int k, const double *tau, const double *wq, const double *sig,
           double *acc)
{
    double a[MS_MAX_ORDER];              /* in registers: acc may alias the context */
    for (int j = 0; j < k; j++)
        a[j] = acc[j];
    for (size_t q = 0; q + 2 <= DEIS_GL_POINTS; q += 2) {
        const double sw[2] = { wq[q] * sig[q], wq[q + 1] * sig[q + 1] };
        const deis_v2 x = { tau[q], tau[q + 1] };
#pragma GCC unroll 4
        for (int j = 0; j < k; j++) {
            const deis_v2 d = lagrange_deriv2(c, k, j, x);
            a[j] += sw[0] * d[0];
            a[j] += sw[1] * d[1];
        }
    }
    for (int j = 0; j < k; j++)
        acc[j] = a[j];
}

/* acc[j] += int_from^to sigma(tau) L_j'(tau) dtau for every j < k (the integrand after
 * the integration by parts), one Gauss-Legendre rule, sigma evaluated once a point. */
static void deis_piece(const deis_ctx *c, double from, double to, double *acc)
{
    double tau[DEIS_GL_POINTS], wq[DEIS_GL_POINTS], sig[DEIS_GL_POINTS];
    for (size_t q = 0; q < DEIS_GL_POINTS; q++)
        gsl_integration_glfixed_point(from, to, q, &tau[q], &wq[q], c->gl);
    dode_schedule_sigma_many(c->sched, DEIS_GL_POINTS, tau, sig);   /* one segment */
    switch (c->k) {
    case 2:
        piece_sums(c, 2, tau, wq, sig, acc);
        break;
    case 3:
        piece_sums(c, 3, tau, wq, sig, acc);
        break;
    default:                             /* 4 = MS_MAX_ORDER: tAB3 */
        piece_sums(c, MS_MAX_ORDER, tau, wq, sig, acc);
        break;
    }
}

/* The integrals from a to b, piece by piece: on a discrete schedule sigma(t) has a kink
 * at every level t_n = (n+1)/N (log a is piecewise linear there, MATH.md section 3), so
 * the pieces end at the levels inside [a, b] and each is smooth; a continuous schedule
 * is cut in DEIS_CONT_PIECES equal pieces. */
static void deis_integrals(const deis_ctx *c, double a, double b, double *acc)
{
    const size_t levels = dode_schedule_levels(c->sched);
    const double lo = fmin(a, b), hi = fmax(a, b), dir = b >= a ? 1.0 : -1.0;
    double from = lo;
    for (int j = 0; j < c->k; j++)
        acc[j] = 0.0;
    if (levels == 0) {
        for (int p = 1; p <= DEIS_CONT_PIECES; p++) {
            const double to = p == DEIS_CONT_PIECES ? hi : lo + (hi - lo) * p / DEIS_CONT_PIECES;
            deis_piece(c, from, to, acc);
            from = to;
        }
    } else {
        const double N = (double)levels;
        for (double n = ceil(lo * N - 1.0); from < hi; n += 1.0) {
            const double level = (n + 1.0) / N;
            const double to = level > from && level < hi ? level : (level >= hi ? hi : from);
            if (to > from)
                deis_piece(c, from, to, acc);
            from = to;
        }
    }
    for (int j = 0; j < c->k; j++)
        acc[j] *= dir;
}

static int tab_weights(dode_ode *ode, const ms_history *h, double sigma_next, double t_next,
                       int k, double *w, void *ctx)
{
    deis_ctx *c = ctx;
    c->sched = ode->schedule, c->nodes = h->t, c->k = k;
    for (int j = 0; j < k; j++)
        for (int l = 0; l < k; l++)
            if (l != j) {
                c->den[j][l] = h->t[j] - h->t[l];
                c->inv[j][l] = 1.0 / c->den[j][l];
            }
    double v[MS_MAX_ORDER] = { 0.0 };
    if (k > 1)               /* k = 1: L_0 = 1, L_0' = 0, the weight is sigma' - sigma */
        deis_integrals(c, h->t[0], t_next, v);
    for (int j = 0; j < k; j++) {
        /* boundary term [sigma L_j]: L_j(t_i) = 1 for j = 0 and 0 otherwise */
        w[j] = sigma_next * ms_lagrange(h->t, k, j, t_next) - (j == 0 ? h->sigma[0] : 0.0)
               - v[j];
        if (!isfinite(w[j]))
            return dode_ode_fail(ode, DODE_ENONFINITE, "DEIS weight %d of order %d on t in "
                                 "[%g, %g] is not finite", j, k, h->t[0], t_next);
    }
    return DODE_OK;
}

static int rhoab_weights(dode_ode *ode, const ms_history *h, double sigma_next, double t_next,
                         int k, double *w, void *ctx)
{
    (void)ode, (void)t_next, (void)ctx;
    /* 2-point Gauss-Legendre on [sigma_i, sigma_next]: nodes mid +- half/sqrt(3) */
    const double mid = 0.5 * (h->sigma[0] + sigma_next), half = 0.5 * (sigma_next - h->sigma[0]);
    const double d = half / sqrt(3.0);
    for (int j = 0; j < k; j++)
        w[j] = half * (ms_lagrange(h->sigma, k, j, mid - d) + ms_lagrange(h->sigma, k, j, mid + d));
    return DODE_OK;
}

static int deis_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                      double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const deis_entry *e = self->data;
    if (!e->in_t)
        return ms_solve(ode, grid, xbar, opts, trace, e->max_order, rhoab_weights, NULL);
    deis_ctx c = { .gl = gsl_integration_glfixed_table_alloc(DEIS_GL_POINTS) };
    if (c.gl == NULL)
        return dode_ode_fail(ode, DODE_ENOMEM, "cannot allocate a GSL Gauss-Legendre table");
    int rc = ms_solve(ode, grid, xbar, opts, trace, e->max_order, tab_weights, &c);
    gsl_integration_glfixed_table_free(c.gl);
    return rc;
}

static const deis_entry tab1 = { 2, 1 }, tab2 = { 3, 1 }, tab3 = { 4, 1 };
static const deis_entry rab1 = { 2, 0 }, rab2 = { 3, 0 }, rab3 = { 4, 0 };

#define DEIS_ENTRY(id, nm, ord, dat, sum)                                                   \
    const dode_solver_type dode_solver_##id = {                                             \
        .name = nm, .family = "multistep", .order = ord, .evals_per_step = 1,               \
        .summary = sum, .solve = deis_solve, .data = &dat,                                   \
    }

DEIS_ENTRY(deis_tab1, "deis-tab1", 2, tab1, "DEIS tAB1: exponential integrator, eps linear in t");
DEIS_ENTRY(deis_tab2, "deis-tab2", 3, tab2, "DEIS tAB2: eps quadratic in t, GSL quadrature");
DEIS_ENTRY(deis_tab3, "deis-tab3", 4, tab3, "DEIS tAB3: eps cubic in t, GSL quadrature");
DEIS_ENTRY(deis_rhoab1, "deis-rhoab1", 2, rab1, "DEIS rhoAB1: eps linear in rho = sigma");
DEIS_ENTRY(deis_rhoab2, "deis-rhoab2", 3, rab2, "DEIS rhoAB2: eps quadratic in rho = sigma");
DEIS_ENTRY(deis_rhoab3, "deis-rhoab3", 4, rab3, "DEIS rhoAB3: eps cubic in rho = sigma");
