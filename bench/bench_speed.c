/* bench_speed.c - the speed targets of issue 16, as rows of one report measured in one run:
 *
 *   floor    euler and dpmpp2m (NFE 10, uniform-t grid on ddpm-linear) on 2-D isotropic
 *            mixtures of K = 3 (MATH.md section 8) and K = 8 components (the issue's: unequal
 *            weights, a radius-4 ring, std 0.3), n = 10^4 and 10^5, against hand-fused loops
 *            (the mixture's eps and the update in registers): time per sample-step, <= 1.3x;
 *   share    every fixed-step solver of the registry on the K = 3 mixture (n = 10^4, NFE 20,
 *            logsnr grid): the share of the solve spent outside the model's eps, <= 5%,
 *            worst first;
 *   process  bench_process.c: `diffode sample` as a child process and `diffode run --jobs`.
 *
 * The checks: each fused loop agrees with the library to 1e-12, and the library's GMM eps
 * (its small-K loops, model/gmm.c) equals its dgemm path bit for bit (difference 0). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/diffode.h"
#include "bench_impl.h"
#include "bench_speed.h"
#include "../model/gmm_impl.h"

#define SP_KMAX 8

typedef struct {
    const char *name;
    size_t K;
    double w[SP_KMAX], mu[SP_KMAX][2], sd[SP_KMAX];
} mixture;

/* K = 8: weights 1..8 / 36 (unequal), means on the circle of radius 4, std 0.3. */
static void ring_mixture(mixture *m)
{
    *m = (mixture){ .name = "K=8 ring", .K = 8 };
    for (size_t k = 0; k < 8; k++) {
        const double a = 6.283185307179586 * (double)k / 8.0;
        m->w[k] = (double)(k + 1) / 36.0;
        m->mu[k][0] = 4.0 * cos(a);
        m->mu[k][1] = 4.0 * sin(a);
        m->sd[k] = 0.3;
    }
}

static const mixture sec8 = { .name = "K=3 sec.8", .K = 3, .w = { 0.5, 0.3, 0.2 },
                              .mu = { { -1.5, 0.0 }, { 1.5, 0.5 }, { 0.0, 2.0 } },
                              .sd = { 0.3, 0.5, 0.2 } };

/* ---- the fused loops -------------------------------------------------------------------- */

/* Per-step constants of the exact mixture eps at sigma (MATH.md section 5, d = 2, the
 * common -log 2 pi dropped as it cancels in the softmax): lc_k = log w_k - log C_k,
 * ic_k = 1/C_k, C_k = sd_k^2 + sigma^2. */
static void step_consts(const mixture *m, double sigma, double *lc, double *ic)
{
    for (size_t k = 0; k < m->K; k++) {
        ic[k] = 1.0 / (m->sd[k] * m->sd[k] + sigma * sigma);
        lc[k] = log(m->w[k] * ic[k]);
    }
}

/* e = sum_k gamma_k (xbar - mu_k) / C_k at one sample (epsh = sigma e), gamma = softmax of
 * l_k = lc_k - |xbar - mu_k|^2 ic_k / 2 by log-sum-exp; K is a constant where inlined. */
static inline __attribute__((always_inline)) void fused_e(size_t K, const double (*mu)[2],
                                                          const double *lc, const double *ic,
                                                          const double x[2], double e[2])
{
    double dx[SP_KMAX][2], l[SP_KMAX], mx = -INFINITY, sum = 0, e0 = 0, e1 = 0;
    for (size_t k = 0; k < K; k++) {
        dx[k][0] = x[0] - mu[k][0];
        dx[k][1] = x[1] - mu[k][1];
        l[k] = lc[k] - 0.5 * ic[k] * (dx[k][0] * dx[k][0] + dx[k][1] * dx[k][1]);
        mx = l[k] > mx ? l[k] : mx;
    }
    for (size_t k = 0; k < K; k++) {
        const double g = exp(l[k] - mx);
        sum += g;
        e0 += g * ic[k] * dx[k][0];
        e1 += g * ic[k] * dx[k][1];
    }
    e[0] = e0 / sum;
    e[1] = e1 / sum;
}

