/* bench_gmm.c - the many-component GMM section of `make bench` (bench.c): the GMM's eps at
 * K = 1000, d = 64, n = 4096 against a bare dgemm of its main product's shape, with GFLOP/s
 * of both, and against its floor (two such products and the n K exp of the softmax, timed
 * bare), at 1 and 2 OpenBLAS threads, with a check against the direct formula. */
#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/diffode.h"
#include "bench_impl.h"

#define EXP_ROWS 256              /* rows per block of the bare exp loop */

/* ---- the many-component GMM ------------------------------------------------------------- */

/* K isotropic components in d dimensions, eps evaluated at sigma = 1 on n points drawn from
 * the noised mixture itself (so responsibilities are neither all 0/1 nor uniform). */
typedef struct {
    size_t n, K, d;
    double sigma, t;
    double *w, *sd, *mu;          /* [K], [K], [K][d] */
    double *x;                    /* [n][d]: x-space inputs, x = xbar / sqrt(1 + sigma^2) */
    double *eps;                  /* [n][d] */
    double *prod;                 /* [n][K]: the bare dgemm's output; also check scratch */
    double *ein, *eout;           /* [EXP_ROWS][K]: the exp loop's arguments and results */
    dode_model *gmm;
    void *ws;                     /* gmm's workspace for n rows */
} big_problem;

static void big_free(big_problem *b)
{
    dode_model_workspace_free(b->gmm, b->ws);
    dode_model_free(b->gmm);
    free(b->w);
    free(b->sd);
    free(b->mu);
    free(b->x);
    free(b->eps);
    free(b->prod);
    free(b->ein);
    free(b->eout);
}

static void big_fill(big_problem *b, gsl_rng *rng)
{
    for (size_t k = 0; k < b->K; k++) {
        b->w[k] = 0.1 + gsl_rng_uniform(rng);
        b->sd[k] = 0.2 + 0.8 * gsl_rng_uniform(rng);
        for (size_t j = 0; j < b->d; j++)
            b->mu[k * b->d + j] = normal(rng);
    }
    for (size_t i = 0; i < b->n; i++) {
        const size_t k = gsl_rng_uniform_int(rng, b->K);
        const double s = sqrt(b->sd[k] * b->sd[k] + b->sigma * b->sigma);
        for (size_t j = 0; j < b->d; j++)
            b->x[i * b->d + j] = b->mu[k * b->d + j] + s * normal(rng);   /* xbar */
    }
    for (size_t k = 0; k < b->n * b->d; k++)   /* the model's own x (model.h), VP-scaled */
        b->x[k] /= sqrt(1.0 + b->sigma * b->sigma);
}

static int big_init(big_problem *b, const bench_cfg *cfg, const dode_schedule *s, gsl_rng *rng)
{
    char err[ERRLEN];
    memset(b, 0, sizeof *b);
    b->n = cfg->big_n;
    b->K = cfg->big_k;
    b->d = cfg->big_d;
    b->sigma = 1.0;
    b->t = dode_schedule_t(s, b->sigma);
    b->w = malloc(b->K * sizeof *b->w);
    b->sd = malloc(b->K * sizeof *b->sd);
    b->mu = malloc(b->K * b->d * sizeof *b->mu);
    b->x = malloc(b->n * b->d * sizeof *b->x);
    b->eps = malloc(b->n * b->d * sizeof *b->eps);
    b->prod = malloc(b->n * b->K * sizeof *b->prod);
    b->ein = malloc(EXP_ROWS * b->K * sizeof *b->ein);
    b->eout = malloc(EXP_ROWS * b->K * sizeof *b->eout);
    if (!b->w || !b->sd || !b->mu || !b->x || !b->eps || !b->prod || !b->ein || !b->eout) {
        fprintf(stderr, "bench: cannot allocate the K = %zu GMM problem\n", b->K);
        return DODE_ENOMEM;
    }
    big_fill(b, rng);
    for (size_t i = 0; i < EXP_ROWS * b->K; i++)      /* log-sum-exp arguments are <= 0 */
        b->ein[i] = -40.0 * gsl_rng_uniform(rng);
    b->gmm = dode_gmm_new(b->K, b->d, b->w, b->mu, "isotropic", b->sd, err, sizeof err);
    if (b->gmm == NULL
        || dode_model_workspace_new(b->gmm, b->n, &b->ws, err, sizeof err) != DODE_OK) {
        fprintf(stderr, "bench: %s\n", err);
        return DODE_EINVAL;
    }
    return DODE_OK;
}

static int big_eps(void *ctx)
{
    big_problem *b = ctx;
    return b->gmm->eps(b->gmm, b->ws, b->n, b->x, b->t, b->sigma, b->eps);
}

/* The main product of the GMM's eps: x [n][d] times mu^T [d][K]. */
static int big_dgemm(void *ctx)
{
    big_problem *b = ctx;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b->n, (int)b->K, (int)b->d, 1.0,
                b->x, (int)b->d, b->mu, (int)b->d, 0.0, b->prod, (int)b->K);
    return DODE_OK;
}

/* The n K exponentials every eps needs (one per row and component), as a bare loop of
 * glibc's exp over a cache-sized block of EXP_ROWS rows, repeated to cover n rows. */
