/* gmm.c - the exact Gaussian-mixture model sum_k w_k N(mu_k, S_k) (MATH.md section 5).
 *
 * xbar | sigma ~ sum_k w_k N(mu_k, C_k), C_k = S_k + sigma^2 I. With g_k = C_k^{-1}(xbar - mu_k)
 * and responsibilities gamma = softmax_k(log w_k + log N(xbar; mu_k, C_k)) (log-sum-exp),
 *   epsh = sigma sum_k gamma_k g_k,  log p_sigma(xbar) = logsumexp_k(...).
 * S_k is isotropic (std_k^2 I), diagonal, or full (SPD, Cholesky factor per call).
 *
 * Invariants: the state is read-only after dode_gmm_new, so every callback may run from
 * several threads at once, each with its own workspace (model.h), made once for n rows:
 * the per-sigma arrays (O(K d), 2 K d^2 for full covariances) and the largest per-call
 * block (O(B K + B d + K d) for eps in blocks of B <= n rows, B K <= 2^16). Means are stored minus their
 * weighted mean mbar (every formula is invariant under shifting xbar and mu together):
 * this keeps the expanded quadratic forms of the BLAS path below well conditioned. */
#include <gsl/gsl_cblas.h>   /* not <cblas.h>: both define the enums; the symbols are
                                OpenBLAS's either way, as GSL links -lopenblas (Makefile) */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/model.h"
#include "diffode/status.h"
#include "gmm_impl.h"
#include "gsl_quiet.h"
#include "nonfinite.h"


static const double LOG_TWO_PI = 1.8378770664093454835606594728112;

/* Rows per block of the BLAS path: B K <= BLOCK_ENTRIES logits (512 KiB, so the softmax
 * passes run in cache; larger blocks measured no faster for K = 1000), B >= MIN_ROWS. */
enum { BLOCK_ENTRIES = 1 << 16, MIN_ROWS = 8 };

/* Expanding ||x - mu||^2 / c as (||x||^2 - 2 x.mu + ||mu||^2) / c loses about
 * eps * T absolutely, T = (||x||^2 + ||mu||^2) / c, in a logit; that is a relative error
 * in gamma. Where T > REFINE_T (error above ~1e-13) and the component matters (logit
 * within LOGIT_SPAN of the row's best, i.e. weight > e^-40 relative), q_k and the
 * component's share of eps are recomputed directly in O(d). Far from the means, or at
 * small sigma near a mean far from mbar, only the few competing components pay this. */
static const double REFINE_T = 512.0;
static const double LOGIT_SPAN = 40.0;

/* Responsibilities below e^-50 = 2e-22 of the largest are set to 0 without calling exp:
 * even 10^6 of them change the sum by less than its rounding (exp is the costly part). */
static const double EXP_CUTOFF = 50.0;



static double max2(double a, double b)
{
    return a > b ? a : b;   /* NaN-blind, but cheaper than a call to fmax in the hot loops */
}

static int sig_full(const gmm_state *st, gmm_sig *sg, int want_inv)
{
    const size_t K = st->K, d = st->dim;
    for (size_t k = 0; k < K; k++) {
        double *L = sg->chol + k * d * d;
        memcpy(L, st->cov + k * d * d, d * d * sizeof *L);
        for (size_t j = 0; j < d; j++)
            L[j * d + j] += sg->sigma * sg->sigma;
        gsl_matrix_view v = gsl_matrix_view_array(L, d, d);
        if (gsl_linalg_cholesky_decomp1(&v.matrix) != GSL_SUCCESS)
            return DODE_ENONFINITE;   /* S_k was SPD when built: only overflow gets here */
        double logdet = 0;
        for (size_t j = 0; j < d; j++)
            logdet += 2.0 * log(L[j * d + j]);
        sg->lwc[k] = st->logw[k] - 0.5 * (logdet + (double)d * LOG_TWO_PI);
        if (want_inv) {
            double *Ci = sg->cinv + k * d * d;
            memcpy(Ci, L, d * d * sizeof *Ci);
            gsl_matrix_view vi = gsl_matrix_view_array(Ci, d, d);
            if (gsl_linalg_cholesky_invert(&vi.matrix) != GSL_SUCCESS)
                return DODE_ENONFINITE;
        }
    }
    return DODE_OK;
}

