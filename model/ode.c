/* ode.c - the right-hand side d xbar/d sigma = eps(xbar / sqrt(1+sigma^2), t(sigma))
 * (MATH.md section 2), its NFE counter, and the change of integration variable.
 *
 * Invariant: ode->nfe is incremented exactly once per batched model call, so a solver's
 * cost is what the model actually did, not what the solver claims. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/ode.h"
#include "diffode/status.h"
#include "nonfinite.h"

dode_ode *dode_ode_new(const dode_model *model, const dode_schedule *schedule, size_t n,
                       char *err, size_t errlen)
{
    size_t len;
    if (model == NULL || schedule == NULL || model->eps == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "ode: a model with eps() and a schedule are required");
        return NULL;
    }
    if (n == 0 || model->dim == 0 || dode_mul_size(n, model->dim, &len) != DODE_OK
        || len > ((size_t)1 << 40)) {
        dode_fail(err, errlen, DODE_EINVAL, "ode: batch of %zu rows x %zu dims is empty or too large",
                  n, model->dim);
        return NULL;
    }
    dode_ode *ode = calloc(1, sizeof *ode);
    double *x = malloc(len * sizeof *x);
    if (ode == NULL || x == NULL) {
        free(ode);
        free(x);
        dode_fail(err, errlen, DODE_ENOMEM, "ode: cannot allocate %zu doubles", len);
        return NULL;
    }
    if (dode_model_workspace_new(model, n, &ode->ws, err, errlen) != DODE_OK) {
        free(ode);
        free(x);
        return NULL;
    }
    ode->model = model;
    ode->schedule = schedule;
    ode->n = n;
    ode->dim = model->dim;
    ode->x = x;
    return ode;
}

void dode_ode_free(dode_ode *ode)
{
    if (ode == NULL)
        return;
    dode_model_workspace_free(ode->model, ode->ws);
    free(ode->x);
    free(ode);
}

int dode_ode_fail(dode_ode *ode, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ode->err, sizeof ode->err, fmt, ap);
    va_end(ap);
    return code;
}

int dode_all_finite(const double *v, size_t len)
{
    uint64_t bad[4] = { 0, 0, 0, 0 };   /* four chains, so the or's do not wait on each other */
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int k = 0; k < 4; k++)
            bad[k] |= dode_nonfinite_bit(v[i + k]);
    for (; i < len; i++)
        bad[0] |= dode_nonfinite_bit(v[i]);
    return (bad[0] | bad[1] | bad[2] | bad[3]) >> 63 ? DODE_ENONFINITE : DODE_OK;
}

static int state_not_finite(dode_ode *ode, double t, double sigma)
{
    return dode_ode_fail(ode, DODE_ENONFINITE, "the state is not finite at sigma = %g "
                         "(t = %g): a step overflowed", sigma, t);
}

/* The status of a model call that returned rc, eps_finite: DODE_OK or the message. */
static int model_status(dode_ode *ode, int rc, int eps_finite, double t, double sigma)
{
    if (rc != DODE_OK)
        return dode_ode_fail(ode, rc, "model %s failed at sigma = %g (t = %g): %s",
                             ode->model->name, sigma, t, dode_strerror(rc));
    if (!eps_finite)
        return dode_ode_fail(ode, DODE_ENONFINITE, "model %s returned a non-finite eps at "
                             "sigma = %g (t = %g)", ode->model->name, sigma, t);
    return DODE_OK;
}

/* One model call at (x, t, sigma) with the status and eps checks every NFE shares; the
 * caller has checked that x is finite (a step overflowed otherwise, issue 7). */
static int call_model(dode_ode *ode, const double *x, double t, double sigma, double *eps)
{
    ode->nfe++;
    int rc = ode->model->eps(ode->model, ode->ws, ode->n, x, t, sigma, eps);
    return model_status(ode, rc, rc != DODE_OK
                        || dode_all_finite(eps, ode->n * ode->dim) == DODE_OK, t, sigma);
}

/* dode_ode_rhs through the model's fused eps_xbar: the same numbers, messages and NFE
 * count as the three passes below, in the model's one. */
static int rhs_fused(dode_ode *ode, double a, double sigma, const double *xbar, double *eps)
{
    const double t = dode_schedule_t(ode->schedule, sigma);
    int bad = 0;
    int rc = ode->model->eps_xbar(ode->model, ode->ws, ode->n, xbar, a, t, sigma, eps, &bad);
    if (bad == 1)
        return state_not_finite(ode, t, sigma);
    ode->nfe++;
    return model_status(ode, rc, bad == 0, t, sigma);
}

int dode_ode_rhs(dode_ode *ode, double sigma, const double *xbar, double *dxbar_dsigma)
{
    if (!(sigma >= 0) || !isfinite(sigma))
        return dode_ode_fail(ode, DODE_EINVAL, "ode: sigma = %g is not a finite value >= 0", sigma);
    const size_t len = ode->n * ode->dim;
    const double a = 1.0 / sqrt(1.0 + sigma * sigma);      /* x = a xbar */
    if (ode->model->eps_xbar != NULL)
        return rhs_fused(ode, a, sigma, xbar, dxbar_dsigma);
    /* The finiteness check rides along the scaling loop, two values at a time as GNU C
     * vectors (gcc -O2 leaves a loop of unknown length scalar; x = a xbar rounds the same
     * element-wise): with the eps check, this pass was 5-7% of a 2-D K = 3 solve. */
    typedef double v2d __attribute__((vector_size(16)));
    typedef uint64_t v2u __attribute__((vector_size(16)));
    const v2u expo = { 0x7ff0000000000000ULL, 0x7ff0000000000000ULL };
    const v2u lsb = { 0x0010000000000000ULL, 0x0010000000000000ULL };
    v2u badv = { 0, 0 };
    size_t i = 0;
    for (; i + 2 <= len; i += 2) {
        v2d v;
        v2u bits;
        memcpy(&v, xbar + i, sizeof v);
        memcpy(&bits, xbar + i, sizeof bits);
        v = a * v;
        memcpy(ode->x + i, &v, sizeof v);
        badv |= (bits & expo) + lsb;
    }
    uint64_t bad = badv[0] | badv[1];
    for (; i < len; i++) {
        ode->x[i] = a * xbar[i];
        bad |= dode_nonfinite_bit(xbar[i]);
    }
    const double t = dode_schedule_t(ode->schedule, sigma);
    if (bad >> 63)
        return state_not_finite(ode, t, sigma);
    return call_model(ode, ode->x, t, sigma, dxbar_dsigma);
}

