/* likelihood.c - log p(x0) through the probability-flow ODE (MATH.md section 7):
 * the augmented system d xbar/d sigma = epsh, d L/d sigma = tr(d epsh/d xbar) integrated
 * upwards from xbar(sigma_min) = x0, then log p = log p_{sigma_max}(xbar) + L.
 *
 * Choices (each a trade-off, measured in docs/likelihood.md):
 *  - Integration variable sigma itself, as the oracle does: it starts at sigma_min = 0
 *    (log sigma cannot). u = log(1 + sigma) (sigma near the data, log sigma far from it)
 *    was measured too: on the section 8 GMM it takes ~20% fewer evaluations at the same
 *    rtol = atol but is 20-70x less accurate there, so at equal accuracy sigma is cheaper
 *    (docs/likelihood.md has the table). The variable lives in ll_sigma / ll_u / ll_ds.
 *  - Stepper gsl rk8pd under gsl_odeiv2_control_standard_new(atol, rtol, 1, 0) on every
 *    component, xbar and L alike. The L components are integrals of a smooth function, so
 *    their error is of the order of the control's tolerance times the steps.
 *  - Hutchinson: K Rademacher probes per row drawn once (mt19937, opts->seed) and fixed
 *    for the whole solve, so the RHS stays a smooth function of (u, y) and the adaptive
 *    control sees an ODE, not noise. Each probe has its own L_ik; the estimate is the mean
 *    over k and its standard error the sample sd over k / sqrt(K). J v is the central
 *    difference (epsh(xbar + h v) - epsh(xbar - h v)) / (2h), h_i = fd_step (1 +
 *    rms(xbar_i)): error O(h^2 epsh''') + O(eps_mach epsh / h); measured on the test GMM
 *    (sigma 0.01 .. 10) against its Jacobian: 3e-10 relative at fd_step = 1e-5, 3e-8 at
 *    1e-4, 2e-10 at 1e-6 (rounding takes over below). The base rows and the
 *    2K perturbed copies go to the model as one batch of n (1 + 2K) rows: one nfe.
 *
 * Invariant: the caller's rows are written only after the solve and the prior succeed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_rng.h>

#include "diffode/likelihood.h"
#include "diffode/ode.h"
#include "diffode/status.h"
#include "gsl_quiet.h"

static const double TWO_PI = 6.283185307179586476925286766559;

void dode_loglik_opts_init(dode_loglik_opts *o)
{
    *o = (dode_loglik_opts){ .sigma_min = 0.0, .sigma_max = 80.0, .rtol = 1e-8,
                             .atol = 1e-8, .max_steps = 100000, .exact_prior = 0,
                             .trace = DODE_TRACE_AUTO, .probes = 16, .seed = 0,
                             .fd_step = 1e-5 };
}

double dode_loglik_bits_per_dim(double logp, size_t dim)
{
    return -logp / ((double)dim * log(2.0));
}

/* The solve's state and workspace: one block, cut into views. */
typedef struct {
    dode_ode *ode;            /* n rows (exact) or n (1 + 2K) rows (Hutchinson) */
    size_t n, d, K;           /* K trace integrals per row (1 for the exact trace) */
    int hutchinson;
    double fd_step;
    int rc;                   /* the diffode status behind a GSL_EBADFUNC */
    double *block;
    double *y;                /* [n d + n K] the state: xbar, then L[n][K] */
    double *prior;            /* [n] log p_{sigma_max}(xbar(sigma_max)) */
    double *xin;              /* [rows][d] model input (Hutchinson) */
    double *eps;              /* [rows][d] epsh */
    double *jac;              /* [n][d][d] (exact) */
    double *probes;           /* [K][n][d] +-1 (Hutchinson) */
    double *h;                /* [n] finite-difference steps */
} ll_ctx;

/* The integration variable u = sigma (file comment): sigma(u), u(sigma), dsigma/du. */
static double ll_sigma(double u) { return u; }
static double ll_u(double sigma) { return sigma; }
static double ll_ds(double u) { (void)u; return 1.0; }

