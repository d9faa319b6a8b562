/* bench.c - `make bench` (issue 3): how fast the library's sampling path is, measured as
 * ratios against baselines timed in the same process, runs interleaved, on the same machine:
 *
 *   floor    euler on the MATH.md section 8 GMM (n = 100000, 10 logsnr steps on ddpm-linear)
 *            against a hand-fused C loop of the same arithmetic (exact GMM eps and the Euler
 *            update in one pass, no BLAS): time per sample-step, target <= 1.5x;
 *   share    the part of the same solve spent outside the model's eps calls, target <= 5%;
 *   threads  1 vs 2 threads: the batch split in two halves, each solved by its own dode_ode
 *            in an OpenMP thread (the user-level way to use 2 cores), and OpenBLAS's threads;
 *   K = 1000 the GMM's eps at d = 64, n = 4096 against a bare dgemm of its main product's
 *            shape (n x d times d x K), with GFLOP/s of both, and against its floor: two
 *            such products and the n K exp of the softmax, timed bare.
 *
 * Every timing is the minimum over several repetitions, the sides of a ratio run
 * round-robin (the machine is shared: the minimum is the run least disturbed by others).
 * Verdicts use wall time (CLOCK_MONOTONIC); the "cpu" column gives the same ratio in
 * thread CPU time where it is meaningful (it does not count time spent waiting for a core
 * held by another process). The program is a report, not a test: it exits 0 whatever the
 * ratios and checks show, non-zero only if it cannot run (a library call fails).
 * `bench --quick` runs smaller sizes (a smoke test of the bench itself). */
#include <cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "diffode/diffode.h"
#include "bench_dpm.h"
#include "bench_mlp.h"
#include "bench_ideal.h"

#define ERRLEN 512
#define MAX_ROWS 12
#define MAX_CHECKS 8
#define EXP_ROWS 256              /* rows per block of the bare exp loop */

/* The MATH.md section 8 test problem: a 2-D isotropic mixture (weights sum to 1). */
enum { GMM_K = 3, GMM_D = 2 };
static const double gmm_w[GMM_K] = { 0.5, 0.3, 0.2 };
static const double gmm_mu[GMM_K][GMM_D] = { { -1.5, 0.0 }, { 1.5, 0.5 }, { 0.0, 2.0 } };
static const double gmm_sd[GMM_K] = { 0.3, 0.5, 0.2 };

/* Targets: the first two are issue 3's; the others are this bench's proposals (see
 * docs/benchmarks.md for the reasoning). NaN = informational, no verdict. */
#define TARGET_FLOOR 1.5          /* library / fused time per sample-step, at most */
#define TARGET_SHARE 0.05         /* share of solve time outside eps, at most */
#define TARGET_SPLIT 0.9          /* its 2-thread speed-up / the fused loop's, at least */
#define BUSY_SPEEDUP 1.5          /* fused loop's 2-thread speed-up below this: cores busy */
#define TARGET_BIG 1.5            /* GMM eps / (2 dgemm + n K exp), at most */

typedef struct {
    size_t n, steps;              /* the 2-D problem */
    int reps;                     /* repetitions per timing; the minimum is kept */
    size_t big_n, big_k, big_d;   /* the many-component GMM */
} bench_cfg;

typedef struct {
    char measure[48];
    char figures[64];
    double ratio;
    int percent;                  /* print the ratio as a percentage */
    double target;                /* NaN: no target */
    int higher_is_better;
    const char *verdict;          /* overrides the computed verdict when not NULL */
    double cpu_ratio;             /* the same ratio in CPU time; NaN: not shown */
} bench_row;

typedef struct {
    bench_row rows[MAX_ROWS];
    size_t nrows;
    char checks[MAX_CHECKS][128];
    size_t nchecks;
    int failed;                   /* a check found results that differ */
} bench_report;

/* The 2-D problem and everything the solves of it share. */
typedef struct {
    const bench_cfg *cfg;
    dode_schedule *schedule;
    dode_model *gmm;
    dode_grid grid;
    const dode_solver_type *euler;
    dode_solver_opts opts;
    size_t n;
    double *xbar_T;               /* [n][2]: x_T ~ N(0, I) times sqrt(1 + sigma_T^2) */
    double *lib;                  /* [n][2]: the library's euler result */
    double *out;                  /* [n][2]: the library run being timed */
    double *fused;                /* [n][2]: the fused loop's result */
} problem;

