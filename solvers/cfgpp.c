/* cfgpp.c - CFG++ (Chung et al. 2024, "CFG++: manifold-constrained classifier free
 * guidance for diffusion models"): denoise with the guided prediction, renoise with the
 * unconditional one. Formulas follow the official code, github.com/CFGpp-diffusion/CFGpp,
 * latent_diffusion.py at commit 8035352527eb01ac69f65feaab374ba50616ce2c:
 *
 * cfgpp-ddim (class BaseDDIMCFGpp, the paper's Algorithm 1), with eps_l = eps_u + lambda
 * (eps_c - eps_u), a = abar at t, a' at the next t:
 *     z0 = (z - sqrt(1 - a) eps_l) / sqrt(a),   z' = sqrt(a') z0 + sqrt(1 - a') eps_u
 * which in xbar = z / sqrt(a), sigma = sqrt((1 - a) / a) reads
 *     xbar' = x0_l + sigma' eps_u,   x0_l = xbar - sigma eps_l
 * (and is also the repository's EulerCFGppSolver, x = denoised + sigma' (x - uncond_denoised)
 * / sigma). The official loop returns z0 of the last step; here the last step lands on the
 * grid's last sigma like every solver's, which is z0 when the grid ends at 0 (--to-zero).
 *
 * cfgpp-dpmpp2m (class DPMpp2mCFGppSolver), h = log(sigma / sigma'), r = h_prev / h:
 *     first step, or a step to sigma' = 0:  xbar' = x0_l + sigma' eps_u
 *     otherwise:  xbar' = x0_l + sigma' eps_u - expm1(-h) (x0_l - x0_u,prev) / (2 r)
 * where x0_u,prev = xbar - sigma eps_u of the step before (the code keeps the
 * *unconditional* denoised as old_denoised). At lambda = 0 this is DPM-Solver++(2M) (the
 * k-diffusion form) and cfgpp-ddim is DDIM; for lambda > 0 neither discretises an ODE: the
 * update keeps a jump sigma (eps_u - eps_l) that does not shrink with the step
 * (docs/guidance.md), so their `order` below is their order at lambda = 0.
 *
 * cfgpp-euler-a (class EulerAncestralCFGppSolver, the same file and commit), k-diffusion's
 * get_ancestral_step with eta (opts->ddim.eta, default 1 as in the code):
 *     sigma_up = min(sigma', eta sqrt(sigma'^2 (sigma^2 - sigma'^2) / sigma^2)),
 *     sigma_down = sqrt(sigma'^2 - sigma_up^2),
 *     xbar' = x0_l + sigma_down eps_u + sigma_up z_i      (no noise on a step to 0)
 * (the code's d = to_d(x, sigma, uncond_denoised) is eps_u), z_i = s_noise times draw i of
 * opts->noise, taken after the model call. eta = 0 gives sigma_down = sigma', cfgpp-ddim's
 * update. The official loop decodes the last step's denoised; as above, here the last step
 * lands on the grid's last sigma. First order at lambda = 0 (euler-a's).
 *
 * lambda is the guided model's own scale (a `gmm:FILE,class=C,cfg=LAMBDA` spec or
 * dode_guided_new), and both predictions come from one call of dode_guided_parts, one NFE
 * (the guided model's call, as its eps is one NFE). A model that is not a guided model has
 * no unconditional part and is refused; so is lambda > 1 (the paper's range is [0, 1]). */
#include <math.h>
#include <string.h>

#include "diffode/guidance.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

/* Both parts at (xbar, sigma) into eg (guided) and eu (unconditional): one NFE. */
static int cfgpp_parts(dode_ode *ode, double sigma, const double *xbar, double *eg, double *eu)
{
    const size_t len = solver_len(ode);
    const double a = 1.0 / sqrt(1.0 + sigma * sigma), t = dode_schedule_t(ode->schedule, sigma);
    for (size_t k = 0; k < len; k++)
        ode->x[k] = a * xbar[k];
    if (dode_all_finite(ode->x, len) != DODE_OK)
        return dode_ode_fail(ode, DODE_ENONFINITE, "the state is not finite at sigma = %g "
                             "(t = %g): a step overflowed", sigma, t);
    ode->nfe++;
    int rc = dode_guided_parts(ode->model, ode->ws, ode->n, ode->x, t, sigma, eg, eu);
    if (rc != DODE_OK)
        return dode_ode_fail(ode, rc, "model %s failed at sigma = %g (t = %g): %s",
                             ode->model->name, sigma, t, dode_strerror(rc));
    if (dode_all_finite(eg, len) != DODE_OK || dode_all_finite(eu, len) != DODE_OK)
        return dode_ode_fail(ode, DODE_ENONFINITE, "model %s returned a non-finite eps at "
                             "sigma = %g (t = %g)", ode->model->name, sigma, t);
    return DODE_OK;
}

/* ws[0]: eps_l, ws[1]: eps_u, ws[2]: the previous step's x0_u (2M). ctx: the variant. */
typedef struct {
    int multistep;
} cfgpp_entry;