/* d L_i / d sigma = tr J_i from the model's jacobian. */
static int ll_exact_rhs(ll_ctx *c, double sigma, const double *xbar, double *dxbar,
                        double *dL)
{
    const size_t n = c->n, d = c->d;
    int rc = dode_ode_rhs(c->ode, sigma, xbar, dxbar);
    if (rc == DODE_OK)
        rc = dode_ode_jacobian(c->ode, sigma, xbar, c->jac, NULL);
    if (rc != DODE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        double tr = 0;
        for (size_t j = 0; j < d; j++)
            tr += c->jac[(i * d + j) * d + j];
        dL[i] = tr;
    }
    return DODE_OK;
}

/* Rows xbar, xbar + h v_k (k < K), xbar - h v_k: one batch for one model call. */
static void ll_perturb(ll_ctx *c, const double *xbar)
{
    const size_t n = c->n, d = c->d, nd = n * d, K = c->K;
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t j = 0; j < d; j++)
            ss += xbar[i * d + j] * xbar[i * d + j];
        c->h[i] = c->fd_step * (1.0 + sqrt(ss / (double)d));
    }
    memcpy(c->xin, xbar, nd * sizeof *xbar);
    for (size_t k = 0; k < K; k++)
        for (size_t a = 0; a < nd; a++) {
            const double hv = c->h[a / d] * c->probes[k * nd + a];
            c->xin[(1 + k) * nd + a] = xbar[a] + hv;
            c->xin[(1 + K + k) * nd + a] = xbar[a] - hv;
        }
}

/* d L_ik / d sigma = v_k . (epsh(xbar + h v_k) - epsh(xbar - h v_k)) / (2 h). */
static int ll_hutchinson_rhs(ll_ctx *c, double sigma, const double *xbar, double *dxbar,
                             double *dL)
{
    const size_t n = c->n, d = c->d, nd = n * d, K = c->K;
    ll_perturb(c, xbar);
    int rc = dode_ode_rhs(c->ode, sigma, c->xin, c->eps);
    if (rc != DODE_OK)
        return rc;
    memcpy(dxbar, c->eps, nd * sizeof *dxbar);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++) {
            const double *v = c->probes + k * nd + i * d;
            const double *ep = c->eps + (1 + k) * nd + i * d;
            const double *em = c->eps + (1 + K + k) * nd + i * d;
            double s = 0;
            for (size_t j = 0; j < d; j++)
                s += v[j] * (ep[j] - em[j]);
            dL[i * K + k] = s / (2.0 * c->h[i]);
        }
    return DODE_OK;
}

/* GSL's RHS in u: both parts times dsigma/du. */
static int ll_rhs(double u, const double y[], double dydu[], void *params)
{
    ll_ctx *c = params;
    const size_t nd = c->n * c->d, len = nd + c->n * c->K;
    const double sigma = ll_sigma(u), ds = ll_ds(u);
    c->rc = c->hutchinson ? ll_hutchinson_rhs(c, sigma, y, dydu, dydu + nd)
                          : ll_exact_rhs(c, sigma, y, dydu, dydu + nd);
    if (c->rc != DODE_OK)
        return GSL_EBADFUNC;
    for (size_t a = 0; a < len; a++)
        dydu[a] *= ds;
    return GSL_SUCCESS;
}

