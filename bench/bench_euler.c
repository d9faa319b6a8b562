/* bench_euler.c - the core of `make bench` (bench.c) on the 2-D problem: the library's
 * euler against a hand-fused loop of the same arithmetic (the floor), the share of the solve
 * spent outside the model's eps, and what 2 threads give (two halves in OpenMP threads, and
 * OpenBLAS's threads). The fused loop is the baseline being measured, so it stays
 * hand-written. */
#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/diffode.h"
#include "bench_impl.h"

/* The MATH.md section 8 test problem: a 2-D isotropic mixture (weights sum to 1). */
enum { GMM_K = 3, GMM_D = 2 };
static const double gmm_w[GMM_K] = { 0.5, 0.3, 0.2 };
static const double gmm_mu[GMM_K][GMM_D] = { { -1.5, 0.0 }, { 1.5, 0.5 }, { 0.0, 2.0 } };
static const double gmm_sd[GMM_K] = { 0.3, 0.5, 0.2 };

/* ---- the floor: a hand-fused loop ------------------------------------------------------ */

/* One Euler step of the exact GMM eps for one sample, in registers (MATH.md sections 5, 6):
 * l_k = log w_k - log C_k - |xbar - mu_k|^2 / (2 C_k) with C_k = sd_k^2 + sigma^2 (d = 2;
 * the common -log 2pi cancels in the softmax), gamma = softmax(l) by log-sum-exp,
 * epsh = sigma sum_k gamma_k (xbar - mu_k) / C_k, xbar += (sigma' - sigma) epsh. */
static inline void fused_step(double x[GMM_D], const double lc[GMM_K], const double ic[GMM_K],
                              double sigma, double ds)
{
    double dx[GMM_K][GMM_D], l[GMM_K], m = -INFINITY;
    for (int k = 0; k < GMM_K; k++) {
        dx[k][0] = x[0] - gmm_mu[k][0];
        dx[k][1] = x[1] - gmm_mu[k][1];
        l[k] = lc[k] - 0.5 * ic[k] * (dx[k][0] * dx[k][0] + dx[k][1] * dx[k][1]);
        m = l[k] > m ? l[k] : m;
    }
    double sum = 0, e0 = 0, e1 = 0;
    for (int k = 0; k < GMM_K; k++) {
        const double g = exp(l[k] - m);
        sum += g;
        e0 += g * ic[k] * dx[k][0];
        e1 += g * ic[k] * dx[k][1];
    }
    const double f = ds * sigma / sum;
    x[0] += f * e0;
    x[1] += f * e1;
}

typedef struct {
    problem *p;
    int threads;                  /* OpenMP threads over the two halves */
} fused_ctx;

/* Rows [first, first + count) of p->fused through all steps, step by step over the rows:
 * consecutive rows are independent, so the CPU overlaps their exp latencies (one row
 * through all steps is a serial chain, and measured 1.4x slower here). c holds per step
 * log w_k - log C_k, then 1/C_k. */
static void fused_rows(problem *p, const double *c, size_t first, size_t count)
{
    const double *s = p->grid.sigma;
    double *x = p->fused + first * GMM_D;
    for (size_t j = 0; j < p->grid.steps; j++)
        for (size_t i = 0; i < count; i++)
            fused_step(x + GMM_D * i, c + 2 * GMM_K * j, c + 2 * GMM_K * j + GMM_K, s[j],
                       s[j + 1] - s[j]);
}

/* The whole solve, as two halves of the batch (in 1 or 2 threads, like the library's
 * split below); the per-step constants are computed once per solve, inside the timing. */
