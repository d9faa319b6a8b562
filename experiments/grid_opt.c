/* grid_opt.c - optimised grids against an exact teacher (grid_opt.h).
 *
 * GITS (Chen et al. 2024, "On the Trajectory Regularity of ODE-based Diffusion Sampling",
 * zju-pi/diff-sampler gits_utils.py): a teacher trajectory on a fine grid, the cost of
 * jumping from point i to point j the error of one Euler step from the teacher's state at
 * i against the teacher at j, and a dynamic programme for the cheapest path with exactly
 * the steps the NFE buys. Here the teacher is exact (the model's flow, or rk8pd at 1e-12),
 * not a high-NFE solver run.
 *
 * The optimum: the interior log sigmas as free parameters of the exact final-state error,
 * minimised by Nelder-Mead (GSL nmsimplex2) from several starts; what any published grid
 * could at best achieve for this solver, model and NFE on the training batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "grid_opt.h"

/* A failed solve (a grid the solver refuses, a non-finite state) scores this, so the
 * simplex moves away from it; finite, as nmsimplex2 needs. */
#define BAD_GRID 1e10

int exp_grid_rmse(exp_grid_problem *p, const double *sigma, size_t npoints, double *rmse,
                  char *err, size_t errlen)
{
    dode_grid g;
    dode_run_stats st;
    const size_t len = p->n * p->dim;
    int rc = dode_grid_from_sigmas(p->schedule, sigma, npoints, &g, err, errlen);
    if (rc != DODE_OK)
        return rc;
    memcpy(p->work, p->xbar_T, len * sizeof *p->work);
    rc = dode_run_xbar(p->solver, p->ode, &g, NULL, p->work, NULL, &st, err, errlen);
    dode_grid_free(&g);
    p->evals++;
    if (rc != DODE_OK)
        return rc;
    double s = 0;
    for (size_t k = 0; k < len; k++)
        s += (p->work[k] - p->target[k]) * (p->work[k] - p->target[k]);
    *rmse = sqrt(s / (double)len);
    if (!isfinite(*rmse))
        return dode_fail(err, errlen, DODE_ENONFINITE, "grid: the solve ended non-finite");
    return DODE_OK;
}

int exp_teacher_path(const dode_model *model, const dode_schedule *schedule, size_t n,
                     const double *xbar_T, const double *cand, size_t m, double *traj,
                     char *err, size_t errlen)
{
    const size_t len = n * model->dim;
    memcpy(traj, xbar_T, len * sizeof *traj);
    for (size_t i = 1; i < m; i++) {
        int rc = dode_reference(model, schedule, n, cand[i - 1], cand[i], traj + (i - 1) * len,
                                traj + i * len, NULL, NULL, NULL, err, errlen);
        if (rc != DODE_OK)
            return rc;
    }
    return DODE_OK;
}

int exp_gits_costs(const dode_solver_type *step_solver, const dode_schedule *schedule,
                   dode_ode *ode, size_t n, size_t dim, const double *cand, size_t m,
                   const double *traj, double *cost, char *err, size_t errlen)
{
    const size_t len = n * dim;
    double *x = malloc(len * sizeof *x);
    int rc = x == NULL ? dode_fail(err, errlen, DODE_ENOMEM, "grid: out of memory") : DODE_OK;
    for (size_t k = 0; k < m * m; k++)
        cost[k] = INFINITY;
    for (size_t i = 0; rc == DODE_OK && i + 1 < m; i++) {
        for (size_t j = i + 1; rc == DODE_OK && j < m; j++) {
            const double pair[2] = { cand[i], cand[j] };
            dode_grid g;
            if ((rc = dode_grid_from_sigmas(schedule, pair, 2, &g, err, errlen)) != DODE_OK)
                break;
            memcpy(x, traj + i * len, len * sizeof *x);
            rc = dode_run_xbar(step_solver, ode, &g, NULL, x, NULL, NULL, err, errlen);
            dode_grid_free(&g);
            double mean = 0;
            for (size_t r = 0; rc == DODE_OK && r < n; r++) {
                double s = 0;
                for (size_t d = 0; d < dim; d++) {
                    const double e = x[r * dim + d] - traj[j * len + r * dim + d];
                    s += e * e;
                }
                mean += sqrt(s) / (double)n;
            }
            cost[i * m + j] = mean;
        }
    }
    free(x);
    return rc;
}

