/* metrics.c - errors, observed orders and sample-set distances for the sweeps (metrics.h).
 *
 * Everything here is plain arithmetic on caller-owned batches; the one allocation per call
 * (Frechet's eigen workspace, SW2's projections) is freed before returning. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/status.h"
#include "metrics.h"

static int check_len(size_t len, const char *what, char *err, size_t errlen)
{
    if (len == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "%s: no values to compare (length 0)", what);
    return DODE_OK;
}

int exp_metric_rmse(const double *x, const double *ref, size_t len, double *rmse,
                     char *err, size_t errlen)
{
    int rc = check_len(len, "rmse", err, errlen);
    if (rc != DODE_OK)
        return rc;
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += (x[i] - ref[i]) * (x[i] - ref[i]);
    *rmse = sqrt(s / (double)len);
    return DODE_OK;
}

int exp_metric_max_abs(const double *x, const double *ref, size_t len, double *max_abs,
                        char *err, size_t errlen)
{
    int rc = check_len(len, "max error", err, errlen);
    if (rc != DODE_OK)
        return rc;
    double m = 0;
    for (size_t i = 0; i < len; i++) {
        const double d = fabs(x[i] - ref[i]);
        if (d > m || isnan(d))          /* a NaN anywhere makes the maximum NaN */
            m = d;
    }
    *max_abs = m;
    return DODE_OK;
}

int exp_metric_trajectory_rmse(const double *traj, const double *ref, size_t npoints,
                                size_t len, double *out, char *err, size_t errlen)
{
    size_t total;
    if (npoints == 0 || len == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "trajectory error: need at least one point "
                         "of at least one value, got %zu points of %zu", npoints, len);
    if (dode_mul_size(npoints, len, &total) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOMEM, "trajectory error: %zu points of %zu "
                         "values overflow size_t", npoints, len);
    for (size_t p = 0; p < npoints; p++)
        exp_metric_rmse(traj + p * len, ref + p * len, len, &out[p], NULL, 0);
    return DODE_OK;
}

/* Least-squares slope of y on x over the flagged points (x, y already logs). */
static double ls_slope(const double *x, const double *y, const unsigned char *use, size_t n,
                       size_t count)
{
    double xm = 0, ym = 0, sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++)
        if (use[i]) {
            xm += x[i];
            ym += y[i];
        }
    xm /= (double)count;
    ym /= (double)count;
    for (size_t i = 0; i < n; i++)
        if (use[i]) {
            sxy += (x[i] - xm) * (y[i] - ym);
            sxx += (x[i] - xm) * (x[i] - xm);
        }
    return sxx > 0 ? sxy / sxx : NAN;
}

static int check_nfe(const double *nfe, size_t n, const char *what, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (!(nfe[i] > 0) || !isfinite(nfe[i]))
            return dode_fail(err, errlen, DODE_EINVAL, "%s: NFE %zu is %g, expected a "
                             "positive number", what, i, nfe[i]);
    return DODE_OK;
}

int exp_metric_observed_order(const double *nfe, const double *errors, size_t n,
                               double nfe_min, double floor, double *order, size_t *used,
                               char *err, size_t errlen)
{
    int rc = check_nfe(nfe, n, "observed order", err, errlen);
    if (rc != DODE_OK)
        return rc;
    double *lx = malloc(2 * (n ? n : 1) * sizeof *lx);
    unsigned char *use = malloc(n ? n : 1);
    if (lx == NULL || use == NULL) {
        free(lx);
        free(use);
        return dode_fail(err, errlen, DODE_ENOMEM, "observed order: out of memory for %zu "
                         "points", n);
    }
    double *ly = lx + n;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        use[i] = nfe[i] >= nfe_min && errors[i] > floor && isfinite(errors[i]);
        lx[i] = log(nfe[i]);
        ly[i] = use[i] ? log(errors[i]) : 0;
        count += use[i];
    }
    const double slope = count >= 2 ? ls_slope(lx, ly, use, n, count) : NAN;
    free(lx);
    free(use);
    if (isnan(slope))
        return dode_fail(err, errlen, DODE_EINVAL, "observed order: %zu of %zu points have "
                         "NFE >= %g and error > %g with distinct NFE, need at least 2",
                         count, n, nfe_min, floor);
    *order = -slope;
    if (used != NULL)
        *used = count;
    return DODE_OK;
}