/* A model that forwards eps to an inner model and accumulates the time spent in it: the
 * solve's time minus this is the time outside the model call. */
typedef struct {
    const dode_model *inner;
    double seconds, cpu;          /* wall and thread CPU time inside inner->eps */
    size_t calls;
} timed_state;

typedef int (*bench_fn)(void *ctx);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: unlike wall time, it does not grow while other
 * processes hold the core, so it shows what the code would do on idle cores. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Minimum wall times (and, if cpu != NULL, minimum CPU times of the calling thread) of
 * reps runs of each of count functions, run round-robin so that a spell of load from other
 * processes (the machine is shared) hits every side alike. The first round also warms
 * caches and thread pools; the minimum discards it if it was slow. */
static int best_times(const bench_fn *fn, void *const *ctx, int count, int reps, double *best,
                      double *cpu)
{
    for (int k = 0; k < count; k++) {
        best[k] = INFINITY;
        if (cpu != NULL)
            cpu[k] = INFINITY;
    }
    for (int r = 0; r < reps * count; r++) {
        const int k = r % count;
        const double t0 = now(), c0 = thread_cpu();
        int rc = fn[k](ctx[k]);
        const double dc = thread_cpu() - c0, dt = now() - t0;
        if (rc != DODE_OK)
            return rc;
        best[k] = fmin(best[k], dt);
        if (cpu != NULL)
            cpu[k] = fmin(cpu[k], dc);
    }
    return DODE_OK;
}

static int best_pair(bench_fn fa, void *a, bench_fn fb, void *b, int reps, double best[2],
                     double cpu[2])
{
    const bench_fn fn[2] = { fa, fb };
    void *const ctx[2] = { a, b };
    return best_times(fn, ctx, 2, reps, best, cpu);
}

/* A standard normal deviate (Box-Muller). gsl_randist.h is not used: it pulls in
 * gsl_cblas.h, whose enums clash with OpenBLAS's cblas.h. */
static double normal(gsl_rng *rng)
{
    const double u = gsl_rng_uniform_pos(rng), v = gsl_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* max(m, d) in which a NaN wins (fmax would drop it), so a NaN fails the check. */
static double worse(double m, double d)
{
    return d <= m ? m : d;
}

static double max_abs_diff(const double *a, const double *b, size_t len)
{
    double m = 0;
    for (size_t i = 0; i < len; i++)
        m = worse(m, fabs(a[i] - b[i]));
    return m;
}

static void add_row(bench_report *r, const char *measure, const char *figures, double ratio,
                    int percent, double target, int higher_is_better)
{
    if (r->nrows == MAX_ROWS)
        return;
    bench_row *row = &r->rows[r->nrows++];
    snprintf(row->measure, sizeof row->measure, "%s", measure);
    snprintf(row->figures, sizeof row->figures, "%s", figures);
    row->ratio = ratio;
    row->percent = percent;
    row->target = target;
    row->higher_is_better = higher_is_better;
    row->verdict = NULL;
    row->cpu_ratio = NAN;
}

/* The last row's ratio measured in CPU time instead of wall time. */
static void set_cpu_ratio(bench_report *r, double cpu_ratio)
{
    if (r->nrows > 0)
        r->rows[r->nrows - 1].cpu_ratio = cpu_ratio;
}

/* A check line: what was compared, the difference, and whether it is within tol. */
static void add_check(bench_report *r, const char *what, double diff, double tol)
{
    if (r->nchecks == MAX_CHECKS)
        return;
    const int ok = diff <= tol;
    snprintf(r->checks[r->nchecks++], sizeof r->checks[0], "%-58s %9.2e  (<= %.0e) %s",
             what, diff, tol, ok ? "ok" : "DIFFER");
    if (!ok)
        r->failed = 1;
}

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
    int rc = dode_solve(p->euler, ode, &p->grid, xbar, &p->opts, NULL,
                        err, sizeof err);
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

static int timed_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    timed_state *ts = m->state;
    const double t0 = now(), c0 = thread_cpu();
    int rc = ts->inner->eps(ts->inner, ws, n, x, t, sigma, out);
    ts->cpu += thread_cpu() - c0;
    ts->seconds += now() - t0;
    ts->calls++;
    return rc;
}