static int cfgpp_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas,
                      size_t i, size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)opts;
    (void)steps;
    const cfgpp_entry *e = ctx;
    const size_t len = solver_len(ode);
    const double s = sigmas[i], sn = sigmas[i + 1];
    int rc = cfgpp_parts(ode, s, xbar, ws[0], ws[1]);
    if (rc != DODE_OK)
        return rc;
    const int second = e->multistep && i > 0 && sn > 0;
    const double h = second ? log(s / sn) : 0.0;
    const double c = second ? -expm1(-h) / (2.0 * (log(sigmas[i - 1] / s) / h)) : 0.0;
    for (size_t k = 0; k < len; k++) {
        const double x0l = xbar[k] - s * ws[0][k], x0u = xbar[k] - s * ws[1][k];
        xbar[k] = x0l + sn * ws[1][k] + (second ? c * (x0l - ws[2][k]) : 0.0);
        ws[2][k] = x0u;
    }
    return DODE_OK;
}

/* ws[0]: eps_l, ws[1]: eps_u, ws[2]: the draw. ctx: eta. */
static int cfgpp_ancestral_step(dode_ode *ode, const dode_solver_opts *opts,
                                const double *sigmas, size_t i, size_t steps, double *xbar,
                                double *const *ws, void *ctx)
{
    (void)steps;
    const double eta = *(const double *)ctx, s = sigmas[i], sn = sigmas[i + 1];
    const size_t len = solver_len(ode);
    double down, up;
    int rc = cfgpp_parts(ode, s, xbar, ws[0], ws[1]);
    if (rc != DODE_OK)
        return rc;
    sde_ancestral_sizes(eta, s, sn, &down, &up);
    const int noisy = sn > 0 && up > 0;
    if (noisy && (rc = sde_draw(ode, opts, i, ws[2])) != DODE_OK)
        return rc;
    for (size_t k = 0; k < len; k++)
        xbar[k] = xbar[k] - s * ws[0][k] + down * ws[1][k] + (noisy ? up * ws[2][k] : 0.0);
    return DODE_OK;
}

/* lambda of the guided model, or the refusal cfgpp_solve and cfgpp_ancestral_solve share. */
static int cfgpp_lambda(dode_ode *ode, double *lambda)
{
    if (dode_guided_scale(ode->model, lambda) != DODE_OK)
        return dode_ode_fail(ode, DODE_EUNSUPPORTED, "needs a guided model (--class C "
                             "--cfg-scale LAMBDA, or a gmm:FILE,class=C,cfg=LAMBDA spec): CFG++ "
                             "renoises with the unconditional eps, which model %s does not "
                             "give apart", ode->model->name);
    if (!(*lambda <= 1.0))
        return dode_ode_fail(ode, DODE_EINVAL, "guidance scale lambda = %g is outside CFG++'s "
                             "[0, 1] (the paper's range; its lambda = 0.6 acts like CFG's "
                             "w = 7.5 or so)", *lambda);
    return DODE_OK;
}

static int cfgpp_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                       double *xbar, const dode_solver_opts *opts, dode_trace *trace)
{
    double lambda = 0;
    int rc = cfgpp_lambda(ode, &lambda);
    if (rc != DODE_OK)
        return rc;
    return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 3, cfgpp_step,
                            (void *)self->data);
}

static int cfgpp_ancestral_solve(const dode_solver_type *self, dode_ode *ode,
                                 const dode_grid *grid, double *xbar,
                                 const dode_solver_opts *opts, dode_trace *trace)
{
    (void)self;
    double lambda = 0, eta = sde_eta(opts);
    int rc = cfgpp_lambda(ode, &lambda);
    if (rc == DODE_OK)
        rc = sde_begin(ode, grid, opts, eta > 0 ? grid->steps : 0);
    if (rc != DODE_OK)
        return rc;
    return solver_run_steps(ode, grid->sigma, grid->steps, xbar, opts, trace, 3,
                            cfgpp_ancestral_step, &eta);
}

static const cfgpp_entry ddim_e = { .multistep = 0 }, pp2m_e = { .multistep = 1 };

const dode_solver_type dode_solver_cfgpp_ddim = {
    .name = "cfgpp-ddim", .family = "cfg++", .order = 1, .evals_per_step = 1,
    .summary = "CFG++ DDIM: denoise guided, renoise unconditional (guided models only; "
               "order at lambda = 0)",
    .solve = cfgpp_solve, .data = &ddim_e,
};
const dode_solver_type dode_solver_cfgpp_dpmpp2m = {
    .name = "cfgpp-dpmpp2m", .family = "cfg++", .order = 2, .evals_per_step = 1,
    .summary = "CFG++ DPM-Solver++(2M), official form (guided models only; order at "
               "lambda = 0)",
    .solve = cfgpp_solve, .data = &pp2m_e,
};
const dode_solver_type dode_solver_cfgpp_euler_a = {
    .name = "cfgpp-euler-a", .family = "cfg++", .order = 1, .evals_per_step = 1,
    .summary = "CFG++ Euler ancestral with eta (official form; guided models only; order at "
               "lambda = 0)",
    .solve = cfgpp_ancestral_solve,
};
