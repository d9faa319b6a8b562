/* sharpened.c - the sharpened target p_w ∝ p(x | c)^w p(x)^(1-w) of a labelled mixture
 * (sharpened.h, docs/guidance.md), exact in log density, its integrals by quadrature.
 *
 * Log density. From one row's logits l_k = log w_k + log N(x; mu_k, C_k) (gmm_impl.h):
 * log p = lse_k l_k, log p(x | c) = lse_{k in c} l_k - log W_c (W_c = sum_{k in c} w_k),
 * u = w log p(x | c) + (1 - w) log p, and log p_w = u - log Z.
 *
 * Box. Per axis, from min_k (mu_kj - R s_kj) to max_k (mu_kj + R s_kj), s_kj^2 = (C_k)_jj,
 * R = 9, over the components whose mass bounds p_w's: for w >= 1, p >= W_c p(x | c) gives
 * p_c^w p^(1-w) <= W_c^(1-w) p(x | c), so c's components suffice; for w < 1, AM-GM gives
 * p_c^w p^(1-w) <= w p_c + (1 - w) p, so all of them. Outside the box each component has
 * mass <= 2 dim Q(R) (Q the normal tail, 1.1e-19 at R = 9), so the neglected part of Z is
 * at most W_c^(1-w) 2 dim Q(R) (w >= 1) or 2 dim Q(R), relative to Z >= that bound's use.
 *
 * Rule. The trapezoid rule on 2^L + 1 points per axis, L = 6, 7, ... 12; the integrand is
 * analytic and negligible at the box's edges, where the trapezoid rule converges faster
 * than any power of h (Euler-Maclaurin: every boundary term vanishes), so the change from
 * the level with twice the spacing (its points are every other point of this one, summed
 * in the same pass) bounds this level's error. Refinement stops when log Z and
 * E[log p_w] change by less than 1e-10 and the mode masses by less than 1e-3. The mode
 * masses integrate an indicator, whose trapezoid error is only O(h) along the region
 * boundaries (so 1e-3 and not 1e-10, and up to 4097 points per axis): their change
 * between levels is reported apart (mode_err). Sums are kept scaled by a running maximum of u (no overflow at
 * large w); summing by grid rows keeps the rounding near 2 n ulps. */
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/sharpened.h"
#include "diffode/status.h"
#include "gmm_impl.h"

#define BOX_R 9.0
#define LEVEL_MIN 6
#define LEVEL_MAX 12
#define TOL 1e-10
#define TOL_ACCEPT 1e-6   /* at LEVEL_MAX: accepted with its quad_err up to this */
#define MODE_TOL 1e-3     /* mode masses: well below a 10^4-sample interval (0.01) */

/* One row's scratch: logits [K], the g_k [K][dim] gmm_row_logits also fills, xc [dim]. */
typedef struct {
    const gmm_state *st;
    gmm_sig sg;
    double *l, *g, *xc;
    double log_wc, w;
    int cls;
} row_eval;

/* u(x) (unnormalised log p_w) at xbar [dim]; *mode = the argmax component. */
static double row_u(const row_eval *r, const double *xbar, size_t *mode)
{
    const gmm_state *st = r->st;
    const size_t K = st->K, d = st->dim;
    for (size_t j = 0; j < d; j++)
        r->xc[j] = xbar[j] - st->mbar[j];
    gmm_row_logits(st, &r->sg, r->xc, r->l, r->g);
    double mx = -INFINITY, mxc = -INFINITY, sum = 0, sumc = 0;
    size_t arg = 0;
    for (size_t k = 0; k < K; k++) {
        if (r->l[k] > mx) {
            mx = r->l[k];
            arg = k;
        }
        if (st->labels[k] == r->cls)
            mxc = fmax(mxc, r->l[k]);
    }
    for (size_t k = 0; k < K; k++) {
        sum += exp(r->l[k] - mx);
        if (st->labels[k] == r->cls)
            sumc += exp(r->l[k] - mxc);
    }
    if (mode != NULL)
        *mode = arg;
    const double lp = mx + log(sum), lpc = mxc + log(sumc) - r->log_wc;
    return r->w == 1.0 ? lpc : r->w * lpc + (1.0 - r->w) * lp;
}

/* Scratch from gmm's own workspace for one row (its layout: gmm_sig_len doubles, then at
 * least K + K dim + dim more; gmm.c's workspace_new). */