static int fused_euler(void *ctx)
{
    fused_ctx *f = ctx;
    problem *p = f->p;
    const size_t steps = p->grid.steps, half = p->n / 2;
    double *c = malloc(steps * 2 * GMM_K * sizeof *c);
    if (c == NULL)
        return DODE_ENOMEM;
    for (size_t j = 0; j < steps; j++)
        for (int k = 0; k < GMM_K; k++) {
            const double C = gmm_sd[k] * gmm_sd[k] + p->grid.sigma[j] * p->grid.sigma[j];
            c[2 * GMM_K * j + k] = log(gmm_w[k]) - log(C);
            c[2 * GMM_K * j + GMM_K + k] = 1.0 / C;
        }
    memcpy(p->fused, p->xbar_T, p->n * GMM_D * sizeof *p->fused);
#pragma omp parallel for num_threads(f->threads) schedule(static)
    for (int h = 0; h < 2; h++)
        fused_rows(p, c, h == 0 ? 0 : half, h == 0 ? half : p->n - half);
    free(c);
    return DODE_OK;
}

/* ---- the library's solves --------------------------------------------------------------- */

/* Euler on ode's rows, which start at row `first` of the batch: copy xbar_T, solve in place. */
static int solve_rows(const problem *p, dode_ode *ode, size_t first, double *out)
{
    char err[ERRLEN];
    double *xbar = out + first * GMM_D;
    memcpy(xbar, p->xbar_T + first * GMM_D, ode->n * GMM_D * sizeof *xbar);
    int rc = dode_run_xbar(p->euler, ode, &p->grid, &p->opts, xbar, NULL, NULL, err,
                           sizeof err);
    if (rc != DODE_OK)
        fprintf(stderr, "bench: euler on %zu rows failed: %s\n", ode->n, err);
    return rc;
}

typedef struct {
    problem *p;
    dode_ode *ode[2];             /* one ode, or two halves */
    size_t first[2];
    int parts, threads;           /* OpenMP threads over the parts */
    int blas_threads;             /* OpenBLAS threads during the solve */
    double cpu_best;              /* least, over runs, CPU time on the critical path */
} solve_ctx;


/* The parts of the batch, each solved by its own ode, in `threads` OpenMP threads. The
 * CPU time of each part is taken in its thread; the critical path is their sum on 1 thread,
 * the longest part on 2. */
static int solve_parts(void *ctx)
{
    solve_ctx *c = ctx;
    int bad = 0;
    double cpu[2] = { 0, 0 };
    openblas_set_num_threads(c->blas_threads);
#pragma omp parallel for num_threads(c->threads) schedule(static) reduction(| : bad)
    for (int h = 0; h < c->parts; h++) {
        const double t0 = thread_cpu();
        bad |= solve_rows(c->p, c->ode[h], c->first[h], c->p->out);
        cpu[h] = thread_cpu() - t0;
    }
    const double path = c->threads == 1 ? cpu[0] + cpu[1] : fmax(cpu[0], cpu[1]);
    c->cpu_best = fmin(c->cpu_best, path);
    return bad ? DODE_ESOLVER : DODE_OK;
}

static int solve_full(void *ctx)
{
    solve_ctx *c = ctx;
    openblas_set_num_threads(c->blas_threads);
    return solve_rows(c->p, c->ode[0], 0, c->p->out);
}

/* ---- the measures ----------------------------------------------------------------------- */

/* Library euler vs the fused loop, both on one thread (OpenBLAS at 1 thread). */
int measure_floor(problem *p, dode_ode *full, bench_report *r)
{
    solve_ctx c = { .p = p, .ode = { full }, .parts = 1, .threads = 1, .blas_threads = 1 };
    fused_ctx f = { .p = p, .threads = 1 };
    double t[2], cpu[2];
    int rc = best_pair(solve_full, &c, fused_euler, &f, p->cfg->reps, t, cpu);
    if (rc != DODE_OK)
        return rc;
    memcpy(p->lib, p->out, p->n * GMM_D * sizeof *p->lib);
    const double per = 1e9 / ((double)p->n * (double)p->grid.steps);
    char fig[64];
    snprintf(fig, sizeof fig, "lib %.1f ns, fused %.1f ns", t[0] * per, t[1] * per);
    add_row(r, "euler / fused floor, per sample-step", fig, t[0] / t[1], 0, TARGET_FLOOR, 0);
    set_cpu_ratio(r, cpu[0] / cpu[1]);
    add_check(r, "max |xbar_0 fused - xbar_0 library| (2-D GMM, all rows)",
              max_abs_diff(p->fused, p->lib, p->n * GMM_D), 1e-12);
    return DODE_OK;
}