int dode_ode_eps_x(dode_ode *ode, double t, double sigma, const double *x, double *eps)
{
    if (dode_all_finite(x, ode->n * ode->dim) != DODE_OK)
        return state_not_finite(ode, t, sigma);
    return call_model(ode, x, t, sigma, eps);
}

int dode_ode_x0(dode_ode *ode, double t, double sigma, const double *x, double *x0)
{
    const dode_model *m = ode->model;
    if (m->x0 == NULL)
        return dode_ode_fail(ode, DODE_EUNSUPPORTED, "model %s predicts eps, which at zero "
                             "terminal SNR (sigma = inf at t = %g: a = 0, x_T is pure noise "
                             "and eps = x_T) says nothing about x0, so the first step cannot "
                             "be taken; use a v-, x0- or flow-prediction model, or a t-max "
                             "below the schedule's zero-SNR end", m->name, t);
    if (dode_all_finite(x, ode->n * ode->dim) != DODE_OK)
        return state_not_finite(ode, t, sigma);
    ode->nfe++;
    int rc = m->x0(m, ode->ws, ode->n, x, t, sigma, x0);
    if (rc != DODE_OK)
        return dode_ode_fail(ode, rc, "model %s cannot predict x0 at sigma = %g (t = %g): "
                             "%s", m->name, sigma, t, rc == DODE_EUNSUPPORTED
                             ? "a score has no finite x0 at zero SNR" : dode_strerror(rc));
    if (dode_all_finite(x0, ode->n * ode->dim) != DODE_OK)
        return dode_ode_fail(ode, DODE_ENONFINITE, "model %s returned a non-finite x0 at "
                             "sigma = %g (t = %g)", m->name, sigma, t);
    return DODE_OK;
}

int dode_ode_rhs_in(dode_ode *ode, dode_variable var, double u, const double *xbar,
                    double *dxbar_du)
{
    const double sigma = dode_var_to_sigma(ode->schedule, var, u);
    int rc = dode_ode_rhs(ode, sigma, xbar, dxbar_du);
    if (rc != DODE_OK || var == DODE_VAR_SIGMA)
        return rc;
    const double scale = dode_var_dsigma_du(ode->schedule, var, u);
    for (size_t i = 0; i < ode->n * ode->dim; i++)
        dxbar_du[i] *= scale;
    return DODE_OK;
}

int dode_ode_jacobian(dode_ode *ode, double sigma, const double *xbar, double *jac,
                      double *deps_dsigma)
{
    if (ode->model->jacobian == NULL)
        return dode_ode_fail(ode, DODE_EUNSUPPORTED, "model %s has no Jacobian (needed by "
                             "implicit steppers)", ode->model->name);
    ode->njac++;
    int rc = ode->model->jacobian(ode->model, ode->ws, ode->n, xbar, sigma, jac, deps_dsigma);
    if (rc != DODE_OK)
        return dode_ode_fail(ode, rc, "model %s: Jacobian failed at sigma = %g",
                             ode->model->name, sigma);
    return DODE_OK;
}

double dode_var_from_sigma(const dode_schedule *s, dode_variable var, double sigma)
{
    switch (var) {
    case DODE_VAR_T:        return dode_schedule_t(s, sigma);
    case DODE_VAR_LAMBDA:   return -log(sigma);
    case DODE_VAR_LOGSIGMA: return log(sigma);
    case DODE_VAR_SIGMA:    break;
    }
    return sigma;
}

double dode_var_to_sigma(const dode_schedule *s, dode_variable var, double u)
{
    switch (var) {
    case DODE_VAR_T:        return dode_schedule_sigma(s, u);
    case DODE_VAR_LAMBDA:   return exp(-u);
    case DODE_VAR_LOGSIGMA: return exp(u);
    case DODE_VAR_SIGMA:    break;
    }
    return u;
}

double dode_var_dsigma_du(const dode_schedule *s, dode_variable var, double u)
{
    switch (var) {
    case DODE_VAR_T:        return dode_schedule_dsigma_dt(s, u);
    case DODE_VAR_LAMBDA:   return -exp(-u);          /* sigma = e^-lambda */
    case DODE_VAR_LOGSIGMA: return exp(u);
    case DODE_VAR_SIGMA:    break;
    }
    return 1.0;
}

static const char *const variable_names[] = { "sigma", "t", "lambda", "logsigma" };

const char *dode_variable_name(dode_variable var)
{
    return (unsigned)var < 4 ? variable_names[var] : "?";
}

int dode_variable_parse(const char *name, dode_variable *out, char *err, size_t errlen)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, variable_names[i]) == 0) {
            *out = (dode_variable)i;
            return DODE_OK;
        }
    return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown integration variable '%s' "
                     "(expected sigma, t, lambda or logsigma)", name);
}