int exp_gits_dp(const double *cost, size_t m, size_t steps, double coeff, size_t *path,
                double *total, char *err, size_t errlen)
{
    if (m < 2 || steps == 0 || steps > m - 1)
        return dode_fail(err, errlen, DODE_EINVAL, "gits: %zu steps on %zu candidates (need 1 "
                         "to %zu)", steps, m, m > 0 ? m - 1 : 0);
    /* V[k][j]: the cheapest way from point j to point m - 1 in exactly k steps (inf if
     * none); next[k][j] its first move. gits_utils.py's dp, with the argmin kept rather
     * than recovered by equality tests on floats. */
    double *V = malloc((steps + 1) * m * sizeof *V);
    size_t *next = malloc((steps + 1) * m * sizeof *next);
    if (V == NULL || next == NULL) {
        free(V);
        free(next);
        return dode_fail(err, errlen, DODE_ENOMEM, "gits: out of memory");
    }
    for (size_t j = 0; j < m; j++) {
        V[m + j] = j + 1 < m ? cost[j * m + m - 1] : INFINITY;
        next[m + j] = m - 1;
    }
    for (size_t k = 2; k <= steps; k++) {
        for (size_t j = 0; j < m; j++) {
            double best = INFINITY;
            size_t arg = m - 1;
            for (size_t i = j + 1; i + 1 < m; i++) {
                const double c = cost[j * m + i] + coeff * V[(k - 1) * m + i];
                if (c < best) {
                    best = c;
                    arg = i;
                }
            }
            V[k * m + j] = best;
            next[k * m + j] = arg;
        }
    }
    path[0] = 0;
    for (size_t k = steps, w = 0, s = 1; k >= 1; k--, s++)
        path[s] = w = next[k * m + w];
    *total = V[steps * m];
    free(V);
    free(next);
    if (!isfinite(*total))
        return dode_fail(err, errlen, DODE_ENONFINITE, "gits: no finite path of %zu steps",
                         steps);
    return DODE_OK;
}

/* softplus(x) = log(1 + e^x), without overflow for large x. */
static double softplus(double x)
{
    return x > 30 ? x : log1p(exp(x));
}

void exp_grid_from_params(const double *u, size_t steps, double sigma_max, double sigma_min,
                          double *sigma)
{
    const double top = log(sigma_max), span = log(sigma_max / sigma_min);
    double sum = 0, acc = 0;
    for (size_t k = 0; k < steps; k++)
        sum += softplus(u[k]);
    sigma[0] = sigma_max;
    for (size_t k = 0; k + 1 < steps; k++) {
        acc += softplus(u[k]);
        sigma[k + 1] = exp(top - span * acc / sum);
    }
    sigma[steps] = sigma_min;
}

/* What the simplex minimises: the training RMSE of the grid u stands for. */
typedef struct {
    exp_grid_problem *p;
    size_t steps;
    double sigma_max, sigma_min;
    double *sigma;          /* [steps + 1] scratch */
} objective;

static double objective_f(const gsl_vector *v, void *params)
{
    objective *o = params;
    char why[256];
    double rmse;
    if (v->stride != 1)         /* GSL's simplex passes contiguous vectors */
        return BAD_GRID;
    exp_grid_from_params(v->data, o->steps, o->sigma_max, o->sigma_min, o->sigma);
    for (size_t k = 0; k < o->steps; k++)
        if (!(o->sigma[k + 1] < o->sigma[k]))
            return BAD_GRID;
    if (exp_grid_rmse(o->p, o->sigma, o->steps + 1, &rmse, why, sizeof why) != DODE_OK)
        return BAD_GRID;
    return rmse;
}

