/* sde_restart.c - the Restart sampler (Xu et al. 2023, "Restart sampling for improving
 * generative processes", Algorithm 1; reference restart_sampler() in
 * benchmarks/generate_restart.py of github.com/Newbeeer/diffusion_restart_sampling at
 * 8cbcb076330381216b2f60578bb6e381ce182683). In diffode's xbar and sigma (EDM's x and t):
 *
 *   main pass   Heun in sigma on the grid (EDM Algorithm 1; the step to sigma' = 0 is
 *               Euler), as heun.c with variable sigma;
 *   restart     after the main step that reaches the grid point sigma_r nearest to
 *               restart_tmin (the reference's argmin |t_steps - t_min|), K times:
 *                 xbar += sqrt(tmax^2 - sigma_r^2) z_k                 (forward jump)
 *                 then restart_steps Heun steps on the Karras (rho = 7) grid from tmax
 *                 down to sigma_r                                      (backward ODE)
 *
 * Several intervals (restart_list "tmin:tmax:K:steps;...", the reference's restart_info
 * {.., [N, K, t_min, t_max], ..} with steps = N - 1) each restart after the main step that
 * reaches their own sigma_r, in the order the main pass meets them; two intervals whose
 * tmin land on one grid point are refused (the reference's dict would keep the last one
 * silently). Without restart_list the one interval is restart_tmin, restart_tmax,
 * restart_k, restart_steps; giving both is refused.
 *
 * restart_gamma (the reference's restart_gamma; its restart_sampler() default 0, its CLI's
 * 0.05, diffode's 0 as the paper's Algorithm 1) churns each backward step from sigma_j
 * where s_tmin <= sigma_j <= s_tmax, as EDM's Algorithm 2 does in the main pass:
 *   sigmah = sigma_j (1 + gamma), xbar += sqrt(sigmah^2 - sigma_j^2) z, Heun sigmah -> sigma_j+1.
 *
 * Draws (s_noise times opts->noise), in the order they happen: each restart takes one for
 * its jump, then, if gamma > 0, one per backward step (read only inside the window, as
 * the reference draws randn_like at every step and scales it by 0 outside). A run
 * announces sum over intervals of K (1 + [gamma > 0] steps); the main pass draws nothing.
 *
 * NFE: 2 S (2 S - 1 when the grid ends at 0) for the main pass, plus 2 K restart_steps.
 * An NFE budget is mapped to steps with the default restarts' cost counted (warmup_evals
 * 4 = 2 K restart_steps at K = 1, restart_steps = 2), so at the defaults a run spends its
 * budget exactly; other settings change the total, which the run's nfe reports.
 * With K = 0 this is heun (tested to 1e-12). Order: 2 as the ODE solver it is with K = 0;
 * with restarts the law converges (each restart is an exact forward kernel followed by an
 * order-2 solve) but the method discretises no single SDE, so it has no strong order. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

#define RESTART_RHO 7.0     /* the reference's get_steps(..., rho) with EDM's rho */

typedef struct {
    size_t at;              /* grid index of sigma_r */
    size_t k, steps;        /* K and the backward pass's steps */
    size_t draw0;           /* its first draw */
    double tmax;
    double *sub;            /* [steps + 1] the backward pass's sigmas, tmax .. sigma_r */
} restart_iv;

typedef struct {
    restart_iv iv[DODE_RESTART_MAX];
    size_t count;           /* intervals with K > 0, in the order the main pass meets them */
    double gamma, wmin, wmax;   /* backward churn and its window [s_tmin, s_tmax] */
} restart_ctx;

/* Heun in sigma from s to sn (Euler when sn = 0). ws[0]: d, ws[1]: predictor, ws[2]: d'. */
static int restart_heun(dode_ode *ode, double s, double sn, double *xbar, double *const *ws)
{
    const size_t len = solver_len(ode);
    const double du = sn - s;
    int rc = dode_ode_rhs(ode, s, xbar, ws[0]);
    if (rc != DODE_OK)
        return rc;
    if (sn == 0) {
        solver_axpy(xbar, du, ws[0], len);
        return DODE_OK;
    }
    for (size_t k = 0; k < len; k++)
        ws[1][k] = xbar[k] + du * ws[0][k];
    if ((rc = dode_ode_rhs(ode, sn, ws[1], ws[2])) != DODE_OK)
        return rc;
    for (size_t k = 0; k < len; k++)
        xbar[k] += 0.5 * du * (ws[0][k] + ws[2][k]);
    return DODE_OK;
}

/* Backward step j of a restart whose churn draws start at d: churn where the window
 * holds (gamma > 0), then Heun to sub[j + 1]. ws[3]: the draw. */
