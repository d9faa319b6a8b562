/* gmm_jac.c - the Gaussian mixture's Jacobian d epsh / d xbar, its derivative in sigma at
 * fixed xbar, and its log density (MATH.md section 5), by the direct per-row formula
 * (gmm_row_direct): the implicit GSL steppers and the likelihood use them, not the
 * sampling path, so they stay apart from gmm.c's eps. */
#include <gsl/gsl_cblas.h>
#include <string.h>

#include "diffode/status.h"
#include "gmm_impl.h"

/* out = C_k^{-1} v (v, out of length d, distinct). */
static void cinv_apply(const gmm_state *st, const gmm_sig *sg, size_t k, const double *v,
                       double *out)
{
    const size_t d = st->dim;
    if (st->kind == COV_FULL) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)d, (int)d, 1.0, sg->cinv + k * d * d,
                    (int)d, v, 1, 0.0, out, 1);
        return;
    }
    for (size_t j = 0; j < d; j++)
        out[j] = v[j] * (st->kind == COV_ISO ? sg->cinv[k] : sg->cinv[k * d + j]);
}

/* J += alpha C_k^{-1}; returns tr C_k^{-1}. */
static double cinv_add(const gmm_state *st, const gmm_sig *sg, size_t k, double alpha, double *J)
{
    const size_t d = st->dim;
    double tr = 0;
    for (size_t a = 0; a < d; a++) {
        if (st->kind == COV_FULL)
            for (size_t b = 0; b < d; b++)
                J[a * d + b] += alpha * sg->cinv[k * d * d + a * d + b];
        else
            J[a * d + a] += alpha * (st->kind == COV_ISO ? sg->cinv[k] : sg->cinv[k * d + a]);
        tr += st->kind == COV_FULL ? sg->cinv[k * d * d + a * d + a]
            : st->kind == COV_ISO ? sg->cinv[k] : sg->cinv[k * d + a];
    }
    return tr;
}

typedef struct {
    double *gamma, *g, *xc, *gb, *tr, *cg;   /* [K], [K][d], [d], [d], [K], [d] */
} jac_work;

/* d epsh/d sigma at fixed xbar (MATH.md 5 differentiated; C_k' = 2 sigma I):
 * dlogit_k = sigma (g_k.g_k - tr C_k^{-1}), dg_k = -2 sigma C_k^{-1} g_k,
 * result = gbar + sigma (sum_k gamma_k dg_k + sum_k gamma_k (dlogit_k - <dlogit>) g_k). */
static void row_deps_dsigma(const gmm_state *st, const gmm_sig *sg, jac_work *w, double *out)
{
    const size_t K = st->K, d = st->dim;
    const double s = sg->sigma;
    double mean_dl = 0;
    for (size_t k = 0; k < K; k++) {
        double gg = 0;
        for (size_t j = 0; j < d; j++)
            gg += w->g[k * d + j] * w->g[k * d + j];
        w->tr[k] = s * (gg - w->tr[k]);          /* tr[] becomes dlogit_k */
        mean_dl += w->gamma[k] * w->tr[k];
    }
    for (size_t j = 0; j < d; j++)
        out[j] = w->gb[j];
    for (size_t k = 0; k < K; k++) {
        const double *gk = w->g + k * d, dgam = w->gamma[k] * (w->tr[k] - mean_dl);
        cinv_apply(st, sg, k, gk, w->cg);
        for (size_t j = 0; j < d; j++)
            out[j] += s * (-2.0 * s * w->gamma[k] * w->cg[j] + dgam * gk[j]);
    }
}

/* J = sigma [sum_k gamma_k C_k^{-1} - sum_k gamma_k g_k g_k^T + gbar gbar^T] (MATH.md 5). */
static void row_jacobian(const gmm_state *st, const gmm_sig *sg, jac_work *w, double *J)
{
    const size_t K = st->K, d = st->dim;
    memset(J, 0, d * d * sizeof *J);
    memset(w->gb, 0, d * sizeof *w->gb);
    for (size_t k = 0; k < K; k++) {
        const double *gk = w->g + k * d;
        w->tr[k] = cinv_add(st, sg, k, w->gamma[k], J);
        cblas_dger(CblasRowMajor, (int)d, (int)d, -w->gamma[k], gk, 1, gk, 1, J, (int)d);
        for (size_t j = 0; j < d; j++)
            w->gb[j] += w->gamma[k] * gk[j];
    }
    cblas_dger(CblasRowMajor, (int)d, (int)d, 1.0, w->gb, 1, w->gb, 1, J, (int)d);
    for (size_t a = 0; a < d * d; a++)
        J[a] *= sg->sigma;
}

int gmm_jacobian(const dode_model *m, void *ws, size_t n, const double *xbar,
                        double sigma, double *jac, double *deps_dsigma)
{
    const gmm_state *st = m->state;
    const size_t K = st->K, d = st->dim;
    double *block = (double *)ws + gmm_sig_len(st);
    gmm_sig sg;
    int rc = gmm_sig_new(st, sigma, 1, ws, &sg);
    if (rc != DODE_OK)
        return rc;
    jac_work w = { .gamma = block, .tr = block + K, .g = block + 2 * K,
                   .xc = block + 2 * K + K * d, .gb = block + 2 * K + K * d + d,
                   .cg = block + 2 * K + K * d + 2 * d };
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            w.xc[j] = xbar[i * d + j] - st->mbar[j];
        gmm_row_direct(st, &sg, w.xc, w.gamma, w.g);
        row_jacobian(st, &sg, &w, jac + i * d * d);
        if (deps_dsigma != NULL)
            row_deps_dsigma(st, &sg, &w, deps_dsigma + i * d);
    }
    return DODE_OK;
}

int gmm_log_density(const dode_model *m, void *ws, size_t n, const double *xbar,
                           double sigma, double *logp)
{
    const gmm_state *st = m->state;
    const size_t K = st->K, d = st->dim;
    double *block = (double *)ws + gmm_sig_len(st);
    gmm_sig sg;
    int rc = gmm_sig_new(st, sigma, 0, ws, &sg);
    if (rc != DODE_OK)
        return rc;
    double *gamma = block, *g = block + K, *xc = g + K * d;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            xc[j] = xbar[i * d + j] - st->mbar[j];
        logp[i] = gmm_row_direct(st, &sg, xc, gamma, g);
    }
    return DODE_OK;
}
