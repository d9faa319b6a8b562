/* ideal.c - the ideal denoiser (ideal.h): exact eps of a data set's empirical
 * distribution, a mixture of point masses (MATH.md section 5 with zero covariances).
 *
 * xc = xbar - ybar (points are stored centred on their mean ybar, which every formula is
 * invariant under and which keeps the expansion below well conditioned); logits
 * l_j = -(|xc|^2 - 2 xc.yc_j + |yc_j|^2) / (2 sigma^2) from a dgemm; a row softmax with
 * log-sum-exp; then m = sum_j gamma_j yc_j, eps = (xc - m) / sigma. eps streams the points
 * in chunks with an online softmax (see CHUNK); log_density, the Jacobian and the nearest
 * query take whole rows of logits.
 *
 * Invariants: the state is read-only after dode_ideal_new, so callbacks may run from
 * several threads at once, each with its own workspace (model.h) made once for n rows:
 * the larger of O(B CHUNK + B dim) for eps and O(B N + B dim + N) for the others, B rows
 * a block with B N <= BLOCK_ENTRIES. The model holds 2 N dim doubles (the points and
 * their centred copy). */
#include <gsl/gsl_cblas.h>   /* OpenBLAS's symbols through GSL's prototypes, as gmm.c */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/ideal.h"
#include "diffode/status.h"

static const double LOG_TWO_PI = 1.8378770664093454835606594728112;

/* Logits per block: 2^22 doubles (32 MiB), so N = 60000 still takes 69 rows a block and
 * the dgemm keeps its speed; the softmax passes cost ~2% of the dgemm at dim = 784. */
enum { BLOCK_ENTRIES = 1 << 22 };

/* The expanded logit loses at most about eps_mach (|xc| + |yc|)^2 / (2 sigma^2) absolutely
 * (the rounding of terms that cancel down to -|xc - yc|^2 / (2 sigma^2)); where that bound
 * exceeds REFINE_T eps_mach (~1e-12, typically far less as roundings do not all add up) the
 * logits within LOGIT_SPAN of the row's best (those with weight above e^-40) are
 * recomputed directly, O(dim) each. The bound stays below it for sigma >~ 1 on [-1, 1]
 * pixel data, where every logit is in the span and refining them all would cost 2x the
 * dgemm; below, few points are within the span. */
static const double REFINE_T = 4096.0;
static const double LOGIT_SPAN = 40.0;

/* Weights below e^-50 of the largest are 0 without calling exp (gmm.c's cutoff). */
static const double EXP_CUTOFF = 50.0;

/* A block whose nonzero weights are at most this share of its entries sums them point by
 * point (daxpy) instead of the dense dgemm: an axpy costs ~4x a dgemm entry. */
static const double SPARSE_SHARE = 0.125;

typedef struct {
    size_t N, dim;
    double *points;   /* [N][dim] as given */
    double *yc;       /* [N][dim] points minus ybar */
    double *ybar;     /* [dim] mean of the points */
    double *yy;       /* [N] |yc_j|^2 */
    double ymax;      /* max_j |yc_j| */
} ideal_state;

/* One block's workspace. */
typedef struct {
    double *xc;     /* [B][dim] xbar - ybar */
    double *q;      /* [B][N] logits, then exp(l - max) */
    double *m;      /* [B][dim] sum_j e_j yc_j, then divided by the row's sum */
    double *xx;     /* [B] |xc|^2 */
    double *xb;     /* [B][dim] xbar itself: refined logits use it with the given points */
    double *lse;    /* [B] log-sum-exp of the row's logits */
    double *sum;    /* [B] sum of the row's exp(l - max) */
    size_t nnz;     /* nonzero weights in the block */
} ideal_work;

static int ideal_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out);

static const ideal_state *ideal_of(const dode_model *m)
{
    return m != NULL && m->eps == ideal_eps ? m->state : NULL;
}

static size_t block_rows(const ideal_state *st, size_t n)
{
    size_t B = BLOCK_ENTRIES / st->N;
    B = B < 1 ? 1 : B;
    return n < B ? n : B;
}

/* Views for blocks of B rows cut from block (B (N + 3 dim + 3) doubles). */
static void work_cut(const ideal_state *st, size_t B, double *block, ideal_work *w)
{
    const size_t d = st->dim;
    w->xc = block;
    w->q = w->xc + B * d;
    w->m = w->q + B * st->N;
    w->xx = w->m + B * d;
    w->lse = w->xx + B;
    w->sum = w->lse + B;
    w->xb = w->sum + B;
}

