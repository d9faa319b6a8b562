/* grid_ays.c - Align Your Steps (grid_ays.h): the KLUB of a grid by Monte Carlo over a
 * fixed sample and Gauss-Legendre in log sigma, the paper's coordinate search (App. B.1,
 * Algorithm 1) with early stopping on the exact teacher, and the Gaussian closed forms.
 *
 * Followed: arXiv 2404.14507v1, Eq. (9)-(12) (the KLUB of Stochastic-DDIM, one term per
 * interval), Algorithm 1 (11 candidates, the current one among them), Sec. 3.3 (early
 * stopping). Not followed: the hierarchical 10 -> 20 -> 40 steps and the log-linear
 * interpolation to other step counts (the grid is searched at the solver's own step
 * count), and importance sampling in sigma (a fixed quadrature instead).
 *
 * The Gaussian closed forms, derived for this file (MATH.md's Gaussian, sigma = t, s = 1):
 * D(x, s) = mu + c^2/(c^2+s^2) (x - mu) and, the pair being drawn along the forward
 * process, E||D_a - D_b||^2 = E||D_a||^2 - E||D_b||^2 (D_b is the conditional mean of D_a,
 * a martingale) = dim c^4 (1/(c^2+a^2) - 1/(c^2+b^2)): the paper's App. A.3 has this, its
 * Lemma 3.3 squares the bracket. Integrating against sigma^-3 (u = sigma^2, partial
 * fractions):
 *     K(a, b) = dim c^4 [ log((c^2+b^2) a^2 / ((c^2+a^2) b^2)) / (2 c^4)
 *                         + (b^2 - a^2) / (2 c^2 a^2 (c^2+b^2)) ].
 * Summed over a grid the logarithms telescope; setting d/d(s_i^2) of what is left to zero
 * gives q_i^2 = q_{i-1} q_{i+1} with q = s^2/(c^2+s^2): q is geometric in i. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "grid_ays.h"

#define CANDIDATES 5            /* on each side of the current point: 11 in all */
/* The noise's own mt19937 stream, seed ^ AYS_STREAM: with a plain `seed` the draws would
 * repeat the x_T batch's when both seeds are equal (the default 0 and 0), and z1 would be
 * x_T itself: on Gaussian data xbar_sigma then moves along its own start and the pair
 * loses the forward law (the top interval's KLUB came out twice the closed form). */
#define AYS_STREAM 0x41595321UL

struct exp_klub {
    dode_ode *ode;
    gsl_integration_glfixed_table *gl;
    size_t n, dim;
    double sigma_min;
    double *x_min, *z1, *z2;    /* [n][dim] each: the fixed sample */
    double *xa, *xb, *da, *db;  /* [n][dim] each: scratch */
};

void exp_klub_free(exp_klub *k)
{
    if (k == NULL)
        return;
    dode_ode_free(k->ode);
    if (k->gl != NULL)
        gsl_integration_glfixed_table_free(k->gl);
    free(k->x_min);
    free(k);
}

exp_klub *exp_klub_new(const dode_model *model, const dode_schedule *schedule, size_t n,
                       const double *x_min, double sigma_min, unsigned long seed,
                       size_t nodes, char *err, size_t errlen)
{
    if (n == 0 || nodes < 2 || nodes > 64 || !(sigma_min > 0)) {
        dode_fail(err, errlen, DODE_EINVAL, "ays: %zu samples, %zu nodes, sigma_min %g (need "
                  "n >= 1, 2..64 nodes, sigma_min > 0)", n, nodes, sigma_min);
        return NULL;
    }
    const size_t len = n * model->dim;
    exp_klub *k = calloc(1, sizeof *k);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (k != NULL) {
        k->x_min = malloc(7 * len * sizeof *k->x_min);      /* one block, cut in seven */
        k->gl = gsl_integration_glfixed_table_alloc(nodes);
    }
    if (k == NULL || rng == NULL || k->x_min == NULL || k->gl == NULL) {
        gsl_rng_free(rng);
        exp_klub_free(k);
        dode_fail(err, errlen, DODE_ENOMEM, "ays: out of memory for %zu samples", n);
        return NULL;
    }
    if ((k->ode = dode_ode_new(model, schedule, n, err, errlen)) == NULL) {
        gsl_rng_free(rng);
        exp_klub_free(k);
        return NULL;
    }
    k->n = n;
    k->dim = model->dim;
    k->sigma_min = sigma_min;
    k->z1 = k->x_min + len;
    k->z2 = k->z1 + len;
    k->xa = k->z2 + len;
    k->xb = k->xa + len;
    k->da = k->xb + len;
    k->db = k->da + len;
    memcpy(k->x_min, x_min, len * sizeof *k->x_min);
    gsl_rng_set(rng, seed ^ AYS_STREAM);
    for (size_t i = 0; i < 2 * len; i++)
        k->z1[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    return k;
}

size_t exp_klub_evals(const exp_klub *k)
{
    return k->ode->nfe;
}

/* The denoiser D = xbar - sigma epsh(xbar, sigma) for the batch: one NFE. */
static int denoise(exp_klub *k, double sigma, const double *xbar, double *d, char *err,
                   size_t errlen)
{
    int rc = dode_ode_rhs(k->ode, sigma, xbar, d);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "ays: %s", k->ode->err);
    for (size_t i = 0; i < k->n * k->dim; i++)
        d[i] = xbar[i] - sigma * d[i];
    return DODE_OK;
}