/* Euler in sigma: xbar += (sigma' - sigma) sigma e, step by step over all rows (rows are
 * independent, so the CPU overlaps their exp latencies). */
static inline __attribute__((always_inline)) void fused_euler_k(size_t K, const mixture *m,
                                                                const dode_grid *g, size_t n,
                                                                double *x)
{
    for (size_t j = 0; j < g->steps; j++) {
        double lc[SP_KMAX], ic[SP_KMAX];
        const double s = g->sigma[j], f = (g->sigma[j + 1] - s) * s;
        step_consts(m, s, lc, ic);
        for (size_t i = 0; i < n; i++) {
            double e[2];
            fused_e(K, m->mu, lc, ic, x + 2 * i, e);
            x[2 * i] += f * e[0];
            x[2 * i + 1] += f * e[1];
        }
    }
}

/* DPM-Solver++(2M), dpmsolver form, first step order 1 (MATH.md section 6), x0 = xbar -
 * sigma^2 e: xbar' = (s'/s) xbar - expm1(-h) (x0 + (x0 - x0_prev) / (2 r0)), r0 = h_prev/h. */
static inline __attribute__((always_inline)) void fused_dpm_k(size_t K, const mixture *m,
                                                              const dode_grid *g, size_t n,
                                                              double *x, double *prev)
{
    double h_prev = 0;
    for (size_t j = 0; j < g->steps; j++) {
        double lc[SP_KMAX], ic[SP_KMAX];
        const double ss = g->sigma[j], st = g->sigma[j + 1], h = log(ss / st);
        const double k0 = st / ss, e1 = expm1(-h), half = j == 0 ? 0.0 : 0.5 * h / h_prev;
        step_consts(m, ss, lc, ic);
        for (size_t i = 0; i < n; i++) {
            double e[2];
            fused_e(K, m->mu, lc, ic, x + 2 * i, e);
            for (int d = 0; d < 2; d++) {
                const double x0 = x[2 * i + d] - ss * ss * e[d];
                const double D = j == 0 ? 0.0 : x0 - prev[2 * i + d];
                x[2 * i + d] = k0 * x[2 * i + d] - e1 * (x0 + half * D);
                prev[2 * i + d] = x0;
            }
        }
        h_prev = h;
    }
}

typedef struct {
    const mixture *mix;
    dode_model *gmm;
    const dode_solver_type *solver;
    int dpm;                      /* 1: dpmpp2m, 0: euler */
    const dode_grid *grid;
    dode_solver_opts opts;
    dode_ode *ode;
    size_t n;
    const double *xbar_T;         /* [n][2] */
    double *lib, *fused, *prev;   /* [n][2] each */
} floor_case;

static int run_fused(void *ctx)
{
    floor_case *c = ctx;
    memcpy(c->fused, c->xbar_T, c->n * 2 * sizeof *c->fused);
    if (c->mix->K == 3 && c->dpm)
        fused_dpm_k(3, c->mix, c->grid, c->n, c->fused, c->prev);
    else if (c->mix->K == 3)
        fused_euler_k(3, c->mix, c->grid, c->n, c->fused);
    else if (c->dpm)
        fused_dpm_k(8, c->mix, c->grid, c->n, c->fused, c->prev);
    else
        fused_euler_k(8, c->mix, c->grid, c->n, c->fused);
    return DODE_OK;
}

static int run_lib(void *ctx)
{
    floor_case *c = ctx;
    char err[ERRLEN];
    memcpy(c->lib, c->xbar_T, c->n * 2 * sizeof *c->lib);
    int rc = dode_run_xbar(c->solver, c->ode, c->grid, &c->opts, c->lib, NULL, NULL, err,
                           sizeof err);
    if (rc != DODE_OK)
        fprintf(stderr, "bench: %s on %zu rows failed: %s\n", c->solver->name, c->n, err);
    return rc;
}

/* A model whose eps is the GMM's dgemm path (gmm_eps_path with small = 0): the
 * unoptimised library, for the bit-identity check. */
