/* sde_law.c - the exact output law of an affine sampler on Gaussian data (law.h), by
 * probing the sampler with unit inputs. Rows of the probe batch, with a = sqrt(v_T) in each
 * coordinate (1 if v_T = 0), a start of the size the law will meet:
 *   0: xbar_T = 0, no noise            -> c
 *   1: xbar_T = a, no noise            -> a A + c
 *   2: xbar_T = -a, no noise           -> -a A + c   (the affinity check: rows 1 + 2 = 2c)
 *   3 + k: xbar_T = 0, z_k = 1, others 0 -> B_k + c
 * The noise array is (draws, draws + 3, dim): draw k is 1 on row 3 + k only. draws is
 * what the sampler announces on this grid with these options (a first solve of one row
 * with a seeded source asks it): one a step for most samplers, K for restart. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/law.h"
#include "diffode/noise.h"
#include "diffode/status.h"

/* The probe starts and draws; *z is [steps][rows][dim] (steps: the draws probed). */
static int probe_inputs(size_t steps, size_t dim, const double *var_T, double **xbar,
                        double **z)
{
    const size_t rows = steps + 3;
    *xbar = calloc(rows * dim, sizeof **xbar);
    *z = calloc(steps * rows * dim, sizeof **z);
    if (*xbar == NULL || *z == NULL)
        return DODE_ENOMEM;
    for (size_t j = 0; j < dim; j++) {
        const double a = var_T[j] > 0 ? sqrt(var_T[j]) : 1.0;
        (*xbar)[dim + j] = a;
        (*xbar)[2 * dim + j] = -a;
    }
    for (size_t k = 0; k < steps; k++)
        for (size_t j = 0; j < dim; j++)
            (*z)[(k * rows + 3 + k) * dim + j] = 1.0;
    return DODE_OK;
}

/* Mean and variance from the probe outputs y ([rows][dim]); EUNSUPPORTED if not affine. */
static int probe_law(const double *y, size_t steps, size_t dim, const double *mean_T,
                     const double *var_T, double *mean, double *var, char *err, size_t errlen)
{
    for (size_t j = 0; j < dim; j++) {
        const double a = var_T[j] > 0 ? sqrt(var_T[j]) : 1.0;
        const double c = y[j], up = y[dim + j] - c, down = y[2 * dim + j] - c, A = up / a;
        if (!(fabs(up + down) <= 1e-9 * (fabs(up) + fabs(c))))
            return dode_fail(err, errlen, DODE_EUNSUPPORTED, "the sampler is not affine on "
                             "this model (coordinate %zu: starts +-%g move the end by %.17g "
                             "and %.17g)", j, a, up, down);
        double v = A * A * var_T[j];
        for (size_t k = 0; k < steps; k++) {
            const double B = y[(3 + k) * dim + j] - c;
            v += B * B;
        }
        mean[j] = A * mean_T[j] + c;
        var[j] = v;
    }
    return DODE_OK;
}

/* The draws solver announces on grid with opts (at least 1, the array's least size): one
 * seeded solve of one row. */
static int count_draws(const dode_solver_type *solver, const dode_model *model,
                       const dode_schedule *schedule, const dode_grid *grid,
                       const dode_solver_opts *opts, size_t *draws, char *err, size_t errlen)
{
    double *xbar = calloc(model->dim, sizeof *xbar);
    dode_noise *noise = dode_noise_new_seeded(0, err, errlen);
    dode_ode *ode = noise != NULL ? dode_ode_new(model, schedule, 1, err, errlen) : NULL;
    int rc = xbar == NULL ? dode_fail(err, errlen, DODE_ENOMEM, "affine law: out of memory")
             : ode == NULL ? DODE_ENOMEM : DODE_OK;
    if (rc == DODE_OK) {
        dode_solver_opts o = *opts;
        o.noise = noise;
        rc = dode_solve(solver, ode, grid, xbar, &o, NULL, err, errlen);
    }
    const size_t used = noise != NULL ? dode_noise_used(noise) : 0;
    *draws = used > 0 ? used : 1;
    dode_ode_free(ode);
    dode_noise_free(noise);
    free(xbar);
    return rc;
}

int dode_affine_law(const dode_solver_type *solver, const dode_model *model,
                    const dode_schedule *schedule, const dode_grid *grid,
                    const dode_solver_opts *opts, const double *mean_T, const double *var_T,
                    double *mean, double *var, char *err, size_t errlen)
{
    if (solver == NULL || model == NULL || schedule == NULL || grid == NULL || mean_T == NULL
        || var_T == NULL || mean == NULL || var == NULL || grid->steps == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "affine law: NULL argument or empty grid");
    const size_t dim = model->dim;
    double *xbar = NULL, *z = NULL;
    dode_noise *noise = NULL;
    dode_ode *ode = NULL;
    dode_solver_opts o;
    if (opts != NULL)
        o = *opts;
    else
        dode_solver_opts_init(&o);
    size_t steps;                                   /* the draws probed */
    int rc = count_draws(solver, model, schedule, grid, &o, &steps, err, errlen);
    if (rc != DODE_OK)
        return rc;
    const size_t rows = steps + 3;
    rc = probe_inputs(steps, dim, var_T, &xbar, &z);
    if (rc != DODE_OK)
        rc = dode_fail(err, errlen, rc, "affine law: out of memory for %zu probes", rows);
    if (rc == DODE_OK && ((noise = dode_noise_new_array(z, steps, rows, dim, err, errlen)) == NULL
                          || (ode = dode_ode_new(model, schedule, rows, err, errlen)) == NULL))
        rc = DODE_ENOMEM;
    o.noise = noise;
    if (rc == DODE_OK)
        rc = dode_solve(solver, ode, grid, xbar, &o, NULL, err, errlen);
    if (rc == DODE_OK)
        rc = probe_law(xbar, steps, dim, mean_T, var_T, mean, var, err, errlen);
    dode_ode_free(ode);
    dode_noise_free(noise);
    free(z);
    free(xbar);
    return rc;
}

double dode_w2_diag(const double *m1, const double *v1, const double *m2, const double *v2,
                    size_t dim)
{
    double s = 0;
    for (size_t j = 0; j < dim; j++) {
        const double dm = m1[j] - m2[j], ds = sqrt(v1[j]) - sqrt(v2[j]);
        s += dm * dm + ds * ds;
    }
    return sqrt(s);
}
