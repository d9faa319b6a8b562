/* check_dpm.c - the DPM-Solver family and UniPC (solvers/dpm*.c, unipc.c).
 *
 * Problem (MATH.md section 8): the 2-D GMM of testutil.h, ddpm-linear, grids from t = 1 to
 * t = 1/N, 64 points x_T ~ N(0, I). Errors are RMSEs of xbar at the last grid point
 * against gsl:rk8pd at rtol = atol = 1e-12 in log sigma (global error ~1e-11, below every
 * error used here), or against the Gaussian's closed-form flow.
 *
 * Observed orders are log2(e(N)/e(2N)) on the logsnr grid at the pairs in order_table,
 * chosen from a scan of N = 8 .. 8192 steps (plots/dpm_orders.sh prints it): each pair is
 * the first one where the order has settled within ~0.05 of its limit, and every e(2N)
 * there is >= 1e-9, four decades above the reference's error and the rounding floor.
 * The official 3M (c2 = 1) approaches 2 from above slowly (2.22, 2.15, 2.09, 2.05, 2.02
 * for N = 256 .. 4096), hence its pair 1024/2048. UniPC is measured without
 * lower_order_final (its official code applies that at every step count, which makes the
 * last step first order and the global order 2 for large N). Tolerance 0.1 everywhere:
 * the next term of the error expansion at these N. Identities (dpm1 = ddim = euler, fast
 * rule = fixed rule where both plan the same steps) are checked to 1e-12 relative. */
#include <string.h>

#include "testutil.h"
#include "../solvers/dpm.h"

#define NROWS 64
#define DIM 2
#define SEED 1
#define LEN (NROWS * DIM)

/* The defaults; the spacing now travels with the grid (test_grid, run_on). */
static dode_solver_opts opts_for(dode_spacing spacing)
{
    (void)spacing;
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    return o;
}