/* Iso and diag: 1/c, and row k of ma = [mu_k / c_k (d), -1/(2 c_k) (s), b_k] with
 * b_k = log w_k - (log det C_k + d log 2 pi + mu_k^T C_k^{-1} mu_k) / 2, so that
 * [xc, sq, 1] . ma_k is the logit, sq = ||xc||^2 (iso) or xc^2 (diag): one dgemm. */
static void sig_diag(const gmm_state *st, gmm_sig *sg)
{
    const size_t K = st->K, d = st->dim, W = sg->width, iso = st->kind == COV_ISO;
    const double s2 = sg->sigma * sg->sigma;
    sg->cmax_all = sg->mmc_max = 0;
    for (size_t k = 0; k < K; k++) {
        double logdet = 0, mmc = 0, cmax = 0, *row = sg->ma + k * W;
        for (size_t j = 0; j < d; j++) {
            const size_t kj = k * d + j;
            const double c = (iso ? st->cov[k] : st->cov[kj]) + s2;
            logdet += log(c);
            mmc += st->mu[kj] * st->mu[kj] / c;
            cmax = max2(cmax, 1.0 / c);
            sg->cinv[iso ? k : kj] = 1.0 / c;
            row[j] = st->mu[kj] / c;
            row[d + (iso ? 0 : j)] = -0.5 / c;
        }
        sg->mmc[k] = mmc;
        sg->cmax[k] = cmax;
        sg->lwc[k] = st->logw[k] - 0.5 * (logdet + (double)d * LOG_TWO_PI);
        row[W - 1] = sg->lwc[k] - 0.5 * mmc;
        sg->cmax_all = max2(sg->cmax_all, cmax);
        sg->mmc_max = max2(sg->mmc_max, mmc);
    }
}

static size_t sig_width(const gmm_state *st)
{
    return st->kind == COV_ISO ? st->dim + 2 : 2 * st->dim + 1;
}

/* Doubles of the per-sigma arrays, with room for dense C_k^{-1} (the Jacobian's). */
size_t gmm_sig_len(const gmm_state *st)
{
    const size_t K = st->K, kd = K * st->dim, kdd = kd * st->dim, W = sig_width(st);
    return 3 * K + (st->kind == COV_ISO ? K + K * W : st->kind == COV_DIAG ? kd + K * W
                    : 2 * kdd);
}

/* Fills sg for this sigma, its arrays cut from block (gmm_sig_len doubles of the workspace);
 * want_inv asks for dense C_k^{-1} of full covariances. */
int gmm_sig_new(const gmm_state *st, double sigma, int want_inv, double *block, gmm_sig *sg)
{
    const size_t K = st->K, d = st->dim, kd = K * d, kdd = K * d * d;
    memset(sg, 0, sizeof *sg);
    sg->sigma = sigma;
    sg->width = sig_width(st);
    if (!(sigma >= 0 && isfinite(sigma)))
        return DODE_EINVAL;
    sg->lwc = block;
    sg->mmc = sg->lwc + K;
    sg->cmax = sg->mmc + K;
    if (st->kind == COV_FULL) {
        sg->chol = sg->cmax + K;
        sg->cinv = want_inv ? sg->chol + kdd : NULL;
        return sig_full(st, sg, want_inv);
    }
    sg->cinv = sg->cmax + K;
    sg->ma = sg->cinv + (st->kind == COV_ISO ? K : kd);
    sig_diag(st, sg);
    return DODE_OK;
}

/* g = C_k^{-1} diff in place; returns q = diff^T C_k^{-1} diff (the direct formula). */
static double comp_solve(const gmm_state *st, const gmm_sig *sg, size_t k, double *g)
{
    const size_t d = st->dim;
    double q = 0;
    if (st->kind == COV_FULL) {
        const double *L = sg->chol + k * d * d;
        cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)d, L, (int)d, g, 1);
        for (size_t j = 0; j < d; j++)
            q += g[j] * g[j];
        cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, (int)d, L, (int)d, g, 1);
        return q;
    }
    for (size_t j = 0; j < d; j++) {
        const double ci = st->kind == COV_ISO ? sg->cinv[k] : sg->cinv[k * d + j];
        q += g[j] * g[j] * ci;
        g[j] *= ci;
    }
    return q;
}

