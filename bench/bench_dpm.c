/* bench_dpm.c - what the DPM-Solver family and UniPC cost beyond the model (issue 4).
 *
 *   overhead  every fixed-grid solver on the MATH.md section 8 GMM (10,000 samples, NFE 20,
 *             logsnr grid on ddpm-linear, OpenBLAS at 1 thread): the solve time minus the
 *             time inside the model's eps calls (measured by a timing wrapper around the
 *             model), per step, as a share of one whole euler step (model included). The
 *             mixture's eps takes x = a xbar and the finiteness checks in its own loop
 *             (model.h, eps_xbar), so they count as inside the model for every solver.
 *   fused     dpmpp2m at NFE 10 and 20 against a hand-fused loop: exact GMM eps, the x0
 *             prediction and the DPM-Solver++(2M) update in one pass over each sample
 *             (MATH.md sections 5 and 6), the fused floor of the core benchmark extended to
 *             the 2M update; the results must agree to 1e-12.
 * Each time is the minimum over repetitions (the machine is shared). A report, not a test. */
#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_dpm.h"
#include "bench_impl.h"
#include "diffode/diffode.h"

#define BD_N 10000
#define BD_K 3
static const double bd_w[BD_K] = { 0.5, 0.3, 0.2 };
static const double bd_mu[BD_K][2] = { { -1.5, 0.0 }, { 1.5, 0.5 }, { 0.0, 2.0 } };
static const double bd_sd[BD_K] = { 0.3, 0.5, 0.2 };

typedef struct {
    dode_schedule *sched;
    dode_model *gmm;
    bench_timed ts;                   /* the model, timed */
    dode_ode *ode;
    double *xbar_T, *x, *fused;       /* [n][2] each */
    int reps;
} bd_problem;

static void bd_free(bd_problem *p)
{
    dode_ode_free(p->ode);
    dode_model_free(p->gmm);
    dode_schedule_free(p->sched);
    free(p->xbar_T), free(p->x), free(p->fused);
}

static int bd_init(bd_problem *p, int quick)
{
    char err[256];
    *p = (bd_problem){ .reps = quick ? 2 : 7 };
    p->sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    p->gmm = dode_gmm_new(BD_K, 2, bd_w, &bd_mu[0][0], "isotropic", bd_sd, err, sizeof err);
    if (p->sched == NULL || p->gmm == NULL) {
        fprintf(stderr, "bench_dpm: %s\n", err);
        return DODE_EINVAL;
    }
    bench_timed_init(&p->ts, p->gmm);
    p->ode = dode_ode_new(&p->ts.model, p->sched, BD_N, err, sizeof err);
    p->xbar_T = malloc(BD_N * 2 * sizeof *p->xbar_T);
    p->x = malloc(BD_N * 2 * sizeof *p->x);
    p->fused = malloc(BD_N * 2 * sizeof *p->fused);
    if (p->ode == NULL || !p->xbar_T || !p->x || !p->fused)
        return DODE_ENOMEM;
    const double sT = dode_schedule_sigma(p->sched, dode_schedule_t_max(p->sched));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return DODE_ENOMEM;
    gsl_rng_set(rng, 1);
    for (size_t k = 0; k < BD_N * 2; k += 2) {  /* x_T ~ N(0, I) by Box-Muller */
        const double r = sqrt(-2.0 * log(gsl_rng_uniform_pos(rng)));
        const double a = 6.283185307179586 * gsl_rng_uniform(rng);
        p->xbar_T[k] = r * cos(a), p->xbar_T[k + 1] = r * sin(a);
    }
    dode_x_to_xbar(p->sched, sT, p->xbar_T, p->xbar_T, BD_N * 2);         /* xbar_T = x_T / a_T */
    gsl_rng_free(rng);
    return DODE_OK;
}

