/* sde_dpm.c - the SDE solvers of DPM-Solver++ (Lu et al. 2022b, "DPM-Solver++: fast
 * solver for guided sampling of diffusion probabilistic models", section 5 / appendix:
 * SDE-DPM-Solver-1 and SDE-DPM-Solver++1), DPM-Solver++(2M) SDE (k-diffusion
 * sample_dpmpp_2m_sde, solver_type 'midpoint', k_diffusion/sampling.py at 4601bf0; diffusers
 * DPMSolverMultistepScheduler algorithm_type "sde-dpmsolver++", whose order-1 update is
 * sde-dpmpp1 and order-2 "midpoint" update is dpmpp2m-sde with eta = 1). The paper's
 * x-space updates divided by alpha_t, with h = log(sigma / sigma') (lambda' - lambda):
 *
 *   sde-dpm1 (noise prediction, eta fixed at 1):
 *     xbar' = xbar - 2 sigma' (e^h - 1) epsh + sigma' sqrt(e^(2h) - 1) z
 *           = xbar + 2 (sigma' - sigma) epsh + sqrt(sigma^2 - sigma'^2) z
 *   sde-dpmpp1, dpmpp2m-sde (data prediction x0h, k-diffusion's eta generalisation):
 *     xbar' = (sigma'/sigma) e^(-eta h) xbar + E m0 [+ E/(2 r) (m0 - m_{-1})]
 *             + sigma' sqrt(1 - e^(-2 eta h)) z,          E = 1 - e^(-(1 + eta) h),
 *     r = h_{i-1} / h, the bracket on second-order steps only.
 *   dpmpp3m-sde (k-diffusion sample_dpmpp_3m_sde): the same first part, then with
 *     he = (1 + eta) h, phi2 = -E2(-he), phi3 = E3(-he) (dpm.h's E_k):
 *     second order:  + phi2 D1_0,                 D1_0 = (m0 - m_{-1}) / r0
 *     third order:   + phi2 D1 - phi3 D2,         D1 = D1_0 + r0/(r0 + r1) (D1_0 - D1_1),
 *                                                 D2 = (D1_0 - D1_1) / (r0 + r1)
 *     r0 = h_{i-1}/h, r1 = h_{i-2}/h: at eta = 0 this is dpmpp3m with solver_type =
 *     taylor (its second-order warm-up step) and the official D2, so order 2 as an ODE
 *     solver, like dpmpp3m.
 *
 * z is s_noise times draw i of opts->noise, taken after the model call; no draw on a step
 * to sigma' = 0 for the data-prediction rows (the step is the x0 prediction, as
 * k-diffusion's "denoising step"), nor with eta = 0 (then they are DPM-Solver++(1) = DDIM
 * and DPM-Solver++(2M/3M) themselves). sde-dpm1's step to 0 is its formula at sigma' = 0:
 * xbar - 2 sigma epsh + sigma z. dpmpp2m-sde and dpmpp3m-sde keep dpmpp2m's and
 * dpmpp3m's step-order rules (warm-up; lower_order_final when steps <
 * lower_order_threshold, which k-diffusion does not have; a repeated level restarts the
 * differences), so eta = 0 reproduces those solvers. Thresholding applies to x0h as in
 * the DPM-Solver++ rows. Order 1 (strong, additive noise) for all four; dpmpp2m-sde and
 * dpmpp3m-sde are order 2 as ODE solvers (eta = 0). */
#include <math.h>
#include <stdlib.h>

#include "diffode/solver.h"
#include "diffode/status.h"
#include "dpm.h"
#include "sde.h"
#include "solver_impl.h"

typedef struct {
    int order;          /* 1, 2 or 3 (multistep) */
    dpm_form form;      /* noise: sde-dpm1 (eta 1); data: sde-dpmpp1, dpmpp2m-sde */
} sde_dpm_entry;

