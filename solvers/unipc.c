/* unipc.c - UniPC (Zhao et al. 2023, "UniPC: a unified predictor-corrector framework",
 * Alg. 1-3 and eq. 5-8), the official uni_pc.py multistep_uni_pc_bh_update with data
 * prediction (its default, like DPM-Solver++): UniP-p predicts with the last p model
 * values, and UniC corrects with the model value at the predicted point, which is then
 * reused by the next step, so a step costs one NFE (the last step has no corrector).
 *
 * With z = -h, rk = (lambda_{-k} - lambda_0)/h, D_k = (m_{-k} - m0)/rk, B(h) = z (bh1) or
 * expm1(z) (bh2, the default here), and b_i = i! E_{i+1}(z) / B(h), the coefficients solve
 * sum_k rho_k rk^(i-1) = b_i (the predictor over its p-1 old points; p = 2 uses 1/2; the
 * corrector over those and rk = 1; p = 1 uses 1/2):
 *
 *   xbar_t = k0 xbar_s - c [E1(z) m0 + B(h) sum_k rho_k D_k]     (k0 = sigma_t/sigma_s, c = 1)
 *
 * Orders: UniPC-p with the corrector is order p+1 locally; globally the order-1 first
 * step and the corrector-free last step cap what is observed (docs/solvers.md).
 * Warm-up: step i uses min(order, i + 1); lower_order_final follows UniPC's own code,
 * which applies it at every step count (unlike DPM-Solver's steps < 10): step i uses at
 * most order steps - i. A step to sigma = 0 is the x0 prediction m0 (no NFE); a repeated
 * level is an identity step whose model value is reused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/status.h"
#include "dpm.h"
#include "solver_impl.h"

typedef struct {
    dpm_model mod;
    double *m[4];           /* model values, newest first; m[3] is the spare slot */
    double lam[3];
    double *u;              /* the predicted state */
    double *block;
    int order;              /* p of UniPC-p */
} unipc_ws;

/* Solves the k x k system A x = b (k <= 3) by Gaussian elimination with pivoting. */
static void solve_small(int k, double A[3][3], double *b, double *x)
{
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(A[r][c]) > fabs(A[p][c]))
                p = r;
        for (int j = 0; j < k; j++) {
            const double t = A[c][j];
            A[c][j] = A[p][j], A[p][j] = t;
        }
        const double t = b[c];
        b[c] = b[p], b[p] = t;
        for (int r = c + 1; r < k; r++) {
            const double f = A[r][c] / A[c][c];
            for (int j = c; j < k; j++)
                A[r][j] -= f * A[c][j];
            b[r] -= f * b[c];
        }
    }
    for (int r = k - 1; r >= 0; r--) {
        double s = b[r];
        for (int j = r + 1; j < k; j++)
            s -= A[r][j] * x[j];
        x[r] = s / A[r][r];
    }
}

/* rho of the predictor (n = k - 1 unknowns) or corrector (n = k) for the nodes rks[]:
 * sum_j rho_j rks[j]^i = b[i], i < n. */
static void unipc_rhos(int n, const double *rks, const double *b, double *rho)
{
    if (n == 1) {           /* official: the order-2 predictor and order-1 corrector */
        rho[0] = 0.5;
        return;
    }
    double A[3][3], bb[3];
    for (int i = 0; i < n; i++) {
        bb[i] = b[i];
        for (int j = 0; j < n; j++)
            A[i][j] = pow(rks[j], i);
    }
    solve_small(n, A, bb, rho);
}

/* The order of step i (warm-up, UniPC's lower_order_final, repeated levels). */
static int unipc_order(const unipc_ws *w, const dode_solver_opts *opts, int order, size_t i,
                       size_t steps)
{
    size_t k = (size_t)order < i + 1 ? (size_t)order : i + 1;
    if (opts->dpm.lower_order_final && steps - i < k)
        k = steps - i;
    if (k >= 2 && w->lam[0] == w->lam[1])
        k = 1;
    if (k >= 3 && w->lam[1] == w->lam[2])
        k = 2;
    return (int)k;
}

/* Weights on m0, m_{-1}, m_{-2} of E1 m0 + B sum_j rho_j D_j + B rho_t (m_t - m0), rho over
 * the k-1 old points; *wt_t is m_t's weight (rho_t = 0: the predictor). */
static void unipc_weights(double e1, double B, int k, const double *rks, const double *rho,
                          double rho_t, double wt[3], double *wt_t)
{
    wt[0] = e1, wt[1] = wt[2] = 0.0;
    for (int j = 1; j < k; j++) {
        wt[j] += B * rho[j - 1] / rks[j - 1];
        wt[0] -= B * rho[j - 1] / rks[j - 1];
    }
    wt[0] -= B * rho_t;
    *wt_t = B * rho_t;
}