/* Softmax in place with log-sum-exp; returns the log-sum-exp. */
static double softmax(double *l, size_t K)
{
    double mx = -INFINITY, sum = 0;
    for (size_t k = 0; k < K; k++)
        mx = fmax(mx, l[k]);
    for (size_t k = 0; k < K; k++)
        sum += (l[k] = exp(l[k] - mx));
    for (size_t k = 0; k < K; k++)
        l[k] /= sum;
    return mx + log(sum);
}

/* One row's logits log w_k + log N(xbar; mu_k, C_k) into l [K] and g_k = C_k^{-1}(xbar -
 * mu_k) into g [K][d], by the direct formula; xc = xbar - mbar. */
void gmm_row_logits(const gmm_state *st, const gmm_sig *sg, const double *xc, double *l,
                    double *g)
{
    const size_t K = st->K, d = st->dim;
    for (size_t k = 0; k < K; k++) {
        double *gk = g + k * d;
        for (size_t j = 0; j < d; j++)
            gk[j] = xc[j] - st->mu[k * d + j];
        l[k] = sg->lwc[k] - 0.5 * comp_solve(st, sg, k, gk);
    }
}

/* One row by the direct formula: xc = xbar - mbar; gamma [K] and g [K][d]; returns lse. */
double gmm_row_direct(const gmm_state *st, const gmm_sig *sg, const double *xc,
                      double *gamma, double *g)
{
    gmm_row_logits(st, sg, xc, gamma, g);
    return softmax(gamma, st->K);
}

/* Workspace of the BLAS path for one block of at most B rows. */
typedef struct {
    double *xa;    /* [B][width] [xc, sq, 1], xc = xbar - mbar (see sig_diag) */
    double *q;     /* [B][K] logits, then exp(logit - max) of the expanded components */
    double *r;     /* [B][d + s] q times the first d + s columns of ma */
    double *dir;   /* [B][d] eps / sigma share of the refined components, computed directly */
    double *xx;    /* [B] ||xc||^2 */
    double *inv;   /* [B] 1 / sum of the row's exp(logit - max) */
    double *diff;  /* [d] scratch */
    size_t *ref;   /* [K] the refined components of the current row */
} eps_work;

/* dir += gamma_k C_k^{-1}(xc - mu_k): a refined component's share of eps / sigma. */
static void refined_share(const gmm_state *st, const gmm_sig *sg, size_t k, double gamma,
                          const double *xc, double *dir)
{
    const size_t d = st->dim;
    for (size_t j = 0; j < d; j++)
        dir[j] += gamma * (xc[j] - st->mu[k * d + j])
                  * (st->kind == COV_ISO ? sg->cinv[k] : sg->cinv[k * d + j]);
}

/* Recomputes directly the row's logits that the expansion got imprecisely (see REFINE_T)
 * and that matter (within LOGIT_SPAN of the maximum); returns how many, listed in ref. */
static size_t row_refine(const gmm_state *st, const gmm_sig *sg, eps_work *w, size_t i,
                         double mx)
{
    const size_t K = st->K, d = st->dim;
    const double xx = w->xx[i], *xc = w->xa + i * sg->width;
    double *l = w->q + i * K;
    size_t nref = 0;
    if (xx * sg->cmax_all + sg->mmc_max <= REFINE_T)
        return 0;   /* no component of this row can be ill-conditioned */
    for (size_t k = 0; k < K; k++)
        if (xx * sg->cmax[k] + sg->mmc[k] > REFINE_T && l[k] > mx - LOGIT_SPAN) {
            for (size_t j = 0; j < d; j++)
                w->diff[j] = xc[j] - st->mu[k * d + j];
            l[k] = sg->lwc[k] - 0.5 * comp_solve(st, sg, k, w->diff);
            w->ref[nref++] = k;
        }
    return nref;
}

/* One row of logits to unnormalised responsibilities exp(l - max) (any shift is exact for
 * a softmax; the refined logits differ from the expanded ones by far less than the 709
 * that would overflow); refined components move their share to dir and leave q. */