/* Runs the named solver on grid g, xbar in place; returns the NFE the ODE counted. */
static size_t run_on(const test_problem *p, const char *name, const dode_solver_opts *o,
                     const dode_grid *g, double *xbar)
{
    char err[ERRLEN];
    const dode_solver_type *s = dode_solver_find(name);
    ck_assert_msg(s != NULL, "no solver %s", name);
    int rc = dode_solve(s, p->ode, g, xbar, o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    return p->ode->nfe;
}

/* Runs the named solver on raw sigmas (a logsnr grid), xbar in place; the NFE. */
static size_t run(const test_problem *p, const char *name, const dode_solver_opts *o,
                  const double *sigmas, size_t steps, double *xbar)
{
    char err[ERRLEN];
    const dode_solver_type *s = dode_solver_find(name);
    ck_assert_msg(s != NULL, "no solver %s", name);
    int rc = test_solve(s, p->ode, sigmas, steps, xbar, o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    return p->ode->nfe;
}

/* xbar at sigma_to from the seeded x_T at sigma_from: exact flow or rk8pd at 1e-12. */
static double *reference(const test_problem *p, double sigma_from, double sigma_to)
{
    double *from = test_xbar_T(NROWS, DIM, sigma_from, SEED);
    double *ref = test_xbar_T(NROWS, DIM, sigma_from, SEED);
    if (p->model->exact_flow != NULL) {
        ck_assert_int_eq(p->model->exact_flow(p->model, NROWS, from, sigma_from, sigma_to,
                                              ref), DODE_OK);
    } else {
        dode_solver_opts o;
        dode_solver_opts_init(&o);
        o.adaptive.rtol = o.adaptive.atol = 1e-12;
        o.generic.variable = DODE_VAR_LOGSIGMA;
        const double ends[2] = { sigma_from, sigma_to };
        run(p, "gsl:rk8pd", &o, ends, 1, ref);
    }
    free(from);
    return ref;
}

/* RMSE against ref of solver on N logsnr steps. */
static double final_error(const test_problem *p, const char *name, const dode_solver_opts *o,
                          size_t N, const double *ref)
{
    dode_grid g = test_grid(p->sched, DODE_SPACING_LOGSNR, N, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    run_on(p, name, o, &g, x);
    const double e = test_rmse(x, ref, LEN);
    free(x);
    dode_grid_free(&g);
    return e;
}

/* ---- phi functions ------------------------------------------------------------------ */

/* sum_{j>=1} z^j/(j+k)! to convergence in long double (the definition). */
static double phi_reference(double z, int k)
{
    long double fact = 1.0L, s = 0.0L, zj = 1.0L;
    for (int i = 2; i <= k + 1; i++)
        fact *= i;
    for (int j = 1; j <= 40; j++) {
        zj *= z;
        s += zj / fact;
        fact *= (long double)(j + k + 1);
    }
    return (double)s;
}

START_TEST(phi_functions_match_their_series_on_both_sides_of_the_switch)
{
    static const double zs[] = { 1e-9, -1e-6, 1e-3, -0.05, 0.0999, -0.0999, 0.1001,
                                 -0.1001, 0.5, -0.7, 2.0, -3.0 };
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
        const double z = zs[i];
        /* closed forms near |z| = 0.1 lose about log10(1/z^k) digits: 1e-12 relative */
        ck_assert_double_eq_tol(dpm_e2(z), phi_reference(z, 1), 1e-14 * fabs(dpm_e2(z)));
        ck_assert_double_eq_tol(dpm_e3(z), phi_reference(z, 2), 1e-12 * fabs(dpm_e3(z)));
        ck_assert_double_eq_tol(dpm_e4(z), phi_reference(z, 3), 1e-11 * fabs(dpm_e4(z)));
        ck_assert_double_eq(dpm_e1(z), expm1(z));
    }
    /* E_k(z) = z^(k-1) phi_k(z) ~ z/k!: zero at z = 0, with slope 1/k! */
    ck_assert_double_eq(dpm_e2(0.0), 0.0);
    ck_assert_double_eq_tol(dpm_e3(1e-12) / 1e-12, 1.0 / 6.0, 1e-13);   /* + z/4! */
}
END_TEST

/* ---- identities --------------------------------------------------------------------- */

START_TEST(dpm1_equals_ddim_equals_euler)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 20, 0);
    double *a = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *b = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *c = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    run_on(&p, "dpm1", &o, &g, a);
    run_on(&p, "ddim", &o, &g, b);
    run_on(&p, "euler", &o, &g, c);
    for (size_t k = 0; k < LEN; k++) {
        ck_assert_double_eq_tol(a[k], b[k], 1e-12 * fmax(1.0, fabs(b[k])));
        ck_assert_double_eq_tol(a[k], c[k], 1e-12 * fmax(1.0, fabs(c[k])));
    }
    /* the data form of order 1 (DPM-Solver++(1)) is the same method */
    const dpm_entry pp1 = { .order = 1, .form = DPM_DATA };
    double *d = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    const dode_solver_type pp1_type = { .name = "dpmpp1", .solve = dpm_single_solve,
                                        .data = &pp1 };
    ck_assert_int_eq(pp1_type.solve(&pp1_type, p.ode, &g, d, &o, NULL), DODE_OK);
    for (size_t k = 0; k < LEN; k++)
        ck_assert_double_eq_tol(d[k], c[k], 1e-12 * fmax(1.0, fabs(c[k])));
    free(a), free(b), free(c), free(d);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* Fixed dpm2 on N steps of a spacing and dpm-fast2 on 2N: the fast rule subsamples the
 * 2N grid at every other point and its inner points (uniform in the spacing between) are
 * the skipped points, which are exactly where fixed dpm2 puts them. On logsnr both plan
 * N + 1 points uniform in lambda. */
START_TEST(fast_rule_with_even_nfe_is_fixed_dpm2_on_every_spacing)
{
    static const dode_spacing sps[] = { DODE_SPACING_LOGSNR, DODE_SPACING_UNIFORM_T,
                                        DODE_SPACING_QUADRATIC_T, DODE_SPACING_KARRAS };
    test_problem p = test_problem_new(0, NROWS);
    for (size_t s = 0; s < 4; s++) {
        dode_grid g1 = test_grid(p.sched, sps[s], 6, 0), g2 = test_grid(p.sched, sps[s], 12, 0);
        double *a = test_xbar_T(NROWS, DIM, g1.sigma[0], SEED);
        double *b = test_xbar_T(NROWS, DIM, g1.sigma[0], SEED);
        dode_solver_opts o = opts_for(sps[s]);
        ck_assert_uint_eq(run_on(&p, "dpm2", &o, &g1, a), 12);
        ck_assert_uint_eq(run_on(&p, "dpm-fast2", &o, &g2, b), 12);
        for (size_t k = 0; k < LEN; k++)
            ck_assert_double_eq_tol(a[k], b[k], 1e-12 * fmax(1.0, fabs(a[k])));
        free(a), free(b);
        dode_grid_free(&g1), dode_grid_free(&g2);
    }
    test_problem_free(&p);
}
END_TEST

START_TEST(explicit_r1_one_half_is_the_logsnr_default)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 8, 0);
    double *a = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *b = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    run_on(&p, "dpm3", &o, &g, a);
    o.dpm.r1 = 1.0 / 3.0, o.dpm.r2 = 2.0 / 3.0;
    run_on(&p, "dpm3", &o, &g, b);
    for (size_t k = 0; k < LEN; k++)
        ck_assert_double_eq_tol(a[k], b[k], 1e-12 * fmax(1.0, fabs(a[k])));
    /* on uniform-t the official inner point is the t midpoint, not the lambda one: its
     * lambda fraction, in closed form from the schedule, is far from 1/2 on the last step */
    dode_grid gt = test_grid(p.sched, DODE_SPACING_UNIFORM_T, 8, 0);
    double r[2];
    o = opts_for(DODE_SPACING_UNIFORM_T);
    const double ss = gt.sigma[7], st = gt.sigma[8];
    dpm_inner_fractions(p.sched, &gt, &o, ss, st, 2, r);
    const double ts = dode_schedule_t(p.sched, ss), tt = dode_schedule_t(p.sched, st);
    const double ls = dode_schedule_lambda(p.sched, ts);
    const double want = (dode_schedule_lambda(p.sched, 0.5 * (ts + tt)) - ls)
                        / (dode_schedule_lambda(p.sched, tt) - ls);
    ck_assert_double_eq_tol(r[0], want, 1e-12);
    ck_assert_msg(fabs(r[0] - 0.5) > 0.1, "uniform-t last-step r1 = %g", r[0]);
    free(a), free(b);
    dode_grid_free(&g), dode_grid_free(&gt);
    test_problem_free(&p);
}
END_TEST