static int row_eval_new(const dode_sharpened *s, void **ws, row_eval *r, char *err,
                        size_t errlen)
{
    const gmm_state *st = s->gmm->state;
    int rc = dode_model_workspace_new(s->gmm, 1, ws, err, errlen);
    if (rc != DODE_OK)
        return rc;
    double *block = (double *)*ws + gmm_sig_len(st);
    *r = (row_eval){ .st = st, .l = block, .g = block + st->K, .w = s->w, .cls = s->cls };
    r->xc = r->g + st->K * st->dim;
    double mx = -INFINITY, sum = 0;
    for (size_t k = 0; k < st->K; k++)
        if (st->labels[k] == s->cls)
            mx = fmax(mx, st->logw[k]);
    for (size_t k = 0; k < st->K; k++)
        if (st->labels[k] == s->cls)
            sum += exp(st->logw[k] - mx);
    r->log_wc = mx + log(sum);
    if ((rc = gmm_sig_new(st, s->sigma, 0, *ws, &r->sg)) != DODE_OK) {
        dode_model_workspace_free(s->gmm, *ws);
        *ws = NULL;
        return dode_fail(err, errlen, rc, "sharpened target: cannot evaluate the mixture at "
                         "sigma = %g", s->sigma);
    }
    return DODE_OK;
}

/* Running sums of one level: S0 = sum wt e^(u-M), S1 = sum wt e^(u-M) u, mode[k]. */
typedef struct {
    double s0, s1, *mode;
} sums;

static void sums_scale(sums *a, size_t K, double f)
{
    a->s0 *= f;
    a->s1 *= f;
    for (size_t k = 0; k < K; k++)
        a->mode[k] *= f;
}

static void sums_add(sums *a, double wt, double e, double u, size_t k)
{
    a->s0 += wt * e;
    a->s1 += wt * e * u;
    a->mode[k] += wt * e;
}

/* Trapezoid weight of index i of 0..n. */
static double trap(size_t i, size_t n)
{
    return i == 0 || i == n ? 0.5 : 1.0;
}

/* acc += row, row = 0. */
static void sums_flush(sums *acc, sums *row, size_t K)
{
    acc->s0 += row->s0;
    acc->s1 += row->s1;
    for (size_t k = 0; k < K; k++) {
        acc->mode[k] += row->mode[k];
        row->mode[k] = 0;
    }
    row->s0 = row->s1 = 0;
}

/* One level (n intervals per axis): fine sums f and, on the even points, coarse sums c.
 * Each grid row is summed apart and then added, so rounding grows like 2 n, not n^2. */
static void level_sums(const dode_sharpened *s, const row_eval *r, size_t n, sums *f, sums *c,
                       sums *fr, sums *cr, double *M)
{
    const size_t d = s->dim, K = s->K, ny = d == 2 ? n : 0;
    const double h0 = (s->hi[0] - s->lo[0]) / (double)n;
    const double h1 = d == 2 ? (s->hi[1] - s->lo[1]) / (double)n : 0.0;
    double x[2];
    *M = -INFINITY;
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = 0; j <= ny; j++) {
            x[0] = s->lo[0] + h0 * (double)i;
            x[1] = s->lo[1] + h1 * (double)j;
            size_t k;
            const double u = row_u(r, x, &k);
            if (u > *M) {
                sums *all[4] = { f, c, fr, cr };
                for (size_t a = 0; a < 4; a++)
                    sums_scale(all[a], K, exp(*M - u));
                *M = u;
            }
            const double e = exp(u - *M);
            sums_add(fr, trap(i, n) * (d == 2 ? trap(j, n) : 1.0), e, u, k);
            if (i % 2 == 0 && j % 2 == 0)
                sums_add(cr, trap(i / 2, n / 2) * (d == 2 ? trap(j / 2, n / 2) : 1.0), e, u, k);
        }
        sums_flush(f, fr, K);
        sums_flush(c, cr, K);
    }
}

/* The box of the components that bound p_w's mass (see the top). */
static void make_box(dode_sharpened *s)
{
    const gmm_state *st = s->gmm->state;
    const size_t d = st->dim;
    for (size_t j = 0; j < 2; j++) {
        s->lo[j] = INFINITY;
        s->hi[j] = -INFINITY;
    }
    for (size_t k = 0; k < st->K; k++) {
        if (s->w >= 1.0 && st->labels[k] != s->cls)
            continue;
        for (size_t j = 0; j < d; j++) {
            const double v = st->kind == COV_ISO ? st->cov[k] : st->kind == COV_DIAG
                           ? st->cov[k * d + j] : st->cov[(k * d + j) * d + j];
            const double sd = sqrt(v + s->sigma * s->sigma), mu = st->mu[k * d + j] + st->mbar[j];
            s->lo[j] = fmin(s->lo[j], mu - BOX_R * sd);
            s->hi[j] = fmax(s->hi[j], mu + BOX_R * sd);
        }
    }
    if (d == 1)
        s->lo[1] = s->hi[1] = 0.0;
}