/* The same, one allocation of its own (free w->xc). */
static int work_new(const ideal_state *st, size_t B, ideal_work *w)
{
    size_t len;
    double *block;
    if (dode_mul_size(B, st->N + 3 * st->dim + 3, &len) != DODE_OK
        || (block = malloc(len * sizeof(double))) == NULL)
        return DODE_ENOMEM;
    work_cut(st, B, block, w);
    return DODE_OK;
}

/* xb = x * scale (xbar), xc = xb - ybar and xx = |xc|^2 for nb rows. The refined logits
 * take xb and the points as given, not their centred copies: centring rounds, and at
 * sigma = 0.01 a logit's condition number |xbar - y| |y| / sigma^2 is ~1e6. */
static void block_input(const ideal_state *st, const double *x, size_t nb, double scale,
                        double *xb, double *xc, double *xx)
{
    const size_t d = st->dim;
    for (size_t i = 0; i < nb; i++) {
        double ss = 0, *row = xc + i * d;
        for (size_t j = 0; j < d; j++) {
            xb[i * d + j] = x[i * d + j] * scale;
            row[j] = xb[i * d + j] - st->ybar[j];
            ss += row[j] * row[j];
        }
        xx[i] = ss;
    }
}

/* |a - b|^2 in dim terms: the direct, well-conditioned form. */
static double dist2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

static double row_max(const double *l, size_t N)
{
    double mx = -INFINITY;
    for (size_t j = 0; j < N; j++)
        mx = l[j] > mx ? l[j] : mx;
    return mx;
}

/* Row i's logits from the dot products, refined where the expansion is imprecise (see
 * REFINE_T); returns the row's maximum. */
static double row_logits(const ideal_state *st, ideal_work *w, size_t i, double s2)
{
    const size_t N = st->N, d = st->dim;
    const double xx = w->xx[i], *xb = w->xb + i * d, c = 0.5 / s2;
    double *l = w->q + i * N;
    for (size_t j = 0; j < N; j++)
        l[j] = (2.0 * l[j] - st->yy[j] - xx) * c;
    double mx = row_max(l, N);
    const double r = sqrt(xx) + st->ymax;
    if (r * r * c <= REFINE_T)
        return mx;
    for (size_t j = 0; j < N; j++)
        if (l[j] > mx - LOGIT_SPAN)
            l[j] = -dist2(xb, st->points + j * d, d) * c;
    return row_max(l, N);
}

/* Row i: logits to exp(l - max) (0 below the cutoff), its sum, lse; counts nonzeros. */
static void row_softmax(const ideal_state *st, ideal_work *w, size_t i, double s2)
{
    const size_t N = st->N;
    const double mx = row_logits(st, w, i, s2);
    double *l = w->q + i * N, sum = 0;
    for (size_t j = 0; j < N; j++) {
        if (l[j] - mx < -EXP_CUTOFF) {
            l[j] = 0.0;
            continue;
        }
        sum += (l[j] = exp(l[j] - mx));
        w->nnz++;
    }
    w->sum[i] = sum;
    w->lse[i] = mx + log(sum);
}

/* The logits' dgemm (xc yc^T) and the row softmax for nb rows already in w->xc. */
static void block_softmax(const ideal_state *st, ideal_work *w, size_t nb, double sigma)
{
    const size_t N = st->N, d = st->dim;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)N, (int)d, 1.0, w->xc,
                (int)d, st->yc, (int)d, 0.0, w->q, (int)N);
    w->nnz = 0;
    for (size_t i = 0; i < nb; i++)
        row_softmax(st, w, i, sigma * sigma);
}

/* m_i = sum_j gamma_j yc_j: dense dgemm, or point by point where few weights are nonzero. */
static void block_mean(const ideal_state *st, ideal_work *w, size_t nb)
{
    const size_t N = st->N, d = st->dim;
    if ((double)w->nnz > SPARSE_SHARE * (double)nb * (double)N) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)d, (int)N, 1.0,
                    w->q, (int)N, st->yc, (int)d, 0.0, w->m, (int)d);
    } else {
        memset(w->m, 0, nb * d * sizeof *w->m);
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < N; j++)
                if (w->q[i * N + j] != 0.0)
                    cblas_daxpy((int)d, w->q[i * N + j], st->yc + j * d, 1, w->m + i * d, 1);
    }
    for (size_t i = 0; i < nb; i++)
        cblas_dscal((int)d, 1.0 / w->sum[i], w->m + i * d, 1);
}