START_TEST(d2_taylor_option_equals_the_taylor_entries)
{
    static const char *pairs[2][2] = { { "dpm3m", "dpm3m-taylor" },
                                       { "dpmpp3m", "dpmpp3m-taylor" } };
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 15, 0);
    for (int i = 0; i < 2; i++) {
        double *a = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        double *b = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
        run_on(&p, pairs[i][1], &o, &g, a);
        o.dpm.d2_taylor = 1;
        run_on(&p, pairs[i][0], &o, &g, b);
        ck_assert_mem_eq(a, b, LEN * sizeof *a);
        free(a), free(b);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- observed orders ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t N;           /* the pair N / 2N */
    int bh;             /* UniPC B(h) */
    int d2_taylor;      /* 3M's second difference: 1 = the Taylor-consistent one */
} order_row;

/* The theory is the registry's (dode_solver_order: MATH.md section 8; UniPC-p: p + 1,
 * its paper's Theorem 3.1), so a wrong table entry fails here. */
static const order_row order_table[] = {
    { "dpm2", 256, 2, 0 },          { "dpm3", 256, 2, 0 },
    { "dpm2m", 512, 2, 0 },         { "dpm3m", 1024, 2, 0 },
    { "dpm3m-taylor", 512, 2, 0 },  { "dpmpp2s", 512, 2, 0 },
    { "dpmpp3s", 512, 2, 0 },       { "dpmpp2m", 256, 2, 0 },
    { "dpmpp3m", 1024, 2, 0 },      { "dpmpp3m-taylor", 256, 2, 0 },
    { "unipc1", 512, 2, 0 },        { "unipc2", 256, 2, 0 },
    { "unipc3", 512, 2, 0 },        { "unipc2", 256, 1, 0 },
    { "dpm1", 256, 2, 0 },          { "dpm3m", 512, 2, 1 },
    { "dpmpp3m", 256, 2, 1 },
};

