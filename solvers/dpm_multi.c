/* dpm_multi.c - multistep DPM-Solver-2M/3M (noise prediction) and DPM-Solver++(2M/3M)
 * (data prediction; Lu et al. 2022b, Alg. 2 and appendix), one NFE a step, as the
 * official multistep_dpm_solver_second_update / _third_update (MATH.md section 6).
 *
 * With r0 = h_{i-1}/h, r1 = h_{i-2}/h, D1_0 = (m0 - m_{-1})/r0, D1_1 = (m_{-1} - m_{-2})/r1:
 *   2M:  xbar_t = k0 xbar_s - c E1(z) (m0 + D1_0/2)          ("taylor": E1 m0 + E2 D1_0)
 *   3M:  D1 = D1_0 + r0/(r0+r1) (D1_0 - D1_1),  D2 = c2 (D1_0 - D1_1)/(r0+r1),
 *        xbar_t = k0 xbar_s - c [E1 m0 + E2 D1 + E3 D2]
 * The official code (and diffusers, k-diffusion) has c2 = 1, which makes 3M a
 * second-order method; Taylor's expansion asks for c2 = 2 (the E3 term needs h^2 m'',
 * the difference gives h^2 m''/2), which gives order 3 (MATH.md section 6). c2 = 1 is the
 * default; opts->dpm.d2_taylor or the "-taylor" entries choose c2 = 2.
 *
 * Warm-up: step i uses order min(order, i + 1). lower_order_final (official): only when
 * steps < opts->dpm.lower_order_threshold, step i uses at most order steps - i. A step to
 * sigma = 0 is the x0 prediction from the model value at its start. A repeated grid
 * level (h = 0, DDIM's quadratic sequence) is an identity step that still costs its NFE,
 * and the next steps drop the differences that would divide by zero. */
#include <math.h>
#include <stdlib.h>

#include "diffode/status.h"
#include "dpm.h"
#include "solver_impl.h"

typedef struct {
    dpm_model mod;
    double *m[3];           /* model values at the last three points, newest first */
    double lam[3];          /* their lambda = -log sigma */
    double *block;
    const dpm_entry *e;     /* the registry entry being solved */
} multi_ws;

/* Weights on m0, m_{-1}, m_{-2} of E1 m0 + E2 D1 + E3 D2 for a step of order k. */
static void multi_weights(const multi_ws *w, const dpm_coef *c, int k, int taylor, double c2,
                          double wt[3])
{
    const double e1 = dpm_e1(c->z), e2 = dpm_e2(c->z), e3 = dpm_e3(c->z);
    wt[0] = e1, wt[1] = wt[2] = 0.0;
    if (k < 2)
        return;
    const double r0 = (w->lam[0] - w->lam[1]) / c->h;
    if (k == 2) {
        const double g = taylor ? e2 / r0 : 0.5 * e1 / r0;   /* D1_0 = (m0 - m_{-1})/r0 */
        wt[0] += g, wt[1] -= g;
        return;
    }
    const double r1 = (w->lam[1] - w->lam[2]) / c->h, q = r0 / (r0 + r1);
    const double d10[3] = { 1.0 / r0, -1.0 / r0, 0.0 };
    const double diff[3] = { 1.0 / r0, -1.0 / r0 - 1.0 / r1, 1.0 / r1 };  /* D1_0 - D1_1 */
    for (int j = 0; j < 3; j++)
        wt[j] += e2 * (d10[j] + q * diff[j]) + e3 * c2 * diff[j] / (r0 + r1);
}

int dpm_multistep_order(int order, const double lam[3], const dode_solver_opts *opts,
                        size_t i, size_t steps)
{
    size_t k = (size_t)order < i + 1 ? (size_t)order : i + 1;
    if (opts->dpm.lower_order_final && steps < opts->dpm.lower_order_threshold && steps - i < k)
        k = steps - i;
    if (k >= 2 && lam[0] == lam[1])
        k = 1;
    if (k >= 3 && lam[1] == lam[2])
        k = 2;
    return (int)k;
}

/* A solver_step_fn: ctx is the solve's multi_ws (its model values are the workspace). */
static int multi_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                      size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)ws;
    multi_ws *w = ctx;
    const dpm_entry *e = w->e;
    const double ss = sigmas[i], st = sigmas[i + 1];
    double *oldest = w->m[2];
    w->m[2] = w->m[1], w->m[1] = w->m[0], w->m[0] = oldest;
    w->lam[2] = w->lam[1], w->lam[1] = w->lam[0], w->lam[0] = -log(ss);
    /* the data form's x0h and the update share one pass (solver_x0h_lincomb, issue 16) */
    const int fuse = w->mod.form == DPM_DATA && w->mod.thresholding == 0 && ss != st && st != 0;
    int rc = fuse ? dode_ode_rhs(ode, ss, xbar, w->m[0])
                  : dpm_model_eval(&w->mod, xbar, ss, w->m[0]);
    if (rc != DODE_OK || ss == st)
        return rc;
    if (st == 0) {
        dpm_to_zero(&w->mod, ss, xbar, w->m[0]);
        return DODE_OK;
    }
    const int k = dpm_multistep_order(e->order, w->lam, opts, i, steps);
    const dpm_coef c = dpm_coef_make(e->form, ss, st);
    const double c2 = (e->d2_taylor || opts->dpm.d2_taylor) ? 2.0 : 1.0;
    double wt[3];
    multi_weights(w, &c, k, opts->dpm.taylor, c2, wt);
    if (fuse)
        solver_x0h_lincomb(xbar, w->mod.len, ss, xbar, w->m[0], c.k0, xbar, -c.c * wt[0],
                           w->m[0], -c.c * wt[1], w->m[k >= 2 ? 1 : 0], -c.c * wt[2],
                           w->m[k >= 3 ? 2 : 0], 0.0, w->m[0]);
    else
        solver_lincomb(xbar, w->mod.len, c.k0, xbar, -c.c * wt[0], w->m[0], -c.c * wt[1],
                       w->m[k >= 2 ? 1 : 0], -c.c * wt[2], w->m[k >= 3 ? 2 : 0], 0.0, w->m[0]);
    return DODE_OK;
}