int exp_metric_pairwise_orders(const double *nfe, const double *errors, size_t n,
                                double floor, double *out, char *err, size_t errlen)
{
    if (n < 2)
        return dode_fail(err, errlen, DODE_EINVAL, "pairwise orders: need at least 2 points, "
                         "got %zu", n);
    int rc = check_nfe(nfe, n, "pairwise orders", err, errlen);
    if (rc != DODE_OK)
        return rc;
    for (size_t i = 0; i + 1 < n; i++)
        if (!(nfe[i + 1] > nfe[i]))
            return dode_fail(err, errlen, DODE_EINVAL, "pairwise orders: NFE must increase, "
                             "got %g then %g at point %zu", nfe[i], nfe[i + 1], i + 1);
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = errors[i] > floor && errors[i + 1] > floor
                     ? log(errors[i] / errors[i + 1]) / log(nfe[i + 1] / nfe[i]) : NAN;
    return DODE_OK;
}

int exp_metric_moments(const double *x, size_t n, size_t dim, double *mean, double *cov,
                        char *err, size_t errlen)
{
    size_t total;
    if (n < 2 || dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "moments: need at least 2 samples of "
                         "dimension >= 1, got %zu of %zu", n, dim);
    if (dode_mul_size(n, dim, &total) != DODE_OK || dode_mul_size(dim, dim, &total) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOMEM, "moments: %zu x %zu overflows size_t",
                         n, dim);
    for (size_t j = 0; j < dim; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * dim + j];
        mean[j] = s / (double)n;
    }
    for (size_t j = 0; j < dim; j++)   /* two-pass: centred products, no cancellation */
        for (size_t k = 0; k <= j; k++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (x[i * dim + j] - mean[j]) * (x[i * dim + k] - mean[k]);
            cov[j * dim + k] = cov[k * dim + j] = s / (double)(n - 1);
        }
    return DODE_OK;
}

/* Workspace of one Frechet evaluation: one block of matrices, freed together. */
typedef struct {
    gsl_matrix *a, *v, *r, *t, *m;
    gsl_vector *e;
    gsl_eigen_symmv_workspace *w;
} fd_work;

static void fd_work_free(fd_work *w)
{
    gsl_matrix_free(w->a);
    gsl_matrix_free(w->v);
    gsl_matrix_free(w->r);
    gsl_matrix_free(w->t);
    gsl_matrix_free(w->m);
    gsl_vector_free(w->e);
    gsl_eigen_symmv_free(w->w);
}

static int fd_work_alloc(fd_work *w, size_t dim)
{
    w->a = gsl_matrix_alloc(dim, dim);
    w->v = gsl_matrix_alloc(dim, dim);
    w->r = gsl_matrix_alloc(dim, dim);
    w->t = gsl_matrix_alloc(dim, dim);
    w->m = gsl_matrix_alloc(dim, dim);
    w->e = gsl_vector_alloc(dim);
    w->w = gsl_eigen_symmv_alloc(dim);
    return w->a && w->v && w->r && w->t && w->m && w->e && w->w ? DODE_OK : DODE_ENOMEM;
}

/* Eigendecomposition of the symmetric s ([dim][dim]) into w->e, w->v (w->a is clobbered). */
static int fd_eigen(fd_work *w, const double *s, size_t dim)
{
    gsl_matrix_const_view sv = gsl_matrix_const_view_array(s, dim, dim);
    gsl_matrix_memcpy(w->a, &sv.matrix);
    return gsl_eigen_symmv(w->a, w->e, w->v, w->w);
}

/* w->r = V diag(sqrt(max(e, 0))) V^T, the PSD square root from the last fd_eigen. */
static void fd_sqrt_from_eigen(fd_work *w, size_t dim)
{
    for (size_t k = 0; k < dim; k++) {
        const double root = sqrt(fmax(gsl_vector_get(w->e, k), 0.0));
        for (size_t i = 0; i < dim; i++)
            gsl_matrix_set(w->t, i, k, gsl_matrix_get(w->v, i, k) * root);
    }
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, w->t, w->v, 0.0, w->r);
}