static int restart_back(dode_ode *ode, const dode_solver_opts *opts, const restart_ctx *c,
                        const restart_iv *v, size_t j, size_t d, double *xbar,
                        double *const *ws)
{
    double s = v->sub[j];
    if (c->gamma > 0 && c->wmin <= s && s <= c->wmax) {
        const double sh = s * (1 + c->gamma);
        int rc = sde_draw(ode, opts, d + j, ws[3]);
        if (rc != DODE_OK)
            return rc;
        solver_axpy(xbar, sqrt((sh - s) * (sh + s)), ws[3], solver_len(ode));
        s = sh;
    }
    return restart_heun(ode, s, v->sub[j + 1], xbar, ws);
}

/* The K restarts of interval v at sigma_r = sr. */
static int restart_loop(dode_ode *ode, const dode_solver_opts *opts, const restart_ctx *c,
                        const restart_iv *v, double sr, double *xbar, double *const *ws)
{
    const size_t len = solver_len(ode), per = 1 + (c->gamma > 0 ? v->steps : 0);
    for (size_t r = 0; r < v->k; r++) {
        const size_t d = v->draw0 + r * per;
        int rc = sde_draw(ode, opts, d, ws[3]);
        if (rc != DODE_OK)
            return rc;
        solver_axpy(xbar, sqrt((v->tmax - sr) * (v->tmax + sr)), ws[3], len);
        for (size_t j = 0; j < v->steps; j++)
            if ((rc = restart_back(ode, opts, c, v, j, d + 1, xbar, ws)) != DODE_OK)
                return rc;
    }
    return DODE_OK;
}

/* A solver_step_fn: the main Heun step i, then the restarts of the interval at i + 1. */
static int restart_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                        size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)steps;
    const restart_ctx *c = ctx;
    int rc = restart_heun(ode, sigmas[i], sigmas[i + 1], xbar, ws);
    for (size_t r = 0; r < c->count && rc == DODE_OK; r++)
        if (c->iv[r].at == i + 1)
            rc = restart_loop(ode, opts, c, &c->iv[r], sigmas[i + 1], xbar, ws);
    return rc;
}

/* sigma_r of interval iv: the grid point nearest to tmin (the first of equals, as
 * torch.argmin). It must be reached by a step (index >= 1), be > 0 and lie below tmax,
 * and tmax (churned by gamma if the window holds it) must be a sigma of the schedule.
 * Fills v->at and v->sub. */
static int restart_place(dode_ode *ode, const dode_grid *grid, const restart_ctx *c,
                         const dode_restart_interval *iv, restart_iv *v)
{
    const double tmin = iv->tmin, tmax = iv->tmax;
    size_t at = 0;
    for (size_t j = 1; j <= grid->steps; j++)
        if (fabs(grid->sigma[j] - tmin) < fabs(grid->sigma[at] - tmin))
            at = j;
    const double sr = grid->sigma[at];
    const double limit = dode_schedule_sigma(ode->schedule, dode_schedule_t_limit(ode->schedule));
    const double top = c->gamma > 0 && c->wmin <= tmax && tmax <= c->wmax
                       ? tmax * (1 + c->gamma) : tmax;
    if (at == 0 || !(sr > 0) || !(sr < tmax))
        return dode_ode_fail(ode, DODE_EINVAL, "restart_tmin %g is nearest to the grid point "
                             "sigma %g (index %zu); it must be a point after the start, above "
                             "0 and below restart_tmax %g", tmin, sr, at, tmax);
    if (!(top <= limit))
        return dode_ode_fail(ode, DODE_EINVAL, "restart_tmax %g%s is beyond the schedule's "
                             "largest sigma %g", tmax, top > tmax ? " (with restart_gamma)"
                             : "", limit);
    v->at = at;
    const double a = pow(tmax, 1.0 / RESTART_RHO), b = pow(sr, 1.0 / RESTART_RHO);
    for (size_t j = 0; j < v->steps; j++)
        v->sub[j] = pow(a + (double)j / (double)v->steps * (b - a), RESTART_RHO);
    v->sub[0] = tmax, v->sub[v->steps] = sr;      /* the ends exactly */
    return DODE_OK;
}

/* The four options of the single interval, which restart_list replaces. */
static const dode_option_id restart_single[] = {
    DODE_OPT_RESTART_K, DODE_OPT_RESTART_STEPS, DODE_OPT_RESTART_TMIN, DODE_OPT_RESTART_TMAX,
};

/* The intervals of the run (restart_list, else the single one) into list[*n], and the
 * draws they take. Fails on restart_list given with one of the four, or on a count of
 * draws or restart sigmas beyond size_t. */