/* Refines until the integrals settle (see the top); fills the result fields. */
static int integrate(dode_sharpened *s, const row_eval *r, double log_wc, char *err,
                     size_t errlen)
{
    const size_t K = s->K, d = s->dim;
    double *buf = calloc(4 * K, sizeof *buf), change = INFINITY, mode_change = INFINITY;
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "sharpened target: out of memory");
    for (int L = LEVEL_MIN; L <= LEVEL_MAX && (change > TOL || mode_change > MODE_TOL); L++) {
        const size_t n = (size_t)1 << L;
        sums f = { 0, 0, buf }, c = { 0, 0, buf + K }, fr = { 0, 0, buf + 2 * K },
             cr = { 0, 0, buf + 3 * K };
        memset(buf, 0, 4 * K * sizeof *buf);
        double M;
        level_sums(s, r, n, &f, &c, &fr, &cr, &M);
        const double hh = (s->hi[0] - s->lo[0]) / (double)n
                        * (d == 2 ? (s->hi[1] - s->lo[1]) / (double)n : 1.0);
        const double lzf = M + log(hh * f.s0), lzc = M + log(hh * (d == 2 ? 4.0 : 2.0) * c.s0);
        const double nef = f.s1 / f.s0 - lzf, nec = c.s1 / c.s0 - lzc;
        change = fmax(fabs(lzf - lzc), fabs(nef - nec));
        mode_change = 0;
        for (size_t k = 0; k < K; k++) {
            s->mode_mass[k] = f.mode[k] / f.s0;
            mode_change = fmax(mode_change, fabs(s->mode_mass[k] - c.mode[k] / c.s0));
        }
        s->log_z = lzf;
        s->neg_entropy = nef;
        s->points = n + 1;
        if (!isfinite(change))
            break;
    }
    free(buf);
    /* mass outside the box, relative to Z, and its weight in E[log p_w] (|log p_w| there
     * is at most about R^2 max(w, 1) / 2 above the bulk's) */
    const double tail = 2.0 * (double)d * gsl_cdf_ugaussian_Q(BOX_R);
    const double rel = exp((s->w >= 1.0 ? (1.0 - s->w) * log_wc : 0.0) + log(tail) - s->log_z);
    /* and rounding: 2 (points + 1) ulps of each sum (row sums, then their sum) */
    const double round = 2.0 * (double)(s->points + 1) * DBL_EPSILON
                       * (2.0 + fabs(s->log_z) + fabs(s->neg_entropy));
    s->quad_err = change + round + rel * (1.0 + BOX_R * BOX_R * fmax(s->w, 1.0));
    s->mode_err = mode_change + rel;
    if (!(s->quad_err <= TOL_ACCEPT))
        return dode_fail(err, errlen, DODE_ESOLVER, "sharpened target (class %d, w = %g): the "
                         "quadrature did not settle on %zu points per axis (last change %g)",
                         s->cls, s->w, s->points, change);
    return DODE_OK;
}

/* The inputs checked; DODE_OK or a status with the message. */
static int check_args(const dode_model *gmm, int c, double w, double sigma, char *err,
                      size_t errlen)
{
    dode_model *sub = dode_gmm_class_new(gmm, c, err, errlen);   /* labels and class */
    if (sub == NULL)
        return gmm != NULL && gmm_is(gmm) && ((const gmm_state *)gmm->state)->labels != NULL
               ? DODE_ENOTFOUND : DODE_EUNSUPPORTED;
    dode_model_free(sub);
    if (gmm->dim != 1 && gmm->dim != 2)
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "sharpened target: the mixture has "
                         "dim %zu; the quadrature is a tensor grid over 1 or 2 dimensions",
                         gmm->dim);
    if (!(w >= 0 && isfinite(w)))
        return dode_fail(err, errlen, DODE_EINVAL, "sharpened target: scale w = %g must be "
                         "finite and >= 0", w);
    if (!(sigma >= 0 && isfinite(sigma)))
        return dode_fail(err, errlen, DODE_EINVAL, "sharpened target: sigma = %g must be "
                         "finite and >= 0", sigma);
    return DODE_OK;
}