/* The inner model's workspace, which timed_eps passes on. */
static void *timed_ws_new(const dode_model *m, size_t n)
{
    const dode_model *in = ((const timed_state *)m->state)->inner;
    return in->workspace_new(in, n);
}

static int solve_full(void *ctx)
{
    solve_ctx *c = ctx;
    openblas_set_num_threads(c->blas_threads);
    return solve_rows(c->p, c->ode[0], 0, c->p->out);
}

/* ---- the measures ----------------------------------------------------------------------- */

/* Library euler vs the fused loop, both on one thread (OpenBLAS at 1 thread). */
static int measure_floor(problem *p, dode_ode *full, bench_report *r)
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
static int measure_share(problem *p, bench_report *r)
{
    char err[ERRLEN], fig[64];
    timed_state ts = { .inner = p->gmm };
    dode_model timed = { .name = "timed gmm", .dim = GMM_D, .prediction = DODE_PRED_EPS,
                         .eps = timed_eps, .workspace_new = timed_ws_new,
                         .workspace_free = p->gmm->workspace_free, .state = &ts };
    dode_ode *ode = dode_ode_new(&timed, p->schedule, p->n, err, sizeof err);
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
static int measure_split(problem *p, bench_report *r)
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
static int measure_blas_threads(problem *p, dode_ode *full, bench_report *r)
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
    const double a = 1.0 / sqrt(1.0 + b->sigma * b->sigma);
    for (size_t i = 0; i < b->n; i++) {
        const size_t k = gsl_rng_uniform_int(rng, b->K);
        const double s = sqrt(b->sd[k] * b->sd[k] + b->sigma * b->sigma);
        for (size_t j = 0; j < b->d; j++)
            b->x[i * b->d + j] = a * (b->mu[k * b->d + j] + s * normal(rng));
    }
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
 * in xbar = x sqrt(1 + sigma^2)); uses prod's first K entries as scratch. */
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

static int measure_big(const bench_cfg *cfg, const dode_schedule *s, gsl_rng *rng,
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

/* ---- the 2-D problem, the report, main -------------------------------------------------- */

static void problem_free(problem *p)
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
static int problem_init(problem *p, const bench_cfg *cfg, gsl_rng *rng)
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
    const double scale = sqrt(1.0 + p->grid.sigma[0] * p->grid.sigma[0]);
    for (size_t i = 0; i < p->n * GMM_D; i++)
        p->xbar_T[i] = scale * normal(rng);
    return DODE_OK;
}

static void print_report(const bench_report *r)
{
    printf("\n%-44s %-50s %8s %8s %9s  %s\n", "measure", "figures (wall time, best of the "
           "repetitions)", "ratio", "cpu", "target", "verdict");
    for (size_t i = 0; i < r->nrows; i++) {
        const bench_row *w = &r->rows[i];
        char ratio[16], cpu[16] = "-", target[16] = "-";
        const char *verdict = "info", *fmt = w->percent ? "%.1f%%" : "%.2fx";
        const double scale = w->percent ? 100.0 : 1.0;
        snprintf(ratio, sizeof ratio, fmt, scale * w->ratio);
        if (!isnan(w->cpu_ratio))
            snprintf(cpu, sizeof cpu, fmt, scale * w->cpu_ratio);
        if (!isnan(w->target)) {
            snprintf(target, sizeof target, w->percent ? "%s%.0f%%" : "%s%.2fx",
                     w->higher_is_better ? ">= " : "<= ", scale * w->target);
            const int ok = w->higher_is_better ? w->ratio >= w->target : w->ratio <= w->target;
            verdict = ok ? "ok" : w->higher_is_better ? "below target" : "above target";
        }
        if (w->verdict != NULL)
            verdict = w->verdict;
        printf("%-44s %-50s %8s %8s %9s  %s\n", w->measure, w->figures, ratio, cpu, target,
               verdict);
    }
    printf("\nchecks (the compared runs compute the same numbers)\n");
    for (size_t i = 0; i < r->nchecks; i++)
        printf("  %s\n", r->checks[i]);
}

