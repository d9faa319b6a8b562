/* sde_sa.c - SA-Solver, the stochastic Adams predictor-corrector (Xue et al. 2023,
 * "SA-Solver: Stochastic Adams solver for fast sampling of diffusion models", Algorithms
 * 1-2, data prediction), as diffusers' SASolverScheduler does it
 * (src/diffusers/schedulers/scheduling_sasolver.py of github.com/huggingface/diffusers at
 * 58eb52c0803ea9af3abec60841c2a093bdf1f951: stochastic_adams_bashforth_update,
 * stochastic_adams_moulton_update, step; algorithm_type "data_prediction"). Divided by
 * alpha_t, with lambda = -log sigma, k = 1 + tau^2 and h = lambda_t - lambda_s, one update
 * from sigma_s to sigma_t on model values m_j (x0h) at nodes lambda_j is
 *
 *   xbar_t = e^(-tau^2 h) (sigma_t / sigma_s) xbar_s + sum_j c_j m_j
 *            + sigma_t sqrt(1 - e^(-2 tau^2 h)) z,
 *   c_j    = k int_{-h}^{0} e^(k u) l_j(u + lambda_t) du      (l_j: Lagrange basis on the nodes)
 *
 * (diffusers' get_coefficients_fn times (1 + tau^2) sigma_t e^(-tau^2 lambda_t), written in
 * u = lambda - lambda_t so the moments int e^(ku) u^p stay O(h^(p+1)) instead of carrying
 * e^(k lambda_t)). On order-2 updates diffusers adds its UniPC-like O(h^3) term to c_0 and
 * subtracts it from c_1; kept here. Step i (the model at sigma_i = sigmas[i], evaluated at
 * the predicted state):
 *   corrector  (i > 0, sa_corrector > 0) re-does the update from sigma_{i-1} with nodes
 *              i, i-1, ... (sa_corrector of them, the new value included) and the noise of
 *              step i-1's predictor;
 *   predictor  the update to sigma_{i+1} with nodes i, i-1, ... (sa_predictor of them).
 * One NFE a step. Orders warm up (predictor min(P, i+1), corrector min(C, i+2)) and, with
 * lower_order_final (default yes, as diffusers: always, not only below
 * lower_order_threshold), drop to min(P, steps - i) and min(C, steps - i + 1). tau is
 * sa_tau where s_tmin <= sigma_i <= s_tmax (diffusers' tau_func at the step's timestep;
 * its default is tau = 1 for t in [200, 800] of 1000), else 0. A step to sigma = 0 (which
 * diffusers' grids never take) is the x0 prediction. sa_corrector = 0 (diffodes's, not
 * diffusers') turns the corrector off: then sa_predictor 1 is DDIM (tau 0) or sde-dpmpp1
 * with eta 1 (tau 1).
 *
 * z_i is s_noise times draw i, taken at step i after the model call for its predictor
 * (and reused by step i+1's corrector); not with tau = 0 at that step, nor on a step to 0.
 * Orders with tau = 0 (an exponential Adams ODE solver): min(P + 1, C) with a corrector
 * (the corrector's new value is taken at the predicted point, as UniPC), P without; with
 * noise strong order 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "dpm.h"
#include "sde.h"
#include "solver_impl.h"

#define SA_MAX 4            /* orders 1..4, as diffusers */

/* c[j] for nodes lam[0..n-1] on the update lam_s -> lam_t (the header's formula). */
static void sa_coefficients(size_t n, const double *lam, double lam_s, double lam_t,
                            double tau, double *c)
{
    const double k = 1.0 + tau * tau, h = lam_t - lam_s, e = exp(-k * h);
    double mom[SA_MAX];                 /* k int_{-h}^0 e^(ku) u^p du, by parts */
    double hp = 1.0;                    /* (-h)^p */
    for (size_t p = 0; p < n; p++) {
        mom[p] = (p == 0 ? 1.0 : 0.0) - e * hp - (p > 0 ? (double)p / k * mom[p - 1] : 0.0);
        hp *= -h;
    }
    for (size_t j = 0; j < n; j++) {
        double a[SA_MAX] = { 1.0 };     /* l_j(u + lam_t) in powers of u */
        size_t deg = 0;
        for (size_t q = 0; q < n; q++) {
            if (q == j)
                continue;
            const double uq = lam[q] - lam_t, d = lam[j] - lam[q];
            for (size_t p = deg + 2; p-- > 0;) {      /* a <- a (u - uq) / d */
                const double lower = p > 0 ? a[p - 1] : 0.0;
                a[p] = (lower - uq * a[p]) / d;
            }
            deg++;
        }
        c[j] = 0.0;
        for (size_t p = 0; p < n; p++)
            c[j] += a[p] * mom[p];
    }
}