static void row_softmax(const gmm_state *st, const gmm_sig *sg, eps_work *w, size_t i)
{
    const size_t K = st->K, d = st->dim;
    double *l = w->q + i * K, mx = -INFINITY, sum = 0;
    for (size_t k = 0; k < K; k++)
        mx = max2(mx, l[k]);
    const size_t nref = row_refine(st, sg, w, i, mx);
    for (size_t k = 0; k < K; k++) {
        l[k] = l[k] - mx < -EXP_CUTOFF ? 0.0 : exp(l[k] - mx);
        sum += l[k];
    }
    w->inv[i] = 1.0 / sum;
    memset(w->dir + i * d, 0, d * sizeof *w->dir);
    for (size_t r = 0; r < nref; r++) {
        refined_share(st, sg, w->ref[r], l[w->ref[r]] * w->inv[i], w->xa + i * sg->width,
                      w->dir + i * d);
        l[w->ref[r]] = 0;
    }
}

/* With e = exp(l - max) and R = E ma[:, :d+s]: sum_k e_k mu_k/c_k = R[:, :d] and
 * sum_k e_k / c_k = -2 R[:, d:], so eps = sigma (inv (xc (-2 R_sq) - R_mu) + dir). */
static void block_output(const gmm_state *st, const gmm_sig *sg, size_t nb, eps_work *w,
                         double *out)
{
    const size_t K = st->K, d = st->dim, W = sg->width, nr = W - 1;
    const int iso = st->kind == COV_ISO;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)nr, (int)K, 1.0,
                w->q, (int)K, sg->ma, (int)W, 0.0, w->r, (int)nr);
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < d; j++) {
            const double *r = w->r + i * nr, xc = w->xa[i * W + j];
            const double sc = -2.0 * r[d + (iso ? 0 : j)];
            out[i * d + j] = sg->sigma * (w->inv[i] * (xc * sc - r[j]) + w->dir[i * d + j]);
        }
}

/* xa = [xc, sq, 1] with xc = x sqrt(1+sigma^2) - mbar, sq = ||xc||^2 or xc^2 (sig_diag). */
static void block_input(const gmm_state *st, const gmm_sig *sg, const double *x, size_t nb,
                        eps_work *w)
{
    const size_t d = st->dim, W = sg->width;
    const double xs = sqrt(1.0 + sg->sigma * sg->sigma);
    for (size_t i = 0; i < nb; i++) {
        double ss = 0, *row = w->xa + i * W;
        for (size_t j = 0; j < d; j++) {
            row[j] = x[i * d + j] * xs - st->mbar[j];
            ss += row[j] * row[j];
            if (st->kind == COV_DIAG)
                row[d + j] = row[j] * row[j];
        }
        if (st->kind == COV_ISO)
            row[d] = ss;
        row[W - 1] = 1.0;
        w->xx[i] = ss;
    }
}

/* The small-K path (K <= SMALL_K, d <= SMALL_D, isotropic or diagonal): one row at a time
 * through the same steps as eps_blas (block_input, the logits product, row_softmax,
 * block_output), with the two products as plain loops in registers instead of cblas_dgemm,
 * whose call and packing cost more than the 256 x K x (d + 2) flops of a block at K = 3,
 * and without the block's arrays and the memset per row (docs/benchmarks.md, issue 16).
 * The numbers must stay those of the dgemm path bit for bit, so each product entry is
 * summed as OpenBLAS's Haswell-class kernels sum it (dgemm_kernel_4x8_haswell.S: one FMA
 * accumulator per entry of C, started at zero, over the inner dimension in order; then
 * C = alpha acc, exact for alpha = 1, beta = 0): acc = fma(a_c, b_c, acc), c = 0, 1, ...
 * Every other operation is the dgemm path's, in its order (no reassociation: the build is
 * -std=c11, so gcc contracts nothing into FMA by itself). It needs hardware FMA, which the
 * kernel uses; without it, or off x86-64, eps_blas runs. Where OpenBLAS picks a kernel
 * without FMA the paths would differ in the last bits only; bench/bench_speed.c checks
 * the identity on each run, and gmm_eps_path(..., small = 0) gives the dgemm path. */
