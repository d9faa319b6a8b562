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
 * `bench --quick` runs smaller sizes (a smoke test of the bench itself).
 *
 * This file holds the timer, the report and main; the measures are in bench_euler.c (the
 * 2-D problem) and bench_gmm.c (the many-component GMM), what they share in bench_impl.h.
 * Issue 16's targets (floors at K = 3 and 8, every solver's share, whole processes) are
 * the last section, bench_speed.c and bench_process.c; `bench --speed` runs it alone. */
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
#include "bench_impl.h"
#include "bench_mlp.h"
#include "bench_ideal.h"
#include "bench_speed.h"

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: unlike wall time, it does not grow while other
 * processes hold the core, so it shows what the code would do on idle cores. */
double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int timed_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    bench_timed *ts = m->state;
    const double t0 = now(), c0 = thread_cpu();
    int rc = ts->inner->eps(ts->inner, ws, n, x, t, sigma, out);
    ts->cpu += thread_cpu() - c0;
    ts->seconds += now() - t0;
    ts->calls++;
    return rc;
}

/* The inner model's fused eps_xbar (model.h), timed as timed_eps times eps. */
static int timed_eps_xbar(const dode_model *m, void *ws, size_t n, const double *xbar,
                          double a, double t, double sigma, double *out, int *bad)
{
    bench_timed *ts = m->state;
    const double t0 = now(), c0 = thread_cpu();
    int rc = ts->inner->eps_xbar(ts->inner, ws, n, xbar, a, t, sigma, out, bad);
    ts->cpu += thread_cpu() - c0;
    ts->seconds += now() - t0;
    ts->calls++;
    return rc;
}

/* The inner model's workspace, which timed_eps passes on. */
static void *timed_ws_new(const dode_model *m, size_t n)
{
    const dode_model *in = ((const bench_timed *)m->state)->inner;
    return in->workspace_new(in, n);
}

void bench_timed_init(bench_timed *t, const dode_model *inner)
{
    *t = (bench_timed){ .inner = inner };
    t->model = (dode_model){ .name = "timed gmm", .dim = inner->dim,
                             .prediction = inner->prediction, .eps = timed_eps,
                             .eps_xbar = inner->eps_xbar != NULL ? timed_eps_xbar : NULL,
                             .workspace_new = timed_ws_new,
                             .workspace_free = inner->workspace_free, .state = t };
}

/* Minimum wall times (and, if cpu != NULL, minimum CPU times of the calling thread) of
 * reps runs of each of count functions, run round-robin so that a spell of load from other
 * processes (the machine is shared) hits every side alike. The first round also warms
 * caches and thread pools; the minimum discards it if it was slow. */
int best_times(const bench_fn *fn, void *const *ctx, int count, int reps, double *best,
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

int best_pair(bench_fn fa, void *a, bench_fn fb, void *b, int reps, double best[2],
              double cpu[2])
{
    const bench_fn fn[2] = { fa, fb };
    void *const ctx[2] = { a, b };
    return best_times(fn, ctx, 2, reps, best, cpu);
}

/* A standard normal deviate (Box-Muller). gsl_randist.h is not used: it pulls in
 * gsl_cblas.h, whose enums clash with OpenBLAS's cblas.h. */
double normal(gsl_rng *rng)
{
    const double u = gsl_rng_uniform_pos(rng), v = gsl_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* max(m, d) in which a NaN wins (fmax would drop it), so a NaN fails the check. */
double worse(double m, double d)
{
    return d <= m ? m : d;
}

double max_abs_diff(const double *a, const double *b, size_t len)
{
    double m = 0;
    for (size_t i = 0; i < len; i++)
        m = worse(m, fabs(a[i] - b[i]));
    return m;
}

void add_row(bench_report *r, const char *measure, const char *figures, double ratio,
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
void set_cpu_ratio(bench_report *r, double cpu_ratio)
{
    if (r->nrows > 0)
        r->rows[r->nrows - 1].cpu_ratio = cpu_ratio;
}

/* A check line: what was compared, the difference, and whether it is within tol. */
void add_check(bench_report *r, const char *what, double diff, double tol)
{
    if (r->nchecks == MAX_CHECKS)
        return;
    const int ok = diff <= tol;
    snprintf(r->checks[r->nchecks++], sizeof r->checks[0], "%-58s %9.2e  (<= %.0e) %s",
             what, diff, tol, ok ? "ok" : "DIFFER");
    if (!ok)
        r->failed = 1;
}

/* ---- the report, main ------------------------------------------------------------------- */

void print_report(const bench_report *r)
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

/* Issue 16's section (bench_speed.c) with its own report; rc is updated on failure. */
static void run_speed(const bench_cfg *cfg, const char *argv0, gsl_rng *rng, int *rc)
{
    bench_report *r = calloc(1, sizeof *r);
    const int rc16 = r != NULL ? bench_speed(cfg, argv0, rng, r) : DODE_ENOMEM;
    if (r != NULL)
        print_report(r);
    if (r != NULL && r->failed)
        printf("WARNING: a check failed: the compared runs do not compute the same numbers\n");
    if (rc16 != DODE_OK && *rc == DODE_OK)
        *rc = rc16;
    free(r);
}

int main(int argc, char **argv)
{
    bench_cfg cfg = { .n = 100000, .steps = 10, .reps = 15, .big_n = 4096, .big_k = 1000,
                      .big_d = 64 };
    const int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const int speed_only = argc > 1 && strcmp(argv[1], "--speed") == 0;
    const int ideal_only = argc > 1 && strcmp(argv[1], "--ideal") == 0;
    if (ideal_only) {                   /* the ideal denoiser's rows alone, 1 BLAS thread */
        openblas_set_num_threads(1);
        return bench_ideal(0) == 0 ? 0 : 1;
    }
    if (quick)
        cfg = (bench_cfg){ .n = 10000, .steps = 10, .reps = 2, .big_n = 512, .big_k = 200,
                           .big_d = 16 };
    else if (argc > 1 && !speed_only) {
        fprintf(stderr, "usage: bench [--quick | --speed | --ideal]\n");
        return 2;
    }
    gsl_set_error_handler_off();
    const double load_start = load_average();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    bench_report *r = calloc(1, sizeof *r);
    int rc = rng && r ? DODE_OK : DODE_ENOMEM;
    if (rc == DODE_OK && !speed_only) {
        rc = run(&cfg, rng, r);
        print_report(r);
        if (r->failed)
            printf("WARNING: a check failed: the compared runs do not compute the same "
                   "numbers\n");
        fflush(stdout);
        /* the other issues' sections (bench_dpm.c: issue 4; bench_mlp.c, bench_ideal.c:
         * issue 6) */
        if (bench_dpm(quick) != 0 && rc == DODE_OK)
            rc = DODE_ESOLVER;
        fflush(stdout);
        if (bench_mlp(quick) != 0 && rc == DODE_OK)
            rc = DODE_ESOLVER;
        fflush(stdout);
        if (bench_ideal(quick) != 0 && rc == DODE_OK)
            rc = DODE_ESOLVER;
        fflush(stdout);
    }
    if (rng != NULL)
        run_speed(&cfg, argv[0], rng, &rc);
    print_footer(load_start);
    free(r);
    gsl_rng_free(rng);
    if (rc != DODE_OK)
        fprintf(stderr, "bench: stopped early (%s)\n", dode_strerror(rc));
    return rc == DODE_OK ? 0 : 1;
}