/* tr((S1^{1/2} S2 S1^{1/2})^{1/2}) = sum_k sqrt(eig_k) of the symmetric PSD product. */
static int fd_trace_root(fd_work *w, const double *s1, const double *s2, size_t dim,
                         double *out)
{
    if (fd_eigen(w, s1, dim) != GSL_SUCCESS)
        return DODE_ESOLVER;
    fd_sqrt_from_eigen(w, dim);                             /* r = S1^{1/2} */
    gsl_matrix_const_view s2v = gsl_matrix_const_view_array(s2, dim, dim);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, w->r, &s2v.matrix, 0.0, w->t);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, w->t, w->r, 0.0, w->m);
    for (size_t i = 0; i < dim; i++)                        /* symmetrise rounding */
        for (size_t j = 0; j < i; j++) {
            const double s = 0.5 * (gsl_matrix_get(w->m, i, j) + gsl_matrix_get(w->m, j, i));
            gsl_matrix_set(w->m, i, j, s);
            gsl_matrix_set(w->m, j, i, s);
        }
    if (fd_eigen(w, w->m->data, dim) != GSL_SUCCESS)
        return DODE_ESOLVER;
    double tr = 0;
    for (size_t k = 0; k < dim; k++)
        tr += sqrt(fmax(gsl_vector_get(w->e, k), 0.0));
    *out = tr;
    return DODE_OK;
}

static int check_covariance(const double *s, size_t dim, const char *which, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < dim; i++) {
        if (!(s[i * dim + i] >= 0))
            return dode_fail(err, errlen, DODE_EINVAL, "Frechet distance: covariance %s has "
                             "diagonal entry %zu = %g, expected >= 0", which, i, s[i * dim + i]);
        for (size_t j = 0; j < i; j++) {
            const double a = s[i * dim + j], b = s[j * dim + i];
            if (!isfinite(a) || fabs(a - b) > 1e-9 * (fabs(a) + fabs(b)) + 1e-300)
                return dode_fail(err, errlen, DODE_EINVAL, "Frechet distance: covariance %s "
                                 "is not symmetric and finite at (%zu, %zu): %g vs %g",
                                 which, i, j, a, b);
        }
    }
    return DODE_OK;
}

int exp_metric_frechet_moments(size_t dim, const double *m1, const double *s1,
                                const double *m2, const double *s2, double *fd,
                                char *err, size_t errlen)
{
    if (dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "Frechet distance: dimension is 0");
    int rc = check_covariance(s1, dim, "1", err, errlen);
    if (rc == DODE_OK)
        rc = check_covariance(s2, dim, "2", err, errlen);
    if (rc != DODE_OK)
        return rc;
    fd_work w = { 0 };
    double tr_root = 0;
    rc = fd_work_alloc(&w, dim);
    if (rc == DODE_OK)
        rc = fd_trace_root(&w, s1, s2, dim, &tr_root);
    fd_work_free(&w);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "Frechet distance: %s in dimension %zu",
                         rc == DODE_ENOMEM ? "out of memory" : "eigendecomposition failed",
                         dim);
    double d2 = 0, tr = 0;
    for (size_t j = 0; j < dim; j++) {
        d2 += (m1[j] - m2[j]) * (m1[j] - m2[j]);
        tr += s1[j * dim + j] + s2[j * dim + j];
    }
    *fd = d2 + tr - 2.0 * tr_root;
    return DODE_OK;
}

int exp_metric_frechet(const double *x, size_t nx, const double *y, size_t ny, size_t dim,
                        double *fd, char *err, size_t errlen)
{
    size_t dd;
    if (nx < 2 || ny < 2 || dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "Frechet distance: need >= 2 samples of "
                         "dimension >= 1 in each set, got %zu and %zu of %zu", nx, ny, dim);
    if (dode_mul_size(dim, dim + 2, &dd) != DODE_OK || dode_mul_size(dd, 2, &dd) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOMEM, "Frechet distance: dimension %zu too "
                         "large", dim);
    double *buf = malloc(dd * sizeof *buf);
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "Frechet distance: out of memory for "
                         "dimension %zu", dim);
    double *m1 = buf, *m2 = buf + dim, *s1 = buf + 2 * dim, *s2 = s1 + dim * dim;
    int rc = exp_metric_moments(x, nx, dim, m1, s1, err, errlen);
    if (rc == DODE_OK)
        rc = exp_metric_moments(y, ny, dim, m2, s2, err, errlen);
    if (rc == DODE_OK)
        rc = exp_metric_frechet_moments(dim, m1, s1, m2, s2, fd, err, errlen);
    free(buf);
    return rc;
}