enum { SMALL_K = 16, SMALL_D = 4 };

#if defined(__x86_64__) && defined(__GNUC__)
#define FMA_TARGET __attribute__((target("fma")))
#define CPU_HAS_FMA() __builtin_cpu_supports("fma")
#else
#define FMA_TARGET
#define CPU_HAS_FMA() 0
#endif

int gmm_small_path(const gmm_state *st)
{
    return st->kind != COV_FULL && st->K <= SMALL_K && st->dim <= SMALL_D && CPU_HAS_FMA();
}

/* row_softmax's refinement (row_refine) for one row held in xa and l: the rare rows far
 * from the means (REFINE_T). Returns the number of refined components, listed in ref. */
static size_t small_refine(const gmm_state *st, const gmm_sig *sg, double *xa, double ss,
                           double *l, double mx, size_t *ref)
{
    double diff[SMALL_D];
    eps_work w = { .xa = xa, .q = l, .xx = &ss, .diff = diff, .ref = ref };
    return row_refine(st, sg, &w, 0, mx);
}

/* One row x [d] to out [d]: block_input, the logits xa ma^T, row_softmax and block_output
 * of a block of one row, with the products in the dgemm kernel's order (see SMALL_K). d and
 * iso are constants where small_rows_k inlines it. */
static inline __attribute__((always_inline)) FMA_TARGET void
small_row(const gmm_state *st, const gmm_sig *sg, size_t K, size_t d, int iso, double xs,
          const double *x, double *out)
{
    const size_t W = iso ? d + 2 : 2 * d + 1, nr = W - 1;
    double xa[2 * SMALL_D + 1], l[SMALL_K], r[2 * SMALL_D], dir[SMALL_D], ss = 0;
    size_t ref[SMALL_K], nref = 0;
    _Pragma("GCC unroll 16")
    for (size_t j = 0; j < d; j++) {
        xa[j] = x[j] * xs - st->mbar[j];
        ss += xa[j] * xa[j];
        if (!iso)
            xa[d + j] = xa[j] * xa[j];
    }
    if (iso)
        xa[d] = ss;
    xa[W - 1] = 1.0;
    double mx = -INFINITY, sum = 0;
    _Pragma("GCC unroll 16")
    for (size_t k = 0; k < K; k++) {
        double acc = 0;
        _Pragma("GCC unroll 16")
        for (size_t c = 0; c < W; c++)
            acc = fma(xa[c], sg->ma[k * W + c], acc);
        l[k] = acc;
        mx = max2(mx, acc);
    }
    if (ss * sg->cmax_all + sg->mmc_max > REFINE_T)
        nref = small_refine(st, sg, xa, ss, l, mx, ref);
    _Pragma("GCC unroll 16")
    for (size_t k = 0; k < K; k++) {
        l[k] = l[k] - mx < -EXP_CUTOFF ? 0.0 : exp(l[k] - mx);
        sum += l[k];
    }
    const double inv = 1.0 / sum;
    _Pragma("GCC unroll 16")
    for (size_t j = 0; j < d; j++)
        dir[j] = 0;
    _Pragma("GCC unroll 16")
    for (size_t i = 0; i < nref; i++) {
        refined_share(st, sg, ref[i], l[ref[i]] * inv, xa, dir);
        l[ref[i]] = 0;
    }
    _Pragma("GCC unroll 16")
    for (size_t c = 0; c < nr; c++) {
        double acc = 0;
        _Pragma("GCC unroll 16")
        for (size_t k = 0; k < K; k++)
            acc = fma(l[k], sg->ma[k * W + c], acc);
        r[c] = acc;
    }
    _Pragma("GCC unroll 16")
    for (size_t j = 0; j < d; j++)
        out[j] = sg->sigma * (inv * (xa[j] * (-2.0 * r[d + (iso ? 0 : j)]) - r[j]) + dir[j]);
}

/* small_row on the row x = a xbar (each x_j the product a * xbar_j, as dode_ode_rhs's own
 * pass rounds it), or-ing the non-finite bits of the row's input into *bad_in and of its
 * output into *bad_out: the passes and checks around a model call, in registers. A row
 * with a non-finite input is not computed (the solve stops at it). */
