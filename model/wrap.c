/* wrap.c - turns an x0-, v-, score- or flow-predicting model into an eps-predicting one
 * (MATH.md section 2), with a = 1/sqrt(1+sigma^2), s = sigma a (the model interface's VP
 * scaling, model.h):
 *   x0:    eps = (x - a x0h) / s
 *   v:     eps = s x + a v
 *   score: eps = -s score
 *   flow:  the inner model reads flow's x_f = xbar / (1 + sigma) = x sqrt(1+sigma^2) /
 *          (1 + sigma) and returns v = eps - x0h; x_f = (1 - tau) x0 + tau eps with
 *          tau = sigma / (1 + sigma) gives eps = x_f + (1 - tau) v, x0h = x_f - tau v
 *          (Liu et al. 2023, rectified flow; SD3's parameterisation)
 * The optional callbacks (jacobian, log_density, exact_flow) are already in the ODE's
 * variables, the same for every parameterisation, so they are passed through. The
 * workspace is the inner model's, plus for flow one [n][dim] block for x_f.
 * sigma = 0: an x0 prediction there carries no information on eps (x = x0h), so eps()
 * returns DODE_EINVAL with out unchanged; a solver never evaluates there (a step to
 * sigma = 0 uses the x0 prediction at its start, MATH.md section 6). v, score and flow are
 * fine at sigma = 0 (eps = v, 0, x + v).
 * sigma = inf (zero terminal SNR): a = 0, s = 1, x = eps, so eps() is refused and x0()
 * gives x0h = out (x0), -v (v), x - v (flow); a score there has no finite x0. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "diffode/model.h"
#include "diffode/status.h"

/* A flow wrapper's workspace: the inner model's, x_f, and the inner workspace's free
 * (workspace_free gets no model, model.h). Other wrappers use the inner one as is. */
typedef struct {
    void *inner;
    double *xf;     /* [n][dim] */
    void (*inner_free)(void *);
} flow_ws;

static const dode_model *inner_of(const dode_model *m)
{
    return m->state;
}

static int needs_own_workspace(const dode_model *in)
{
    return in->prediction == DODE_PRED_FLOW;
}

/* The inner model's prediction at x (the interface's x); a flow model gets x_f. */
static int inner_predict(const dode_model *m, void *ws, size_t n, const double *x, double t,
                         double sigma, double *out)
{
    const dode_model *in = inner_of(m);
    if (!needs_own_workspace(in))
        return in->eps(in, ws, n, x, t, sigma, out);
    flow_ws *w = ws;
    const double r = sigma == INFINITY ? 1.0 : hypot(1.0, sigma) / (1.0 + sigma);
    for (size_t i = 0; i < n * m->dim; i++)
        w->xf[i] = r * x[i];
    return in->eps(in, w->inner, n, w->xf, t, sigma, out);
}

static void *inner_ws(const dode_model *m, void *ws)
{
    return needs_own_workspace(inner_of(m)) ? ((flow_ws *)ws)->inner : ws;
}

static int wrap_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                    double sigma, double *out)
{
    const dode_model *in = inner_of(m);
    if (!(sigma >= 0 && isfinite(sigma)) || (in->prediction == DODE_PRED_X0 && sigma == 0))
        return DODE_EINVAL;
    int rc = inner_predict(m, ws, n, x, t, sigma, out);
    if (rc != DODE_OK)
        return rc;
    const double a = 1.0 / sqrt(1.0 + sigma * sigma), s = sigma * a, r = 1.0 / (1.0 + sigma);
    const double *xf = needs_own_workspace(in) ? ((flow_ws *)ws)->xf : x;
    for (size_t i = 0; i < n * m->dim; i++) {
        switch (in->prediction) {
        case DODE_PRED_X0:    out[i] = (x[i] - a * out[i]) / s; break;
        case DODE_PRED_V:     out[i] = s * x[i] + a * out[i]; break;
        case DODE_PRED_SCORE: out[i] = -s * out[i]; break;
        case DODE_PRED_FLOW:  out[i] = xf[i] + r * out[i]; break;
        case DODE_PRED_EPS:   break;
        }
    }
    return DODE_OK;
}

/* x0h from the raw prediction; at sigma = inf a = 0, s = 1 and tau = 1. */
static int wrap_x0(const dode_model *m, void *ws, size_t n, const double *x, double t,
                   double sigma, double *out)
{
    const dode_model *in = inner_of(m);
    if (!(sigma > 0) || in->prediction == DODE_PRED_SCORE)
        return DODE_EUNSUPPORTED;             /* a score has no finite x0 at sigma = inf */
    int rc = inner_predict(m, ws, n, x, t, sigma, out);
    if (rc != DODE_OK)
        return rc;
    const int inf = sigma == INFINITY;
    const double a = inf ? 0.0 : 1.0 / sqrt(1.0 + sigma * sigma), s = inf ? 1.0 : sigma * a;
    const double tau = inf ? 1.0 : sigma / (1.0 + sigma);
    const double *xf = needs_own_workspace(in) ? ((flow_ws *)ws)->xf : x;
    for (size_t i = 0; i < n * m->dim; i++) {
        if (in->prediction == DODE_PRED_V)
            out[i] = a * x[i] - s * out[i];
        else if (in->prediction == DODE_PRED_FLOW)
            out[i] = xf[i] - tau * out[i];
    }
    return DODE_OK;
}

static int wrap_jacobian(const dode_model *m, void *ws, size_t n, const double *xbar,
                         double sigma, double *jac, double *deps_dsigma)
{
    return inner_of(m)->jacobian(inner_of(m), inner_ws(m, ws), n, xbar, sigma, jac,
                                 deps_dsigma);
}

static int wrap_log_density(const dode_model *m, void *ws, size_t n, const double *xbar,
                            double sigma, double *logp)
{
    return inner_of(m)->log_density(inner_of(m), inner_ws(m, ws), n, xbar, sigma, logp);
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

static void flow_workspace_free(void *ws)
{
    flow_ws *w = ws;
    if (w == NULL)
        return;
    if (w->inner_free != NULL)
        w->inner_free(w->inner);
    free(w->xf);
    free(w);
}

static void *flow_workspace_new(const dode_model *m, size_t n)
{
    const dode_model *in = inner_of(m);
    flow_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->inner_free = in->workspace_free;
    if (n > SIZE_MAX / sizeof(double) / m->dim
        || (w->xf = malloc(n * m->dim * sizeof *w->xf)) == NULL
        || (in->workspace_new != NULL && (w->inner = in->workspace_new(in, n)) == NULL)) {
        flow_workspace_free(w);
        return NULL;
    }
    return w;
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
    if ((unsigned)inner->prediction >= DODE_PRED_COUNT) {
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
    const int flow = needs_own_workspace(inner);
    *m = (dode_model){ .name = inner->name, .dim = inner->dim, .prediction = DODE_PRED_EPS,
                       .eps = wrap_eps,
                       .jacobian = inner->jacobian != NULL ? wrap_jacobian : NULL,
                       .log_density = inner->log_density != NULL ? wrap_log_density : NULL,
                       .exact_flow = inner->exact_flow != NULL ? wrap_exact_flow : NULL,
                       .workspace_new = flow ? flow_workspace_new
                                        : inner->workspace_new != NULL ? wrap_workspace_new
                                                                       : NULL,
                       .workspace_free = flow ? flow_workspace_free : inner->workspace_free,
                       .free = wrap_free, .state = inner, .x0 = wrap_x0 };
    return m;
}