/* One library solve; *model_s gets the time inside eps. Returns the wall time or -1. */
static double bd_solve(bd_problem *p, const dode_solver_type *s, const dode_grid *g,
                       double *model_s)
{
    char err[256];
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    memcpy(p->x, p->xbar_T, BD_N * 2 * sizeof *p->x);
    p->ts.seconds = 0;
    const double t0 = now();
    int rc = dode_run_xbar(s, p->ode, g, &o, p->x, NULL, NULL, err, sizeof err);
    const double t = now() - t0;
    if (rc != DODE_OK) {
        fprintf(stderr, "bench_dpm: %s failed: %s\n", s->name, err);
        return -1;
    }
    *model_s = p->ts.seconds;
    return t;
}

/* Minimum over reps of (wall, outside-model) time for s at nfe: 0 or an error. */
static int bd_time(bd_problem *p, const dode_solver_type *s, size_t nfe, double *wall,
                   double *outside, size_t *steps)
{
    char err[256];
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    dode_grid g;
    *steps = dode_solver_steps_for_nfe(s, nfe);
    if (dode_grid_make(p->sched, &go, *steps, &g, err, sizeof err) != DODE_OK) {
        fprintf(stderr, "bench_dpm: %s\n", err);
        return DODE_EINVAL;
    }
    *wall = *outside = INFINITY;
    for (int r = 0; r < p->reps; r++) {
        double m;
        const double t = bd_solve(p, s, &g, &m);
        if (t < 0) {
            dode_grid_free(&g);
            return DODE_ESOLVER;
        }
        *wall = fmin(*wall, t);
        *outside = fmin(*outside, t - m);
    }
    dode_grid_free(&g);
    return DODE_OK;
}

static int bd_overhead(bd_problem *p)
{
    double ew, eo;
    size_t esteps;
    if (bd_time(p, dode_solver_find("euler"), 20, &ew, &eo, &esteps) != DODE_OK)
        return DODE_ESOLVER;
    const double euler_step = ew / (double)esteps;
    printf("\nDPM-Solver / UniPC overhead outside the model (2-D GMM, n = %d, NFE 20, logsnr,"
           " 1 thread)\n  one euler step (model included): %.1f us\n", BD_N, 1e6 * euler_step);
    printf("  %-16s %6s %14s %22s\n", "solver", "steps", "outside/step", "share of euler step");
    for (const dode_solver_type *const *s = dode_solvers(); *s != NULL; s++) {
        if ((*s)->adaptive || strcmp((*s)->family, "sde") == 0
            || strcmp((*s)->family, "cfg++") == 0)
            continue;   /* draws (noise.h; bench_speed.c times them) or a guided model */
        double w, o;
        size_t steps;
        if (bd_time(p, *s, 20, &w, &o, &steps) != DODE_OK)
            return DODE_ESOLVER;
        printf("  %-16s %6zu %11.1f us %21.1f%%\n", (*s)->name, steps,
               1e6 * o / (double)steps, 100.0 * o / (double)steps / euler_step);
    }
    return DODE_OK;
}

/* ---- the hand-fused DPM-Solver++(2M) ---------------------------------------------------- */

/* x0 prediction of the exact GMM at one sample (MATH.md section 5): softmax of
 * l_k = log w_k - log C_k - |xbar - mu_k|^2 / (2 C_k), C_k = sd_k^2 + sigma^2 (d = 2; the
 * common -log 2pi cancels), epsh = sigma sum_k gamma_k (xbar - mu_k) / C_k,
 * x0h = xbar - sigma epsh. lc, ic: the per-step constants log w_k - log C_k and 1/C_k. */
static inline void fused_x0(const double x[2], double sigma, const double lc[BD_K],
                            const double ic[BD_K], double x0[2])
{
    double dx[BD_K][2], l[BD_K], m = -INFINITY;
    for (int k = 0; k < BD_K; k++) {
        dx[k][0] = x[0] - bd_mu[k][0];
        dx[k][1] = x[1] - bd_mu[k][1];
        l[k] = lc[k] - 0.5 * ic[k] * (dx[k][0] * dx[k][0] + dx[k][1] * dx[k][1]);
        m = l[k] > m ? l[k] : m;
    }
    double sum = 0, e0 = 0, e1 = 0;
    for (int k = 0; k < BD_K; k++) {
        const double g = exp(l[k] - m);
        sum += g;
        e0 += g * ic[k] * dx[k][0];
        e1 += g * ic[k] * dx[k][1];
    }
    const double f = sigma * sigma / sum;
    x0[0] = x[0] - f * e0;
    x0[1] = x[1] - f * e1;
}

