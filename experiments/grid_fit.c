/* grid_fit.c - the LD3 / DM-NonUniform-style fitted grid (grid_fit.h).
 *
 * LD3 (Tong et al. 2024, "Learning to Discretize Denoising Diffusion ODEs", arXiv
 * 2405.15506) learns the timesteps as a softmax over free parameters by gradient descent
 * on the distance between the solver's and a teacher's final state over a few hundred
 * training x_T. The map followed is vinhsuhi/LD3 trainer.py, discretize_model_wrapper's
 * model_lambda_fn (commit 9e4a66f): lambda increments = softmax(logits), cumulated and
 * scaled to [lambda_min, lambda_max]; diffode's lambda is -log sigma, the same lambda.
 * Here: the teacher is exact, the loss the plain RMSE (LD3 adds an LPIPS slack that
 * images need and 2-D points do not), and the descent GSL's BFGS2 on central differences
 * (step FD_H in u) in place of Adam on back-propagated gradients. A solve that fails
 * scores BAD_GRID, finite, so the line search backs away from it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_multimin.h>

#include "grid_fit.h"

#define BAD_GRID 1e10
#define FD_H 1e-4              /* relative grid change ~1e-4: above the solver's rounding */

void exp_grid_from_softmax(const double *u, size_t steps, double sigma_max, double sigma_min,
                           double *sigma)
{
    const double top = log(sigma_max), span = log(sigma_max / sigma_min);
    double umax = 0, sum = 0, acc = 0;
    for (size_t k = 0; k + 1 < steps; k++)
        umax = u[k] > umax ? u[k] : umax;
    for (size_t k = 0; k < steps; k++)      /* shifted by umax: no overflow */
        sum += exp((k + 1 < steps ? u[k] : 0.0) - umax);
    sigma[0] = sigma_max;
    for (size_t k = 0; k + 1 < steps; k++) {
        acc += exp(u[k] - umax);
        sigma[k + 1] = exp(top - span * acc / sum);
    }
    sigma[steps] = sigma_min;
}

typedef struct {
    exp_grid_problem *p;
    size_t steps;
    double sigma_max, sigma_min;
    double *sigma;          /* [steps + 1] scratch */
    double *u;              /* [steps - 1] scratch for the differences */
} fit_objective;

static double fit_loss(fit_objective *o, const double *u)
{
    char why[256];
    double rmse;
    exp_grid_from_softmax(u, o->steps, o->sigma_max, o->sigma_min, o->sigma);
    for (size_t k = 0; k < o->steps; k++)
        if (!(o->sigma[k + 1] < o->sigma[k]))
            return BAD_GRID;
    if (exp_grid_rmse(o->p, o->sigma, o->steps + 1, &rmse, why, sizeof why) != DODE_OK)
        return BAD_GRID;
    return rmse;
}

static double fit_f(const gsl_vector *v, void *params)
{
    fit_objective *o = params;
    for (size_t k = 0; k + 1 < o->steps; k++)
        o->u[k] = gsl_vector_get(v, k);
    return fit_loss(o, o->u);
}

static void fit_df(const gsl_vector *v, void *params, gsl_vector *g)
{
    fit_objective *o = params;
    const size_t m = o->steps - 1;
    for (size_t k = 0; k < m; k++)
        o->u[k] = gsl_vector_get(v, k);
    for (size_t k = 0; k < m; k++) {        /* central differences, one parameter at a time */
        const double u0 = o->u[k];
        o->u[k] = u0 + FD_H;
        const double fp = fit_loss(o, o->u);
        o->u[k] = u0 - FD_H;
        const double fm = fit_loss(o, o->u);
        o->u[k] = u0;
        gsl_vector_set(g, k, (fp - fm) / (2 * FD_H));
    }
}

static void fit_fdf(const gsl_vector *v, void *params, double *f, gsl_vector *g)
{
    *f = fit_f(v, params);
    fit_df(v, params, g);
}

/* The BFGS2 loop from x (overwritten with the best point); *f its loss. */
static int fit_run(fit_objective *o, gsl_vector *x, size_t max_iter, double tol, double *f,
                   size_t *iters, char *err, size_t errlen)
{
    const size_t m = o->steps - 1;
    gsl_multimin_function_fdf fn = { .f = fit_f, .df = fit_df, .fdf = fit_fdf, .n = m,
                                     .params = o };
    gsl_multimin_fdfminimizer *s = gsl_multimin_fdfminimizer_alloc(
        gsl_multimin_fdfminimizer_vector_bfgs2, m);
    if (s == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "fit: out of memory");
    /* first trial step 0.1 in u (a tenth of the unit logit), line tolerance 0.1 (GSL's
     * recommendation for bfgs2) */
    gsl_multimin_fdfminimizer_set(s, &fn, x, 0.1, 0.1);
    *iters = 0;
    while (*iters < max_iter) {
        if (gsl_multimin_fdfminimizer_iterate(s) != GSL_SUCCESS)
            break;                              /* no progress: keep the best point */
        (*iters)++;
        if (gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(s), tol)
            == GSL_SUCCESS)
            break;
    }
    gsl_vector_memcpy(x, gsl_multimin_fdfminimizer_x(s));
    *f = gsl_multimin_fdfminimizer_minimum(s);
    gsl_multimin_fdfminimizer_free(s);
    return DODE_OK;
}

int exp_grid_fit(exp_grid_problem *p, double sigma_max, double sigma_min, size_t steps,
                 size_t max_iter, double tol, double *sigma, exp_fit_report *rep, char *err,
                 size_t errlen)
{
    if (steps < 2 || !(sigma_min > 0 && sigma_min < sigma_max))
        return dode_fail(err, errlen, DODE_EINVAL, "fit: %zu steps, sigma %g -> %g (need 2 "
                         "or more steps: one step has no interior point to fit)", steps,
                         sigma_max, sigma_min);
    const size_t m = steps - 1;
    fit_objective o = { .p = p, .steps = steps, .sigma_max = sigma_max,
                        .sigma_min = sigma_min, .sigma = malloc((steps + 1) * sizeof(double)),
                        .u = malloc(m * sizeof(double)) };
    gsl_vector *x = gsl_vector_calloc(m);       /* u = 0: the logsnr grid */
    int rc = o.sigma && o.u && x ? DODE_OK
                                 : dode_fail(err, errlen, DODE_ENOMEM, "fit: out of memory");
    double f = BAD_GRID;
    if (rc == DODE_OK) {
        memset(o.u, 0, m * sizeof *o.u);
        rep->start_rmse = fit_loss(&o, o.u);
        if (!(rep->start_rmse < BAD_GRID))
            rc = exp_grid_rmse(p, o.sigma, steps + 1, &f, err, errlen);  /* its message */
    }
    if (rc == DODE_OK)
        rc = fit_run(&o, x, max_iter, tol, &f, &rep->iterations, err, errlen);
    if (rc == DODE_OK) {
        if (!(f <= rep->start_rmse))             /* never worse than the start */
            gsl_vector_set_zero(x);
        rep->rmse = f <= rep->start_rmse ? f : rep->start_rmse;
        exp_grid_from_softmax(x->data, steps, sigma_max, sigma_min, sigma);
    }
    free(o.sigma);
    free(o.u);
    gsl_vector_free(x);
    return rc;
}
