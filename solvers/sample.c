/* sample.c - the sampling path and the reference flow (sample.h): x <-> xbar scaling
 * (xbar = x / a, 1/a = sqrt(1 + sigma^2) on VP schedules, 1 + sigma on flow ones:
 * dode_schedule_xbar_scale), one solve with its cost, the exact-or-rk8pd reference, and
 * the seeded draw of x_T. At sigma = inf (zero terminal SNR) xbar does not exist; the
 * state there is x itself, pure noise, and dode_solve's first step reads it so (solver.h). */
#include <math.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "diffode/sample.h"
#include "diffode/status.h"

void dode_x_to_xbar(const dode_schedule *s, double sigma, const double *x, double *xbar,
                    size_t len)
{
    const double scale = sigma == INFINITY ? 1.0 : dode_schedule_xbar_scale(s, sigma);
    for (size_t k = 0; k < len; k++)
        xbar[k] = x[k] * scale;
}

void dode_xbar_to_x(const dode_schedule *s, double sigma, const double *xbar, double *x,
                    size_t len)
{
    const double scale = sigma == INFINITY ? 1.0 : 1.0 / dode_schedule_xbar_scale(s, sigma);
    for (size_t k = 0; k < len; k++)
        x[k] = xbar[k] * scale;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int dode_run_xbar(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
                  const dode_solver_opts *opts, double *xbar, dode_trace *trace,
                  dode_run_stats *stats, char *err, size_t errlen)
{
    if (grid == NULL || grid->sigma == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "run: the grid must not be NULL");
    dode_trace counts = { 0 };
    dode_trace *tr = trace != NULL ? trace : &counts;   /* step counts even without one */
    const double start = now_seconds();
    int rc = dode_solve(solver, ode, grid, xbar, opts, tr, err, errlen);
    if (stats != NULL) {
        const double end = grid->sigma[grid->steps];
        const int to_zero = opts != NULL && opts->denoise_to_zero && end > 0;
        *stats = (dode_run_stats){
            .nfe = ode != NULL ? ode->nfe : 0, .njac = ode != NULL ? ode->njac : 0,
            .accepted = tr->accepted, .rejected = tr->rejected,
            .sigma_end = to_zero ? 0.0 : end, .seconds = now_seconds() - start,
        };
    }
    return rc;
}

int dode_sample(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
                const dode_solver_opts *opts, const double *x_T, double *x_0,
                dode_trace *trace, dode_run_stats *stats, char *err, size_t errlen)
{
    if (ode == NULL || grid == NULL || grid->sigma == NULL || x_T == NULL || x_0 == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "sample: ode, grid, x_T and x_0 must not "
                         "be NULL");
    const size_t len = ode->n * ode->dim;
    dode_run_stats own;
    dode_run_stats *st = stats != NULL ? stats : &own;
    dode_x_to_xbar(ode->schedule, grid->sigma[0], x_T, x_0, len);        /* x_0 holds xbar while solving */
    int rc = dode_run_xbar(solver, ode, grid, opts, x_0, trace, st, err, errlen);
    if (rc == DODE_OK)
        dode_xbar_to_x(ode->schedule, st->sigma_end, x_0, x_0, len);
    return rc;
}

void dode_reference_opts_init(dode_reference_opts *o)
{
    *o = (dode_reference_opts){ .method = DODE_REFERENCE_AUTO, .rtol = DODE_REFERENCE_TOL,
                                .atol = DODE_REFERENCE_TOL, .max_steps = 0, .in_sigma = 0 };
}

/* gsl:rk8pd from sigma_from to sigma_to on xbar (in/out). */
static int rk8pd_flow(const dode_model *model, const dode_schedule *schedule, size_t n,
                      double sigma_from, double sigma_to, double *xbar,
                      const dode_reference_opts *o, dode_run_stats *stats, char *err,
                      size_t errlen)
{
    const dode_solver_type *rk8pd = dode_solver_find("gsl:rk8pd");
    if (rk8pd == NULL)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "reference: gsl:rk8pd is not in the "
                         "solver registry");
    dode_ode *ode = dode_ode_new(model, schedule, n, err, errlen);
    if (ode == NULL)
        return DODE_ENOMEM;
    dode_solver_opts so;
    dode_solver_opts_init(&so);
    /* log sigma is the natural variable of the flow far from the data, but is -inf at 0 */
    so.generic.variable = !o->in_sigma && sigma_from > 0 && sigma_to > 0 ? DODE_VAR_LOGSIGMA
                                                                  : DODE_VAR_SIGMA;
    so.adaptive.rtol = o->rtol;
    so.adaptive.atol = o->atol;
    if (o->max_steps > 0)
        so.adaptive.max_steps = o->max_steps;
    const double sigmas[2] = { sigma_from, sigma_to };
    const dode_grid grid = { .steps = 1, .sigma = (double *)sigmas, .t = NULL,
                             .spacing = DODE_SPACING_LOGSNR, .rho = 7.0 };
    int rc = dode_run_xbar(rk8pd, ode, &grid, &so, xbar, NULL, stats, err, errlen);
    dode_ode_free(ode);
    return rc;
}

int dode_reference(const dode_model *model, const dode_schedule *schedule, size_t n,
                   double sigma_from, double sigma_to, const double *xbar_from,
                   double *xbar_to, const dode_reference_opts *o, dode_run_stats *stats,
                   int *exact, char *err, size_t errlen)
{
    dode_reference_opts defaults;
    if (o == NULL) {
        dode_reference_opts_init(&defaults);
        o = &defaults;
    }
    if (model == NULL || schedule == NULL || xbar_from == NULL || xbar_to == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "reference: model, schedule and states "
                         "must not be NULL");
    const int use_exact = model->exact_flow != NULL && o->method != DODE_REFERENCE_RK8PD;
    if (exact != NULL)
        *exact = use_exact;
    if (stats != NULL)
        *stats = (dode_run_stats){ .sigma_end = sigma_to };
    if (o->method == DODE_REFERENCE_EXACT && model->exact_flow == NULL)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "reference: model %s has no exact "
                         "flow", model->name);
    if (use_exact) {
        const int rc = model->exact_flow(model, n, xbar_from, sigma_from, sigma_to, xbar_to);
        return rc == DODE_OK ? DODE_OK
                             : dode_fail(err, errlen, rc, "reference: the exact flow of %s "
                                         "failed from sigma %g to %g (%s)", model->name,
                                         sigma_from, sigma_to, dode_strerror(rc));
    }
    if (sigma_from == INFINITY)     /* rk8pd would start with the zero-SNR DDIM step */
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "reference: rk8pd cannot start at "
                         "sigma = inf (zero terminal SNR), and %s", model->exact_flow == NULL
                         ? "the model has no exact flow" : "the exact flow was not asked for");
    if (xbar_to != xbar_from)
        memmove(xbar_to, xbar_from, n * model->dim * sizeof *xbar_to);
    return rk8pd_flow(model, schedule, n, sigma_from, sigma_to, xbar_to, o, stats, err,
                      errlen);
}

int dode_draw_x_T(unsigned long seed, double *x_T, size_t len, char *err, size_t errlen)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate a random number generator");
    gsl_rng_set(rng, seed);
    for (size_t k = 0; k < len; k++)
        x_T[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    return DODE_OK;
}