int exp_metric_random_directions(gsl_rng *rng, size_t nproj, size_t dim, double *dirs,
                                  char *err, size_t errlen)
{
    size_t total;
    if (rng == NULL || nproj == 0 || dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "random directions: need a generator, "
                         "nproj >= 1 and dim >= 1, got %zu and %zu", nproj, dim);
    if (dode_mul_size(nproj, dim, &total) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOMEM, "random directions: %zu x %zu overflows",
                         nproj, dim);
    for (size_t l = 0; l < nproj; l++) {
        double *u = dirs + l * dim, norm2 = 0;
        while (!(norm2 > 1e-300)) {     /* a zero draw has no direction: draw again */
            norm2 = 0;
            for (size_t j = 0; j < dim; j++) {
                u[j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
                norm2 += u[j] * u[j];
            }
        }
        const double inv = 1.0 / sqrt(norm2);
        for (size_t j = 0; j < dim; j++)
            u[j] *= inv;
    }
    return DODE_OK;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void project(const double *x, size_t n, size_t dim, const double *u, double *out)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += x[i * dim + j] * u[j];
        out[i] = s;
    }
    qsort(out, n, sizeof *out, cmp_double);
}

int exp_metric_sliced_w2_dirs(const double *x, const double *y, size_t n, size_t dim,
                               const double *dirs, size_t nproj, double *sw2,
                               char *err, size_t errlen)
{
    size_t total;
    if (n == 0 || dim == 0 || nproj == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "sliced Wasserstein: need n, dim and "
                         "nproj >= 1, got %zu, %zu and %zu", n, dim, nproj);
    if (dode_mul_size(n, 2, &total) != DODE_OK || dode_mul_size(n, dim, &total) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOMEM, "sliced Wasserstein: %zu samples "
                         "overflow size_t", n);
    double *px = malloc(2 * n * sizeof *px);
    if (px == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "sliced Wasserstein: out of memory for "
                         "%zu samples", n);
    double *py = px + n, acc = 0;
    for (size_t l = 0; l < nproj; l++) {
        project(x, n, dim, dirs + l * dim, px);
        project(y, n, dim, dirs + l * dim, py);
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += (px[i] - py[i]) * (px[i] - py[i]);
        acc += s / (double)n;
    }
    free(px);
    *sw2 = acc / (double)nproj;
    return DODE_OK;
}

int exp_metric_sliced_w2(const double *x, const double *y, size_t n, size_t dim,
                          size_t nproj, gsl_rng *rng, double *sw2, char *err, size_t errlen)
{
    size_t total;
    if (n == 0 || dim == 0 || nproj == 0 || dode_mul_size(nproj, dim, &total) != DODE_OK)
        return dode_fail(err, errlen, DODE_EINVAL, "sliced Wasserstein: need n, dim and "
                         "nproj >= 1, got %zu, %zu and %zu", n, dim, nproj);
    double *dirs = malloc(total * sizeof *dirs);
    if (dirs == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "sliced Wasserstein: out of memory for "
                         "%zu directions", nproj);
    int rc = exp_metric_random_directions(rng, nproj, dim, dirs, err, errlen);
    if (rc == DODE_OK)
        rc = exp_metric_sliced_w2_dirs(x, y, n, dim, dirs, nproj, sw2, err, errlen);
    free(dirs);
    return rc;
}

int exp_metric_mean_nll(const dode_model *model, const double *xbar, size_t n,
                         double sigma, double *nll, char *err, size_t errlen)
{
    if (model == NULL || model->log_density == NULL)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "mean NLL: model '%s' has no log "
                         "density", model != NULL && model->name ? model->name : "(null)");
    if (n == 0 || !(sigma >= 0))
        return dode_fail(err, errlen, DODE_EINVAL, "mean NLL: need n >= 1 and sigma >= 0, "
                         "got %zu and %g", n, sigma);
    double *logp = malloc(n * sizeof *logp);
    if (logp == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "mean NLL: out of memory for %zu samples",
                         n);
    void *ws = NULL;
    int rc = dode_model_workspace_new(model, n, &ws, NULL, 0);
    if (rc == DODE_OK)
        rc = model->log_density(model, ws, n, xbar, sigma, logp);
    dode_model_workspace_free(model, ws);
    if (rc != DODE_OK) {
        free(logp);
        return dode_fail(err, errlen, rc, "mean NLL: log density of model '%s' failed at "
                         "sigma = %g (%s)", model->name, sigma, dode_strerror(rc));
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s -= logp[i];
    free(logp);
    *nll = s / (double)n;
    return DODE_OK;
}