static int dgemm_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    (void)t;
    return gmm_eps_path(m->state, ws, n, x, sigma, 0, out);
}

/* The library's solve of c with the GMM forced onto its dgemm path: max |difference|. */
static int dgemm_diff(floor_case *c, double *diff)
{
    char err[ERRLEN];
    dode_model m = *c->gmm;
    m.eps = dgemm_eps;
    m.eps_xbar = NULL;          /* else the ODE layer would still call the small path */
    dode_ode *ode = dode_ode_new(&m, c->ode->schedule, c->n, err, sizeof err);
    double *x = malloc(c->n * 2 * sizeof *x);
    int rc = ode != NULL && x != NULL ? DODE_OK : DODE_ENOMEM;
    if (rc == DODE_OK) {
        memcpy(x, c->xbar_T, c->n * 2 * sizeof *x);
        rc = dode_run_xbar(c->solver, ode, c->grid, &c->opts, x, NULL, NULL, err, sizeof err);
    }
    if (rc == DODE_OK)
        *diff = max_abs_diff(x, c->lib, c->n * 2);
    dode_ode_free(ode);
    free(x);
    return rc;
}

/* ---- the measures ----------------------------------------------------------------------- */

/* xbar_T for n rows: x_T ~ N(0, I) scaled to sigma_T. */
static double *start_points(const dode_schedule *s, const dode_grid *g, size_t n,
                            gsl_rng *rng)
{
    double *x = malloc(n * 2 * sizeof *x);
    if (x == NULL)
        return NULL;
    for (size_t i = 0; i < n * 2; i++)
        x[i] = normal(rng);
    dode_x_to_xbar(s, g->sigma[0], x, x, n * 2);
    return x;
}

/* One floor row: the library and the fused loop round-robin, then the checks. */
static int floor_row(floor_case *c, int reps, bench_report *r, double *worst_fused,
                     double *worst_dgemm)
{
    char fig[64], name[48];
    double t[2], cpu[2], dd = 0;
    int rc = best_pair(run_lib, c, run_fused, c, reps, t, cpu);
    if (rc == DODE_OK)
        rc = dgemm_diff(c, &dd);
    if (rc != DODE_OK)
        return rc;
    const double per = 1e9 / ((double)c->n * (double)c->grid->steps);
    snprintf(name, sizeof name, "%s / fused, %s, n=%.0e", c->solver->name, c->mix->name,
             (double)c->n);
    snprintf(fig, sizeof fig, "lib %.1f ns, fused %.1f ns", t[0] * per, t[1] * per);
    add_row(r, name, fig, t[0] / t[1], 0, TARGET_FLOOR16, 0);
    set_cpu_ratio(r, cpu[0] / cpu[1]);
    *worst_fused = worse(*worst_fused, max_abs_diff(c->lib, c->fused, c->n * 2));
    *worst_dgemm = worse(*worst_dgemm, dd);
    return DODE_OK;
}

