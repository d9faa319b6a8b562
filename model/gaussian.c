/* gaussian.c - the exact Gaussian model: data N(mu, v I), v = std^2 (MATH.md section 5).
 *
 * xbar | sigma ~ N(mu, (v + sigma^2) I), so epsh = sigma (xbar - mu) / (v + sigma^2) and
 * the flow is xbar(s) = mu + (xbar_T - mu) sqrt((v + s^2) / (v + s_T^2)) in either
 * direction. eps() may return another parameterisation (x0, v, score, flow velocity;
 * MATH.md section 2, model.h) so the wrappers of wrap.c can be tested against a closed
 * form; those (not eps) also answer at sigma = inf, the zero-SNR limit. The flow and
 * the closed forms hold for any schedule: they are written in (xbar, sigma). v is the usual
 * v = a eps - s x0h (x = a x0 + s eps), the one for which eps = s x + a v holds; model.h's
 * shorthand "v = a eps - s x" would not invert that way.
 * Invariant: the state is read-only after dode_gaussian_new (callbacks are thread-safe). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/datalaw.h"
#include "diffode/model.h"
#include "diffode/status.h"

static const double TWO_PI = 6.283185307179586476925286766559;

typedef struct {
    double v;     /* std^2 */
    double *mu;   /* [dim] */
} gauss_state;

/* One row of the chosen prediction at x; a = 1/sqrt(1+sigma^2), s = sigma a. x is the
 * model interface's VP x (model.h), except for flow, whose x_f = xbar / (1 + sigma). */
static void gauss_row(const gauss_state *st, dode_prediction pred, size_t dim,
                      const double *x, double sigma, double *out)
{
    const double xs = pred == DODE_PRED_FLOW ? 1.0 + sigma : sqrt(1.0 + sigma * sigma);
    const double a = 1.0 / sqrt(1.0 + sigma * sigma), s = sigma * a;
    const double c = st->v + sigma * sigma;
    for (size_t j = 0; j < dim; j++) {
        const double xbar = x[j] * xs, r = (xbar - st->mu[j]) / c;   /* C^{-1}(xbar - mu) */
        const double epsh = sigma * r;
        switch (pred) {
        case DODE_PRED_EPS:   out[j] = epsh; break;
        case DODE_PRED_X0:    out[j] = xbar - sigma * epsh; break;  /* same in x and xbar */
        case DODE_PRED_V:     out[j] = a * epsh - s * (xbar - sigma * epsh); break;   /* x0h */
        case DODE_PRED_SCORE: out[j] = -r / a; break;   /* -eps/s without dividing by sigma */
        case DODE_PRED_FLOW:  out[j] = epsh - (xbar - sigma * epsh); break;   /* eps - x0h */
        }
    }
}

/* The limit sigma -> inf (zero SNR): x is pure noise, independent of x0, so x0h = mu and
 * eps = x; v = a eps - s x0h = -mu, flow v = x - mu. eps and score have no use there. */
static int gauss_row_at_inf(const gauss_state *st, dode_prediction pred, size_t dim,
                            const double *x, double *out)
{
    for (size_t j = 0; j < dim; j++) {
        switch (pred) {
        case DODE_PRED_X0:    out[j] = st->mu[j]; break;
        case DODE_PRED_V:     out[j] = -st->mu[j]; break;
        case DODE_PRED_FLOW:  out[j] = x[j] - st->mu[j]; break;
        case DODE_PRED_EPS:
        case DODE_PRED_SCORE: return DODE_EINVAL;
        }
    }
    return DODE_OK;
}

static int gauss_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    (void)ws;
    (void)t;
    if (sigma == INFINITY) {
        for (size_t i = 0; i < n; i++)
            if (gauss_row_at_inf(m->state, m->prediction, m->dim, x + i * m->dim,
                                 out + i * m->dim) != DODE_OK)
                return DODE_EINVAL;
        return DODE_OK;
    }
    if (!(sigma >= 0 && isfinite(sigma)))
        return DODE_EINVAL;
    for (size_t i = 0; i < n; i++)
        gauss_row(m->state, m->prediction, m->dim, x + i * m->dim, sigma, out + i * m->dim);
    return DODE_OK;
}