/* The accepted-step loop of rk8pd from sigma_min to sigma_max on c->y. */
static int ll_evolve(ll_ctx *c, const dode_loglik_opts *o, dode_loglik_stats *st,
                     char *err, size_t errlen)
{
    const size_t len = c->n * (c->d + c->K);
    const double u1 = ll_u(o->sigma_max);
    double u = ll_u(o->sigma_min), h = 1e-3 * (u1 - u);
    gsl_odeiv2_system sys = { ll_rhs, NULL, len, c };
    gsl_odeiv2_step *s = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rk8pd, len);
    gsl_odeiv2_control *ctl = gsl_odeiv2_control_standard_new(o->atol, o->rtol, 1.0, 0.0);
    gsl_odeiv2_evolve *e = gsl_odeiv2_evolve_alloc(len);
    int rc = s == NULL || ctl == NULL || e == NULL
                 ? dode_fail(err, errlen, DODE_ENOMEM, "likelihood: cannot allocate a GSL "
                             "rk8pd stepper for %zu equations", len) : DODE_OK;
    while (rc == DODE_OK && u < u1) {
        if (st->accepted >= o->max_steps) {
            rc = dode_fail(err, errlen, DODE_EMAXITER, "likelihood: step budget max_steps "
                           "= %zu exhausted at sigma = %g before sigma_max = %g",
                           o->max_steps, ll_sigma(u), o->sigma_max);
            break;
        }
        const int status = gsl_odeiv2_evolve_apply(e, ctl, s, &sys, &u, u1, &h, c->y);
        if (status == GSL_EBADFUNC && c->rc != DODE_OK)
            rc = dode_fail(err, errlen, c->rc, "likelihood: after %zu steps, at sigma = %g: "
                           "%s", st->accepted, ll_sigma(u), c->ode->err);
        else if (status != GSL_SUCCESS)
            rc = dode_fail(err, errlen, DODE_ESOLVER, "likelihood: gsl_odeiv2_evolve_apply "
                           "failed after %zu steps at sigma = %g: %s", st->accepted,
                           ll_sigma(u), gsl_strerror(status));
        else
            st->accepted++;
    }
    st->rejected = e != NULL ? e->failed_steps : 0;
    gsl_odeiv2_evolve_free(e);
    gsl_odeiv2_control_free(ctl);
    gsl_odeiv2_step_free(s);
    return rc;
}

/* log p_{sigma_max}(xbar): the model's own, or the image of x_T ~ N(0, I), that is
 * N(0, c^2 I) with c = 1/a = dode_schedule_xbar_scale (sqrt(1 + sigma_max^2) on VP
 * schedules, 1 + sigma_max on flow). */
static int ll_prior(const dode_model *m, const ll_ctx *c, const dode_loglik_opts *o,
                    char *err, size_t errlen)
{
    const size_t n = c->n, d = c->d;
    if (o->exact_prior) {
        int rc = m->log_density(m, c->ode->ws, n, c->y, o->sigma_max, c->prior);
        if (rc == DODE_OK)
            rc = dode_all_finite(c->prior, n);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "likelihood: log_density of model %s at "
                             "sigma_max = %g failed: %s", m->name, o->sigma_max,
                             dode_strerror(rc));
        return DODE_OK;
    }
    const double c_max = dode_schedule_xbar_scale(c->ode->schedule, o->sigma_max);
    const double v = c_max * c_max;
    const double norm = -0.5 * (double)d * log(TWO_PI * v);
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t j = 0; j < d; j++)
            ss += c->y[i * d + j] * c->y[i * d + j];
        c->prior[i] = norm - 0.5 * ss / v;
    }
    return DODE_OK;
}

/* logp_i = prior_i + mean_k L_ik; se_i = sd_k(L_ik) / sqrt(K) (0 exact, NaN if K = 1). */
static void ll_rows(const ll_ctx *c, dode_loglik_rows *r)
{
    const size_t n = c->n, K = c->K;
    const double *L = c->y + n * c->d;
    for (size_t i = 0; i < n; i++) {
        double mean = 0, ss = 0;
        for (size_t k = 0; k < K; k++)
            mean += L[i * K + k] / (double)K;
        for (size_t k = 0; k < K; k++)
            ss += (L[i * K + k] - mean) * (L[i * K + k] - mean);
        r->logp[i] = c->prior[i] + mean;
        if (r->se != NULL)
            r->se[i] = !c->hutchinson ? 0.0
                     : K < 2 ? NAN : sqrt(ss / (double)(K - 1) / (double)K);
        if (r->prior != NULL)
            r->prior[i] = c->prior[i];
        if (r->delta != NULL)
            r->delta[i] = mean;
    }
    if (r->xbar != NULL)
        memcpy(r->xbar, c->y, n * c->d * sizeof *r->xbar);
}