static void print_header(const bench_cfg *cfg, const problem *p)
{
    printf("diffode bench: euler on the MATH.md section 8 GMM (ddpm-linear, logsnr grid, "
           "%zu steps, sigma %.6g -> %.6g), n = %zu\n", p->grid.steps, p->grid.sigma[0],
           p->grid.sigma[p->grid.steps], p->n);
    printf("  many-component GMM eps: K = %zu, d = %zu, n = %zu; each time is the best of %d "
           "runs\n", cfg->big_k, cfg->big_d, cfg->big_n, cfg->reps);
    printf("  %s (core %s), %d threads by default\n", openblas_get_config(),
           openblas_get_corename(), openblas_get_num_threads());
    fflush(stdout);
}

/* The 1-minute load average (Linux /proc/loadavg), NaN where there is none: other
 * processes competing for the 2 cores show up here and in the 2-thread figures. */
static double load_average(void)
{
    double load = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = NAN;
        fclose(f);
    }
    return load;
}

static void print_footer(double load_start)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("\npeak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    printf("load average (1 min) %.2f at the start, %.2f at the end: the bench itself adds "
           "about 1; more means other processes shared the cores\n", load_start, load_average());
}

static int run(const bench_cfg *cfg, gsl_rng *rng, bench_report *r)
{
    problem p;
    char err[ERRLEN];
    int rc = problem_init(&p, cfg, rng);
    dode_ode *full = rc == DODE_OK ? dode_ode_new(p.gmm, p.schedule, p.n, err, sizeof err) : NULL;
    if (rc == DODE_OK && full == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        rc = DODE_ENOMEM;
    }
    if (rc == DODE_OK) {
        print_header(cfg, &p);
        rc = measure_floor(&p, full, r);
    }
    if (rc == DODE_OK)
        rc = measure_share(&p, r);
    if (rc == DODE_OK)
        rc = measure_split(&p, r);
    if (rc == DODE_OK)
        rc = measure_blas_threads(&p, full, r);
    if (rc == DODE_OK)
        rc = measure_big(cfg, p.schedule, rng, r);
    dode_ode_free(full);
    problem_free(&p);
    return rc;
}

int main(int argc, char **argv)
{
    bench_cfg cfg = { .n = 100000, .steps = 10, .reps = 15, .big_n = 4096, .big_k = 1000,
                      .big_d = 64 };
    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        cfg = (bench_cfg){ .n = 10000, .steps = 10, .reps = 2, .big_n = 512, .big_k = 200,
                           .big_d = 16 };
    else if (argc > 1) {
        fprintf(stderr, "usage: bench [--quick]\n");
        return 2;
    }
    gsl_set_error_handler_off();
    const double load_start = load_average();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    bench_report *r = calloc(1, sizeof *r);
    int rc = rng && r ? run(&cfg, rng, r) : DODE_ENOMEM;
    if (r != NULL)
        print_report(r);
    if (r != NULL && r->failed)
        printf("WARNING: a check failed: the compared runs do not compute the same numbers\n");
    fflush(stdout);
    /* the other issues' sections (bench_dpm.c: issue 4; bench_mlp.c, bench_ideal.c: issue 6) */
    const int quick = argc > 1;
    if (bench_dpm(quick) != 0 && rc == DODE_OK)
        rc = DODE_ESOLVER;
    fflush(stdout);
    if (bench_mlp(quick) != 0 && rc == DODE_OK)
        rc = DODE_ESOLVER;
    fflush(stdout);
    if (bench_ideal(quick) != 0 && rc == DODE_OK)
        rc = DODE_ESOLVER;
    print_footer(load_start);
    free(r);
    gsl_rng_free(rng);
    if (rc != DODE_OK)
        fprintf(stderr, "bench: stopped early (%s)\n", dode_strerror(rc));
    return rc == DODE_OK ? 0 : 1;
}