/* The eight floor rows: {K = 3, K = 8} x {10^4, 10^5} x {euler, dpmpp2m}. */
static int measure_floors(const bench_cfg *cfg, const dode_schedule *sched, gsl_rng *rng,
                          bench_report *r)
{
    char err[ERRLEN];
    mixture ring;
    ring_mixture(&ring);
    const mixture *mixes[2] = { &sec8, &ring };
    const size_t ns[2] = { cfg->n / 10, cfg->n };
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = DODE_SPACING_UNIFORM_T;
    dode_grid g;
    if (dode_grid_make(sched, &go, 10, &g, err, sizeof err) != DODE_OK) {
        fprintf(stderr, "bench: %s\n", err);
        return DODE_EINVAL;
    }
    double worst_fused = 0, worst_dgemm = 0;
    int rc = DODE_OK;
    for (int mi = 0; mi < 2 && rc == DODE_OK; mi++) {
        const mixture *mx = mixes[mi];
        dode_model *gmm = dode_gmm_new(mx->K, 2, mx->w, &mx->mu[0][0], "isotropic", mx->sd,
                                       err, sizeof err);
        for (int ni = 0; ni < 2 && rc == DODE_OK; ni++) {
            const size_t n = ns[ni];
            floor_case c = { .mix = mx, .gmm = gmm, .grid = &g, .n = n };
            dode_solver_opts_init(&c.opts);
            c.xbar_T = start_points(sched, &g, n, rng);
            c.lib = malloc(n * 2 * sizeof *c.lib);
            c.fused = malloc(n * 2 * sizeof *c.fused);
            c.prev = malloc(n * 2 * sizeof *c.prev);
            c.ode = gmm ? dode_ode_new(gmm, sched, n, err, sizeof err) : NULL;
            rc = c.ode && c.xbar_T && c.lib && c.fused && c.prev ? DODE_OK : DODE_ENOMEM;
            for (int si = 0; si < 2 && rc == DODE_OK; si++) {
                c.dpm = si;
                c.solver = dode_solver_find(si ? "dpmpp2m" : "euler");
                rc = floor_row(&c, cfg->reps, r, &worst_fused, &worst_dgemm);
            }
            if (rc == DODE_ENOMEM)
                fprintf(stderr, "bench: %s\n", gmm ? err : "out of memory");
            dode_ode_free(c.ode);
            free((double *)c.xbar_T), free(c.lib), free(c.fused), free(c.prev);
        }
        dode_model_free(gmm);
    }
    dode_grid_free(&g);
    if (rc != DODE_OK)
        return rc;
    add_check(r, "max |xbar_0 fused - library| (floor rows, all rows)", worst_fused, 1e-11);
    add_check(r, "max |library - library with dgemm GMM eps| (floor rows)", worst_dgemm, 0);
    return DODE_OK;
}

/* Least solve time and least time outside eps over the runs, in wall and CPU time: the
 * share is their ratio (each minimum is the run least disturbed by other processes; on
 * this shared machine the eps time of one solver varied 2x between runs). */
typedef struct {
    const char *name;
    double share, solve, outside, cpu_solve, cpu_outside;
    size_t steps;
    int sde;                      /* stochastic: its noise draws count as outside */
} share_row;

static int by_share_desc(const void *a, const void *b)
{
    const double x = ((const share_row *)a)->share, y = ((const share_row *)b)->share;
    return (x < y) - (x > y);
}

/* Solver s on ode at NFE 20 (logsnr grid), reps times: the least wall time and the time
 * inside eps in that run. Stochastic solvers take seeded draws (noise.h). */
static int share_one(const dode_solver_type *s, dode_ode *ode, bench_timed *ts,
                     const double *xbar_T, double *x, dode_noise *noise, int reps,
                     share_row *row)
{
    char err[ERRLEN];
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = DODE_SPACING_LOGSNR;
    dode_grid g = { .sigma = NULL };       /* freed whatever happens below */
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    const int sde = strcmp(s->family, "sde") == 0;
    if (sde)
        o.noise = noise;
    *row = (share_row){ .name = s->name, .solve = INFINITY, .outside = INFINITY,
                        .cpu_solve = INFINITY, .cpu_outside = INFINITY,
                        .steps = dode_solver_steps_for_nfe(s, 20), .sde = sde };
    int rc = dode_grid_make(ode->schedule, &go, row->steps, &g, err, sizeof err);
    for (int k = 0; k < reps && rc == DODE_OK; k++) {
        memcpy(x, xbar_T, ode->n * ode->dim * sizeof *x);
        ts->seconds = ts->cpu = 0;
        const double t0 = now(), c0 = thread_cpu();
        rc = dode_run_xbar(s, ode, &g, &o, x, NULL, NULL, err, sizeof err);
        const double dc = thread_cpu() - c0, dt = now() - t0;
        row->solve = fmin(row->solve, dt);
        row->outside = fmin(row->outside, dt - ts->seconds);
        row->cpu_solve = fmin(row->cpu_solve, dc);
        row->cpu_outside = fmin(row->cpu_outside, dc - ts->cpu);
    }
    if (rc == DODE_EUNSUPPORTED)        /* e.g. CFG++: needs a guided model; not a failure */
        printf("  share outside eps: %s skipped (%s)\n", s->name, err);
    else if (rc != DODE_OK)
        fprintf(stderr, "bench: %s: %s\n", s->name, err);
    dode_grid_free(&g);
    row->share = row->outside / row->solve;
    return rc;
}

