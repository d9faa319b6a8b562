/* dpm_single.c - singlestep DPM-Solver-1/2/3 (noise prediction; Lu et al. 2022, Alg. 1
 * and 2) and DPM-Solver++(2S/3S) (data prediction; Lu et al. 2022b, Alg. 1), the official
 * "singlestep_fixed" method (every step of order k costs k NFE) and the official
 * "singlestep" NFE rule (dpm-fast2/3, dpmpp-fast2/3: "DPM-Solver-fast"). Order k is the global order
 * of DPM-Solver-k; the step formulas are in dpm_phi.c (MATH.md section 6).
 *
 * Inner points: each step is split into `order` parts on grid->spacing's own grid and
 * r1, r2 are their lambda fractions, as the official code places them; only on the
 * logsnr spacing are they 1/2 (1/3, 2/3).
 *
 * Fast rule (official get_orders_and_timesteps_for_singlestep_solver): the caller's grid
 * has steps = NFE; the K step boundaries are K + 1 points uniform in lambda (logsnr) or
 * the grid subsampled at the cumulative orders (other spacings). A grid ending at
 * sigma = 0 spends NFE - 1 on the rule up to its last positive point and one NFE on the
 * x0-prediction jump, so the NFE still equals steps. */
#include <math.h>
#include <stdlib.h>

#include "diffode/status.h"
#include "dpm.h"
#include "solver_impl.h"

size_t dpm_fast_orders(size_t nfe, int order, int *orders)
{
    size_t K = 0;
    if (order == 3) {           /* K = nfe // 3 + 1 steps; the tail takes the rest */
        for (size_t k = 0; k < nfe / 3; k++)
            orders[K++] = 3;
        if (nfe % 3 == 0 && K > 0)
            orders[K - 1] = 2, orders[K++] = 1;
        else
            orders[K++] = (int)(nfe % 3);
        return K;
    }
    if (order == 2) {
        for (size_t k = 0; k < nfe / 2; k++)
            orders[K++] = 2;
        if (nfe % 2 == 1)
            orders[K++] = 1;
        return K;
    }
    for (size_t k = 0; k < nfe; k++)
        orders[K++] = 1;
    return K;
}

/* Workspace of a singlestep solve: m0, m1, m2, u and a dim-long sort buffer. */
typedef struct {
    dpm_model mod;
    const dode_grid *grid;      /* its spacing places the inner points */
    double *m[3], *u, *block;
} single_ws;

static int single_ws_new(single_ws *w, dode_ode *ode, const dpm_entry *e,
                         const dode_solver_opts *opts)
{
    double *v[5];
    w->block = solver_workspace(ode, 5, v);
    if (w->block == NULL)
        return DODE_ENOMEM;
    w->m[0] = v[0], w->m[1] = v[1], w->m[2] = v[2], w->u = v[3];
    w->grid = NULL;
    dpm_model_init(&w->mod, ode, e->form, opts, v[4]);
    return DODE_OK;
}

/* One outer step sigma_s -> sigma_t of the given order, inner points on the spacing. */
static int outer_step(single_ws *w, const dode_solver_opts *opts, int order, double ss,
                      double st, double *xbar)
{
    double r[2] = { NAN, NAN };
    if (st > 0)
        dpm_inner_fractions(w->mod.ode->schedule, w->grid, opts, ss, st, order, r);
    return dpm_single_step(&w->mod, order, opts->dpm.taylor, r[0], r[1], ss, st, xbar, xbar,
                           w->m, 0, w->u);
}

static int run_outer(single_ws *w, const dode_solver_opts *opts, const double *bounds,
                     const int *orders, int fixed_order, size_t K, double *xbar,
                     dode_trace *trace)
{
    for (size_t k = 0; k < K; k++) {
        const int order = orders != NULL ? orders[k] : fixed_order;
        int rc = outer_step(w, opts, order, bounds[k], bounds[k + 1], xbar);
        if (rc != DODE_OK)
            return solver_step_fail(w->mod.ode, rc, k, K, bounds[k], bounds[k + 1]);
        solver_trace_step(trace);
        dode_trace_record(trace, bounds[k + 1], xbar, w->mod.len);
    }
    return DODE_OK;
}

/* Boundaries of the fast rule over sigmas[0 .. last] (last = NFE points). */
static void fast_bounds(const dode_grid *grid, const double *sigmas, size_t last,
                        const int *orders, size_t K, double *bounds)
{
    if (grid->spacing == DODE_SPACING_LOGSNR) {
        const double l0 = -log(sigmas[0]), l1 = -log(sigmas[last]);
        for (size_t k = 0; k <= K; k++)
            bounds[k] = exp(-(l0 + (l1 - l0) * (double)k / (double)K));
        bounds[0] = sigmas[0], bounds[K] = sigmas[last];
        return;
    }
    size_t at = 0;
    bounds[0] = sigmas[0];
    for (size_t k = 0; k < K; k++)
        bounds[k + 1] = sigmas[at += (size_t)orders[k]];
}