/* eps streams the points in chunks of CHUNK (3 MiB of them at dim = 784, which stay in
 * cache between the chunk's two products): each chunk's logits, then its share of m with
 * an online softmax (the running maximum M rescales the sums so far by exp(M_old - M),
 * as in flash attention), so the points are read from memory once per call instead of
 * twice. With few rows the products are bound by that memory traffic. */
enum { CHUNK = 512 };

/* Streaming workspace for B rows. */
typedef struct {
    double *xc, *q, *m;    /* [B][dim], [B][CHUNK], [B][dim] */
    double *xx, *mx, *sum; /* [B] |xc|^2, running max, running sum of exp(l - mx) */
    double *xb;            /* [B][dim] xbar (block_input) */
    size_t nnz;
} stream_work;

/* Views for B rows cut from block (B (CHUNK + 3 dim + 3) doubles). */
static void stream_cut(const ideal_state *st, size_t B, double *block, stream_work *w)
{
    const size_t d = st->dim;
    w->xc = block;
    w->q = w->xc + B * d;
    w->m = w->q + B * CHUNK;
    w->xx = w->m + B * d;
    w->mx = w->xx + B;
    w->sum = w->mx + B;
    w->xb = w->sum + B;
}

/* Row i of chunk [j0, j0 + c): logits (refined as row_logits does, against the running
 * maximum, which refines a superset of what the final one would), the rescale of the
 * row's sums to the new maximum, then exp(l - M) in place. */
static void chunk_row(const ideal_state *st, stream_work *w, size_t i, size_t j0, size_t c,
                      double s2)
{
    const size_t d = st->dim;
    const double xx = w->xx[i], *xb = w->xb + i * d, cc = 0.5 / s2, r = sqrt(xx) + st->ymax;
    double *l = w->q + i * CHUNK, old = w->mx[i];
    for (size_t k = 0; k < c; k++)
        l[k] = (2.0 * l[k] - st->yy[j0 + k] - xx) * cc;
    double M = fmax(old, row_max(l, c));
    if (r * r * cc > REFINE_T) {
        for (size_t k = 0; k < c; k++)
            if (l[k] > M - LOGIT_SPAN)
                l[k] = -dist2(xb, st->points + (j0 + k) * d, d) * cc;
        M = fmax(old, row_max(l, c));
    }
    if (M > old && old > -INFINITY) {
        const double alpha = exp(old - M);
        w->sum[i] *= alpha;
        cblas_dscal((int)d, alpha, w->m + i * d, 1);
    }
    w->mx[i] = M;
    for (size_t k = 0; k < c; k++) {
        l[k] = l[k] - M < -EXP_CUTOFF ? 0.0 : exp(l[k] - M);
        w->sum[i] += l[k];
        w->nnz += l[k] != 0.0;
    }
}

/* One chunk for nb rows: logits dgemm, rows, then m += E Y_chunk (dense or sparse). */
static void chunk_step(const ideal_state *st, stream_work *w, size_t nb, size_t j0, size_t c,
                       double s2)
{
    const size_t d = st->dim;
    const double *Y = st->yc + j0 * d;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)c, (int)d, 1.0, w->xc,
                (int)d, Y, (int)d, 0.0, w->q, CHUNK);
    w->nnz = 0;
    for (size_t i = 0; i < nb; i++)
        chunk_row(st, w, i, j0, c, s2);
    if ((double)w->nnz > SPARSE_SHARE * (double)nb * (double)c) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)d, (int)c, 1.0,
                    w->q, CHUNK, Y, (int)d, 1.0, w->m, (int)d);
        return;
    }
    for (size_t i = 0; i < nb; i++)
        for (size_t k = 0; k < c; k++)
            if (w->q[i * CHUNK + k] != 0.0)
                cblas_daxpy((int)d, w->q[i * CHUNK + k], Y + k * d, 1, w->m + i * d, 1);
}

/* eps of nb rows (x scaled by `scale` into w->xc first) into out. */
static void stream_block(const ideal_state *st, stream_work *w, const double *x, size_t nb,
                         double sigma, double *out)
{
    const size_t d = st->dim, N = st->N;
    block_input(st, x, nb, sqrt(1.0 + sigma * sigma), w->xb, w->xc, w->xx);
    memset(w->m, 0, nb * d * sizeof *w->m);
    for (size_t i = 0; i < nb; i++) {
        w->mx[i] = -INFINITY;
        w->sum[i] = 0.0;
    }
    for (size_t j0 = 0; j0 < N; j0 += CHUNK)
        chunk_step(st, w, nb, j0, N - j0 < CHUNK ? N - j0 : CHUNK, sigma * sigma);
    for (size_t i = 0; i < nb; i++)
        for (size_t a = 0; a < d; a++)
            out[i * d + a] = (w->xc[i * d + a] - w->m[i * d + a] / w->sum[i]) / sigma;
}