int exp_metric_kl_diag(const double *m1, const double *v1, const double *m2,
                        const double *v2, size_t dim, double *kl, char *err, size_t errlen)
{
    if (m1 == NULL || v1 == NULL || m2 == NULL || v2 == NULL || kl == NULL || dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "Gaussian KL: need dim >= 1 and non-NULL "
                         "arrays, got dim %zu", dim);
    double s = 0;
    for (size_t j = 0; j < dim; j++) {
        if (!(v1[j] > 0 && v2[j] > 0 && isfinite(v1[j]) && isfinite(v2[j])))
            return dode_fail(err, errlen, DODE_EINVAL, "Gaussian KL: variances at coordinate "
                             "%zu are %g and %g, expected finite and > 0", j, v1[j], v2[j]);
        const double dm = m1[j] - m2[j], r = v1[j] / v2[j];
        s += r + dm * dm / v2[j] - 1.0 - log(r);
    }
    *kl = 0.5 * s;
    return DODE_OK;
}

int exp_metric_mode_tv(const double *gamma, size_t n, size_t K, const double *w,
                        double *tv, char *err, size_t errlen)
{
    if (gamma == NULL || w == NULL || tv == NULL || n == 0 || K == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "mode mass: need n >= 1 samples, K >= 1 "
                         "components and non-NULL arrays, got n %zu, K %zu", n, K);
    size_t *count = calloc(K, sizeof *count);
    if (count == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "mode mass: out of memory for %zu "
                         "components", K);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (gamma[i * K + k] > gamma[i * K + best])
                best = k;
        count[best]++;
    }
    double s = 0;               /* counts, not summed 1/n: exact proportions give 0 exactly */
    for (size_t k = 0; k < K; k++)
        s += fabs((double)count[k] / (double)n - w[k]);
    free(count);
    *tv = 0.5 * s;
    return DODE_OK;
}

static double dist(const double *a, const double *b, size_t dim)
{
    double s = 0;
    for (size_t j = 0; j < dim; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return sqrt(s);
}

/* Sum of |a_i - a_i'| over the pairs i < i' of one set. */
static double self_sum(const double *a, size_t n, size_t dim)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            s += dist(a + i * dim, a + k * dim, dim);
    return s;
}

int exp_metric_energy(const double *x, size_t nx, const double *y, size_t ny, size_t dim,
                       int unbiased, double *energy, char *err, size_t errlen)
{
    if (x == NULL || y == NULL || energy == NULL || nx < 2 || ny < 2 || dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "energy distance: need >= 2 samples of "
                         "dimension >= 1 in each set and non-NULL arrays, got %zu and %zu "
                         "of %zu", nx, ny, dim);
    double cross = 0;
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            cross += dist(x + i * dim, y + j * dim, dim);
    /* a self sum over i < i' counts each distinct pair once: 2 s of the n^2 ordered pairs */
    const double fx = (double)nx, fy = (double)ny;
    const double px = unbiased ? fx * (fx - 1) : fx * fx, py = unbiased ? fy * (fy - 1) : fy * fy;
    *energy = 2.0 * cross / (fx * fy) - 2.0 * self_sum(x, nx, dim) / px
              - 2.0 * self_sum(y, ny, dim) / py;
    return DODE_OK;
}

int exp_metric_t_interval(const double *v, size_t n, double *mean, double *lo, double *hi,
                           size_t *count, char *err, size_t errlen)
{
    size_t m = 0;
    double s = 0, ss = 0;
    for (size_t i = 0; v != NULL && i < n; i++)
        if (!isnan(v[i])) {
            s += v[i];
            m++;
        }
    if (m < 2 || mean == NULL || lo == NULL || hi == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "t-interval: need at least 2 values that "
                         "are not NaN, got %zu of %zu", m, n);
    const double mu = s / (double)m;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            ss += (v[i] - mu) * (v[i] - mu);
    /* Student t: the seeds are m independent runs; t_{0.975, m-1} s / sqrt(m) */
    const double half = gsl_cdf_tdist_Pinv(0.975, (double)(m - 1)) * sqrt(ss / (double)(m - 1))
                        / sqrt((double)m);
    *mean = mu;
    *lo = mu - half;
    *hi = mu + half;
    if (count != NULL)
        *count = m;
    return DODE_OK;
}
