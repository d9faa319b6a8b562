/* wrap.c - turns an x0-, v- or score-predicting model into an eps-predicting one
 * (MATH.md section 2), with a = 1/sqrt(1+sigma^2), s = sigma a:
 *   x0:    eps = (x - a x0h) / s
 *   v:     eps = s x + a v
 *   score: eps = -s score
 * The optional callbacks (jacobian, log_density, exact_flow) are already in the ODE's
 * variables, the same for every parameterisation, so they are passed through; so is the
 * workspace, which is the inner model's (the wrapper needs none of its own).
 * sigma = 0: an x0 prediction there carries no information on eps (x = x0h), so eps()
 * returns DODE_EINVAL with out unchanged; a solver never evaluates there (a step to
 * sigma = 0 uses the x0 prediction at its start, MATH.md section 6). v and score are
 * fine at sigma = 0 (eps = v, resp. 0). */
#include <math.h>
#include <stdlib.h>

#include "diffode/model.h"
#include "diffode/status.h"

static const dode_model *inner_of(const dode_model *m)
{
    return m->state;
}

static int wrap_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                    double sigma, double *out)
{
    const dode_model *in = inner_of(m);
    if (!(sigma >= 0 && isfinite(sigma)) || (in->prediction == DODE_PRED_X0 && sigma == 0))
        return DODE_EINVAL;
    int rc = in->eps(in, ws, n, x, t, sigma, out);
    if (rc != DODE_OK)
        return rc;
    const double a = 1.0 / sqrt(1.0 + sigma * sigma), s = sigma * a;
    for (size_t i = 0; i < n * m->dim; i++) {
        switch (in->prediction) {
        case DODE_PRED_X0:    out[i] = (x[i] - a * out[i]) / s; break;
        case DODE_PRED_V:     out[i] = s * x[i] + a * out[i]; break;
        case DODE_PRED_SCORE: out[i] = -s * out[i]; break;
        case DODE_PRED_EPS:   break;
        }
    }
    return DODE_OK;
}

static int wrap_jacobian(const dode_model *m, void *ws, size_t n, const double *xbar,
                         double sigma, double *jac, double *deps_dsigma)
{
    return inner_of(m)->jacobian(inner_of(m), ws, n, xbar, sigma, jac, deps_dsigma);
}

static int wrap_log_density(const dode_model *m, void *ws, size_t n, const double *xbar,
                            double sigma, double *logp)
{
    return inner_of(m)->log_density(inner_of(m), ws, n, xbar, sigma, logp);
}

static int wrap_exact_flow(const dode_model *m, size_t n, const double *xbar_from,
                           double sigma_from, double sigma_to, double *xbar_to)
{
    return inner_of(m)->exact_flow(inner_of(m), n, xbar_from, sigma_from, sigma_to, xbar_to);
}

static void *wrap_workspace_new(const dode_model *m, size_t n)
{
    return inner_of(m)->workspace_new(inner_of(m), n);
}

static void wrap_free(dode_model *m)
{
    dode_model_free(m->state);
    free(m);
}

/* An inner model that already predicts eps is returned as is (no wrapper). */
dode_model *dode_model_as_eps(dode_model *inner, char *err, size_t errlen)
{
    if (inner == NULL || inner->eps == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "eps wrapper: the inner model (or its eps) is NULL");
        dode_model_free(inner);
        return NULL;
    }
    if ((unsigned)inner->prediction > DODE_PRED_SCORE) {
        dode_fail(err, errlen, DODE_EINVAL, "eps wrapper: model %s has unknown prediction "
                  "kind %d", inner->name, (int)inner->prediction);
        dode_model_free(inner);
        return NULL;
    }
    if (inner->prediction == DODE_PRED_EPS)
        return inner;
    dode_model *m = malloc(sizeof *m);
    if (m == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "eps wrapper: out of memory wrapping %s", inner->name);
        dode_model_free(inner);
        return NULL;
    }
    *m = (dode_model){ .name = inner->name, .dim = inner->dim, .prediction = DODE_PRED_EPS,
                       .eps = wrap_eps,
                       .jacobian = inner->jacobian != NULL ? wrap_jacobian : NULL,
                       .log_density = inner->log_density != NULL ? wrap_log_density : NULL,
                       .exact_flow = inner->exact_flow != NULL ? wrap_exact_flow : NULL,
                       .workspace_new = inner->workspace_new != NULL ? wrap_workspace_new : NULL,
                       .workspace_free = inner->workspace_free, .free = wrap_free, .state = inner };
    return m;
}