/* Options in their domains (written so NaN fails too). */
static int ll_check_opts(const dode_loglik_opts *o, char *err, size_t errlen)
{
    if (!(o->sigma_min >= 0 && o->sigma_max > o->sigma_min && isfinite(o->sigma_max)))
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: need 0 <= sigma_min < "
                         "sigma_max < inf, got sigma_min = %g, sigma_max = %g",
                         o->sigma_min, o->sigma_max);
    if (!(o->rtol > 0 && o->atol > 0 && isfinite(o->rtol) && isfinite(o->atol)))
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: rtol = %g and atol = %g "
                         "must be finite and > 0", o->rtol, o->atol);
    if (o->probes == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: probes = 0: Hutchinson's "
                         "estimator needs K >= 1 probes (K >= 2 for a standard error)");
    if (!(o->fd_step > 0 && o->fd_step < 1))
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: fd_step = %g must be in "
                         "(0, 1)", o->fd_step);
    if (o->max_steps == 0 || (unsigned)o->trace > DODE_TRACE_HUTCHINSON)
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: max_steps = %zu must be >= 1 "
                         "and trace = %d one of auto, exact, hutchinson", o->max_steps,
                         (int)o->trace);
    return DODE_OK;
}

/* Everything checked once, before anything is allocated; *hutchinson set. */
static int ll_check(const dode_model *m, const dode_schedule *s, size_t n, size_t dim,
                    const double *x0, const dode_loglik_opts *o, const dode_loglik_rows *r,
                    int *hutchinson, char *err, size_t errlen)
{
    if (m == NULL || m->eps == NULL || s == NULL || x0 == NULL || r == NULL || r->logp == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: a model with eps(), a "
                         "schedule, the data and rows->logp are required");
    if (n == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: no data (n = 0 rows)");
    if (dim != m->dim)
        return dode_fail(err, errlen, DODE_EINVAL, "likelihood: data have dim %zu but model "
                         "%s has dim %zu", dim, m->name, m->dim);
    int rc = ll_check_opts(o, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (o->trace == DODE_TRACE_EXACT && m->jacobian == NULL)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "likelihood: the exact trace needs "
                         "d epsh/d xbar, but model %s has no jacobian (use Hutchinson)",
                         m->name);
    if (o->exact_prior && m->log_density == NULL)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "likelihood: the exact prior needs "
                         "model %s's log_density, which it lacks", m->name);
    for (size_t a = 0; a < n * dim; a++)
        if (!isfinite(x0[a]))
            return dode_fail(err, errlen, DODE_ENONFINITE, "likelihood: data row %zu "
                             "(0-based), column %zu is %g, not a finite number", a / dim,
                             a % dim, x0[a]);
    *hutchinson = o->trace == DODE_TRACE_HUTCHINSON
                  || (o->trace == DODE_TRACE_AUTO && m->jacobian == NULL);
    return DODE_OK;
}

/* a * b + c with overflow check (0 on overflow, which no workspace can be). */
static size_t ll_muladd(size_t a, size_t b, size_t c)
{
    size_t p;
    if (dode_mul_size(a, b, &p) != DODE_OK || p > SIZE_MAX - c)
        return 0;
    return p + c;
}

/* Draws the K fixed Rademacher probes ([K][n][d], +-1). */
static int ll_draw_probes(ll_ctx *c, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return DODE_ENOMEM;
    gsl_rng_set(rng, seed);
    for (size_t a = 0; a < c->K * c->n * c->d; a++)
        c->probes[a] = gsl_rng_uniform_int(rng, 2) == 0 ? -1.0 : 1.0;
    gsl_rng_free(rng);
    return DODE_OK;
}

