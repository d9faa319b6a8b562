/* pndm.c - PNDM and PLMS (Liu et al. 2022, "Pseudo numerical methods for diffusion
 * models on manifolds", eq. 9-13), as diffusers' PNDMScheduler runs them
 * (huggingface/diffusers, src/diffusers/schedulers/scheduling_pndm.py, step_prk,
 * step_plms and _get_prev_sample, commit 58eb52c0; luping-liu/PNDM is the paper's code).
 *
 * Both move the state with the "transfer" of eq. 9, _get_prev_sample, which is the DDIM
 * step: in x-space x' = sqrt(abar'/abar) x - (abar' - abar) e / (abar sqrt(1 - abar')
 * + sqrt(abar (1 - abar) abar')), and multiplying through by the conjugate of the
 * denominator this is xbar' = xbar + (sigma' - sigma) e (MATH.md section 2). They differ
 * in the e they feed it:
 *
 *   PNDM: the first three steps are pseudo Runge-Kutta (step_prk): e1 at the start, e2
 *   and e3 at the half step (t_mid = (t_i + t_{i+1})/2; diffusers' level i - stride/2),
 *   e4 at the end, each stage a transfer from xbar_i, and the step takes
 *   e = (e1 + 2 e2 + 2 e3 + e4)/6: 4 NFE a step. Then pseudo linear multistep: e is the
 *   fixed-step Adams-Bashforth combination of the last four e at step starts
 *   (55, -59, 37, -9)/24, one NFE a step. S >= 3 steps cost S + 9 NFE.
 *   PLMS (skip_prk_steps): step 0 is the transfer with (e0 + e1')/2, e1' at the end of
 *   a plain transfer (Heun in sigma: 2 NFE, the counter == 1 branch); then AB2, AB3, AB4
 *   weights as the history grows, one NFE a step. S steps cost S + 1 NFE.
 * The budget maps to steps through warmup_evals (solver.h): NFE K buys K - 9 (PNDM) or
 * K - 1 (PLMS) steps. diffusers with one PLMS step takes a bare DDIM step instead.
 *
 * Orders: the weights are those of a uniform grid in sigma, which no schedule's grid is,
 * and PNDM's half step is the t midpoint, not the sigma midpoint: both are second order
 * (the fixed AB weights as in ipndm.c; the Runge-Kutta stage c2 = 1/2 + O(h) breaks the
 * third-order condition sum b_i c_i^2 = 1/3 by O(h)). */
#include <stdlib.h>

#include "diffode/status.h"
#include "multistep.h"
#include "solver_impl.h"

typedef struct {
    int prk;                  /* 1: PNDM (Runge-Kutta start); 0: PLMS */
} pndm_entry;

typedef struct {
    ms_history h;
    const dode_grid *grid;
    const pndm_entry *e;
    double *tmp, *stage, *acc; /* [n][dim] each */
} pndm_ws;

/* PLMS's first step: transfer with e0, evaluate there, redo the transfer with the mean. */
static int plms_first(dode_ode *ode, pndm_ws *w, double sigma_next, double *xbar)
{
    const size_t len = solver_len(ode);
    const double h = sigma_next - w->h.sigma[0];
    solver_axpy_to(w->tmp, xbar, h, w->h.eps[0], len);
    int rc = dode_ode_rhs(ode, sigma_next, w->tmp, w->stage);
    if (rc != DODE_OK)
        return rc;
    solver_add_scaled_sum(xbar, h * 0.5, w->h.eps[0], w->stage, 1.0, len);   /* h/2 (e0 + e1') */
    return DODE_OK;
}

/* One stage of step_prk: stage <- e at the transfer of xbar by dsig with e_in, at sigma. */
static int prk_stage(dode_ode *ode, pndm_ws *w, const double *xbar, double dsig,
                     const double *e_in, double sigma)
{
    solver_axpy_to(w->tmp, xbar, dsig, e_in, solver_len(ode));
    return dode_ode_rhs(ode, sigma, w->tmp, w->stage);
}