/* Rows per block of eps's stream for a call of n rows. */
static size_t stream_rows(size_t n)
{
    return BLOCK_ENTRIES / CHUNK < n ? BLOCK_ENTRIES / CHUNK : n;
}

/* eps at x = xbar / sqrt(1 + sigma^2): epsh = (xc - m) / sigma (ideal.h). */
static int ideal_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    (void)t;
    const ideal_state *st = m->state;
    const size_t d = st->dim, B = stream_rows(n);
    stream_work w;
    if (!(sigma > 0 && isfinite(sigma)))
        return DODE_EINVAL;
    if (n == 0)
        return DODE_OK;
    stream_cut(st, B, ws, &w);
    for (size_t i0 = 0; i0 < n; i0 += B)
        stream_block(st, &w, x + i0 * d, n - i0 < B ? n - i0 : B, sigma, out + i0 * d);
    return DODE_OK;
}

/* log p_sigma(xbar) = lse_j(l_j) - log N - (dim/2) log(2 pi sigma^2) (ideal.h). */
static int ideal_log_density(const dode_model *m, void *ws, size_t n, const double *xbar,
                             double sigma, double *logp)
{
    const ideal_state *st = m->state;
    const size_t d = st->dim, B = block_rows(st, n);
    ideal_work w;
    if (!(sigma > 0 && isfinite(sigma)))
        return DODE_EINVAL;
    if (n == 0)
        return DODE_OK;
    work_cut(st, B, ws, &w);
    const double c = -log((double)st->N) - 0.5 * (double)d * (LOG_TWO_PI + 2.0 * log(sigma));
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        block_input(st, xbar + i0 * d, nb, 1.0, w.xb, w.xc, w.xx);
        block_softmax(st, &w, nb, sigma);
        for (size_t i = 0; i < nb; i++)
            logp[i0 + i] = w.lse[i] + c;
    }
    return DODE_OK;
}

/* Jacobian workspace: Z holds up to JAC_CHUNK rows sqrt(gamma_j) (yc_j - m) for dsyrk. */
enum { JAC_CHUNK = 256 };

typedef struct {
    double *z;     /* [JAC_CHUNK][dim] */
    double *dl;    /* [N] d l_j / d sigma = |xc - yc_j|^2 / sigma^3 (nonzero weights only) */
} jac_work;

/* J -= (1/sigma^3) sum_j gamma_j (yc_j - m)(yc_j - m)^T over the nonzero weights g (lower
 * triangle through dsyrk, mirrored by the caller). */
static void jac_cov(const ideal_state *st, const double *g, const double *mi, double sigma,
                    jac_work *jw, double *J)
{
    const size_t N = st->N, d = st->dim;
    size_t k = 0;
    for (size_t j = 0; j <= N; j++) {
        if (k == JAC_CHUNK || (j == N && k > 0)) {
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)k,
                        -1.0 / (sigma * sigma * sigma), jw->z, (int)d, 1.0, J, (int)d);
            k = 0;
        }
        if (j == N || g[j] == 0.0)
            continue;
        const double r = sqrt(g[j]);
        for (size_t a = 0; a < d; a++)
            jw->z[k * d + a] = r * (st->yc[j * d + a] - mi[a]);
        k++;
    }
}

/* d epsh/d sigma at fixed xbar = -(xc - m)/sigma^2 - m'/sigma with
 * m' = sum_j gamma_j (dl_j - <dl>) (yc_j - m) (ideal.h). */
static void jac_dsigma(const ideal_state *st, const double *g, const double *xc,
                       const double *mi, double sigma, jac_work *jw, double *out)
{
    const size_t N = st->N, d = st->dim;
    double mean = 0;
    for (size_t j = 0; j < N; j++)
        if (g[j] != 0.0)
            mean += g[j] * (jw->dl[j] = dist2(xc, st->yc + j * d, d) / (sigma * sigma * sigma));
    for (size_t a = 0; a < d; a++)
        out[a] = -(xc[a] - mi[a]) / (sigma * sigma);
    for (size_t j = 0; j < N; j++)
        if (g[j] != 0.0)
            for (size_t a = 0; a < d; a++)
                out[a] -= g[j] * (jw->dl[j] - mean) * (st->yc[j * d + a] - mi[a]) / sigma;
}

