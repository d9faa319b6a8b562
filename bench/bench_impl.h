/* bench_impl.h - what bench.c and its two sections on the library's core path share
 * (private to bench/): the sizes, the targets, the report rows and checks, the round-robin
 * timer, and the 2-D problem. bench_euler.c measures euler on the 2-D problem (the fused
 * floor, the share outside eps, threads); bench_gmm.c the many-component GMM's eps. */
#ifndef DIFFODE_BENCH_IMPL_H
#define DIFFODE_BENCH_IMPL_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "diffode/diffode.h"

#define ERRLEN 512
#define MAX_ROWS 128              /* issue 16: a share row per fixed-step solver */
#define MAX_CHECKS 16

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

typedef int (*bench_fn)(void *ctx);

/* bench.c: clocks, the round-robin timer, the report */
double now(void);
double thread_cpu(void);

/* A model that forwards eps (and eps_xbar, where the inner model fuses the ODE layer's
 * scaling and checks into its loop) to an inner model and adds up the wall and thread-CPU
 * time spent in it and its calls: a solve's time minus `seconds` is its time outside the
 * model call. bench_timed_init points model.state at t, so t stays where it is while model is
 * used (bench_euler.c, bench_speed.c). */
typedef struct {
    const dode_model *inner;
    double seconds, cpu;
    size_t calls;
    dode_model model;
} bench_timed;

void bench_timed_init(bench_timed *t, const dode_model *inner);
/* Minimum wall (and thread CPU, if cpu != NULL) times of reps runs of each fn, round-robin. */
int best_times(const bench_fn *fn, void *const *ctx, int count, int reps, double *best,
               double *cpu);
int best_pair(bench_fn fa, void *a, bench_fn fb, void *b, int reps, double best[2],
              double cpu[2]);
double normal(gsl_rng *rng);                /* a standard normal deviate */
double worse(double m, double d);           /* max(m, d) in which a NaN wins */
double max_abs_diff(const double *a, const double *b, size_t len);
void add_row(bench_report *r, const char *measure, const char *figures, double ratio,
             int percent, double target, int higher_is_better);
void set_cpu_ratio(bench_report *r, double cpu_ratio);  /* of the last row */
void add_check(bench_report *r, const char *what, double diff, double tol);
void print_report(const bench_report *r);   /* the rows with verdicts, then the checks */

/* bench_euler.c: the 2-D problem (ddpm-linear, logsnr grid, the section 8 GMM, x_T from
 * rng) and its measures; full is one dode_ode over the whole batch. */
int problem_init(problem *p, const bench_cfg *cfg, gsl_rng *rng);
void problem_free(problem *p);
int measure_floor(problem *p, dode_ode *full, bench_report *r);
int measure_share(problem *p, bench_report *r);
int measure_split(problem *p, bench_report *r);
int measure_blas_threads(problem *p, dode_ode *full, bench_report *r);

/* bench_gmm.c: the K = big_k GMM's eps against dgemm and its floor, at 1 and 2 threads. */
int measure_big(const bench_cfg *cfg, const dode_schedule *s, gsl_rng *rng, bench_report *r);

#endif