START_TEST(observed_orders_match_math_section_8)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 1, 0);
    double *ref = reference(&p, g.sigma[0], g.sigma[1]);
    const order_row *r = &order_table[_i];
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    o.dpm.lower_order_final = 0;
    o.unipc.bh = r->bh;
    o.dpm.d2_taylor = r->d2_taylor;
    const double order = dode_solver_order(dode_solver_find(r->name), &o);
    const double e1 = final_error(&p, r->name, &o, r->N, ref);
    const double e2 = final_error(&p, r->name, &o, 2 * r->N, ref);
    const double q = log2(e1 / e2);
    if (getenv("DODE_TEST_VERBOSE"))
        fprintf(stderr, "order %-15s bh%d N=%zu/%zu e=%.3e/%.3e order %.3f (theory %.0f)\n",
                r->name, r->bh, r->N, 2 * r->N, e1, e2, q, order);
    ck_assert_msg(e2 > 1e-9, "%s: e(2N) = %g is near the floor", r->name, e2);
    ck_assert_msg(fabs(q - order) <= 0.1, "%s: observed order %.3f, expected %.1f",
                  r->name, q, order);
    free(ref);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* Encoding (sigma increasing, h < 0) uses the same formulas: the observed order holds
 * upwards too. Start: the seeded points scaled to sigma_min, integrated to sigma_max;
 * reference rk8pd upwards. Pairs from a scan (e.g. dpm2 1.97 at 64/128, 1.99 at 128/256;
 * dpm3m-taylor 2.95 at 128/256, 2.96 at 256/512), errors far above the floor. */
typedef struct {
    const char *name;
    size_t N;           /* the pair N / 2N; the theory is the registry's */
} up_row;

static const up_row up_table[] = {
    { "dpm2", 128 }, { "dpm2m", 128 }, { "dpmpp2m", 128 }, { "unipc2", 128 },
    { "dpm3m-taylor", 256 },
};