/* E||D(xbar_s, s) - D(xbar_b, b)||^2 with xbar_s = x_min + sqrt(s^2 - smin^2) z1 and
 * xbar_b = xbar_s + sqrt(b^2 - s^2) z2: the forward process from sigma_min. */
static int pair_gap(exp_klub *k, double s, double b, double *out, char *err, size_t errlen)
{
    const size_t len = k->n * k->dim;
    const double ga = sqrt(fmax(s * s - k->sigma_min * k->sigma_min, 0.0));
    const double gb = sqrt(fmax(b * b - s * s, 0.0));
    for (size_t i = 0; i < len; i++) {
        k->xa[i] = k->x_min[i] + ga * k->z1[i];
        k->xb[i] = k->xa[i] + gb * k->z2[i];
    }
    int rc = denoise(k, s, k->xa, k->da, err, errlen);
    if (rc == DODE_OK)
        rc = denoise(k, b, k->xb, k->db, err, errlen);
    double sum = 0;
    for (size_t i = 0; rc == DODE_OK && i < len; i++)
        sum += (k->da[i] - k->db[i]) * (k->da[i] - k->db[i]);
    *out = sum / (double)k->n;
    return rc;
}

int exp_klub_interval(exp_klub *k, double a, double b, double *out, char *err,
                      size_t errlen)
{
    if (!(a >= k->sigma_min * (1 - 1e-12) && a < b && isfinite(b)))
        return dode_fail(err, errlen, DODE_EINVAL, "ays: interval [%g, %g] is not inside "
                         "[sigma_min = %g, inf)", a, b, k->sigma_min);
    const double la = log(a), lb = log(b);
    double total = 0;
    /* d sigma / sigma^3 = sigma^-2 d log sigma */
    for (size_t q = 0; q < k->gl->n; q++) {
        double u, w, gap;
        gsl_integration_glfixed_point(la, lb, q, &u, &w, k->gl);
        const double s = exp(u);
        int rc = pair_gap(k, s, b, &gap, err, errlen);
        if (rc != DODE_OK)
            return rc;
        total += w * gap / (s * s);
    }
    *out = total;
    return DODE_OK;
}

int exp_klub_total(exp_klub *k, const double *sigma, size_t steps, double *out, char *err,
                   size_t errlen)
{
    double total = 0;
    for (size_t i = 0; i < steps; i++) {
        double v;
        int rc = exp_klub_interval(k, sigma[i + 1], sigma[i], &v, err, errlen);
        if (rc != DODE_OK)
            return rc;
        total += v;
    }
    *out = total;
    return DODE_OK;
}

/* The two intervals point k (0 < k < steps) touches, with sigma[k] = s. */
static int point_klub(exp_klub *k, const double *sigma, size_t i, double s, double *out,
                      char *err, size_t errlen)
{
    double lo, hi;
    int rc = exp_klub_interval(k, sigma[i + 1], s, &lo, err, errlen);
    if (rc == DODE_OK)
        rc = exp_klub_interval(k, s, sigma[i - 1], &hi, err, errlen);
    *out = lo + hi;
    return rc;
}