/* The same solve through a model that times its inner eps calls; the run with the least
 * total wall time gives the wall figures, the one with the least CPU time the CPU share. */
int measure_share(problem *p, bench_report *r)
{
    char err[ERRLEN], fig[64];
    bench_timed ts;
    bench_timed_init(&ts, p->gmm);
    dode_ode *ode = dode_ode_new(&ts.model, p->schedule, p->n, err, sizeof err);
    if (ode == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        return DODE_ENOMEM;
    }
    double best[2] = { INFINITY, INFINITY }, inside[2] = { 0, 0 };   /* wall, cpu */
    int rc = DODE_OK;
    for (int k = 0; k < p->cfg->reps && rc == DODE_OK; k++) {
        ts.seconds = ts.cpu = 0;
        const double t0 = now(), c0 = thread_cpu();
        rc = solve_rows(p, ode, 0, p->out);
        const double dc = thread_cpu() - c0, dt = now() - t0;
        if (dt < best[0])
            best[0] = dt, inside[0] = ts.seconds;
        if (dc < best[1])
            best[1] = dc, inside[1] = ts.cpu;
    }
    dode_ode_free(ode);
    if (rc != DODE_OK)
        return rc;
    snprintf(fig, sizeof fig, "solve %.1f ms, eps %.1f ms (%zu calls)", 1e3 * best[0],
             1e3 * inside[0], ts.calls / (size_t)p->cfg->reps);
    add_row(r, "share of euler solve outside eps", fig, 1 - inside[0] / best[0], 1,
            TARGET_SHARE, 0);
    set_cpu_ratio(r, 1 - inside[1] / best[1]);
    return DODE_OK;
}

/* Two halves of the batch, one dode_ode each, in 1 and 2 OpenMP threads (OpenBLAS at 1
 * thread, so the two callers do not oversubscribe 2 cores), round-robin with the fused
 * loop's halves in 1 and 2 threads: what the 2 cores give at this moment (the machine is
 * shared), against which the library's speed-up is judged. Equal results show that
 * concurrent eps calls on one model do not interfere. */
int measure_split(problem *p, bench_report *r)
{
    char err[ERRLEN] = "", fig[64];
    const size_t half = p->n / 2;
    solve_ctx c[2] = { { .p = p, .first = { 0, half }, .parts = 2, .threads = 1,
                         .blas_threads = 1, .cpu_best = INFINITY } };
    fused_ctx f[2] = { { .p = p, .threads = 1 }, { .p = p, .threads = 2 } };
    const bench_fn fn[4] = { solve_parts, solve_parts, fused_euler, fused_euler };
    void *const ctx[4] = { &c[0], &c[1], &f[0], &f[1] };
    double t[4];
    int rc = DODE_ENOMEM;
    if ((c[0].ode[0] = dode_ode_new(p->gmm, p->schedule, half, err, sizeof err)) != NULL
        && (c[0].ode[1] = dode_ode_new(p->gmm, p->schedule, p->n - half, err, sizeof err))) {
        c[1] = c[0];
        c[1].threads = 2;
        rc = best_times(fn, ctx, 4, p->cfg->reps, t, NULL);
    }
    dode_ode_free(c[0].ode[0]);
    dode_ode_free(c[0].ode[1]);
    if (rc == DODE_ENOMEM)
        fprintf(stderr, "bench: %s\n", err);
    if (rc != DODE_OK)
        return rc;
    add_check(r, "max |xbar_0 two OpenMP halves - xbar_0 one solve|",
              max_abs_diff(p->out, p->lib, p->n * GMM_D), 1e-12);
    snprintf(fig, sizeof fig, "1 thread %.1f ms, 2 threads %.1f ms", 1e3 * t[2], 1e3 * t[3]);
    add_row(r, "speed-up 1->2 threads, fused loop halves", fig, t[2] / t[3], 0, NAN, 1);
    snprintf(fig, sizeof fig, "1 thread %.1f ms, 2 threads %.1f ms", 1e3 * t[0], 1e3 * t[1]);
    add_row(r, "speed-up 1->2 threads, library halves", fig, t[0] / t[1], 0,
            TARGET_SPLIT * t[2] / t[3], 1);
    if (t[2] / t[3] < BUSY_SPEEDUP)      /* the cores were not both ours: no verdict */
        r->rows[r->nrows - 1].verdict = "n/a: cores busy";
    set_cpu_ratio(r, c[0].cpu_best / c[1].cpu_best);
    return DODE_OK;
}

