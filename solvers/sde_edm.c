/* sde_edm.c - the EDM stochastic sampler (Karras et al. 2022, "Elucidating the design
 * space of diffusion-based generative models", Algorithm 2; k-diffusion sample_heun with
 * s_churn, k_diffusion/sampling.py at 4601bf0). With their x and D our xbar and
 * x0h = xbar - sigma epsh, step i from sigma to sigma' is
 *
 *   gamma   = min(s_churn / steps, sqrt 2 - 1) if s_tmin <= sigma <= s_tmax, else 0
 *   sigmah  = sigma (1 + gamma)
 *   xhat    = xbar + sqrt(sigmah^2 - sigma^2) s_noise z_i       (only when gamma > 0)
 *   d       = epsh(xhat, sigmah),  xbar' = xhat + (sigma' - sigmah) d
 *   if sigma' != 0:  d' = epsh(xbar', sigma'),  xbar' = xhat + (sigma' - sigmah) (d + d')/2
 *
 * z_i is draw i of opts->noise, taken BEFORE the model calls of step i (the churn), and
 * only on steps with gamma > 0; a run with s_churn > 0 announces one draw per step.
 * s_churn = 0 is Heun in sigma (heun.c, EDM Algorithm 1): order 2. With churn the method
 * is a consistent discretisation of a Langevin-corrected reverse SDE whose churn rate
 * depends on the step count (gamma = s_churn / steps), so no fixed SDE is approximated
 * pathwise; the table states order 1 for it (weak convergence, tested in law).
 * Two NFE a step, one on a step to sigma' = 0. sigmah may exceed the grid's start: it must
 * stay within the schedule's range (dode_schedule_t_limit), else the solve is refused
 * before the first step (lower s_tmax or s_churn). */
#include <math.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

typedef struct {
    double gamma_max;       /* min(s_churn / steps, sqrt 2 - 1) */
    double tmin, tmax;      /* the churn window */
} edm_ctx;

static double edm_gamma(const edm_ctx *c, double sigma)
{
    return c->gamma_max > 0 && c->tmin <= sigma && sigma <= c->tmax ? c->gamma_max : 0.0;
}

/* ws[0]: xhat, ws[1]: d, ws[2]: the Euler predictor, ws[3]: d' (first the draw). */
static int edm_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                    size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    const size_t len = solver_len(ode);
    const double s = sigmas[i], sn = sigmas[i + 1], gamma = edm_gamma(ctx, s);
    const double sh = s * (gamma + 1.0);
    memcpy(ws[0], xbar, len * sizeof *xbar);
    int rc = gamma > 0 ? sde_draw(ode, opts, i, ws[3]) : DODE_OK;
    if (rc != DODE_OK)
        return rc;
    if (gamma > 0)
        solver_axpy(ws[0], sqrt(sh * sh - s * s), ws[3], len);
    if ((rc = dode_ode_rhs(ode, sh, ws[0], ws[1])) != DODE_OK)
        return rc;
    const double du = sn - sh;
    for (size_t k = 0; k < len; k++)
        ws[2][k] = ws[0][k] + du * ws[1][k];
    if (sn == 0) {                               /* Algorithm 2: no correction at 0 */
        memcpy(xbar, ws[2], len * sizeof *xbar);
        return DODE_OK;
    }
    if ((rc = dode_ode_rhs(ode, sn, ws[2], ws[3])) != DODE_OK)
        return rc;
    for (size_t k = 0; k < len; k++)
        xbar[k] = ws[0][k] + 0.5 * du * (ws[1][k] + ws[3][k]);
    return DODE_OK;
}

/* The largest sigmah of the run must be a sigma the schedule has. */
static int edm_check_range(dode_ode *ode, const dode_grid *grid, const edm_ctx *c)
{
    const double limit = dode_schedule_sigma(ode->schedule, dode_schedule_t_limit(ode->schedule));
    for (size_t i = 0; i < grid->steps; i++) {
        const double s = grid->sigma[i], sh = s * (edm_gamma(c, s) + 1.0);
        if (sh > s && !(sh <= limit))
            return dode_ode_fail(ode, DODE_EINVAL, "s_churn raises sigma %g to %g at step %zu, "
                                 "beyond the schedule's largest sigma %g; lower s_tmax or "
                                 "s_churn", s, sh, i + 1, limit);
    }
    return DODE_OK;
}

static int edm_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    const dode_solver_opts *o = opts;
    edm_ctx c = {
        .gamma_max = fmin(o->sde.s_churn / (double)grid->steps, sqrt(2.0) - 1.0),
        .tmin = dode_solver_opts_given(o, DODE_OPT_S_TMIN) ? o->sde.s_tmin : 0.0,
        .tmax = dode_solver_opts_given(o, DODE_OPT_S_TMAX) ? o->sde.s_tmax : INFINITY,
    };
    int rc = sde_begin(ode, grid, opts, c.gamma_max > 0 ? grid->steps : 0);
    if (rc == DODE_OK)
        rc = edm_check_range(ode, grid, &c);
    if (rc != DODE_OK)
        return rc;
    return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 4, edm_step, &c);
}

/* Heun's order 2 without churn; 1 (in law) with it. */
static int edm_order_with(const dode_solver_type *self, const dode_solver_opts *opts)
{
    return opts->sde.s_churn > 0 ? 1 : self->order;
}

const dode_solver_type dode_solver_edm_sde = {
    .name = "edm-sde", .family = "sde", .order = 2, .evals_per_step = 2,
    .summary = "EDM stochastic sampler, Algorithm 2 (s_churn, s_tmin, s_tmax, s_noise)",
    .solve = edm_solve, .order_with = edm_order_with,
};