/* A solver_step_fn: ctx is the solve's unipc_ws (history and scratch are its workspace). */
static int unipc_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                      size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)ws;
    unipc_ws *w = ctx;
    const int order = w->order;
    const double ss = sigmas[i], st = sigmas[i + 1];
    if (st == 0 || ss == st) {
        if (st == 0)
            dpm_to_zero(&w->mod, ss, xbar, w->m[0]);
        return DODE_OK;
    }
    const int k = unipc_order(w, opts, order, i, steps);
    const dpm_coef c = dpm_coef_make(w->mod.form, ss, st);
    const double B = opts->unipc.bh == 1 ? c.z : expm1(c.z);
    double rks[3], b[3], rho_p[3] = { 0, 0, 0 }, rho_c[3], wt[3], wt_t;
    for (int j = 1; j < k; j++)
        rks[j - 1] = (w->lam[j] - w->lam[0]) / c.h;
    rks[k - 1] = 1.0;
    const double fact[3] = { 1.0, 2.0, 6.0 };
    const double e[3] = { dpm_e2(c.z), dpm_e3(c.z), dpm_e4(c.z) };
    for (int j = 0; j < k; j++)
        b[j] = e[j] * fact[j] / B;
    if (k >= 2)
        unipc_rhos(k - 1, rks, b, rho_p);
    unipc_weights(dpm_e1(c.z), B, k, rks, rho_p, 0.0, wt, &wt_t);
    double *const *m = w->m;
    solver_lincomb(w->u, w->mod.len, c.k0, xbar, -c.c * wt[0], m[0], -c.c * wt[1],
                   m[k >= 2 ? 1 : 0], -c.c * wt[2], m[k >= 3 ? 2 : 0], 0.0, m[0]);
    if (i + 1 == steps) {                   /* no corrector at the last step */
        memcpy(xbar, w->u, w->mod.len * sizeof *xbar);
        return DODE_OK;
    }
    /* the data form's x0h at the predicted point and the corrector share one pass
     * (solver_x0h_lincomb, issue 16) */
    const int fuse = w->mod.form == DPM_DATA && w->mod.thresholding == 0;
    int rc = fuse ? dode_ode_rhs(ode, st, w->u, m[3]) : dpm_model_eval(&w->mod, w->u, st, m[3]);
    if (rc != DODE_OK)
        return rc;
    unipc_rhos(k, rks, b, rho_c);
    unipc_weights(dpm_e1(c.z), B, k, rks, rho_c, rho_c[k - 1], wt, &wt_t);
    if (fuse)
        solver_x0h_lincomb(xbar, w->mod.len, st, w->u, m[3], c.k0, xbar, -c.c * wt[0], m[0],
                           -c.c * wt[1], m[k >= 2 ? 1 : 0], -c.c * wt[2], m[k >= 3 ? 2 : 0],
                           -c.c * wt_t, m[3]);
    else
        solver_lincomb(xbar, w->mod.len, c.k0, xbar, -c.c * wt[0], m[0], -c.c * wt[1],
                       m[k >= 2 ? 1 : 0], -c.c * wt[2], m[k >= 3 ? 2 : 0], -c.c * wt_t, m[3]);
    double *spare = w->m[3];                /* m_t (at the predicted point) is newest */
    w->m[3] = w->m[2], w->m[2] = w->m[1], w->m[1] = w->m[0], w->m[0] = spare;
    w->lam[2] = w->lam[1], w->lam[1] = w->lam[0], w->lam[0] = -log(st);
    return DODE_OK;
}

int dpm_unipc_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const dpm_entry *e = self->data;
    const double *sigmas = grid->sigma;
    const size_t steps = grid->steps;
    int rc = dpm_check_opts(ode, e, grid, opts);
    if (rc != DODE_OK)
        return rc;
    double *v[6];
    unipc_ws w = { .block = solver_workspace(ode, 6, v), .lam = { NAN, NAN, NAN },
                    .order = e->order };
    if (w.block == NULL)
        return DODE_ENOMEM;
    for (int j = 0; j < 4; j++)
        w.m[j] = v[j];
    w.u = v[4];
    dpm_model_init(&w.mod, ode, e->form, opts, v[5]);
    w.lam[0] = -log(sigmas[0]);
    rc = dpm_model_eval(&w.mod, xbar, sigmas[0], w.m[0]);
    if (rc != DODE_OK)
        rc = solver_step_fail(ode, rc, 0, steps, sigmas[0], sigmas[1]);
    if (rc == DODE_OK)
        rc = solver_step_loop(ode, sigmas, steps, xbar, opts, trace, NULL, unipc_step, &w);
    free(w.block);
    return rc;
}

/* The entries: one constant block each, read by dpm_unipc_solve through self->data. */

static const dpm_entry u1_e = { .order = 1, .form = DPM_DATA };
static const dpm_entry u2_e = { .order = 2, .form = DPM_DATA };
static const dpm_entry u3_e = { .order = 3, .form = DPM_DATA };

const dode_solver_type dode_solver_unipc1 = {
    .name = "unipc1", .family = "unipc", .data_prediction = 1, .order = 2, .evals_per_step = 1,
    .summary = "UniPC-1: DDIM predictor + UniC-1 corrector, data prediction (bh2)",
    .solve = dpm_unipc_solve, .data = &u1_e,
};
const dode_solver_type dode_solver_unipc2 = {
    .name = "unipc2", .family = "unipc", .data_prediction = 1, .order = 3, .evals_per_step = 1,
    .summary = "UniPC-2: UniP-2 predictor + UniC corrector, data prediction (bh2)",
    .solve = dpm_unipc_solve, .data = &u2_e,
};
const dode_solver_type dode_solver_unipc3 = {
    .name = "unipc3", .family = "unipc", .data_prediction = 1, .order = 4, .evals_per_step = 1,
    .summary = "UniPC-3: UniP-3 predictor + UniC corrector, data prediction (bh2)",
    .solve = dpm_unipc_solve, .data = &u3_e,
};