/* One pass of Algorithm 1 over the interior points; *moved counts the points that moved. */
static int sweep(exp_klub *k, double *sigma, size_t steps, double scale, size_t *moved,
                 char *err, size_t errlen)
{
    *moved = 0;
    for (size_t i = 1; i < steps; i++) {
        const double h = scale * log(sigma[i - 1] / sigma[i + 1]) / 12.0;
        const double u0 = log(sigma[i]);
        double best, best_s = sigma[i];
        int rc = point_klub(k, sigma, i, sigma[i], &best, err, errlen);
        for (int j = -CANDIDATES; rc == DODE_OK && j <= CANDIDATES; j++) {
            const double s = exp(u0 + j * h);
            double v;
            if (j == 0 || !(s < sigma[i - 1] && s > sigma[i + 1]))
                continue;
            rc = point_klub(k, sigma, i, s, &v, err, errlen);
            if (rc == DODE_OK && v < best) {
                best = v;
                best_s = s;
            }
        }
        if (rc != DODE_OK)
            return rc;
        if (best_s != sigma[i]) {
            sigma[i] = best_s;
            (*moved)++;
        }
    }
    return DODE_OK;
}

int exp_ays_optimise(exp_klub *k, exp_grid_problem *p, double *sigma, size_t steps,
                     size_t max_sweeps, double tol, size_t patience, double *last,
                     exp_ays_report *rep, char *err, size_t errlen)
{
    double *cur = malloc((steps + 1) * sizeof *cur);
    if (cur == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "ays: out of memory");
    memcpy(cur, sigma, (steps + 1) * sizeof *cur);
    rep->sweeps = rep->best_sweep = 0;
    rep->train_rmse = NAN;
    int rc = exp_klub_total(k, cur, steps, &rep->klub_start, err, errlen);
    if (rc == DODE_OK && p != NULL)
        rc = exp_grid_rmse(p, cur, steps + 1, &rep->train_rmse, err, errlen);
    for (double scale = 1; rc == DODE_OK && scale >= tol && rep->sweeps < max_sweeps
                           && !(p != NULL && patience > 0
                                && rep->sweeps >= rep->best_sweep + patience);) {
        size_t moved;
        double e;
        if ((rc = sweep(k, cur, steps, scale, &moved, err, errlen)) != DODE_OK)
            break;
        rep->sweeps++;
        if (moved == 0) {
            scale /= 2;
            continue;
        }
        if (p == NULL)
            continue;
        if ((rc = exp_grid_rmse(p, cur, steps + 1, &e, err, errlen)) == DODE_OK
            && e < rep->train_rmse) {       /* early stopping: keep the best sweep */
            rep->train_rmse = e;
            rep->best_sweep = rep->sweeps;
            memcpy(sigma, cur, (steps + 1) * sizeof *cur);
        }
    }
    if (rc == DODE_OK)
        rc = exp_klub_total(k, cur, steps, &rep->klub_end, err, errlen);
    if (rc == DODE_OK && p == NULL)
        memcpy(sigma, cur, (steps + 1) * sizeof *cur);
    if (rc == DODE_OK && last != NULL)
        memcpy(last, cur, (steps + 1) * sizeof *cur);
    free(cur);
    return rc;
}

double exp_klub_gaussian(double c, size_t dim, double a, double b)
{
    const double c2 = c * c, a2 = a * a, b2 = b * b;
    return (double)dim * (0.5 * log((c2 + b2) * a2 / ((c2 + a2) * b2))
                          + c2 * (b2 - a2) / (2 * a2 * (c2 + b2)));
}

void exp_ays_gaussian_grid(double c, double sigma_max, double sigma_min, size_t steps,
                           double *sigma)
{
    const double c2 = c * c;
    const double lq0 = log(sigma_max * sigma_max / (c2 + sigma_max * sigma_max));
    const double lq1 = log(sigma_min * sigma_min / (c2 + sigma_min * sigma_min));
    sigma[0] = sigma_max;
    for (size_t i = 1; i < steps; i++) {
        const double q = exp(lq0 + (lq1 - lq0) * (double)i / (double)steps);
        sigma[i] = c * sqrt(q / (1 - q));
    }
    sigma[steps] = sigma_min;
}

void exp_euler_gaussian_grid(double c, double sigma_max, double sigma_min, size_t steps,
                             double *sigma)
{
    const double a0 = atan(sigma_max / c), a1 = atan(sigma_min / c);
    sigma[0] = sigma_max;
    for (size_t i = 1; i < steps; i++)
        sigma[i] = c * tan(a0 + (a1 - a0) * (double)i / (double)steps);
    sigma[steps] = sigma_min;
}
