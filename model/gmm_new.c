/* gmm_new.c - the Gaussian mixture's constructor: the arguments checked (weights, means,
 * covariances finite, full covariances symmetric positive definite), the state filled in
 * (normalised log-weights, means centred on their weighted mean), and the callbacks of
 * gmm.c (eps) and gmm_jac.c (Jacobian, log density) set. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/model.h"
#include "diffode/status.h"
#include "gmm_impl.h"
#include "gsl_quiet.h"

void gmm_free(dode_model *m)
{
    if (m == NULL)
        return;
    gmm_state *st = m->state;
    free(st->logw);
    free(st->labels);
    free(st->raw);
    free(m);
}

/* Checks full covariances: finite, symmetric (to 1e-12 relative) and positive definite. */
static int check_full(size_t K, size_t d, const double *S, char *err, size_t errlen)
{
    double *L = malloc(d * d * sizeof *L);
    if (L == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "gmm model: out of memory (dim %zu)", d);
    int rc = DODE_OK;
    for (size_t k = 0; k < K && rc == DODE_OK; k++) {
        const double *Sk = S + k * d * d;
        for (size_t a = 0; a < d * d && rc == DODE_OK; a++) {
            const size_t i = a / d, j = a % d, at = j * d + i;
            if (!isfinite(Sk[a]))
                rc = dode_fail(err, errlen, DODE_EINVAL, "gmm model: covariance %zu entry "
                               "(%zu, %zu) = %g is not finite", k, i, j, Sk[a]);
            else if (fabs(Sk[a] - Sk[at]) > 1e-12 * fmax(fabs(Sk[a]), fabs(Sk[at])))
                rc = dode_fail(err, errlen, DODE_EINVAL, "gmm model: covariance %zu is not "
                               "symmetric at (%zu, %zu): %g vs %g", k, i, j, Sk[a], Sk[at]);
        }
        if (rc != DODE_OK)
            break;
        memcpy(L, Sk, d * d * sizeof *L);
        gsl_matrix_view v = gsl_matrix_view_array(L, d, d);
        if (gsl_linalg_cholesky_decomp1(&v.matrix) != GSL_SUCCESS)
            rc = dode_fail(err, errlen, DODE_EINVAL, "gmm model: covariance %zu is not "
                           "positive definite (Cholesky factorisation failed)", k);
    }
    free(L);
    return rc;
}

/* Sizes, kind and values of dode_gmm_new's arguments; *ncov gets the covs length. */
static int check_args(size_t K, size_t dim, const double *weights, const double *means,
                      int kind, const double *covs, size_t *ncov, char *err, size_t errlen)
{
    size_t kd, kdd;
    if (K == 0 || K > 1000000 || dim == 0 || dim > 100000)
        return dode_fail(err, errlen, DODE_EINVAL, "gmm model: need 1 <= K <= 10^6 components "
                         "and 1 <= dim <= 10^5, got K = %zu, dim = %zu", K, dim);
    if (dode_mul_size(K, dim, &kd) != DODE_OK
        || (kind == COV_FULL && dode_mul_size(kd, dim, &kdd) != DODE_OK)
        || kd > ((size_t)1 << 31) / 8)
        return dode_fail(err, errlen, DODE_ENOMEM, "gmm model: K = %zu by dim = %zu is too "
                         "large", K, dim);
    if (weights == NULL || means == NULL || covs == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "gmm model: weights, means and covs are required");
    for (size_t k = 0; k < K; k++)
        if (!(weights[k] > 0 && isfinite(weights[k])))
            return dode_fail(err, errlen, DODE_EINVAL, "gmm model: weight %zu = %g must be "
                             "finite and > 0", k, weights[k]);
    for (size_t a = 0; a < kd; a++)
        if (!isfinite(means[a]))
            return dode_fail(err, errlen, DODE_EINVAL, "gmm model: mean %zu entry %zu = %g is "
                             "not finite", a / dim, a % dim, means[a]);
    *ncov = kind == COV_ISO ? K : kind == COV_DIAG ? kd : kdd;
    if (kind == COV_FULL)
        return check_full(K, dim, covs, err, errlen);
    for (size_t a = 0; a < *ncov; a++)
        if (!(covs[a] > 0 && isfinite(covs[a])))
            return dode_fail(err, errlen, DODE_EINVAL, "gmm model: std %zu = %g must be finite "
                             "and > 0", a, covs[a]);
    return DODE_OK;
}