/* DPM-Solver++(2M), "dpmsolver" form, first step order 1 (MATH.md section 6):
 * xbar' = (s'/s) xbar - expm1(-h) (x0 + (x0 - x0_prev) / (2 r0)), r0 = h_prev / h. */
static void fused_dpmpp2m(const dode_grid *g, const double *xbar_T, double *x, double *prev)
{
    memcpy(x, xbar_T, BD_N * 2 * sizeof *x);
    double h_prev = 0;
    for (size_t j = 0; j < g->steps; j++) {
        const double ss = g->sigma[j], st = g->sigma[j + 1], h = log(ss / st);
        const double k0 = st / ss, e1 = expm1(-h);
        const double half = j == 0 ? 0.0 : 0.5 * h / h_prev;   /* 1/(2 r0) */
        double lc[BD_K], ic[BD_K];
        for (int k = 0; k < BD_K; k++) {
            ic[k] = 1.0 / (bd_sd[k] * bd_sd[k] + ss * ss);
            lc[k] = log(bd_w[k] * ic[k]);
        }
        for (size_t i = 0; i < BD_N; i++) {
            double x0[2];
            fused_x0(x + 2 * i, ss, lc, ic, x0);
            for (int d = 0; d < 2; d++) {
                const double D = j == 0 ? 0.0 : x0[d] - prev[2 * i + d];
                x[2 * i + d] = k0 * x[2 * i + d] - e1 * (x0[d] + half * D);
                prev[2 * i + d] = x0[d];
            }
        }
        h_prev = h;
    }
}

static int bd_fused(bd_problem *p)
{
    const dode_solver_type *s = dode_solver_find("dpmpp2m");
    double *prev = malloc(BD_N * 2 * sizeof *prev);
    if (s == NULL || prev == NULL) {
        free(prev);
        return DODE_ENOMEM;
    }
    printf("\ndpmpp2m vs a hand-fused loop (2-D GMM, n = %d, logsnr, 1 thread)\n", BD_N);
    int rc = DODE_OK;
    for (size_t nfe = 10; nfe <= 20 && rc == DODE_OK; nfe += 10) {
        char err[256];
        dode_grid_opts go;
        dode_grid_opts_init(&go);
        dode_grid g;
        if ((rc = dode_grid_make(p->sched, &go, nfe, &g, err, sizeof err)) != DODE_OK)
            break;
        double lib = INFINITY, fused = INFINITY, m;
        for (int r = 0; r < p->reps && rc == DODE_OK; r++) {
            const double t = bd_solve(p, s, &g, &m);
            rc = t < 0 ? DODE_ESOLVER : DODE_OK;
            lib = fmin(lib, t);
            const double t0 = now();
            fused_dpmpp2m(&g, p->xbar_T, p->fused, prev);
            fused = fmin(fused, now() - t0);
        }
        double diff = 0;
        for (size_t k = 0; k < BD_N * 2; k++)
            diff = fmax(diff, fabs(p->x[k] - p->fused[k]));
        printf("  NFE %2zu: library %.2f ms, fused %.2f ms, ratio %.2fx; max |diff| %.1e %s\n",
               nfe, 1e3 * lib, 1e3 * fused, lib / fused, diff, diff <= 1e-12 ? "ok" : "DIFFER");
        dode_grid_free(&g);
    }
    free(prev);
    return rc;
}

int bench_dpm(int quick)
{
    bd_problem p;
    openblas_set_num_threads(1);
    int rc = bd_init(&p, quick);
    if (rc == DODE_OK)
        rc = bd_overhead(&p);
    if (rc == DODE_OK)
        rc = bd_fused(&p);
    bd_free(&p);
    return rc;
}