static inline __attribute__((always_inline)) FMA_TARGET void
small_row_xbar(const gmm_state *st, const gmm_sig *sg, size_t K, size_t d, int iso,
               double xs, double a, const double *xbar, double *out, uint64_t *bad_in,
               uint64_t *bad_out)
{
    double x[SMALL_D] = { 0 };   /* d <= SMALL_D entries set; the rest for -Wmaybe-uninitialized */
    uint64_t bin = 0, bout = 0;
    _Pragma("GCC unroll 16")
    for (size_t j = 0; j < d; j++) {
        x[j] = a * xbar[j];
        bin |= dode_nonfinite_bit(xbar[j]);
    }
    if (bin >> 63) {
        *bad_in |= bin;
        return;
    }
    small_row(st, sg, K, d, iso, xs, x, out);
    _Pragma("GCC unroll 16")
    for (size_t j = 0; j < d; j++)
        bout |= dode_nonfinite_bit(out[j]);
    *bad_out |= bout;
}

/* Rows [0, n) through small_row with K components: of x itself (bad_in NULL, the model's
 * eps), or of x = a xbar with the checks (small_row_xbar, eps_xbar). d and iso are
 * constants where small_rows inlines it. */
static inline __attribute__((always_inline)) FMA_TARGET void
small_rows_k(const gmm_state *st, const gmm_sig *sg, size_t K, size_t d, int iso, double xs,
             double a, size_t n, const double *x, double *out, uint64_t *bad_in,
             uint64_t *bad_out)
{
    if (bad_in == NULL)
        for (size_t i = 0; i < n; i++)
            small_row(st, sg, K, d, iso, xs, x + d * i, out + d * i);
    else
        for (size_t i = 0; i < n; i++)
            small_row_xbar(st, sg, K, d, iso, xs, a, x + d * i, out + d * i, bad_in, bad_out);
}

/* small_rows_k for any shape; for the common one, d = 2 isotropic, K <= 8, with K and d
 * constants so that the loops unroll (a K = 3 euler sample-step: 44 -> 35 ns). */
FMA_TARGET static void small_rows(const gmm_state *st, const gmm_sig *sg, size_t n, double a,
                                  const double *x, double *out, uint64_t *bad_in,
                                  uint64_t *bad_out)
{
    const size_t d = st->dim, K = st->K;
    const double xs = sqrt(1.0 + sg->sigma * sg->sigma);
#define SMALL_CASE(k) \
    case k: small_rows_k(st, sg, k, 2, 1, xs, a, n, x, out, bad_in, bad_out); return
    if (st->kind == COV_ISO && d == 2)
        switch (K) {
        SMALL_CASE(1); SMALL_CASE(2); SMALL_CASE(3); SMALL_CASE(4);
        SMALL_CASE(5); SMALL_CASE(6); SMALL_CASE(7); SMALL_CASE(8);
        default: break;
        }
#undef SMALL_CASE
    small_rows_k(st, sg, K, d, st->kind == COV_ISO, xs, a, n, x, out, bad_in, bad_out);
}

/* Rows per block of the BLAS path for a call of n rows. */
static size_t blas_rows(const gmm_state *st, size_t n)
{
    const size_t B = BLOCK_ENTRIES / st->K > MIN_ROWS ? BLOCK_ENTRIES / st->K : MIN_ROWS;
    return n < B ? n : B;
}

/* Doubles of eps_blas's block for n rows: eps_work's arrays, ref's K size_t rounded up. */
static size_t blas_len(const gmm_state *st, size_t n)
{
    const size_t K = st->K, d = st->dim, W = sig_width(st), B = blas_rows(st, n);
    return B * (2 * W + K + d + 2) + d + (K * sizeof(size_t) + sizeof(double) - 1) / sizeof(double);
}

/* Isotropic and diagonal eps through BLAS, in blocks of B rows with B K <= BLOCK_ENTRIES
 * (at least MIN_ROWS): per block one dgemm for the logits [xc, sq, 1] ma^T and one for
 * the responsibility-weighted sums, with only the row softmax in between. block holds
 * blas_len(st, n) doubles. */
