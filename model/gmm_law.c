/* gmm_law.c - the mixture's data law for distribution metrics (datalaw.h): its weights,
 * the posterior responsibilities p(k | xbar) at a noise level, and exact draws from
 * xbar | sigma ~ sum_k w_k N(mu_k, S_k + sigma^2 I) (MATH.md section 5).
 *
 * Both use the model's own per-sigma arrays (gmm_sig: log w_k - log det C_k / 2 and, for
 * full covariances, the Cholesky factors of C_k), cut from the caller's workspace, so
 * they agree with log_density and eps to rounding and allocate nothing. */
#include <math.h>
#include <string.h>

#include "diffode/datalaw.h"
#include "diffode/status.h"
#include "gmm_impl.h"

size_t dode_gmm_components(const dode_model *m)
{
    return m != NULL && gmm_is(m) ? ((const gmm_state *)m->state)->K : 0;
}

static int check_mixture(const dode_model *m, const char *what, char *err, size_t errlen)
{
    if (m == NULL || !gmm_is(m))
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "%s: model '%s' is not a Gaussian "
                         "mixture", what, m && m->name ? m->name : "(null)");
    return DODE_OK;
}

int dode_gmm_weights(const dode_model *m, double *w, char *err, size_t errlen)
{
    int rc = check_mixture(m, "mixture weights", err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (w == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "mixture weights: output is NULL");
    const gmm_state *st = m->state;
    for (size_t k = 0; k < st->K; k++)
        w[k] = exp(st->logw[k]);
    return DODE_OK;
}

/* The checks both batch functions share, then the per-sigma arrays in ws. */
static int law_begin(const dode_model *m, void *ws, size_t n, const void *in, const void *out,
                     double sigma, const char *what, gmm_sig *sg, char *err, size_t errlen)
{
    int rc = check_mixture(m, what, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (ws == NULL || n == 0 || in == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "%s: need a workspace, n >= 1 rows and "
                         "arrays, got n = %zu%s", what, n, ws && in && out ? "" : " and NULL");
    if (!(sigma >= 0 && isfinite(sigma)))
        return dode_fail(err, errlen, DODE_EINVAL, "%s: sigma must be finite and >= 0, got "
                         "%g", what, sigma);
    if ((rc = gmm_sig_new(m->state, sigma, 0, ws, sg)) != DODE_OK)
        return dode_fail(err, errlen, rc, "%s: cannot factor the components at sigma = %g",
                         what, sigma);
    return DODE_OK;
}

int dode_gmm_responsibilities(const dode_model *m, void *ws, size_t n, const double *xbar,
                              double sigma, double *gamma, char *err, size_t errlen)
{
    gmm_sig sg;
    int rc = law_begin(m, ws, n, xbar, gamma, sigma, "responsibilities", &sg, err, errlen);
    if (rc != DODE_OK)
        return rc;
    const gmm_state *st = m->state;
    const size_t K = st->K, d = st->dim;
    double *l = (double *)ws + gmm_sig_len(st), *g = l + K, *xc = g + K * d;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            xc[j] = xbar[i * d + j] - st->mbar[j];
        gmm_row_direct(st, &sg, xc, l, g);
        memcpy(gamma + i * K, l, K * sizeof *gamma);
    }
    return DODE_OK;
}

/* The component of uniform u: the first k with u < w_0 + ... + w_k (the last one when
 * rounding leaves the total just below u). */
static size_t pick(const gmm_state *st, double u)
{
    double c = 0;
    for (size_t k = 0; k + 1 < st->K; k++)
        if (u < (c += exp(st->logw[k])))
            return k;
    return st->K - 1;
}

int dode_gmm_draw(const dode_model *m, void *ws, size_t n, double sigma, const double *u,
                  const double *z, double *xbar, char *err, size_t errlen)
{
    gmm_sig sg;
    int rc = law_begin(m, ws, n, u && z ? u : NULL, xbar, sigma, "mixture draw", &sg, err,
                       errlen);
    if (rc != DODE_OK)
        return rc;
    const gmm_state *st = m->state;
    const size_t d = st->dim;
    for (size_t i = 0; i < n; i++) {
        const size_t k = pick(st, u[i]);
        const double *zi = z + i * d;
        double *x = xbar + i * d;
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            if (st->kind == COV_FULL) {          /* row j of L_k (lower triangle) times z */
                const double *L = sg.chol + k * d * d + j * d;
                for (size_t q = 0; q <= j; q++)
                    s += L[q] * zi[q];
            } else {
                const double c = st->kind == COV_ISO ? st->cov[k] : st->cov[k * d + j];
                s = sqrt(c + sigma * sigma) * zi[j];
            }
            x[j] = st->mbar[j] + st->mu[k * d + j] + s;
        }
    }
    return DODE_OK;
}