dode_sharpened *dode_sharpened_new(const dode_model *gmm, int c, double w, double sigma,
                                   char *err, size_t errlen)
{
    if (check_args(gmm, c, w, sigma, err, errlen) != DODE_OK)
        return NULL;
    const gmm_state *st = gmm->state;
    dode_sharpened *s = calloc(1, sizeof *s);
    double *mass = calloc(st->K, sizeof *mass);
    if (s == NULL || mass == NULL) {
        free(s);
        free(mass);
        dode_fail(err, errlen, DODE_ENOMEM, "sharpened target: out of memory");
        return NULL;
    }
    *s = (dode_sharpened){ .gmm = gmm, .cls = c, .w = w, .sigma = sigma, .K = st->K,
                           .dim = st->dim, .mode_mass = mass };
    make_box(s);
    void *ws = NULL;
    row_eval r;
    int rc = row_eval_new(s, &ws, &r, err, errlen);
    if (rc == DODE_OK)
        rc = integrate(s, &r, r.log_wc, err, errlen);
    dode_model_workspace_free(gmm, ws);
    if (rc != DODE_OK) {
        dode_sharpened_free(s);
        return NULL;
    }
    return s;
}

void dode_sharpened_free(dode_sharpened *s)
{
    if (s == NULL)
        return;
    free(s->mode_mass);
    free(s);
}

static int row_finite(const double *x, size_t d)
{
    for (size_t j = 0; j < d; j++)
        if (!isfinite(x[j]))
            return 0;
    return 1;
}

int dode_sharpened_log_density(const dode_sharpened *s, size_t n, const double *xbar,
                               double *logp, size_t *mode, char *err, size_t errlen)
{
    void *ws = NULL;
    row_eval r;
    int rc = row_eval_new(s, &ws, &r, err, errlen);
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        const double *x = xbar + i * s->dim;
        size_t k = s->K;
        const double u = row_finite(x, s->dim) ? row_u(&r, x, &k) : NAN;
        logp[i] = u - s->log_z;
        if (mode != NULL)
            mode[i] = k;
    }
    dode_model_workspace_free(s->gmm, ws);
    return rc;
}

void dode_sharpened_gap_free(dode_sharpened_gap *gap)
{
    if (gap == NULL)
        return;
    free(gap->mode_frac);
    gap->mode_frac = gap->mode_half = NULL;
}

/* The gap's and the regions' statistics from the rows' log p_w and regions. */
static void gap_stats(const dode_sharpened *s, size_t n, const double *lp, const size_t *mode,
                      dode_sharpened_gap *gap)
{
    const size_t K = s->K;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        if (mode[i] < K)
            gap->mode_frac[mode[i]] += 1.0 / (double)n;
        if (isfinite(lp[i])) {
            gap->finite++;
            sum += lp[i];
        }
    }
    const double mean = gap->finite > 0 ? sum / (double)gap->finite : NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(lp[i]))
            sq += (lp[i] - mean) * (lp[i] - mean);
    for (size_t k = 0; k < K; k++) {
        const double p = gap->mode_frac[k];
        gap->mode_half[k] = 1.96 * sqrt(p * (1.0 - p) / (double)n);
    }
    gap->gap = mean - s->neg_entropy;
    gap->gap_half = gap->finite > 1 ? 1.96 * sqrt(sq / (double)(gap->finite - 1)
                                                  / (double)gap->finite) : NAN;
}

int dode_sharpened_compare(const dode_sharpened *s, size_t n, const double *xbar,
                           dode_sharpened_gap *gap, char *err, size_t errlen)
{
    *gap = (dode_sharpened_gap){ .n = n, .gap = NAN, .gap_half = NAN };
    if (n == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "sharpened target: no samples to compare");
    double *lp = malloc(n * sizeof *lp);
    size_t *mode = malloc(n * sizeof *mode);
    gap->mode_frac = calloc(2 * s->K, sizeof *gap->mode_frac);
    int rc = lp && mode && gap->mode_frac ? DODE_OK
           : dode_fail(err, errlen, DODE_ENOMEM, "sharpened target: out of memory for %zu "
                       "samples", n);
    if (rc == DODE_OK)
        rc = dode_sharpened_log_density(s, n, xbar, lp, mode, err, errlen);
    if (rc == DODE_OK) {
        gap->mode_half = gap->mode_frac + s->K;
        gap_stats(s, n, lp, mode, gap);
        if (gap->finite == 0)     /* the fractions stay filled (all 0) */
            rc = dode_fail(err, errlen, DODE_EINVAL, "sharpened target: none of the %zu "
                           "samples is finite", n);
    } else {
        dode_sharpened_gap_free(gap);
    }
    free(lp);
    free(mode);
    return rc;
}