/* Every fixed-step solver on the K = 3 mixture, n = cfg->n / 10, NFE 20: rows worst first. */
static int measure_shares(const bench_cfg *cfg, const dode_schedule *sched, gsl_rng *rng,
                          bench_report *r)
{
    char err[ERRLEN];
    const size_t n = cfg->n / 10;
    share_row rows[MAX_ROWS];
    size_t nrows = 0;
    dode_model *gmm = dode_gmm_new(sec8.K, 2, sec8.w, &sec8.mu[0][0], "isotropic", sec8.sd,
                                   err, sizeof err);
    bench_timed ts;
    if (gmm != NULL)
        bench_timed_init(&ts, gmm);
    dode_ode *ode = gmm ? dode_ode_new(&ts.model, sched, n, err, sizeof err) : NULL;
    dode_noise *noise = dode_noise_new_seeded(1, err, sizeof err);
    double *xbar_T = malloc(n * 2 * sizeof *xbar_T), *x = malloc(n * 2 * sizeof *x);
    int rc = ode && noise && xbar_T && x ? DODE_OK : DODE_ENOMEM;
    if (rc == DODE_OK) {
        for (size_t i = 0; i < n * 2; i++)
            xbar_T[i] = normal(rng);
        dode_x_to_xbar(sched, dode_schedule_sigma(sched, dode_schedule_t_max(sched)), xbar_T,
                       xbar_T, n * 2);
    } else {
        fprintf(stderr, "bench: %s\n", err);
    }
    for (const dode_solver_type *const *s = dode_solvers(); *s && rc == DODE_OK; s++)
        if (!(*s)->adaptive && nrows < MAX_ROWS) {
            rc = share_one(*s, ode, &ts, xbar_T, x, noise, cfg->reps, &rows[nrows++]);
            if (rc == DODE_EUNSUPPORTED)    /* no row for a solver this model cannot run */
                nrows--, rc = DODE_OK;
        }
    qsort(rows, nrows, sizeof rows[0], by_share_desc);
    for (size_t i = 0; i < nrows && rc == DODE_OK; i++) {
        char name[48], fig[64];
        snprintf(name, sizeof name, "share outside eps, %s", rows[i].name);
        snprintf(fig, sizeof fig, "solve %.2f ms, outside %.2f ms (%zu steps)",
                 1e3 * rows[i].solve, 1e3 * rows[i].outside, rows[i].steps);
        add_row(r, name, fig, rows[i].share, 1, TARGET_SHARE, 0);
        set_cpu_ratio(r, rows[i].cpu_outside / rows[i].cpu_solve);  /* waits for a core excluded */
        if (rows[i].sde)
            r->rows[r->nrows - 1].verdict = "info: draws";
    }
    dode_noise_free(noise);
    dode_ode_free(ode);
    dode_model_free(gmm);
    free(xbar_T), free(x);
    return rc;
}

int bench_speed(const bench_cfg *cfg, const char *argv0, gsl_rng *rng, bench_report *r)
{
    char err[ERRLEN];
    dode_schedule *sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    if (sched == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        return DODE_EINVAL;
    }
    openblas_set_num_threads(1);
    printf("\nissue 16: floors (NFE 10, uniform-t, n = %zu and %zu), shares (K = 3, n = %zu, "
           "NFE 20, logsnr), process\n", cfg->n / 10, cfg->n, cfg->n / 10);
    fflush(stdout);
    int rc = measure_floors(cfg, sched, rng, r);
    if (rc == DODE_OK)
        rc = measure_shares(cfg, sched, rng, r);
    if (rc == DODE_OK)
        rc = measure_process(cfg, argv0, r);
    dode_schedule_free(sched);
    return rc;
}
