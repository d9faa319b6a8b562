/* gmm_class.c - class labels on a Gaussian mixture (guided sampling, docs/guidance.md):
 * the exact class-conditional mixtures and the exact classifier log p(c | xbar), built on
 * gmm.c's state and logits (gmm_impl.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/model.h"
#include "diffode/status.h"
#include "gmm_impl.h"

/* Component k belongs to class labels[k]. The class-c mixture is the components of c with
 * their weights renormalised, p(x | c) = sum_{k in c} w_k N / W_c with W_c = sum_{k in c} w_k
 * = p(c), so p(c | xbar) = sum_{k in c} gamma_k: both are exact at every sigma. */

dode_model *dode_gmm_new_labeled(size_t K, size_t dim, const double *weights,
                                 const double *means, const char *cov_kind, const double *covs,
                                 const int *labels, char *err, size_t errlen)
{
    dode_model *m = dode_gmm_new(K, dim, weights, means, cov_kind, covs, err, errlen);
    if (m == NULL || labels == NULL)
        return m;
    gmm_state *st = m->state;
    int top = -1;
    for (size_t k = 0; k < K; k++) {
        if (labels[k] < 0 || labels[k] >= DODE_GMM_MAX_CLASSES) {
            dode_fail(err, errlen, DODE_EINVAL, "gmm model: class label %zu = %d must be in "
                      "[0, %d)", k, labels[k], DODE_GMM_MAX_CLASSES);
            dode_model_free(m);
            return NULL;
        }
        top = labels[k] > top ? labels[k] : top;
    }
    const size_t ncov = st->kind == COV_ISO ? K : st->kind == COV_DIAG ? K * dim : K * dim * dim;
    st->labels = malloc(K * sizeof *st->labels);
    st->raw = malloc((K + K * dim + ncov) * sizeof *st->raw);
    if (st->labels == NULL || st->raw == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "gmm model: out of memory for the class labels "
                  "(K = %zu, dim = %zu)", K, dim);
        dode_model_free(m);
        return NULL;
    }
    memcpy(st->labels, labels, K * sizeof *labels);
    memcpy(st->raw, weights, K * sizeof *weights);
    memcpy(st->raw + K, means, K * dim * sizeof *means);
    memcpy(st->raw + K + K * dim, covs, ncov * sizeof *covs);
    st->ncov = ncov;
    st->nclass = (size_t)top + 1;
    return m;
}

size_t dode_gmm_classes(const dode_model *m)
{
    return gmm_is(m) ? ((const gmm_state *)m->state)->nclass : 0;
}

/* The model's labels and class c checked: a labelled mixture, c in range, c not empty. */
static int check_class(const dode_model *m, int c, char *err, size_t errlen)
{
    if (!gmm_is(m))
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "class %d: model %s is not a "
                         "Gaussian mixture; only a gmm with \"classes\" has exact class "
                         "conditionals", c, m != NULL ? m->name : "(null)");
    const gmm_state *st = m->state;
    if (st->labels == NULL)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "class %d: the mixture has no class "
                         "labels (add \"classes\": [one int per component] to its JSON)", c);
    size_t count = 0;
    for (size_t k = 0; k < st->K && c >= 0; k++)
        count += st->labels[k] == c;
    if (count == 0)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "class %d: unknown class; the mixture's "
                         "labels are 0..%zu and class %d has no component", c,
                         st->nclass - 1, c);
    return DODE_OK;
}

dode_model *dode_gmm_class_new(const dode_model *m, int c, char *err, size_t errlen)
{
    if (check_class(m, c, err, errlen) != DODE_OK)
        return NULL;
    const gmm_state *st = m->state;
    static const char *const kinds[] = { "isotropic", "diagonal", "full" };
    const size_t K = st->K, d = st->dim, per = st->ncov / K;   /* cov entries a component */
    double *w = malloc((K + K * d + st->ncov) * sizeof *w);
    if (w == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "class %d: out of memory (K = %zu, dim = %zu)",
                  c, K, d);
        return NULL;
    }
    double *mu = w + K, *cv = mu + K * d;
    size_t n = 0;
    for (size_t k = 0; k < K; k++)
        if (st->labels[k] == c) {
            w[n] = st->raw[k];
            memcpy(mu + n * d, st->raw + K + k * d, d * sizeof *mu);
            memcpy(cv + n * per, st->raw + K + K * d + k * per, per * sizeof *cv);
            n++;
        }
    dode_model *sub = dode_gmm_new(n, d, w, mu, kinds[st->kind], cv, err, errlen);
    free(w);
    return sub;
}

/* One row: log p(c | xbar) = lse_{k in c} l_k - lse_k l_k, and its gradient
 * sum_k gamma_k g_k - sum_{k in c} gamma^c_k g_k (grad l_k = -g_k; gamma^c the
 * responsibilities within c), both from the logits so that no probability underflows. */
static double row_class(const gmm_state *st, const gmm_sig *sg, int c, const double *xc,
                        double *l, double *g, double *grad)
{
    const size_t K = st->K, d = st->dim;
    double mx = -INFINITY, mxc = -INFINITY, sum = 0, sumc = 0;
    gmm_row_logits(st, sg, xc, l, g);
    for (size_t k = 0; k < K; k++) {
        mx = fmax(mx, l[k]);
        if (st->labels[k] == c)
            mxc = fmax(mxc, l[k]);
    }
    for (size_t k = 0; k < K; k++) {
        sum += exp(l[k] - mx);
        if (st->labels[k] == c)
            sumc += exp(l[k] - mxc);
    }
    const double lse = mx + log(sum), lsec = mxc + log(sumc);
    if (grad != NULL) {
        memset(grad, 0, d * sizeof *grad);
        for (size_t k = 0; k < K; k++) {
            const double a = exp(l[k] - lse) - (st->labels[k] == c ? exp(l[k] - lsec) : 0.0);
            for (size_t j = 0; j < d; j++)
                grad[j] += a * g[k * d + j];
        }
    }
    return lsec - lse;
}

int dode_gmm_class_log_posterior(const dode_model *m, void *ws, size_t n, const double *xbar,
                                 double sigma, int c, double *logp, double *grad,
                                 char *err, size_t errlen)
{
    int rc = check_class(m, c, err, errlen);
    if (rc != DODE_OK)
        return rc;
    const gmm_state *st = m->state;
    const size_t K = st->K, d = st->dim;
    double *block = (double *)ws + gmm_sig_len(st);
    gmm_sig sg;
    if ((rc = gmm_sig_new(st, sigma, 0, ws, &sg)) != DODE_OK)
        return dode_fail(err, errlen, rc, "class %d: cannot evaluate the classifier at sigma "
                         "= %g", c, sigma);
    double *l = block, *g = block + K, *xc = g + K * d;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            xc[j] = xbar[i * d + j] - st->mbar[j];
        const double lp = row_class(st, &sg, c, xc, l, g, grad != NULL ? grad + i * d : NULL);
        if (logp != NULL)
            logp[i] = lp;
    }
    return DODE_OK;
}