static int eps_blas(const gmm_state *st, const gmm_sig *sg, size_t n, const double *x,
                    double *block, double *out)
{
    const size_t K = st->K, d = st->dim, W = sg->width, B = blas_rows(st, n);
    eps_work w = { .xa = block, .q = block + B * W, .r = block + B * (W + K),
                   .dir = block + B * (2 * W + K), .xx = block + B * (2 * W + K + d),
                   .inv = block + B * (2 * W + K + d + 1),
                   .diff = block + B * (2 * W + K + d + 2),
                   .ref = (size_t *)(block + B * (2 * W + K + d + 2) + d) };
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        block_input(st, sg, x + i0 * d, nb, &w);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)K, (int)W, 1.0,
                    w.xa, (int)W, sg->ma, (int)W, 0.0, w.q, (int)K);
        for (size_t i = 0; i < nb; i++)
            row_softmax(st, sg, &w, i);
        block_output(st, sg, nb, &w, out + i0 * d);
    }
    return DODE_OK;
}

/* Full covariances: per row, K triangular solve pairs with the per-call Cholesky factors;
 * block holds K + K d + d doubles. */
static int eps_full(const gmm_state *st, const gmm_sig *sg, size_t n, const double *x,
                    double *block, double *out)
{
    const size_t K = st->K, d = st->dim;
    const double xs = sqrt(1.0 + sg->sigma * sg->sigma);
    double *gamma = block, *g = block + K, *xc = g + K * d;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            xc[j] = x[i * d + j] * xs - st->mbar[j];
        gmm_row_direct(st, sg, xc, gamma, g);
        for (size_t j = 0; j < d; j++) {
            double e = 0;
            for (size_t k = 0; k < K; k++)
                e += gamma[k] * g[k * d + j];
            out[i * d + j] = sg->sigma * e;
        }
    }
    return DODE_OK;
}

/* The workspace (model.h): sig_len doubles for gmm_sig, then the largest per-call block
 * of eps (BLAS path or full), the Jacobian (2K + K d + 3d) and log_density (K + K d + d)
 * for up to n rows; the callbacks cut the same views from it as one call would. */
void *gmm_workspace_new(const dode_model *m, size_t n)
{
    const gmm_state *st = m->state;
    const size_t K = st->K, d = st->dim;
    size_t work = 2 * K + K * d + 3 * d;
    dode_gsl_quiet();    /* the callbacks' Cholesky factors: this ws precedes them all */
    if (st->kind != COV_FULL && blas_len(st, n) > work)
        work = blas_len(st, n);
    return malloc((gmm_sig_len(st) + work) * sizeof(double));
}

void gmm_workspace_free(void *ws)
{
    free(ws);
}

int gmm_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
            double sigma, double *out)
{
    (void)t;
    const gmm_state *st = m->state;
    return gmm_eps_path(st, ws, n, x, sigma, gmm_small_path(st), out);
}

int gmm_eps_xbar(const dode_model *m, void *ws, size_t n, const double *xbar, double a,
                 double t, double sigma, double *out, int *bad)
{
    (void)t;
    const gmm_state *st = m->state;
    gmm_sig sg;
    uint64_t bad_in = 0, bad_out = 0;
    *bad = 0;
    if (n == 0)
        return DODE_OK;
    int rc = gmm_sig_new(st, sigma, 0, ws, &sg);
    if (rc != DODE_OK)
        return rc;
    small_rows(st, &sg, n, a, xbar, out, &bad_in, &bad_out);
    *bad = bad_in >> 63 ? 1 : bad_out >> 63 ? 2 : 0;
    return DODE_OK;
}

int gmm_eps_path(const gmm_state *st, void *ws, size_t n, const double *x, double sigma,
                 int small, double *out)
{
    double *work = (double *)ws + gmm_sig_len(st);
    gmm_sig sg;
    if (n == 0)
        return DODE_OK;
    int rc = gmm_sig_new(st, sigma, 0, ws, &sg);
    if (rc != DODE_OK)
        return rc;
    if (st->kind == COV_FULL)
        return eps_full(st, &sg, n, x, work, out);
    if (small && gmm_small_path(st)) {
        small_rows(st, &sg, n, 1.0, x, out, NULL, NULL);
        return DODE_OK;
    }
    return eps_blas(st, &sg, n, x, work, out);
}