/* PNDM's pseudo Runge-Kutta step from grid point i (e1 already in the history). */
static int prk_step(dode_ode *ode, pndm_ws *w, size_t i, double *xbar)
{
    const size_t len = solver_len(ode);
    const double s0 = w->h.sigma[0], s1 = w->grid->sigma[i + 1];
    const double t_mid = 0.5 * (w->h.t[0] + ms_grid_t(ode, w->grid, i + 1));
    const double sm = dode_schedule_sigma(ode->schedule, t_mid);
    const double *e1 = w->h.eps[0];
    int rc = prk_stage(ode, w, xbar, sm - s0, e1, sm);                  /* e2 */
    if (rc == DODE_OK) {
        solver_div_sum(w->acc, e1, 6.0, w->stage, 3.0, len);
        rc = prk_stage(ode, w, xbar, sm - s0, w->stage, sm);            /* e3 */
    }
    if (rc == DODE_OK) {
        solver_div_sum(w->acc, w->acc, 1.0, w->stage, 3.0, len);
        rc = prk_stage(ode, w, xbar, s1 - s0, w->stage, s1);            /* e4 */
    }
    if (rc != DODE_OK)
        return rc;
    solver_add_scaled_sum(xbar, s1 - s0, w->acc, w->stage, 6.0, len);
    return DODE_OK;
}

/* A solver_step_fn: e at the step start into the history, then the warm-up or AB step. */
static int pndm_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                     size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)opts, (void)steps, (void)ws;
    pndm_ws *w = ctx;
    int rc = ms_history_push(ode, &w->h, sigmas[i], ms_grid_t(ode, w->grid, i), xbar);
    if (rc != DODE_OK)
        return rc;
    if (w->e->prk && i < 3)
        return prk_step(ode, w, i, xbar);
    if (!w->e->prk && i == 0)
        return plms_first(ode, w, sigmas[1], xbar);
    const int k = ms_step_order(&w->h, MS_MAX_ORDER);
    const double h = sigmas[i + 1] - sigmas[i];
    double wt[MS_MAX_ORDER];
    for (int j = 0; j < k; j++)
        wt[j] = h * ms_ab_fixed[k - 1][j];
    /* the k axpys in one pass (solver_axpy_n: the same additions per element, in order) */
    solver_axpy_n(xbar, k, wt, (const double *const *)w->h.eps, solver_len(ode));
    return DODE_OK;
}

static int pndm_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                      double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    if (grid->steps < (size_t)self->min_steps)
        return dode_ode_fail(ode, DODE_EINVAL, "needs at least %d steps (its Runge-Kutta "
                             "start), got %zu", self->min_steps, grid->steps);
    double *v[MS_MAX_ORDER + 3];
    pndm_ws w = { .grid = grid, .e = self->data };
    double *block = solver_workspace(ode, MS_MAX_ORDER + 3, v);
    if (block == NULL)
        return DODE_ENOMEM;
    for (int j = 0; j < MS_MAX_ORDER; j++)
        w.h.eps[j] = v[j];
    w.tmp = v[MS_MAX_ORDER], w.stage = v[MS_MAX_ORDER + 1], w.acc = v[MS_MAX_ORDER + 2];
    int rc = solver_step_loop(ode, grid->sigma, grid->steps, xbar, opts, trace, NULL,
                              pndm_step, &w);
    free(block);
    return rc;
}

static const pndm_entry pndm_e = { .prk = 1 }, plms_e = { .prk = 0 };

const dode_solver_type dode_solver_pndm = {
    .name = "pndm", .family = "multistep", .order = 2, .evals_per_step = 1,
    .warmup_evals = 9, .min_steps = 3,
    .summary = "PNDM (diffusers): 3 pseudo Runge-Kutta steps (4 NFE), then pseudo AB4",
    .solve = pndm_solve, .data = &pndm_e,
};
const dode_solver_type dode_solver_plms = {
    .name = "plms", .family = "multistep", .order = 2, .evals_per_step = 1,
    .warmup_evals = 1,
    .summary = "PLMS (diffusers skip_prk_steps): Heun first step, then fixed AB2..AB4",
    .solve = pndm_solve, .data = &plms_e,
};