static int fast_run(single_ws *w, const dpm_entry *e, const double *sigmas, size_t steps,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const size_t last = sigmas[steps] == 0 ? steps - 1 : steps;   /* NFE of the rule */
    int *orders = malloc((last + 1) * sizeof *orders);
    double *bounds = malloc((last + 2) * sizeof *bounds);
    int rc = DODE_OK;
    if (orders == NULL || bounds == NULL) {
        rc = dode_ode_fail(w->mod.ode, DODE_ENOMEM, "cannot allocate the plan of %zu steps",
                           last);
    } else if (last > 0) {
        const size_t K = dpm_fast_orders(last, e->order, orders);
        fast_bounds(w->grid, sigmas, last, orders, K, bounds);
        rc = run_outer(w, opts, bounds, orders, 0, K, xbar, trace);
    }
    if (rc == DODE_OK && last < steps)      /* the x0-prediction jump to sigma = 0 */
        rc = run_outer(w, opts, sigmas + last, NULL, 1, 1, xbar, trace);
    free(orders);
    free(bounds);
    return rc;
}

int dpm_single_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const dpm_entry *e = self->data;
    int rc = dpm_check_opts(ode, e, grid, opts);
    single_ws w;
    if (rc != DODE_OK || (rc = single_ws_new(&w, ode, e, opts)) != DODE_OK)
        return rc;
    w.grid = grid;
    if (e->fast)
        rc = fast_run(&w, e, grid->sigma, grid->steps, xbar, opts, trace);
    else
        rc = run_outer(&w, opts, grid->sigma, NULL, e->order, grid->steps, xbar, trace);
    free(w.block);
    return rc;
}

/* The entries: one constant block each, read by dpm_single_solve through self->data. */
static const dpm_entry dpm1_e = { .order = 1, .form = DPM_NOISE };
static const dpm_entry dpm2_e = { .order = 2, .form = DPM_NOISE };
static const dpm_entry dpm3_e = { .order = 3, .form = DPM_NOISE };
static const dpm_entry fast2_e = { .order = 2, .form = DPM_NOISE, .fast = 1 };
static const dpm_entry fast3_e = { .order = 3, .form = DPM_NOISE, .fast = 1 };
static const dpm_entry ppfast2_e = { .order = 2, .form = DPM_DATA, .fast = 1 };
static const dpm_entry ppfast3_e = { .order = 3, .form = DPM_DATA, .fast = 1 };
static const dpm_entry pp2s_e = { .order = 2, .form = DPM_DATA };
static const dpm_entry pp3s_e = { .order = 3, .form = DPM_DATA };

const dode_solver_type dode_solver_dpm1 = {
    .name = "dpm1", .family = "dpm", .order = 1, .evals_per_step = 1,
    .summary = "DPM-Solver-1 (= DDIM, eta = 0): xbar' = xbar - sigma' expm1(h) eps",
    .solve = dpm_single_solve, .data = &dpm1_e,
};
const dode_solver_type dode_solver_dpm2 = {
    .name = "dpm2", .family = "dpm", .order = 2, .evals_per_step = 2,
    .summary = "singlestep DPM-Solver-2 (noise prediction), inner point on the spacing",
    .solve = dpm_single_solve, .data = &dpm2_e,
};
const dode_solver_type dode_solver_dpm3 = {
    .name = "dpm3", .family = "dpm", .order = 3, .evals_per_step = 3,
    .summary = "singlestep DPM-Solver-3 (noise prediction), inner points on the spacing",
    .solve = dpm_single_solve, .data = &dpm3_e,
};
const dode_solver_type dode_solver_dpm_fast2 = {
    .name = "dpm-fast2", .family = "dpm", .order = 2, .evals_per_step = 1,
    .summary = "DPM-Solver-fast, order 2: official NFE -> steps/orders rule (steps = NFE)",
    .solve = dpm_single_solve, .data = &fast2_e,
};
const dode_solver_type dode_solver_dpm_fast3 = {
    .name = "dpm-fast3", .family = "dpm", .order = 3, .evals_per_step = 1,
    .summary = "DPM-Solver-fast, order 3: official NFE -> steps/orders rule (steps = NFE)",
    .solve = dpm_single_solve, .data = &fast3_e,
};
/* the official README's choice for unconditional sampling: dpmsolver++, singlestep, 3 */
const dode_solver_type dode_solver_dpmpp_fast2 = {
    .name = "dpmpp-fast2", .family = "dpm++", .data_prediction = 1, .order = 2, .evals_per_step = 1,
    .summary = "DPM-Solver++ singlestep under the official NFE rule, order 2 (steps = NFE)",
    .solve = dpm_single_solve, .data = &ppfast2_e,
};
const dode_solver_type dode_solver_dpmpp_fast3 = {
    .name = "dpmpp-fast3", .family = "dpm++", .data_prediction = 1, .order = 3, .evals_per_step = 1,
    .summary = "DPM-Solver++ singlestep under the official NFE rule, order 3 (steps = NFE)",
    .solve = dpm_single_solve, .data = &ppfast3_e,
};
const dode_solver_type dode_solver_dpmpp2s = {
    .name = "dpmpp2s", .family = "dpm++", .data_prediction = 1, .order = 2, .evals_per_step = 2,
    .summary = "DPM-Solver++(2S): singlestep, data prediction",
    .solve = dpm_single_solve, .data = &pp2s_e,
};
const dode_solver_type dode_solver_dpmpp3s = {
    .name = "dpmpp3s", .family = "dpm++", .data_prediction = 1, .order = 3, .evals_per_step = 3,
    .summary = "DPM-Solver++(3S): singlestep, data prediction",
    .solve = dpm_single_solve, .data = &pp3s_e,
};