/* One row's Jacobian from its normalised weights g and mean mi. */
static void row_jacobian(const ideal_state *st, const double *g, const double *mi,
                         double sigma, jac_work *jw, double *J)
{
    const size_t d = st->dim;
    memset(J, 0, d * d * sizeof *J);
    for (size_t a = 0; a < d; a++)
        J[a * d + a] = 1.0 / sigma;
    jac_cov(st, g, mi, sigma, jw, J);
    for (size_t a = 0; a < d; a++)
        for (size_t b = a + 1; b < d; b++)
            J[a * d + b] = J[b * d + a];
}

static int ideal_jacobian(const dode_model *m, void *ws, size_t n, const double *xbar,
                          double sigma, double *jac, double *deps_dsigma)
{
    const ideal_state *st = m->state;
    const size_t N = st->N, d = st->dim, B = block_rows(st, n);
    ideal_work w;
    if (!(sigma > 0 && isfinite(sigma)))
        return DODE_EINVAL;
    if (n == 0)
        return DODE_OK;
    work_cut(st, B, ws, &w);
    jac_work jw = { .z = (double *)ws + B * (N + 3 * d + 3) };
    jw.dl = jw.z + JAC_CHUNK * d;
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        block_input(st, xbar + i0 * d, nb, 1.0, w.xb, w.xc, w.xx);
        block_softmax(st, &w, nb, sigma);
        block_mean(st, &w, nb);
        for (size_t i = 0; i < nb; i++) {
            double *g = w.q + i * N;
            cblas_dscal((int)N, 1.0 / w.sum[i], g, 1);
            row_jacobian(st, g, w.m + i * d, sigma, &jw, jac + (i0 + i) * d * d);
            if (deps_dsigma != NULL)
                jac_dsigma(st, g, w.xc + i * d, w.m + i * d, sigma, &jw,
                           deps_dsigma + (i0 + i) * d);
        }
    }
    return DODE_OK;
}

/* The workspace (model.h) for up to n rows: one block, which eps cuts into its stream's
 * views and log_density and the Jacobian into ideal_work's (then jac_work's), whichever
 * is larger; NULL on overflow or no memory. */
static void *ideal_workspace_new(const dode_model *m, size_t n)
{
    const ideal_state *st = m->state;
    const size_t N = st->N, d = st->dim;
    size_t stream, work;
    if (dode_mul_size(stream_rows(n), CHUNK + 3 * d + 3, &stream) != DODE_OK
        || dode_mul_size(block_rows(st, n), N + 3 * d + 3, &work) != DODE_OK
        || (work += JAC_CHUNK * d + N) > (size_t)-1 / sizeof(double) / 2)
        return NULL;
    return malloc((stream > work ? stream : work) * sizeof(double));
}

static void ideal_workspace_free(void *ws)
{
    free(ws);
}

/* Row i's nearest point: the expanded squared distances find the candidates, those within
 * their rounding (a relative 1e-9 of the terms) of the best are measured directly. */
static void row_nearest(const ideal_state *st, const ideal_work *w, size_t i, size_t *index,
                        double *dist)
{
    const size_t N = st->N, d = st->dim;
    const double *dots = w->q + i * N, *xb = w->xb + i * d, xx = w->xx[i];
    double best = INFINITY;
    for (size_t j = 0; j < N; j++)
        best = fmin(best, xx - 2.0 * dots[j] + st->yy[j]);
    const double slack = 1e-9 * (xx + st->ymax * st->ymax) + 1e-300;
    double exact = INFINITY;
    size_t arg = 0;
    for (size_t j = 0; j < N; j++) {
        if (xx - 2.0 * dots[j] + st->yy[j] > best + slack)
            continue;
        const double dd = dist2(xb, st->points + j * d, d);
        if (dd < exact) {
            exact = dd;
            arg = j;
        }
    }
    *index = arg;
    *dist = sqrt(exact);
}