/* diffusers' order-2 modification (data prediction), in the scaling above: predictor
 * adds k (h^2/2 - (kh - 1 + e^(-kh)) / k^2) / (lam_s - lam_prev) to c_0, the corrector
 * k (h/2 - (kh - 1 + e^(-kh)) / (k^2 h)); both subtract it from c_1. */
static void sa_order2_term(int corrector, double lam_s, double lam_t, double lam_prev,
                           double tau, double *c)
{
    const double k = 1.0 + tau * tau, h = lam_t - lam_s;
    const double inner = (k * h - 1.0 + exp(-k * h)) / (k * k);
    const double d = corrector ? k * (0.5 * h - inner / h)
                               : k * (0.5 * h * h - inner) / (lam_s - lam_prev);
    c[0] += d;
    c[1] -= d;
}

typedef struct {
    dpm_model mod;
    double *m[SA_MAX + 1];  /* x0h, newest first */
    double lam[SA_MAX + 1]; /* their lambda */
    double *last;           /* the (corrected) state at the previous point */
    double *z;              /* the last draw: the predictor's, then the next corrector's */
    size_t known;           /* model values held */
    size_t p, c;            /* sa_predictor, sa_corrector */
    size_t corr_order;      /* the corrector order set by the previous step */
    double tau, tmin, tmax;
    double last_tau;
} sa_ws;

/* xbar_t = e^(-tau^2 h)(sigma_t/sigma_s) xs + sum c_j m_j + noise, nodes m[first ..]. */
static void sa_update(sa_ws *w, size_t first, size_t n, int corrector, double sig_s,
                      double sig_t, double tau, const double *xs, const double *z, double *out)
{
    const double lam_s = -log(sig_s), lam_t = -log(sig_t), h = lam_t - lam_s;
    double c[SA_MAX];
    sa_coefficients(n, w->lam + first, lam_s, lam_t, tau, c);
    if (n == 2)
        sa_order2_term(corrector, lam_s, lam_t, w->lam[first + 1], tau, c);
    const double a = exp(-tau * tau * h) * sig_t / sig_s;
    const double b = tau > 0 ? sig_t * sqrt(-expm1(-2.0 * tau * tau * h)) : 0.0;
    for (size_t q = 0; q < w->mod.len; q++) {
        double v = a * xs[q];
        for (size_t j = 0; j < n; j++)
            v += c[j] * w->m[first + j][q];
        out[q] = b > 0 ? v + b * z[q] : v;
    }
}

static double sa_tau_at(const sa_ws *w, double sigma)
{
    return w->tmin <= sigma && sigma <= w->tmax ? w->tau : 0.0;
}

static size_t sa_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The corrector of step i (i > 0): xbar from the previous point's state again, with the
 * new model value among the nodes and the previous draw. */
static void sa_correct(sa_ws *w, double sig_prev, double sig, double *xbar)
{
    if (w->corr_order > 0)
        sa_update(w, 0, w->corr_order, 1, sig_prev, sig, w->last_tau, w->last, w->z, xbar);
}