int dpm_multi_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const dpm_entry *e = self->data;
    const double *sigmas = grid->sigma;
    const size_t steps = grid->steps;
    int rc = dpm_check_opts(ode, e, grid, opts);
    if (rc != DODE_OK)
        return rc;
    double *v[4];
    multi_ws w = { .block = solver_workspace(ode, 4, v), .lam = { NAN, NAN, NAN }, .e = e };
    if (w.block == NULL)
        return DODE_ENOMEM;
    w.m[0] = v[0], w.m[1] = v[1], w.m[2] = v[2];
    dpm_model_init(&w.mod, ode, e->form, opts, v[3]);
    rc = solver_step_loop(ode, sigmas, steps, xbar, opts, trace, NULL, multi_step, &w);
    free(w.block);
    return rc;
}

/* 3M's order: 3 with the Taylor-consistent second difference (c2 = 2, MATH.md section
 * 8), 2 with the official one; the other entries keep their table order. */
static int dpm_multi_order(const dode_solver_type *self, const dode_solver_opts *opts)
{
    const dpm_entry *e = self->data;
    return e->order == 3 && (e->d2_taylor || opts->dpm.d2_taylor) ? 3 : self->order;
}

/* The entries: one constant block each, read by dpm_multi_solve through self->data. */

static const dpm_entry m2_e = { .order = 2, .form = DPM_NOISE };
static const dpm_entry m3_e = { .order = 3, .form = DPM_NOISE };
static const dpm_entry m3t_e = { .order = 3, .form = DPM_NOISE, .d2_taylor = 1 };
static const dpm_entry pp2m_e = { .order = 2, .form = DPM_DATA };
static const dpm_entry pp3m_e = { .order = 3, .form = DPM_DATA };
static const dpm_entry pp3mt_e = { .order = 3, .form = DPM_DATA, .d2_taylor = 1 };

const dode_solver_type dode_solver_dpm2m = {
    .name = "dpm2m", .family = "dpm", .order = 2, .evals_per_step = 1,
    .summary = "multistep DPM-Solver-2M (noise prediction)",
    .solve = dpm_multi_solve, .data = &m2_e,
};
/* order 2: the official second difference (opts->dpm.d2_taylor = 1 gives order 3) */
const dode_solver_type dode_solver_dpm3m = {
    .name = "dpm3m", .family = "dpm", .order = 2, .evals_per_step = 1,
    .summary = "multistep DPM-Solver-3M, official D2 (order 2 measured; see dpm3m-taylor)",
    .solve = dpm_multi_solve, .data = &m3_e, .order_with = dpm_multi_order,
};
const dode_solver_type dode_solver_dpm3m_taylor = {
    .name = "dpm3m-taylor", .family = "dpm", .order = 3, .evals_per_step = 1,
    .summary = "multistep DPM-Solver-3M with the Taylor-consistent D2 (2x official)",
    .solve = dpm_multi_solve, .data = &m3t_e,
};
const dode_solver_type dode_solver_dpmpp2m = {
    .name = "dpmpp2m", .family = "dpm++", .data_prediction = 1, .order = 2, .evals_per_step = 1,
    .summary = "DPM-Solver++(2M): multistep, data prediction",
    .solve = dpm_multi_solve, .data = &pp2m_e,
};
const dode_solver_type dode_solver_dpmpp3m = {
    .name = "dpmpp3m", .family = "dpm++", .data_prediction = 1, .order = 2, .evals_per_step = 1,
    .summary = "DPM-Solver++(3M), official D2 (order 2 measured; see dpmpp3m-taylor)",
    .solve = dpm_multi_solve, .data = &pp3m_e, .order_with = dpm_multi_order,
};
const dode_solver_type dode_solver_dpmpp3m_taylor = {
    .name = "dpmpp3m-taylor", .family = "dpm++", .data_prediction = 1, .order = 3, .evals_per_step = 1,
    .summary = "DPM-Solver++(3M) with the Taylor-consistent D2 (2x official)",
    .solve = dpm_multi_solve, .data = &pp3mt_e,
};