/* One Nelder-Mead run from x0 (overwritten with its minimiser); *f its value. */
static int simplex_run(objective *o, gsl_vector *x0, size_t max_iter, double tol, double *f,
                       char *err, size_t errlen)
{
    gsl_multimin_function fn = { .f = objective_f, .n = o->steps, .params = o };
    gsl_vector *step = gsl_vector_alloc(o->steps);
    gsl_multimin_fminimizer *m = gsl_multimin_fminimizer_alloc(
        gsl_multimin_fminimizer_nmsimplex2, o->steps);
    if (step == NULL || m == NULL) {
        gsl_vector_free(step);
        gsl_multimin_fminimizer_free(m);
        return dode_fail(err, errlen, DODE_ENOMEM, "optimum: out of memory");
    }
    gsl_vector_set_all(step, 0.5);
    int rc = gsl_multimin_fminimizer_set(m, &fn, x0, step) == GSL_SUCCESS
                 ? DODE_OK
                 : dode_fail(err, errlen, DODE_ENONFINITE, "optimum: the start simplex cannot "
                             "be evaluated");
    for (size_t it = 0; rc == DODE_OK && it < max_iter; it++) {
        if (gsl_multimin_fminimizer_iterate(m) != GSL_SUCCESS)
            break;                          /* no further progress: keep the best so far */
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), tol) == GSL_SUCCESS)
            break;
    }
    if (rc == DODE_OK) {
        gsl_vector_memcpy(x0, gsl_multimin_fminimizer_x(m));
        *f = gsl_multimin_fminimizer_minimum(m);
    }
    gsl_vector_free(step);
    gsl_multimin_fminimizer_free(m);
    return rc;
}

int exp_grid_optimum(exp_grid_problem *p, double sigma_max, double sigma_min, size_t steps,
                     size_t starts, unsigned long seed, size_t max_iter, double tol,
                     double *sigma, double *rmse, char *err, size_t errlen)
{
    if (steps == 0 || starts == 0 || !(sigma_min > 0 && sigma_min < sigma_max))
        return dode_fail(err, errlen, DODE_EINVAL, "optimum: %zu steps, %zu starts, sigma "
                         "%g -> %g", steps, starts, sigma_max, sigma_min);
    objective o = { .p = p, .steps = steps, .sigma_max = sigma_max, .sigma_min = sigma_min,
                    .sigma = malloc((steps + 1) * sizeof(double)) };
    gsl_vector *x = gsl_vector_alloc(steps);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = o.sigma == NULL || x == NULL || rng == NULL
                 ? dode_fail(err, errlen, DODE_ENOMEM, "optimum: out of memory") : DODE_OK;
    double best = INFINITY;
    if (rng != NULL)
        gsl_rng_set(rng, seed);
    for (size_t s = 0; rc == DODE_OK && s < starts; s++) {
        double f = INFINITY;
        for (size_t k = 0; k < steps; k++)      /* start 0: u = 0, the logsnr grid */
            gsl_vector_set(x, k, s == 0 ? 0.0 : gsl_ran_gaussian(rng, 0.5));
        rc = simplex_run(&o, x, max_iter, tol, &f, err, errlen);
        if (rc == DODE_OK && f < best) {
            best = f;
            exp_grid_from_params(x->data, steps, sigma_max, sigma_min, sigma);
        }
    }
    if (rc == DODE_OK && !(best < BAD_GRID))
        rc = dode_fail(err, errlen, DODE_ENONFINITE, "optimum: no start gave a grid the solver "
                       "could run");
    if (rc == DODE_OK)
        *rmse = best;
    free(o.sigma);
    gsl_vector_free(x);
    gsl_rng_free(rng);
    return rc;
}