/* A solver_step_fn: ctx is the solve's sa_ws. */
static int sa_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                   size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)ode;
    (void)ws;
    sa_ws *w = ctx;
    const double s = sigmas[i], sn = sigmas[i + 1];
    double *oldest = w->m[SA_MAX];
    memmove(w->m + 1, w->m, SA_MAX * sizeof *w->m);
    memmove(w->lam + 1, w->lam, SA_MAX * sizeof *w->lam);
    w->m[0] = oldest, w->lam[0] = -log(s);
    int rc = dpm_model_eval(&w->mod, xbar, s, w->m[0]);
    if (rc != DODE_OK)
        return rc;
    if (i > 0)
        sa_correct(w, sigmas[i - 1], s, xbar);
    if (sn == 0) {
        dpm_to_zero(&w->mod, s, xbar, w->m[0]);
        return DODE_OK;
    }
    const double tau = sa_tau_at(w, s);
    if (tau > 0 && (rc = sde_draw(w->mod.ode, opts, i, w->z)) != DODE_OK)
        return rc;
    const int lof = opts->dpm.lower_order_final;
    size_t p = sa_min(w->p, i + 1);
    if (lof)
        p = sa_min(p, steps - i);
    w->corr_order = w->c == 0 ? 0 : sa_min(w->c, i + 2);
    if (lof && w->c > 0)
        w->corr_order = sa_min(w->corr_order, steps - i + 1);
    memcpy(w->last, xbar, w->mod.len * sizeof *xbar);
    w->last_tau = tau;
    sa_update(w, 0, p, 0, s, sn, tau, w->last, w->z, xbar);
    return DODE_OK;
}

/* Orders in range, a strictly decreasing grid (repeated levels would divide by 0). */
static int sa_check(dode_ode *ode, const dode_grid *grid, const dode_solver_opts *opts)
{
    if (!(opts->sa.predictor >= 1 && opts->sa.predictor <= SA_MAX && opts->sa.corrector <= SA_MAX))
        return dode_ode_fail(ode, DODE_EINVAL, "sa_predictor %zu and sa_corrector %zu: the "
                             "orders are 1 to %d (corrector 0: none)", opts->sa.predictor,
                             opts->sa.corrector, SA_MAX);
    for (size_t i = 0; i < grid->steps; i++)
        if (!(grid->sigma[i] > grid->sigma[i + 1]))
            return dode_ode_fail(ode, DODE_EINVAL, "the grid repeats sigma %g at step %zu "
                                 "(a multistep method divides by the step)",
                                 grid->sigma[i], i + 1);
    return DODE_OK;
}

static int sa_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    const dode_solver_opts *o = opts;
    int rc = sde_begin(ode, grid, opts, o->sa.tau > 0 ? grid->steps : 0);
    if (rc == DODE_OK)
        rc = sa_check(ode, grid, opts);
    if (rc != DODE_OK)
        return rc;
    double *v[SA_MAX + 4];
    double *block = solver_workspace(ode, SA_MAX + 4, v);
    if (block == NULL)
        return DODE_ENOMEM;
    sa_ws w = { .last = v[SA_MAX + 1], .z = v[SA_MAX + 2],
                .p = o->sa.predictor, .c = o->sa.corrector, .tau = o->sa.tau,
                .tmin = dode_solver_opts_given(o, DODE_OPT_S_TMIN) ? o->sde.s_tmin : 0.0,
                .tmax = dode_solver_opts_given(o, DODE_OPT_S_TMAX) ? o->sde.s_tmax : INFINITY };
    for (size_t j = 0; j <= SA_MAX; j++)
        w.m[j] = v[j], w.lam[j] = NAN;
    dpm_model_init(&w.mod, ode, DPM_DATA, opts, v[SA_MAX + 3]);
    rc = solver_step_loop(ode, grid->sigma, grid->steps, xbar, opts, trace, NULL, sa_step, &w);
    free(block);
    return rc;
}

/* tau = 0: an exponential Adams ODE solver of order min(P + 1, C) (P without corrector);
 * with noise, strong order 1. */
static int sa_order_with(const dode_solver_type *self, const dode_solver_opts *opts)
{
    (void)self;
    const int p = (int)opts->sa.predictor, c = (int)opts->sa.corrector;
    if (opts->sa.tau > 0)
        return 1;
    return c == 0 ? p : (p + 1 < c ? p + 1 : c);
}

const dode_solver_type dode_solver_sa_solver = {
    .name = "sa-solver", .family = "sde", .data_prediction = 1, .order = 1,
    .evals_per_step = 1,
    .summary = "SA-Solver, stochastic Adams predictor-corrector (sa_predictor, "
               "sa_corrector, sa_tau; diffusers)",
    .solve = sa_solve, .order_with = sa_order_with,
};