typedef struct {
    dpm_model mod;
    double *m[3];       /* model values at the last three points, newest first */
    double lam[3];      /* their lambda = -log sigma */
    double *z;          /* the draw */
    double eta;
    const sde_dpm_entry *e;
} sde_dpm_ws;

/* Weights b[0..2] on m0, m_{-1}, m_{-2} of a data step of order k (k >= 2 adds to b[0] =
 * E): 2M's midpoint correction, or 3M's phi terms (the header's formulas). */
static void data_weights(const sde_dpm_ws *w, int k, double h, double he, double E,
                         double b[3])
{
    b[0] = E, b[1] = b[2] = 0.0;
    if (k < 2)
        return;
    const double r0 = (w->lam[0] - w->lam[1]) / h, phi2 = -dpm_e2(-he);
    if (w->e->order == 2) {                     /* k-diffusion 'midpoint' */
        b[0] += 0.5 * E / r0;
        b[1] -= 0.5 * E / r0;
        return;
    }
    if (k == 2) {                               /* 3M's warm-up: phi2 D1_0 */
        b[0] += phi2 / r0;
        b[1] -= phi2 / r0;
        return;
    }
    const double r1 = (w->lam[1] - w->lam[2]) / h, q = r0 / (r0 + r1), phi3 = dpm_e3(-he);
    const double d10[3] = { 1.0 / r0, -1.0 / r0, 0.0 };
    const double diff[3] = { 1.0 / r0, -1.0 / r0 - 1.0 / r1, 1.0 / r1 };  /* D1_0 - D1_1 */
    for (int j = 0; j < 3; j++)
        b[j] += phi2 * (d10[j] + q * diff[j]) - phi3 * diff[j] / (r0 + r1);
}

/* sde-dpm1's step, sigma' >= 0 (m[0] = epsh). */
static int noise_step(sde_dpm_ws *w, const dode_solver_opts *opts, size_t i, double s,
                      double sn, double *xbar)
{
    int rc = sde_draw(w->mod.ode, opts, i, w->z);
    if (rc != DODE_OK)
        return rc;
    solver_axpy(xbar, 2.0 * (sn - s), w->m[0], w->mod.len);
    solver_axpy(xbar, sqrt((s - sn) * (s + sn)), w->z, w->mod.len);
    return DODE_OK;
}

/* The data-prediction step of order k from s to sn > 0 (m[0] = x0h). */
static int data_step(sde_dpm_ws *w, const dode_solver_opts *opts, size_t i, int k, double s,
                     double sn, double *xbar)
{
    const double h = log(s / sn), eh = w->eta * h;
    const double k0 = sn / s * exp(-eh), E = -expm1(-h - eh);
    double b[3];
    data_weights(w, k, h, h + eh, E, b);
    const int noisy = eh > 0;
    int rc = noisy ? sde_draw(w->mod.ode, opts, i, w->z) : DODE_OK;
    if (rc != DODE_OK)
        return rc;
    dpm_lincomb(xbar, w->mod.len, k0, xbar, b[0], w->m[0], b[1], w->m[k >= 2 ? 1 : 0], b[2],
                w->m[k >= 3 ? 2 : 0], 0.0, w->m[0]);
    if (noisy)
        solver_axpy(xbar, sn * sqrt(-expm1(-2.0 * eh)), w->z, w->mod.len);
    return DODE_OK;
}

/* A solver_step_fn: ctx is the solve's sde_dpm_ws. */
static int sde_dpm_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                        size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)ode;
    (void)ws;
    sde_dpm_ws *w = ctx;
    const double s = sigmas[i], sn = sigmas[i + 1];
    double *oldest = w->m[2];
    w->m[2] = w->m[1], w->m[1] = w->m[0], w->m[0] = oldest;
    w->lam[2] = w->lam[1], w->lam[1] = w->lam[0], w->lam[0] = -log(s);
    int rc = dpm_model_eval(&w->mod, xbar, s, w->m[0]);
    if (rc != DODE_OK || s == sn)
        return rc;
    if (w->e->form == DPM_NOISE)
        return noise_step(w, opts, i, s, sn, xbar);
    if (sn == 0) {
        dpm_to_zero(&w->mod, s, xbar, w->m[0]);
        return DODE_OK;
    }
    const int k = dpm_multistep_order(w->e->order, w->lam, opts, i, steps);
    return data_step(w, opts, i, k, s, sn, xbar);
}

