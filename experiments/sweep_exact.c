/* sweep_exact.c - a row's distribution-level errors against the exact data law (issue 13),
 * for every sampler, ODE or stochastic: the runs.csv columns w2_exact, kl_exact, mode_tv,
 * logp_gap and energy. All are taken in xbar at the row's end sigma_end = s1, where the
 * target is the data law at that noise level (MATH.md section 5):
 *   gaussian: N(mu, (v + s1^2) I);   mixture: sum_k w_k N(mu_k, S_k + s1^2 I).
 *
 *   w2_exact, kl_exact  gaussian models: the sampler's exact output law N(m, diag var)
 *       (dode_affine_law, law.h; start N(0, var_T) per coordinate, the law of the sweep's
 *       xbar_T = x_T scaled at s0 with x_T ~ N(0, I)), against the target: W2
 *       (dode_w2_diag) and KL(output || target). No sampling error at all. NaN for maps
 *       that are not affine (thresholding: dode_affine_law refuses them), a start at
 *       sigma = inf (zero SNR) and adaptive solvers (their steps follow the state; sweeps
 *       refuse them today, the guard keeps a silently wrong law out if that changes).
 *   mode_tv   mixtures: each sample goes to its component of largest responsibility under
 *       the exact density at s1; TV = (1/2) sum_k |m_k - w_k| of the mass fractions.
 *   logp_gap  mean log p_s1(samples) - E[log p_s1(X)], X from the target: 0 for a
 *       sampler that draws the target, > 0 when samples crowd the modes, < 0 when they
 *       stray. E[log p] is exact for the gaussian, -(d/2)(1 + log(2 pi (v + s1^2))), and
 *       for mixtures the mean over the exact draws below (Monte Carlo, error
 *       sd(log p) / sqrt(true_samples)).
 *   energy    energy distance (U-statistic, exp_metric_energy) between the first m
 *       samples and the first m exact draws, m = min(n, true_samples, ENERGY_MAX): its
 *       cost is O(m^2 dim), so the cap keeps a sweep of 20000 samples from spending
 *       minutes a row on it (noise ~1e-3 at m = 2048 on the test problems).
 * The exact draws (true_samples of them, gaussian and mixtures) come from their own
 * stream (EXACT_SEED), apart from the seeds, x_T and the true-sample set of FD and SW2,
 * so the older columns keep their values; they are the same for every row of a model and
 * end sigma, so seed-to-seed spread is the sampler's alone. Other models: all NaN. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sweep_impl.h"

#define EXACT_SEED 0x65786163UL     /* the exact draws' own stream: "exac" */
#define ENERGY_MAX 2048             /* largest set of each side of the energy distance */

static const double TWO_PI = 6.283185307179586476925286766559;

/* w2_exact and kl_exact of the row's solver on a gaussian model (mu [dim], v); a solver
 * or map the law cannot follow leaves them NaN. Only memory is an error. */
static int gaussian_law_errors(sweep *sw, const coords *c, const dode_grid *g,
                               const double *mu, double v, result *r, char *err,
                               size_t errlen)
{
    const exp_cfg_solver *sv = &sw->cfg->solvers[c->solver];
    const dode_model *m = sw->models[c->model];
    const dode_schedule *sc = sw->schedules[c->schedule];
    const size_t d = m->dim;
    if (sv->type->adaptive || !isfinite(r->s0))
        return DODE_OK;
    double *buf = malloc(6 * d * sizeof *buf), one = 1.0, scale;
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for the exact law");
    double *mT = buf, *vT = buf + d, *me = buf + 2 * d, *ve = buf + 3 * d, *vt = buf + 4 * d;
    dode_x_to_xbar(sc, r->s0, &one, &scale, 1);         /* xbar_T = scale x_T */
    for (size_t j = 0; j < d; j++) {
        mT[j] = 0;
        vT[j] = scale * scale;
        vt[j] = v + r->s1 * r->s1;
    }
    dode_solver_opts o = sv->opts;
    if (dode_affine_law(sv->type, m, sc, g, &o, mT, vT, me, ve, NULL, 0) == DODE_OK) {
        r->w2_exact = dode_w2_diag(me, ve, mu, vt, d);
        if (exp_metric_kl_diag(me, ve, mu, vt, d, &r->kl_exact, NULL, 0) != DODE_OK)
            r->kl_exact = NAN;                          /* a degenerate output law */
    }
    free(buf);
    return DODE_OK;
}

/* nt exact draws of the target at s1 into y [nt][dim]: the gaussian (mu given) or the
 * mixture (mu NULL), from the EXACT_SEED stream. */