static void ll_ctx_free(ll_ctx *c)
{
    dode_ode_free(c->ode);
    free(c->block);
}

/* The ode (n or n (1 + 2K) rows) and one block cut into the views of ll_ctx. */
static int ll_ctx_new(ll_ctx *c, const dode_model *m, const dode_schedule *s, size_t n,
                      const dode_loglik_opts *o, int hutchinson, char *err, size_t errlen)
{
    const size_t d = m->dim, K = hutchinson ? o->probes : 1;
    *c = (ll_ctx){ .n = n, .d = d, .K = K, .hutchinson = hutchinson, .fd_step = o->fd_step };
    const size_t rows = hutchinson ? ll_muladd(n, ll_muladd(2, K, 1), 0) : n;
    const size_t nd = ll_muladd(n, d, 0), len = ll_muladd(n, K, nd);
    const size_t extra = hutchinson ? ll_muladd(ll_muladd(K, nd, 0), 1, ll_muladd(rows, d, 0))
                                    : ll_muladd(nd, d, 0);
    const size_t total = ll_muladd(rows, d, ll_muladd(2, n, ll_muladd(len, 1, extra)));
    if (rows == 0 || nd == 0 || len == 0 || extra == 0 || total == 0
        || total > SIZE_MAX / sizeof(double))
        return dode_fail(err, errlen, DODE_ENOMEM, "likelihood: workspace for %zu rows x %zu "
                         "dims (K = %zu) overflows", n, d, K);
    c->block = malloc(total * sizeof *c->block);
    if (c->block == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "likelihood: cannot allocate %zu doubles",
                         total);
    c->y = c->block;
    c->prior = c->y + len;
    c->h = c->prior + n;
    c->eps = c->h + n;
    c->xin = c->jac = c->eps + rows * d;
    c->probes = c->xin + rows * d;
    c->ode = dode_ode_new(m, s, rows, err, errlen);
    if (c->ode == NULL)
        return DODE_ENOMEM;
    if (hutchinson && ll_draw_probes(c, o->seed) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOMEM, "likelihood: cannot allocate a generator");
    return DODE_OK;
}

int dode_loglik(const dode_model *model, const dode_schedule *schedule, size_t n,
                size_t dim, const double *x0, const dode_loglik_opts *opts,
                dode_loglik_rows *rows, dode_loglik_stats *stats, char *err,
                size_t errlen)
{
    dode_loglik_opts defaults;
    dode_loglik_opts_init(&defaults);
    dode_gsl_quiet();    /* odeiv2 and gsl_rng_alloc */
    const dode_loglik_opts *o = opts != NULL ? opts : &defaults;
    int hutchinson = 0;
    int rc = ll_check(model, schedule, n, dim, x0, o, rows, &hutchinson, err, errlen);
    if (rc != DODE_OK)
        return rc;
    ll_ctx c;
    dode_loglik_stats st = { .trace = hutchinson ? DODE_TRACE_HUTCHINSON : DODE_TRACE_EXACT };
    rc = ll_ctx_new(&c, model, schedule, n, o, hutchinson, err, errlen);
    if (rc == DODE_OK) {
        memcpy(c.y, x0, n * dim * sizeof *x0);               /* xbar(sigma_min) = x0 */
        memset(c.y + n * dim, 0, n * c.K * sizeof *c.y);     /* L(sigma_min) = 0 */
        rc = ll_evolve(&c, o, &st, err, errlen);
    }
    if (rc == DODE_OK)
        rc = ll_prior(model, &c, o, err, errlen);
    if (rc == DODE_OK)
        ll_rows(&c, rows);
    st.nfe = c.ode != NULL ? c.ode->nfe : 0;
    st.njac = c.ode != NULL ? c.ode->njac : 0;
    st.rows_per_eval = hutchinson ? 1 + 2 * c.K : 1;
    if (stats != NULL)
        *stats = st;
    ll_ctx_free(&c);
    return rc;
}