static int sde_dpm_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                         double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    const sde_dpm_entry *e = self->data;
    const double eta = e->form == DPM_NOISE ? 1.0 : sde_eta(opts);
    int rc = sde_begin(ode, grid, opts, eta > 0 ? grid->steps : 0);
    if (rc != DODE_OK)
        return rc;
    if (!(grid->sigma[0] > 0))
        return dode_ode_fail(ode, DODE_EINVAL, "the grid must start at sigma > 0");
    double *v[5];
    sde_dpm_ws w = { .lam = { NAN, NAN, NAN }, .eta = eta, .e = e };
    double *block = solver_workspace(ode, 5, v);
    if (block == NULL)
        return DODE_ENOMEM;
    w.m[0] = v[0], w.m[1] = v[1], w.m[2] = v[2], w.z = v[3];
    dpm_model_init(&w.mod, ode, e->form, opts, v[4]);
    rc = solver_step_loop(ode, grid->sigma, grid->steps, xbar, opts, trace, NULL, sde_dpm_step,
                          &w);
    free(block);
    return rc;
}

/* dpmpp2m-sde, dpmpp3m-sde: order 2 as the ODE solvers they are with eta = 0, strong
 * order 1 otherwise. */
static int sde_dpm_order_with(const dode_solver_type *self, const dode_solver_opts *opts)
{
    return sde_eta(opts) > 0 ? 1 : self->order;
}

static const sde_dpm_entry dpm1_e = { .order = 1, .form = DPM_NOISE };
static const sde_dpm_entry dpmpp1_e = { .order = 1, .form = DPM_DATA };
static const sde_dpm_entry dpmpp2m_e = { .order = 2, .form = DPM_DATA };
static const sde_dpm_entry dpmpp3m_e = { .order = 3, .form = DPM_DATA };

const dode_solver_type dode_solver_sde_dpm1 = {
    .name = "sde-dpm1", .family = "sde", .order = 1, .evals_per_step = 1,
    .summary = "SDE-DPM-Solver-1 (DPM-Solver++ paper; noise prediction, eta 1)",
    .solve = sde_dpm_solve, .data = &dpm1_e,
};
const dode_solver_type dode_solver_sde_dpmpp1 = {
    .name = "sde-dpmpp1", .family = "sde", .data_prediction = 1, .order = 1,
    .evals_per_step = 1,
    .summary = "SDE-DPM-Solver++1 with eta (eta 1: DDPM; eta 0: DPM-Solver++1 = DDIM)",
    .solve = sde_dpm_solve, .data = &dpmpp1_e,
};
const dode_solver_type dode_solver_dpmpp2m_sde = {
    .name = "dpmpp2m-sde", .family = "sde", .data_prediction = 1, .order = 2,
    .evals_per_step = 1,
    .summary = "DPM-Solver++(2M) SDE, midpoint (k-diffusion; eta 0: dpmpp2m)",
    .solve = sde_dpm_solve, .data = &dpmpp2m_e, .order_with = sde_dpm_order_with,
};
const dode_solver_type dode_solver_dpmpp3m_sde = {
    .name = "dpmpp3m-sde", .family = "sde", .data_prediction = 1, .order = 2,
    .evals_per_step = 1,
    .summary = "DPM-Solver++(3M) SDE (k-diffusion; eta 0: dpmpp3m, solver_type taylor)",
    .solve = sde_dpm_solve, .data = &dpmpp3m_e, .order_with = sde_dpm_order_with,
};