static int exact_draws(const dode_model *m, void *ws, const double *mu, double v, double s1,
                       size_t nt, double *y, char *err, size_t errlen)
{
    const size_t d = m->dim;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *u = mu == NULL ? malloc(nt * sizeof *u) : NULL;
    int rc = rng && (mu != NULL || u != NULL) ? DODE_OK
        : dode_fail(err, errlen, DODE_ENOMEM, "out of memory for %zu exact draws", nt);
    if (rc == DODE_OK) {
        gsl_rng_set(rng, EXACT_SEED);
        for (size_t i = 0; i < nt; i++) {
            if (u != NULL)
                u[i] = gsl_rng_uniform(rng);
            for (size_t j = 0; j < d; j++)
                y[i * d + j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        }
        if (mu != NULL)
            for (size_t i = 0; i < nt * d; i++)
                y[i] = mu[i % d] + sqrt(v + s1 * s1) * y[i];
        else
            rc = dode_gmm_draw(m, ws, nt, s1, u, y, y, err, errlen);
    }
    free(u);
    gsl_rng_free(rng);
    return rc;
}

/* Mean of log p_s1 over n rows x (the model's log_density). */
static int mean_logp(const dode_model *m, const double *x, size_t n, double s1, double *out)
{
    double nll;
    int rc = exp_metric_mean_nll(m, x, n, s1, &nll, NULL, 0);
    *out = rc == DODE_OK ? -nll : NAN;
    return rc;
}

/* mode_tv of the samples xbar [n][dim] of a mixture at s1. */
static int mode_tv(const dode_model *m, void *ws, const double *xbar, size_t n, double s1,
                   double *tv, char *err, size_t errlen)
{
    const size_t K = dode_gmm_components(m);
    double *gw = malloc((n * K + K) * sizeof *gw);
    int rc = gw ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "out of memory for %zu x "
                                      "%zu responsibilities", n, K);
    if (rc == DODE_OK)
        rc = dode_gmm_weights(m, gw + n * K, err, errlen);
    if (rc == DODE_OK)
        rc = dode_gmm_responsibilities(m, ws, n, xbar, s1, gw, err, errlen);
    if (rc == DODE_OK)
        rc = exp_metric_mode_tv(gw, n, K, gw + n * K, tv, err, errlen);
    free(gw);
    return rc;
}

/* logp_gap and energy against nt exact draws; mode_tv for a mixture (mu NULL). */
static int sample_errors(sweep *sw, const coords *c, const double *xbar, const double *mu,
                         double v, result *r, char *err, size_t errlen)
{
    const dode_model *m = sw->models[c->model];
    const size_t d = m->dim, n = sw->cfg->samples, nt = sw->cfg->true_samples;
    void *ws = NULL;
    double *y = nt >= 2 ? malloc(nt * d * sizeof *y) : NULL, lp = NAN, elp = NAN;
    int rc = dode_model_workspace_new(m, nt > n ? nt : n, &ws, err, errlen);
    if (rc == DODE_OK && mu == NULL)
        rc = mode_tv(m, ws, xbar, n, r->s1, &r->mode_tv, err, errlen);
    if (rc == DODE_OK && y != NULL)
        rc = exact_draws(m, ws, mu, v, r->s1, nt, y, err, errlen);
    if (rc == DODE_OK && mu != NULL)     /* the gaussian's entropy at s1, in closed form */
        elp = -0.5 * (double)d * (1.0 + log(TWO_PI * (v + r->s1 * r->s1)));
    else if (rc == DODE_OK && y != NULL)
        mean_logp(m, y, nt, r->s1, &elp);
    if (rc == DODE_OK && mean_logp(m, xbar, n, r->s1, &lp) == DODE_OK)
        r->logp_gap = lp - elp;
    size_t me = nt < n ? nt : n;
    me = me < ENERGY_MAX ? me : ENERGY_MAX;
    if (rc == DODE_OK && y != NULL && me >= 2 &&
        exp_metric_energy(xbar, me, y, me, d, 1, &r->energy, NULL, 0) != DODE_OK)
        r->energy = NAN;
    dode_model_workspace_free(m, ws);
    free(y);
    return rc;
}

int sweep_exact_metrics(sweep *sw, const coords *c, const dode_grid *g, const double *xbar,
                        result *r, char *err, size_t errlen)
{
    const dode_model *m = sw->models[c->model];
    double *mu = malloc(m->dim * sizeof *mu), v = NAN;
    if (mu == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for the data law");
    int rc = DODE_OK;
    if (dode_gaussian_law(m, mu, &v, NULL, 0) == DODE_OK) {
        rc = gaussian_law_errors(sw, c, g, mu, v, r, err, errlen);
        if (rc == DODE_OK)
            rc = sample_errors(sw, c, xbar, mu, v, r, err, errlen);
    } else if (dode_gmm_components(m) > 0)
        rc = sample_errors(sw, c, xbar, NULL, v, r, err, errlen);
    free(mu);
    return rc;
}