/* Normalised log-weights, the centre mbar, centred means and their squared norms. */
static void fill_state(gmm_state *st, const double *weights, const double *means,
                       const double *covs, size_t ncov)
{
    const size_t K = st->K, d = st->dim;
    double wsum = 0;
    for (size_t k = 0; k < K; k++)
        wsum += weights[k];
    memset(st->mbar, 0, d * sizeof *st->mbar);
    for (size_t k = 0; k < K; k++) {
        st->logw[k] = log(weights[k] / wsum);
        for (size_t j = 0; j < d; j++)
            st->mbar[j] += weights[k] / wsum * means[k * d + j];
    }
    for (size_t k = 0; k < K; k++) {
        st->mm[k] = 0;
        for (size_t j = 0; j < d; j++) {
            st->mu[k * d + j] = means[k * d + j] - st->mbar[j];
            st->mm[k] += st->mu[k * d + j] * st->mu[k * d + j];
        }
    }
    for (size_t a = 0; a < ncov; a++)   /* stds are stored squared; full S_k as given */
        st->cov[a] = st->kind == COV_FULL ? covs[a] : covs[a] * covs[a];
}

dode_model *dode_gmm_new(size_t K, size_t dim, const double *weights,
                         const double *means /* [K][dim] */, const char *cov_kind,
                         const double *covs, char *err, size_t errlen)
{
    static const char *const kinds[] = { "isotropic", "diagonal", "full" };
    int kind = -1;
    size_t ncov = 0;
    dode_gsl_quiet();    /* check_full's Cholesky must fail with a message, not abort */
    for (int i = 0; i < 3 && cov_kind != NULL; i++)
        if (strcmp(cov_kind, kinds[i]) == 0)
            kind = i;
    if (kind < 0) {
        dode_fail(err, errlen, DODE_ENOTFOUND, "gmm model: unknown cov_kind \"%s\" (expected "
                  "isotropic, diagonal or full)", cov_kind != NULL ? cov_kind : "(null)");
        return NULL;
    }
    if (check_args(K, dim, weights, means, kind, covs, &ncov, err, errlen) != DODE_OK)
        return NULL;
    dode_model *m = malloc(sizeof *m + sizeof(gmm_state));
    double *block = malloc((2 * K + dim + K * dim + ncov) * sizeof *block);
    if (m == NULL || block == NULL) {
        free(m);
        free(block);
        dode_fail(err, errlen, DODE_ENOMEM, "gmm model: out of memory (K = %zu, dim = %zu)", K, dim);
        return NULL;
    }
    gmm_state *st = (gmm_state *)(m + 1);
    *st = (gmm_state){ .K = K, .dim = dim, .kind = kind, .logw = block, .mm = block + K,
                       .mbar = block + 2 * K, .mu = block + 2 * K + dim,
                       .cov = block + 2 * K + dim + K * dim };
    fill_state(st, weights, means, covs, ncov);
    *m = (dode_model){ .name = "gmm", .dim = dim, .prediction = DODE_PRED_EPS,
                       .eps = gmm_eps, .eps_xbar = gmm_small_path(st) ? gmm_eps_xbar : NULL,
                       .jacobian = gmm_jacobian,
                       .log_density = gmm_log_density, .exact_flow = NULL,
                       .workspace_new = gmm_workspace_new,
                       .workspace_free = gmm_workspace_free, .free = gmm_free, .state = st };
    return m;
}

int gmm_is(const dode_model *m)
{
    return m != NULL && m->free == gmm_free;
}