static int restart_intervals(dode_ode *ode, const dode_solver_opts *o, const restart_ctx *c,
                             dode_restart_interval *list, size_t *n, size_t *draws)
{
    *n = o->restart.count;
    if (*n == 0) {
        list[0] = (dode_restart_interval){ .tmin = o->restart.tmin, .tmax = o->restart.tmax,
                                           .k = o->restart.k, .steps = o->restart.steps };
        *n = 1;
    } else {
        for (size_t i = 0; i < sizeof restart_single / sizeof *restart_single; i++)
            if (dode_solver_opts_given(o, restart_single[i]))
                return dode_ode_fail(ode, DODE_EINVAL, "give restart_list or restart_k, "
                                     "restart_steps, restart_tmin, restart_tmax, not both "
                                     "(%s given)", dode_solver_options()[restart_single[i]].key);
        memcpy(list, o->restart.list, *n * sizeof *list);
    }
    *draws = 0;
    for (size_t i = 0; i < *n; i++) {
        const size_t per = 1 + (c->gamma > 0 ? list[i].steps : 0);
        if (list[i].steps > SIZE_MAX / (4 * DODE_RESTART_MAX * sizeof(double))
            || (list[i].k > 0 && per > (SIZE_MAX - *draws) / list[i].k))
            return dode_ode_fail(ode, DODE_EINVAL, "restart interval %zu: K %zu with %zu "
                                 "steps is too large", i + 1, list[i].k, list[i].steps);
        *draws += list[i].k * per;
    }
    return DODE_OK;
}

/* Places the intervals with K > 0 (sub cut from block), orders them as the main pass
 * meets them, refuses two at one grid point, and numbers their draws. */
static int restart_setup(dode_ode *ode, const dode_grid *grid, restart_ctx *c,
                         const dode_restart_interval *list, size_t n, double *block)
{
    size_t from[DODE_RESTART_MAX];
    c->count = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].k == 0)
            continue;
        restart_iv *v = &c->iv[c->count];
        *v = (restart_iv){ .k = list[i].k, .steps = list[i].steps, .tmax = list[i].tmax,
                           .sub = block };
        block += list[i].steps + 1;
        int rc = restart_place(ode, grid, c, &list[i], v);
        if (rc != DODE_OK)
            return rc;
        size_t j = c->count++;                  /* insertion by grid index */
        from[j] = i;
        for (; j > 0 && c->iv[j - 1].at > c->iv[j].at; j--) {
            const restart_iv t = c->iv[j - 1];
            c->iv[j - 1] = c->iv[j], c->iv[j] = t;
            const size_t f = from[j - 1];
            from[j - 1] = from[j], from[j] = f;
        }
        if (j > 0 && c->iv[j - 1].at == c->iv[j].at)
            return dode_ode_fail(ode, DODE_EINVAL, "restart_list intervals %zu and %zu both "
                                 "restart at the grid point sigma %g (index %zu)",
                                 from[j - 1] + 1, i + 1, grid->sigma[c->iv[j].at], c->iv[j].at);
    }
    size_t d = 0;
    for (size_t r = 0; r < c->count; r++) {
        c->iv[r].draw0 = d;
        d += c->iv[r].k * (1 + (c->gamma > 0 ? c->iv[r].steps : 0));
    }
    return DODE_OK;
}

static int restart_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                         double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    restart_ctx c = {
        .gamma = opts->restart.gamma,
        .wmin = dode_solver_opts_given(opts, DODE_OPT_S_TMIN) ? opts->sde.s_tmin : 0.0,
        .wmax = dode_solver_opts_given(opts, DODE_OPT_S_TMAX) ? opts->sde.s_tmax : INFINITY,
    };
    dode_restart_interval list[DODE_RESTART_MAX];
    size_t n = 0, draws = 0, len = 0;
    int rc = restart_intervals(ode, opts, &c, list, &n, &draws);
    if (rc == DODE_OK)
        rc = sde_begin(ode, grid, opts, draws);
    if (rc != DODE_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        len += list[i].k > 0 ? list[i].steps + 1 : 0;
    double *block = NULL;
    if (len > 0 && (block = malloc(len * sizeof *block)) == NULL)
        return dode_ode_fail(ode, DODE_ENOMEM, "out of memory for %zu restart sigmas", len);
    rc = restart_setup(ode, grid, &c, list, n, block);      /* K = 0 everywhere: heun */
    if (rc == DODE_OK)
        rc = solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 4,
                              restart_step, &c);
    free(block);
    return rc;
}

const dode_solver_type dode_solver_restart = {
    .name = "restart", .family = "sde", .order = 2, .evals_per_step = 2,
    .warmup_evals = 4,          /* the default restart: 2 K restart_steps = 2 * 1 * 2 */
    .summary = "Restart sampler (Xu et al. 2023): Heun, K restarts of [restart_tmin, "
               "restart_tmax] or of each restart_list interval (restart_gamma churn)",
    .solve = restart_solve,
};