static int big_exp(void *ctx)
{
    big_problem *b = ctx;
    for (size_t i0 = 0; i0 < b->n; i0 += EXP_ROWS) {
        const size_t len = (b->n - i0 < EXP_ROWS ? b->n - i0 : EXP_ROWS) * b->K;
        const double shift = 1e-6 * (double)i0;       /* each block's work differs */
        for (size_t i = 0; i < len; i++)
            b->eout[i] = exp(b->ein[i] - shift);
    }
    return DODE_OK;
}

/* |eps - direct formula| for row i (MATH.md section 5, one component at a time, no BLAS,
 * in xbar = x sqrt(1 + sigma^2), written out: the check leans on nothing of the library's);
 * uses prod's first K entries as scratch. */
static double big_row_error(big_problem *b, size_t i)
{
    const size_t d = b->d;
    const double s2 = b->sigma * b->sigma, scale = sqrt(1.0 + s2), *x = b->x + i * d;
    double *l = b->prod, lmax = -INFINITY, sum = 0, err = 0;
    for (size_t k = 0; k < b->K; k++) {
        const double C = b->sd[k] * b->sd[k] + s2;
        double r2 = 0;
        for (size_t j = 0; j < d; j++)
            r2 += (scale * x[j] - b->mu[k * d + j]) * (scale * x[j] - b->mu[k * d + j]);
        l[k] = log(b->w[k]) - 0.5 * (double)d * log(C) - 0.5 * r2 / C;
        lmax = fmax(lmax, l[k]);
    }
    for (size_t k = 0; k < b->K; k++)
        sum += (l[k] = exp(l[k] - lmax));
    for (size_t j = 0; j < d; j++) {
        double e = 0;
        for (size_t k = 0; k < b->K; k++)
            e += l[k] / sum * (scale * x[j] - b->mu[k * d + j]) / (b->sd[k] * b->sd[k] + s2);
        err = worse(err, fabs(b->sigma * e - b->eps[i * d + j]));
    }
    return err;
}

/* eps and dgemm at `threads` OpenBLAS threads, with GFLOP/s: 2ndK flops per product, and
 * the eps needs two (the distances x.mu_k, and sum_k gamma_k mu_k / C_k). */
static int big_row(big_problem *b, int reps, int threads, bench_report *r, double t[3],
                   double cpu[3])
{
    char measure[48], fig[64];
    const bench_fn fn[3] = { big_eps, big_dgemm, big_exp };
    void *const ctx[3] = { b, b, b };
    openblas_set_num_threads(threads);
    int rc = best_times(fn, ctx, threads == 1 ? 3 : 2, reps, t, cpu);
    openblas_set_num_threads(1);
    if (rc != DODE_OK)
        return rc;
    const double flops = 2.0 * (double)b->n * (double)b->d * (double)b->K;
    snprintf(measure, sizeof measure, "GMM eps K=%zu d=%zu / dgemm, %d thr", b->K, b->d, threads);
    snprintf(fig, sizeof fig, "eps %.1f ms %.1f GF/s, dgemm %.1f ms %.1f GF/s", 1e3 * t[0],
             2e-9 * flops / t[0], 1e3 * t[1], 1e-9 * flops / t[1]);
    add_row(r, measure, fig, t[0] / t[1], 0, NAN, 0);
    if (threads == 1)          /* with 2 threads the work is not all in this thread */
        set_cpu_ratio(r, cpu[0] / cpu[1]);
    return DODE_OK;
}

/* At 1 thread, eps against its floor: its two products at dgemm speed and its n K exp. */
static void big_floor_row(const big_problem *b, const double t[3], const double cpu[3],
                          bench_report *r)
{
    char measure[48], fig[64];
    snprintf(measure, sizeof measure, "GMM eps K=%zu / (2 dgemm + nK exp), 1 thr", b->K);
    snprintf(fig, sizeof fig, "exp loop %.1f ms, floor %.1f ms", 1e3 * t[2],
             1e3 * (2 * t[1] + t[2]));
    add_row(r, measure, fig, t[0] / (2 * t[1] + t[2]), 0, TARGET_BIG, 0);
    set_cpu_ratio(r, cpu[0] / (2 * cpu[1] + cpu[2]));
}

int measure_big(const bench_cfg *cfg, const dode_schedule *s, gsl_rng *rng,
                bench_report *r)
{
    big_problem b;
    double t1[3], t2[3], cpu[3], err = 0;
    int rc = big_init(&b, cfg, s, rng);
    if (rc == DODE_OK && (rc = big_row(&b, cfg->reps, 1, r, t1, cpu)) == DODE_OK)
        big_floor_row(&b, t1, cpu, r);
    for (size_t i = 0; rc == DODE_OK && i < 8 && i < b.n; i++)
        err = worse(err, big_row_error(&b, i));
    if (rc == DODE_OK)
        rc = big_row(&b, cfg->reps, 2, r, t2, cpu);
    if (rc == DODE_OK) {
        char measure[48], fig[64];
        snprintf(fig, sizeof fig, "1 thread %.1f ms, 2 threads %.1f ms", 1e3 * t1[0],
                 1e3 * t2[0]);
        snprintf(measure, sizeof measure, "GMM eps K=%zu speed-up 1->2 BLAS threads", b.K);
        add_row(r, measure, fig, t1[0] / t2[0], 0, NAN, 1);
        add_check(r, "max |GMM eps - direct formula| (many-component, 8 rows)", err, 1e-9);
    }
    big_free(&b);
    return rc;
}