/* d epsh/d xbar = sigma/(v+sigma^2) I; d epsh/d sigma = (xbar-mu)(v-sigma^2)/(v+sigma^2)^2. */
static int gauss_jacobian(const dode_model *m, void *ws, size_t n, const double *xbar,
                          double sigma, double *jac, double *deps_dsigma)
{
    (void)ws;
    const gauss_state *st = m->state;
    const size_t d = m->dim;
    const double c = st->v + sigma * sigma;
    for (size_t i = 0; i < n; i++) {
        double *J = jac + i * d * d;
        memset(J, 0, d * d * sizeof *J);
        for (size_t j = 0; j < d; j++)
            J[j * d + j] = sigma / c;
        if (deps_dsigma != NULL)
            for (size_t j = 0; j < d; j++)
                deps_dsigma[i * d + j] = (xbar[i * d + j] - st->mu[j])
                                         * (st->v - sigma * sigma) / (c * c);
    }
    return DODE_OK;
}

static int gauss_log_density(const dode_model *m, void *ws, size_t n, const double *xbar,
                             double sigma, double *logp)
{
    (void)ws;
    const gauss_state *st = m->state;
    const size_t d = m->dim;
    const double c = st->v + sigma * sigma;
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        for (size_t j = 0; j < d; j++)
            q += (xbar[i * d + j] - st->mu[j]) * (xbar[i * d + j] - st->mu[j]);
        logp[i] = -0.5 * q / c - 0.5 * (double)d * log(TWO_PI * c);
    }
    return DODE_OK;
}

static int gauss_exact_flow(const dode_model *m, size_t n, const double *xbar_from,
                            double sigma_from, double sigma_to, double *xbar_to)
{
    const gauss_state *st = m->state;
    const size_t d = m->dim;
    if (sigma_from == INFINITY) {
        /* zero SNR: the state there is x_T (sample.h) and (xbar - mu)/sqrt(v + sigma^2)
         * tends to x_T as sigma -> inf, so xbar(s) = mu + x_T sqrt(v + s^2) */
        const double r = sqrt(st->v + sigma_to * sigma_to);
        for (size_t i = 0; i < n * d; i++)
            xbar_to[i] = st->mu[i % d] + xbar_from[i] * r;
        return sigma_to < INFINITY ? DODE_OK : DODE_EINVAL;
    }
    const double r = sqrt((st->v + sigma_to * sigma_to) / (st->v + sigma_from * sigma_from));
    for (size_t i = 0; i < n * d; i++)
        xbar_to[i] = st->mu[i % d] + (xbar_from[i] - st->mu[i % d]) * r;
    return DODE_OK;
}

static void gauss_free(dode_model *m)
{
    free(m);   /* model, state and mean live in one block */
}

dode_model *dode_gaussian_new(size_t dim, const double *mean, double std,
                              dode_prediction prediction, char *err, size_t errlen)
{
    if (dim == 0 || dim > ((size_t)1 << 30)) {
        dode_fail(err, errlen, DODE_EINVAL, "gaussian model: dim must be in 1..2^30, got %zu", dim);
        return NULL;
    }
    if (!(std > 0 && isfinite(std))) {
        dode_fail(err, errlen, DODE_EINVAL, "gaussian model: std must be finite and > 0, got %g", std);
        return NULL;
    }
    if ((unsigned)prediction >= DODE_PRED_COUNT) {
        dode_fail(err, errlen, DODE_EINVAL, "gaussian model: unknown prediction kind %d", (int)prediction);
        return NULL;
    }
    if (mean == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "gaussian model: mean is NULL");
        return NULL;
    }
    for (size_t j = 0; j < dim; j++)
        if (!isfinite(mean[j])) {
            dode_fail(err, errlen, DODE_EINVAL, "gaussian model: mean[%zu] = %g is not finite", j, mean[j]);
            return NULL;
        }
    dode_model *m = malloc(sizeof *m + sizeof(gauss_state) + dim * sizeof(double));
    if (m == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "gaussian model: out of memory (dim %zu)", dim);
        return NULL;
    }
    gauss_state *st = (gauss_state *)(m + 1);
    st->v = std * std;
    st->mu = (double *)(st + 1);
    for (size_t j = 0; j < dim; j++)
        st->mu[j] = mean[j];
    *m = (dode_model){ .name = "gaussian", .dim = dim, .prediction = prediction,
                       .eps = gauss_eps, .jacobian = gauss_jacobian,
                       .log_density = gauss_log_density, .exact_flow = gauss_exact_flow,
                       .free = gauss_free, .state = st };
    return m;
}

int dode_gaussian_law(const dode_model *m, double *mean, double *var, char *err,
                      size_t errlen)
{
    if (m == NULL || m->free != gauss_free || m->prediction != DODE_PRED_EPS)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "gaussian law: model '%s' is not "
                         "the eps-predicting gaussian: model", m && m->name ? m->name : "(null)");
    const gauss_state *st = m->state;
    memcpy(mean, st->mu, m->dim * sizeof *mean);
    *var = st->v;
    return DODE_OK;
}