/* The whole batch in one solve with OpenBLAS at 1 then 2 threads: the library's own
 * parallelism (OpenBLAS splits each dgemm; for K = 3 there is little to split). */
int measure_blas_threads(problem *p, dode_ode *full, bench_report *r)
{
    char fig[64];
    solve_ctx c[2] = { { .p = p, .ode = { full }, .parts = 1, .threads = 1, .blas_threads = 1 } };
    double t[2];
    c[1] = c[0];
    c[1].blas_threads = 2;
    int rc = best_pair(solve_full, &c[0], solve_full, &c[1], p->cfg->reps, t, NULL);
    openblas_set_num_threads(1);
    if (rc != DODE_OK)
        return rc;
    snprintf(fig, sizeof fig, "1 thread %.1f ms, 2 threads %.1f ms", 1e3 * t[0], 1e3 * t[1]);
    add_row(r, "speed-up 1->2 OpenBLAS threads, 1 solve", fig, t[0] / t[1], 0, NAN, 1);
    return DODE_OK;
}

/* ---- the 2-D problem ------------------------------------------------------------------- */

void problem_free(problem *p)
{
    dode_grid_free(&p->grid);
    dode_model_free(p->gmm);
    dode_schedule_free(p->schedule);
    free(p->xbar_T);
    free(p->lib);
    free(p->out);
    free(p->fused);
}

/* ddpm-linear, logsnr grid of cfg->steps steps over the schedule's default range, the
 * section 8 GMM, x_T ~ N(0, I) from rng. */
int problem_init(problem *p, const bench_cfg *cfg, gsl_rng *rng)
{
    char err[ERRLEN];
    dode_grid_opts go;
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->n = cfg->n;
    dode_grid_opts_init(&go);
    go.spacing = DODE_SPACING_LOGSNR;
    dode_solver_opts_init(&p->opts);
    p->euler = dode_solver_find("euler");
    if ((p->schedule = dode_schedule_new("ddpm-linear", err, sizeof err)) == NULL
        || (p->gmm = dode_gmm_new(GMM_K, GMM_D, gmm_w, &gmm_mu[0][0], "isotropic", gmm_sd,
                                  err, sizeof err)) == NULL
        || dode_grid_make(p->schedule, &go, cfg->steps, &p->grid, err, sizeof err) != DODE_OK
        || p->euler == NULL) {
        fprintf(stderr, "bench: setup failed: %s\n", p->euler ? err : "no solver named euler");
        return DODE_EINVAL;
    }
    p->xbar_T = malloc(p->n * GMM_D * sizeof *p->xbar_T);
    p->lib = malloc(p->n * GMM_D * sizeof *p->lib);
    p->out = malloc(p->n * GMM_D * sizeof *p->out);
    p->fused = malloc(p->n * GMM_D * sizeof *p->fused);
    if (!p->xbar_T || !p->lib || !p->out || !p->fused)
        return DODE_ENOMEM;
    for (size_t i = 0; i < p->n * GMM_D; i++)
        p->xbar_T[i] = normal(rng);
    dode_x_to_xbar(p->schedule, p->grid.sigma[0], p->xbar_T, p->xbar_T, p->n * GMM_D);
    return DODE_OK;
}