int dode_ideal_nearest(const dode_model *m, size_t n, const double *x, size_t *index,
                       double *dist, char *err, size_t errlen)
{
    const ideal_state *st = ideal_of(m);
    ideal_work w;
    if (st == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "nearest data point: the model is %s, not "
                         "an ideal denoiser", m != NULL ? m->name : "NULL");
    if (n == 0)
        return DODE_OK;
    const size_t d = st->dim, N = st->N, B = block_rows(st, n);
    if (x == NULL || work_new(st, B, &w) != DODE_OK)
        return dode_fail(err, errlen, x == NULL ? DODE_EINVAL : DODE_ENOMEM, "nearest data "
                         "point: %s", x == NULL ? "NULL rows" : "out of memory");
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        block_input(st, x + i0 * d, nb, 1.0, w.xb, w.xc, w.xx);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)N, (int)d, 1.0,
                    w.xc, (int)d, st->yc, (int)d, 0.0, w.q, (int)N);
        for (size_t i = 0; i < nb; i++) {
            size_t k;
            double r;
            row_nearest(st, &w, i, &k, &r);
            if (index != NULL)
                index[i0 + i] = k;
            if (dist != NULL)
                dist[i0 + i] = r;
        }
    }
    free(w.xc);
    return DODE_OK;
}

const double *dode_ideal_points(const dode_model *m, size_t *N)
{
    const ideal_state *st = ideal_of(m);
    if (st != NULL && N != NULL)
        *N = st->N;
    return st != NULL ? st->points : NULL;
}

static void ideal_free(dode_model *m)
{
    ideal_state *st = m->state;
    free(st->points);     /* the one block the arrays are cut from */
    free(st);
    free(m);
}

/* Copies the points and fills the centred copy, mean, norms. */
static void state_fill(ideal_state *st, const double *points)
{
    const size_t N = st->N, d = st->dim;
    memcpy(st->points, points, N * d * sizeof *points);
    memset(st->ybar, 0, d * sizeof *st->ybar);
    for (size_t j = 0; j < N; j++)
        for (size_t a = 0; a < d; a++)
            st->ybar[a] += points[j * d + a] / (double)N;
    st->ymax = 0;
    for (size_t j = 0; j < N; j++) {
        double ss = 0;
        for (size_t a = 0; a < d; a++) {
            const double v = st->yc[j * d + a] = points[j * d + a] - st->ybar[a];
            ss += v * v;
        }
        st->yy[j] = ss;
        st->ymax = fmax(st->ymax, sqrt(ss));
    }
}

/* Argument checks of dode_ideal_new: sizes within BLAS's int, values finite. */
static int ideal_check(const double *points, size_t N, size_t dim, char *err, size_t errlen)
{
    size_t len;
    if (points == NULL || N == 0 || dim == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "ideal denoiser: need at least one point "
                         "of dimension >= 1 (got %zu x %zu%s)", N, dim,
                         points == NULL ? ", NULL" : "");
    if (N > (size_t)2147483647 || dim > (size_t)2147483647
        || dode_mul_size(N, dim, &len) != DODE_OK || len > ((size_t)1 << 34))
        return dode_fail(err, errlen, DODE_EINVAL, "ideal denoiser: %zu points x %zu "
                         "dimensions is too large", N, dim);
    for (size_t k = 0; k < len; k++)
        if (!isfinite(points[k]))
            return dode_fail(err, errlen, DODE_EINVAL, "ideal denoiser: point %zu (0-based), "
                             "coordinate %zu is %g, not a finite number", k / dim, k % dim,
                             points[k]);
    return DODE_OK;
}

dode_model *dode_ideal_new(const double *points, size_t N, size_t dim, char *err,
                           size_t errlen)
{
    if (ideal_check(points, N, dim, err, errlen) != DODE_OK)
        return NULL;
    dode_model *m = calloc(1, sizeof *m);
    ideal_state *st = calloc(1, sizeof *st);
    double *block = malloc((2 * N * dim + dim + N) * sizeof *block);
    if (m == NULL || st == NULL || block == NULL) {
        free(m);
        free(st);
        free(block);
        dode_fail(err, errlen, DODE_ENOMEM, "ideal denoiser: out of memory for %zu points x "
                  "%zu dimensions", N, dim);
        return NULL;
    }
    *st = (ideal_state){ .N = N, .dim = dim, .points = block, .yc = block + N * dim,
                         .ybar = block + 2 * N * dim, .yy = block + 2 * N * dim + dim };
    state_fill(st, points);
    *m = (dode_model){ .name = "ideal", .dim = dim, .prediction = DODE_PRED_EPS,
                       .eps = ideal_eps, .jacobian = ideal_jacobian,
                       .log_density = ideal_log_density,
                       .workspace_new = ideal_workspace_new,
                       .workspace_free = ideal_workspace_free, .free = ideal_free, .state = st };
    return m;
}