static double upward_error(const test_problem *p, const char *name, size_t N, const double *ref)
{
    dode_grid g = test_grid(p->sched, DODE_SPACING_LOGSNR, N, 0);
    double *up = malloc((g.steps + 1) * sizeof *up);
    for (size_t i = 0; i <= g.steps; i++)
        up[i] = g.sigma[g.steps - i];
    double *x = test_xbar_T(NROWS, DIM, up[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    o.dpm.lower_order_final = 0;
    run(p, name, &o, up, g.steps, x);
    const double e = test_rmse(x, ref, LEN);
    free(x), free(up);
    dode_grid_free(&g);
    return e;
}

START_TEST(orders_hold_when_integrating_upwards)
{
    const up_row *r = &up_table[_i];
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 1, 0);
    double *ref = reference(&p, g.sigma[1], g.sigma[0]);
    const double e1 = upward_error(&p, r->name, r->N, ref);
    const double e2 = upward_error(&p, r->name, 2 * r->N, ref);
    const double q = log2(e1 / e2);
    if (getenv("DODE_TEST_VERBOSE"))
        fprintf(stderr, "upwards %-13s N=%zu/%zu e=%.3e/%.3e order %.3f\n", r->name, r->N,
                2 * r->N, e1, e2, q);
    ck_assert_msg(e2 > 1e-9, "%s: e(2N) = %g is near the floor", r->name, e2);
    const int order = dode_solver_order(dode_solver_find(r->name), NULL);
    ck_assert_msg(fabs(q - order) <= 0.1, "%s upwards: observed order %.3f, expected %d",
                  r->name, q, order);
    free(ref);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- NFE accounting ----------------------------------------------------------------- */

START_TEST(fast_rule_spends_exactly_the_budget)
{
    static const dode_spacing sps[] = { DODE_SPACING_LOGSNR, DODE_SPACING_UNIFORM_T,
                                        DODE_SPACING_KARRAS };
    static const char *names[] = { "dpm-fast2", "dpm-fast3", "dpmpp-fast2", "dpmpp-fast3" };
    test_problem p = test_problem_new(0, NROWS);
    for (size_t s = 0; s < 3; s++)
        for (size_t nfe = 5; nfe <= 30; nfe++)
            for (int n = 0; n < 4; n++) {
                dode_grid g = test_grid(p.sched, sps[s], nfe, 0);
                double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
                dode_solver_opts o = opts_for(sps[s]);
                ck_assert_uint_eq(run_on(&p, names[n], &o, &g, x), nfe);
                ck_assert_int_eq(dode_all_finite(x, LEN), DODE_OK);
                free(x);
                dode_grid_free(&g);
            }
    test_problem_free(&p);
}
END_TEST

START_TEST(fast_orders_follow_the_official_rule)
{
    int orders[64];
    for (size_t nfe = 1; nfe <= 40; nfe++) {
        size_t K = dpm_fast_orders(nfe, 3, orders), sum = 0;
        for (size_t k = 0; k < K; k++)
            sum += (size_t)orders[k];
        ck_assert_uint_eq(sum, nfe);
        if (nfe >= 3) {
            ck_assert_uint_eq(K, nfe / 3 + 1);          /* K = NFE // 3 + 1 */
            ck_assert_int_eq(orders[K - 1], nfe % 3 == 2 ? 2 : 1);
        }
        K = dpm_fast_orders(nfe, 2, orders);
        ck_assert_uint_eq(K, (nfe + 1) / 2);
        ck_assert_int_eq(orders[K - 1], nfe % 2 == 0 ? 2 : 1);
    }
}
END_TEST

/* singlestep order k costs k per step, multistep and UniPC 1; a step to sigma = 0 is
 * one NFE (the x0 prediction) for every solver; results stay finite. */
START_TEST(nfe_per_step_and_grids_ending_at_zero)
{
    test_problem p = test_problem_new(0, NROWS);
    for (const dode_solver_type *const *s = dode_solvers(); *s != NULL; s++) {
        const char *f = (*s)->family;
        if (strcmp(f, "dpm") != 0 && strcmp(f, "dpm++") != 0 && strcmp(f, "unipc") != 0)
            continue;
        for (int to_zero = 0; to_zero < 2; to_zero++) {
            dode_grid g = test_grid(p.sched, DODE_SPACING_KARRAS, 12, to_zero);
            double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
            dode_solver_opts o = opts_for(DODE_SPACING_KARRAS);
            const size_t nfe = run_on(&p, (*s)->name, &o, &g, x);
            ck_assert_msg(dode_all_finite(x, LEN) == DODE_OK, "%s: non-finite", (*s)->name);
            if (!(*s)->adaptive) {
                size_t expect = g.steps * (size_t)(*s)->evals_per_step;
                if (to_zero)        /* the last step is one x0 prediction */
                    expect -= (size_t)(*s)->evals_per_step - 1;
                ck_assert_msg(nfe == expect, "%s to_zero %d: nfe %zu, expected %zu",
                              (*s)->name, to_zero, nfe, expect);
            }
            free(x);
            dode_grid_free(&g);
        }
    }
    test_problem_free(&p);
}
END_TEST

START_TEST(denoise_to_zero_costs_one_nfe_and_is_the_x0_prediction)
{
    static const char *names[] = { "dpm2", "dpm-fast3", "dpmpp2m", "unipc2", "dpm3m" };
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 10, 0);
    for (size_t i = 0; i < 5; i++) {
        double *a = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        double *b = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        double eps[LEN];
        dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
        const size_t n1 = run_on(&p, names[i], &o, &g, a);
        o.denoise_to_zero = 1;
        const size_t n2 = run_on(&p, names[i], &o, &g, b);
        ck_assert_uint_eq(n2, n1 + 1);
        const double s0 = g.sigma[g.steps];
        ck_assert_int_eq(dode_ode_rhs(p.ode, s0, a, eps), DODE_OK);
        for (size_t k = 0; k < LEN; k++)
            ck_assert_double_eq_tol(b[k], a[k] - s0 * eps[k], 1e-12 * fmax(1.0, fabs(a[k])));
        free(a), free(b);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- adaptive ----------------------------------------------------------------------- */

/* The controller keeps each accepted step's estimated local error (RMS over a sample,
 * relative to delta = max(atol, rtol |x|)) below 1. On the Gaussian, whose flow contracts
 * towards the mean, local errors do not grow, so the global error is at most the sum over
 * accepted steps: accepted * tol * max(1, |x|) (asserted). The estimate measures the
 * lower-order solution while the higher-order one is kept (local extrapolation), so in
 * practice the final error is below tol * max(1, |x|) itself, which is the claim
 * "reaches the requested tolerance" (asserted; measured margins 2.5x to 7x for
 * tol = 1e-3 and 1e-5, x_max ~ 2). */
START_TEST(adaptive_solvers_reach_the_requested_tolerance_on_the_gaussian)
{
    static const char *names[] = { "dpm-adaptive12", "dpm-adaptive23" };
    static const double tols[] = { 1e-3, 1e-5 };
    test_problem p = test_problem_new(1, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 1, 0);
    double *ref = reference(&p, g.sigma[0], g.sigma[1]);
    double xmax = 0;
    for (size_t k = 0; k < LEN; k++)
        xmax = fmax(xmax, fabs(ref[k]));
    for (int n = 0; n < 2; n++)
        for (int t = 0; t < 2; t++) {
            double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
            dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
            o.adaptive.rtol = o.adaptive.atol = tols[t];
            dode_solver_opts_mark(&o, DODE_OPT_RTOL), dode_solver_opts_mark(&o, DODE_OPT_ATOL);
            dode_trace tr = { 0 };
            char err[ERRLEN];
            ck_assert_int_eq(test_solve(dode_solver_find(names[n]), p.ode, g.sigma, 1, x, &o,
                                        &tr, err, sizeof err), DODE_OK);
            const double e = test_rmse(x, ref, LEN);
            ck_assert_uint_eq(p.ode->nfe, (size_t)(n + 2) * (tr.accepted + tr.rejected));
            ck_assert_msg(e <= (double)tr.accepted * tols[t] * fmax(1.0, xmax),
                          "%s tol %g: error %g after %zu steps", names[n], tols[t], e,
                          tr.accepted);
            ck_assert_msg(e <= tols[t] * fmax(1.0, xmax), "%s tol %g: error %g",
                          names[n], tols[t], e);
            if (getenv("DODE_TEST_VERBOSE"))
                fprintf(stderr, "%s tol %g: rmse %.2e, nfe %zu, accepted %zu, rejected "
                        "%zu\n", names[n], tols[t], e, p.ode->nfe, tr.accepted, tr.rejected);
            free(x);
        }
    free(ref);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

START_TEST(adaptive_defaults_are_the_official_ones)
{
    /* tolerances not given mean the official 0.05 / 0.0078, whatever the fields hold; a
     * user who gives 1e-6 gets 1e-6 (far more NFE), not the official defaults */
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 1, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *y = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    const size_t n_default = run(&p, "dpm-adaptive23", &o, g.sigma, 1, x);
    char err[ERRLEN];
    ck_assert_int_eq(dode_solver_opts_set(&o, "rtol", "0.05", err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_solver_opts_set(&o, "atol", "0.0078", err, sizeof err), DODE_OK);
    const size_t n_official = run(&p, "dpm-adaptive23", &o, g.sigma, 1, y);
    ck_assert_uint_eq(n_default, n_official);
    ck_assert_mem_eq(x, y, LEN * sizeof *x);
    dode_solver_opts tight = opts_for(DODE_SPACING_LOGSNR);
    ck_assert_int_eq(dode_solver_opts_set(&tight, "rtol", "1e-6", err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_solver_opts_set(&tight, "atol", "1e-6", err, sizeof err), DODE_OK);
    free(y);
    y = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    ck_assert_uint_gt(run(&p, "dpm-adaptive23", &tight, g.sigma, 1, y), 2 * n_default);
    free(x), free(y);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

START_TEST(adaptive_respects_max_steps)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 1, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    o.adaptive.max_steps = 3;
    char err[ERRLEN];
    int rc = test_solve(dode_solver_find("dpm-adaptive12"), p.ode, g.sigma, 1, x, &o, NULL,
                        err, sizeof err);
    ck_assert_int_eq(rc, DODE_EMAXITER);
    ck_assert_msg(strstr(err, "max_steps") != NULL, "%s", err);
    free(x);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- thresholding ------------------------------------------------------------------- */

START_TEST(dynamic_thresholding_is_the_official_quantile_rule)
{
    double row[10], scratch[10];
    for (int j = 0; j < 10; j++)
        row[j] = (j % 2 ? -1.0 : 1.0) * (j + 1);        /* |x| = 1 .. 10 */
    /* torch.quantile (linear): position 0.9 * 9 = 8.1 -> 9 + 0.1 = 9.1 */
    dpm_threshold(row, 1, 10, 2, 1.0, 0.9, scratch);
    for (int j = 0; j < 10; j++) {
        const double v = fmin(j + 1.0, 9.1) / 9.1 * (j % 2 ? -1.0 : 1.0);
        ck_assert_double_eq_tol(row[j], v, 1e-15);
    }
    for (int j = 0; j < 10; j++)
        row[j] = -2.0 + 0.5 * j;
    dpm_threshold(row, 1, 10, 1, 1.0, 0.995, scratch);
    for (int j = 0; j < 10; j++)
        ck_assert_double_eq(row[j], fmin(fmax(-2.0 + 0.5 * j, -1.0), 1.0));
}
END_TEST

/* With a final step to sigma = 0 a data-prediction solver returns its last (thresholded)
 * x0 prediction, so a static clip at c bounds every output component by c. */
START_TEST(static_thresholding_bounds_the_final_x0)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 10, 1);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    o.threshold.kind = 1;
    o.threshold.clip_value = 0.5;
    run_on(&p, "dpmpp2m", &o, &g, x);
    for (size_t k = 0; k < LEN; k++)
        ck_assert_double_le(fabs(x[k]), 0.5);
    free(x);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* denoise_to_zero after a data-prediction solver thresholds its x0 as the solver does
 * (official denoise_to_zero_fn = data_prediction_fn): with a clip far below |x0| the output
 * is clamp(xbar - sigma epsh) exactly (identity to 1e-12 relative) and lies in [-c, c]
 * (static) or [-1, 1] (dynamic: clamp to s >= c, then / s). A noise-prediction solver
 * ("dpm" family) does not threshold, so its jump stays the plain x0 prediction. */
START_TEST(denoise_to_zero_thresholds_the_final_x0_of_data_prediction_solvers)
{
    static const char *names[] = { "dpmpp2m", "dpmpp3s", "unipc2", "dpm2" };
    const double clip = 0.05;
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 10, 0);
    const double s0 = g.sigma[g.steps];
    for (size_t i = 0; i < 4; i++)
        for (int kind = 1; kind <= 2; kind++) {
            double *a = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
            double *b = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
            double x0[LEN], scratch[DIM];
            dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
            o.threshold.kind = kind, o.threshold.clip_value = clip;
            run_on(&p, names[i], &o, &g, a);
            o.denoise_to_zero = 1;
            run_on(&p, names[i], &o, &g, b);
            ck_assert_int_eq(dode_ode_rhs(p.ode, s0, a, x0), DODE_OK);
            size_t clipped = 0;
            for (size_t k = 0; k < LEN; k++) {
                x0[k] = a[k] - s0 * x0[k];          /* the unthresholded x0 prediction */
                clipped += fabs(x0[k]) > clip;
            }
            ck_assert_uint_gt(clipped, LEN / 2);    /* the clip is really active */
            const int thresholded = strcmp(names[i], "dpm2") != 0;
            if (thresholded)
                dpm_threshold(x0, NROWS, DIM, kind, clip, o.threshold.dynamic_ratio, scratch);
            const double bound = kind == 1 ? clip : 1.0;
            for (size_t k = 0; k < LEN; k++) {
                ck_assert_double_eq_tol(b[k], x0[k], 1e-12 * fmax(1.0, fabs(x0[k])));
                if (thresholded)
                    ck_assert_double_le(fabs(b[k]), bound);
            }
            free(a), free(b);
        }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- bad options -------------------------------------------------------------------- */

typedef struct {
    const char *solver;
    const char *needle;     /* what the message must name */
    void (*set)(dode_solver_opts *);
} bad_row;

static void set_r1_zero(dode_solver_opts *o) { o->dpm.r1 = 0.0, dode_solver_opts_mark(o, DODE_OPT_R1); }
static void set_r1_big(dode_solver_opts *o) { o->dpm.r1 = 1.5, dode_solver_opts_mark(o, DODE_OPT_R1); }
static void set_r2_low(dode_solver_opts *o)
{
    o->dpm.r1 = 0.5, o->dpm.r2 = 0.4;
    dode_solver_opts_mark(o, DODE_OPT_R1), dode_solver_opts_mark(o, DODE_OPT_R2);
}
static void set_r2_alone(dode_solver_opts *o) { o->dpm.r2 = 0.6, dode_solver_opts_mark(o, DODE_OPT_R2); }
static void set_taylor(dode_solver_opts *o) { o->dpm.taylor = 2; }
static void set_d2(dode_solver_opts *o) { o->dpm.d2_taylor = 3; }
static void set_bh(dode_solver_opts *o) { o->unipc.bh = 3; }
static void set_thr(dode_solver_opts *o) { o->threshold.kind = 5; }
static void set_ratio(dode_solver_opts *o) { o->threshold.kind = 2, o->threshold.dynamic_ratio = 0.0; }
static void set_clip(dode_solver_opts *o) { o->threshold.kind = 1, o->threshold.clip_value = -1.0; }

static const bad_row bad_table[] = {
    { "dpm2", "r1", set_r1_zero },            { "dpm3", "r1", set_r1_big },
    { "dpmpp3s", "r2", set_r2_low },          { "dpm3", "r2", set_r2_alone },
    { "dpm2m", "solver_type", set_taylor },   { "dpm3m", "d2", set_d2 },
    { "unipc2", "unipc_bh", set_bh },         { "dpmpp2m", "thresholding", set_thr },
    { "dpmpp2s", "dynamic_ratio", set_ratio }, { "unipc3", "clip_value", set_clip },
    { "dpm-adaptive23", "taylor", set_taylor },
};

START_TEST(bad_options_are_rejected_with_a_message_and_xbar_unchanged)
{
    const bad_row *r = &bad_table[_i];
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 6, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *x0 = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    r->set(&o);
    char err[ERRLEN] = "";
    int rc = dode_solve(dode_solver_find(r->solver), p.ode, &g, x, &o, NULL,
                        err, sizeof err);
    ck_assert_int_eq(rc, DODE_EINVAL);
    ck_assert_msg(strstr(err, r->needle) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  r->solver, err, r->needle);
    ck_assert_msg(strstr(err, r->solver) != NULL, "message \"%s\" lacks the solver", err);
    ck_assert_mem_eq(x, x0, LEN * sizeof *x);
    ck_assert_uint_eq(p.ode->nfe, 0);
    free(x), free(x0);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

START_TEST(order_four_and_unknown_names_are_rejected)
{
    ck_assert_ptr_null(dode_solver_find("dpm4"));
    ck_assert_ptr_null(dode_solver_find("dpm3m-foo"));
    ck_assert_ptr_null(dode_solver_find("unipc4"));
    test_problem p = test_problem_new(0, NROWS);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 6, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *x0 = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    const dpm_entry four = { .order = 4, .form = DPM_NOISE };
    dode_solver_opts o = opts_for(DODE_SPACING_LOGSNR);
    const dode_solve_fn runs[4] = { dpm_single_solve, dpm_multi_solve, dpm_adaptive_solve,
                                    dpm_unipc_solve };
    for (int i = 0; i < 4; i++) {
        const dode_solver_type t = { .name = "four", .solve = runs[i], .data = &four };
        p.ode->err[0] = '\0';
        ck_assert_int_eq(t.solve(&t, p.ode, &g, x, &o, NULL), DODE_EINVAL);
        ck_assert_msg(strstr(p.ode->err, "order 4") != NULL, "%s", p.ode->err);
        ck_assert_mem_eq(x, x0, LEN * sizeof *x);
    }
    free(x), free(x0);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

static Suite *dpm_suite(void)
{
    Suite *s = suite_create("dpm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, phi_functions_match_their_series_on_both_sides_of_the_switch);
    tcase_add_test(tc, dpm1_equals_ddim_equals_euler);
    tcase_add_test(tc, fast_rule_with_even_nfe_is_fixed_dpm2_on_every_spacing);
    tcase_add_test(tc, explicit_r1_one_half_is_the_logsnr_default);
    tcase_add_test(tc, d2_taylor_option_equals_the_taylor_entries);
    tcase_add_loop_test(tc, observed_orders_match_math_section_8, 0,
                        (int)(sizeof order_table / sizeof order_table[0]));
    tcase_add_loop_test(tc, orders_hold_when_integrating_upwards, 0,
                        (int)(sizeof up_table / sizeof up_table[0]));
    tcase_add_test(tc, fast_rule_spends_exactly_the_budget);
    tcase_add_test(tc, fast_orders_follow_the_official_rule);
    tcase_add_test(tc, nfe_per_step_and_grids_ending_at_zero);
    tcase_add_test(tc, denoise_to_zero_costs_one_nfe_and_is_the_x0_prediction);
    tcase_add_test(tc, adaptive_solvers_reach_the_requested_tolerance_on_the_gaussian);
    tcase_add_test(tc, adaptive_defaults_are_the_official_ones);
    tcase_add_test(tc, adaptive_respects_max_steps);
    tcase_add_test(tc, dynamic_thresholding_is_the_official_quantile_rule);
    tcase_add_test(tc, static_thresholding_bounds_the_final_x0);
    tcase_add_test(tc, denoise_to_zero_thresholds_the_final_x0_of_data_prediction_solvers);
    tcase_add_loop_test(tc, bad_options_are_rejected_with_a_message_and_xbar_unchanged, 0,
                        (int)(sizeof bad_table / sizeof bad_table[0]));
    tcase_add_test(tc, order_four_and_unknown_names_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(dpm_suite)
