/* check_classical.c - euler, ddim, heun, rk4 and dode_solve (solvers/solve.c).
 *
 * Problem (MATH.md section 8): the 2-D GMM of testutil.h, ddpm-linear, the logsnr grid from
 * t = 1 to t = 1/N, 64 points x_T ~ N(0, I). Errors are RMSEs of xbar at the last grid
 * point against gsl:rk8pd at rtol = atol = 1e-12 in log sigma (global error ~1e-11, far
 * below every error measured here), or against the Gaussian's closed-form flow.
 *
 * Orders are log2(e(N)/e(2N)) at a pair in the asymptotic range, chosen from a scan of
 * N = 8 .. 8192 (variable sigma, GMM / Gaussian):
 *   euler  e(256) = 7.2e-3 / 4.4e-3: order 1.005 / 0.997 at 256/512 (64/128 on the GMM:
 *          1.11, pre-asymptotic)
 *   heun   e(128) = 4.6e-4 / 3.4e-4: order 2.027 / 2.014 at 128/256 (32/64: 2.15 / 2.06)
 *   rk4    e(256) = 4.5e-8 / 8.3e-9: order 3.976 / 4.003 at 256/512 (16/32 on the GMM
 *          gives 3.57, 64/128 3.86: still pre-asymptotic)
 * every e(2N) far above the 1e-13 rounding floor. Euler in t on ddpm-linear reaches its
 * asymptotic range only for steps well below the knot spacing 1/1000 of the piecewise-
 * linear log a(t) (sigma'(t) jumps at every knot): 1.05 at 4096/8192 on the GMM, 1.002 at
 * 1024/2048 on the Gaussian. Tolerance 0.1: the next term of the error expansion at
 * these N. Cost: well under a second (a few seconds under ASan). */
#include <string.h>

#include "testutil.h"

#define NROWS 64
#define DIM 2
#define SEED 1

/* Runs solver on xbar (in place) over sigmas with the variable var; returns the NFE. */
static size_t run(const test_problem *p, const char *name, dode_variable var,
                  const double *sigmas, size_t steps, double *xbar)
{
    char err[ERRLEN];
    const dode_solver_type *s = dode_solver_find(name);
    ck_assert_msg(s != NULL, "no solver %s", name);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.generic.variable = var;
    if (s->adaptive) {
        o.adaptive.rtol = o.adaptive.atol = 1e-12;
        o.generic.variable = DODE_VAR_LOGSIGMA;
    }
    int rc = test_solve(s, p->ode, sigmas, steps, xbar, &o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    return p->ode->nfe;
}

/* RMSE at sigma_0 of solver with N logsnr steps, against rk8pd or the exact flow. */
static double final_error(const test_problem *p, const char *name, dode_variable var, size_t N)
{
    const size_t len = NROWS * DIM;
    dode_grid g = test_grid(p->sched, DODE_SPACING_LOGSNR, N, 0);
    const double sT = g.sigma[0], s0 = g.sigma[g.steps];
    double *x = test_xbar_T(NROWS, DIM, sT, SEED);
    double *ref = test_xbar_T(NROWS, DIM, sT, SEED);
    if (p->model->exact_flow != NULL) {
        double *from = test_xbar_T(NROWS, DIM, sT, SEED);
        ck_assert_int_eq(p->model->exact_flow(p->model, NROWS, from, sT, s0, ref), DODE_OK);
        free(from);
    } else {
        const double ends[2] = { sT, s0 };
        run(p, "gsl:rk8pd", DODE_VAR_LOGSIGMA, ends, 1, ref);
    }
    run(p, name, var, g.sigma, g.steps, x);
    const double e = test_rmse(x, ref, len);
    free(x);
    free(ref);
    dode_grid_free(&g);
    return e;
}

static double observed_order(int gaussian, const char *name, dode_variable var, size_t N)
{
    test_problem p = test_problem_new(gaussian, NROWS);
    const double e1 = final_error(&p, name, var, N), e2 = final_error(&p, name, var, 2 * N);
    test_problem_free(&p);
    if (getenv("DODE_TEST_VERBOSE"))
        printf("%s %s var=%d N=%zu: e=%.3e e2=%.3e order %.3f\n", gaussian ? "gauss" : "gmm",
               name, (int)var, N, e1, e2, log2(e1 / e2));
    ck_assert_msg(e2 > 1e-13, "%s: e(%zu) = %g is at the rounding floor", name, 2 * N, e2);
    return log2(e1 / e2);
}

START_TEST(euler_has_order_one_on_the_gmm)
{
    ck_assert_double_eq_tol(observed_order(0, "euler", DODE_VAR_SIGMA, 256), 1.0, 0.1);
}
END_TEST

START_TEST(heun_has_order_two_on_the_gmm)
{
    ck_assert_double_eq_tol(observed_order(0, "heun", DODE_VAR_SIGMA, 128), 2.0, 0.1);
}
END_TEST

START_TEST(rk4_has_order_four_on_the_gmm)
{
    ck_assert_double_eq_tol(observed_order(0, "rk4", DODE_VAR_SIGMA, 256), 4.0, 0.1);
}
END_TEST

START_TEST(orders_hold_on_the_gaussian_against_its_exact_flow)
{
    ck_assert_double_eq_tol(observed_order(1, "euler", DODE_VAR_SIGMA, 256), 1.0, 0.1);
    ck_assert_double_eq_tol(observed_order(1, "heun", DODE_VAR_SIGMA, 128), 2.0, 0.1);
    ck_assert_double_eq_tol(observed_order(1, "rk4", DODE_VAR_SIGMA, 256), 4.0, 0.1);
}
END_TEST

/* In log sigma the same methods keep their orders (GMM: heun 2.016, rk4 4.020 at 256/512). */
START_TEST(heun_and_rk4_keep_their_orders_in_log_sigma)
{
    ck_assert_double_eq_tol(observed_order(0, "heun", DODE_VAR_LOGSIGMA, 256), 2.0, 0.1);
    ck_assert_double_eq_tol(observed_order(0, "rk4", DODE_VAR_LOGSIGMA, 256), 4.0, 0.1);
}
END_TEST

/* Euler in t is another method (at N = 256 its error is 20 times Euler's in sigma), yet
 * it converges with order 1 too. */
START_TEST(euler_in_t_differs_from_euler_in_sigma_but_has_order_one)
{
    test_problem p = test_problem_new(0, NROWS);
    const double es = final_error(&p, "euler", DODE_VAR_SIGMA, 256);
    const double et = final_error(&p, "euler", DODE_VAR_T, 256);
    test_problem_free(&p);
    ck_assert_msg(fabs(es - et) > 0.5 * es, "euler in t %g vs in sigma %g", et, es);
    ck_assert_double_eq_tol(observed_order(0, "euler", DODE_VAR_T, 4096), 1.0, 0.1);
    ck_assert_double_eq_tol(observed_order(1, "euler", DODE_VAR_T, 1024), 1.0, 0.1);
}
END_TEST

/* NFE counted by the ODE, trace->accepted and the points recorded, for one grid. */
static void check_cost(const test_problem *p, const char *name, dode_variable var,
                       const dode_grid *g, size_t want_nfe)
{
    char err[ERRLEN];
    const size_t len = NROWS * DIM, cap = g->steps + 1;
    double *x = test_xbar_T(NROWS, DIM, g->sigma[0], SEED);
    double *ts = malloc(cap * sizeof *ts), *tx = malloc(cap * len * sizeof *tx);
    dode_trace tr = { .cap = cap, .sigma = ts, .xbar = tx };
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.generic.variable = var;
    int rc = dode_solve(dode_solver_find(name), p->ode, g, x, &o, &tr,
                        err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s", err);
    ck_assert_msg(p->ode->nfe == want_nfe, "%s (var %d, %zu steps): nfe %zu, expected %zu",
                  name, (int)var, g->steps, p->ode->nfe, want_nfe);
    ck_assert_uint_eq(tr.accepted, g->steps);
    ck_assert_uint_eq(tr.count, g->steps + 1);
    for (size_t i = 0; i <= g->steps; i++)
        ck_assert_double_eq(ts[i], g->sigma[i]);
    ck_assert_mem_eq(tx + g->steps * len, x, len * sizeof *x);
    free(x);
    free(ts);
    free(tx);
}

START_TEST(nfe_counted_by_the_ode_is_the_documented_cost)
{
    test_problem p = test_problem_new(0, NROWS);
    const size_t S = 7;
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, S, 0);
    check_cost(&p, "euler", DODE_VAR_SIGMA, &g, S);
    check_cost(&p, "ddim", DODE_VAR_SIGMA, &g, S);
    check_cost(&p, "heun", DODE_VAR_SIGMA, &g, 2 * S);
    check_cost(&p, "rk4", DODE_VAR_SIGMA, &g, 4 * S);
    check_cost(&p, "rk4", DODE_VAR_T, &g, 4 * S);
    dode_grid_free(&g);
    g = test_grid(p.sched, DODE_SPACING_LOGSNR, S, 1);  /* S + 1 steps, the last to 0 */
    ck_assert_uint_eq(g.steps, S + 1);
    check_cost(&p, "euler", DODE_VAR_LOGSIGMA, &g, S + 1);
    check_cost(&p, "ddim", DODE_VAR_SIGMA, &g, S + 1);
    check_cost(&p, "heun", DODE_VAR_SIGMA, &g, 2 * (S + 1) - 1);
    check_cost(&p, "heun", DODE_VAR_LAMBDA, &g, 2 * (S + 1) - 1);
    check_cost(&p, "rk4", DODE_VAR_SIGMA, &g, 4 * (S + 1));
    check_cost(&p, "rk4", DODE_VAR_LOGSIGMA, &g, 4 * (S + 1) - 3);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* max |a - b| / max |b|: the relative identity measure. */
static double rel_diff(const double *a, const double *b, size_t len)
{
    double d = 0, m = 0;
    for (size_t k = 0; k < len; k++) {
        d = fmax(d, fabs(a[k] - b[k]));
        m = fmax(m, fabs(b[k]));
    }
    return d / m;
}

/* DDIM eq. 12 with eta = 0, written here from scratch on the training levels seq
 * (increasing, DDIM's range(0, N, N // S)): x' = sqrt(abar') x0 + sqrt(1 - abar') e, the
 * last step to abar = 1. The model is called directly in x-space. */
static void ddim_eq12_loop(const test_problem *p, const size_t *seq, size_t count, double *x)
{
    const double *acp = dode_schedule_alphas_cumprod(p->sched);
    const size_t N = dode_schedule_levels(p->sched), len = NROWS * DIM;
    double e[NROWS * DIM];
    for (size_t k = count; k-- > 0;) {
        const double at = acp[seq[k]], an = k > 0 ? acp[seq[k - 1]] : 1.0;
        const double sigma = sqrt((1 - at) / at), t = (double)(seq[k] + 1) / (double)N;
        ck_assert_int_eq(test_eps(p->model, NROWS, x, t, sigma, e), DODE_OK);
        for (size_t j = 0; j < len; j++) {
            const double x0 = (x[j] - sqrt(1 - at) * e[j]) / sqrt(at);
            x[j] = sqrt(an) * x0 + sqrt(1 - an) * e[j];
        }
    }
}

START_TEST(ddim_eq12_over_alphas_cumprod_equals_euler_in_sigma)
{
    test_problem p = test_problem_new(0, NROWS);
    const size_t S = 10, len = NROWS * DIM, N = dode_schedule_levels(p.sched);
    dode_grid g = test_grid(p.sched, DODE_SPACING_DDIM_UNIFORM, S, 0);
    size_t seq[64], count = 0;
    for (size_t i = 0; i < N; i += N / S)
        seq[count++] = i;
    ck_assert_uint_eq(g.steps, count);
    ck_assert_double_eq(g.sigma[g.steps], 0.0);
    double *xbar = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double x[NROWS * DIM];
    const double at = dode_schedule_alphas_cumprod(p.sched)[seq[count - 1]];
    for (size_t j = 0; j < len; j++)
        x[j] = xbar[j] * sqrt(at);
    ddim_eq12_loop(&p, seq, count, x);
    run(&p, "euler", DODE_VAR_SIGMA, g.sigma, g.steps, xbar);     /* at sigma = 0: x = xbar */
    const double r = rel_diff(x, xbar, len);
    ck_assert_msg(r < 1e-12, "DDIM eq. 12 vs euler: relative difference %g", r);
    free(xbar);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ddim on grid with eta (seeded) in x-space or xbar form; returns the final xbar. */
static double *ddim_run(const test_problem *p, const dode_grid *g, double eta, int xspace)
{
    char err[ERRLEN];
    double *x = test_xbar_T(NROWS, DIM, g->sigma[0], SEED);
    dode_noise *noise = dode_noise_new_seeded(42, err, sizeof err);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.ddim.eta = eta;
    o.noise = noise;
    o.ddim.xspace = xspace;
    int rc = dode_solve(dode_solver_find("ddim"), p->ode, g, x, &o, NULL,
                        err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s", err);
    dode_noise_free(noise);
    return x;
}

START_TEST(ddim_xspace_with_eta_zero_equals_euler)
{
    test_problem p = test_problem_new(0, NROWS);
    const size_t len = NROWS * DIM;
    for (int sp = 0; sp < 2; sp++) {
        dode_grid g = test_grid(p.sched, sp ? DODE_SPACING_DDIM_UNIFORM : DODE_SPACING_LOGSNR,
                                10, 0);
        double *d = ddim_run(&p, &g, 0.0, 1);
        double *e = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        run(&p, "euler", DODE_VAR_SIGMA, g.sigma, g.steps, e);
        ck_assert_msg(rel_diff(d, e, len) < 1e-12, "spacing %d: %g", sp, rel_diff(d, e, len));
        free(d);
        free(e);
        dode_grid_free(&g);
    }
    test_problem_free(&p);
}
END_TEST

START_TEST(ddim_eta_half_in_xspace_equals_the_xbar_form_with_the_same_seed)
{
    test_problem p = test_problem_new(0, NROWS);
    const size_t len = NROWS * DIM;
    for (int sp = 0; sp < 2; sp++) {
        dode_grid g = test_grid(p.sched, sp ? DODE_SPACING_DDIM_UNIFORM : DODE_SPACING_LOGSNR,
                                10, 0);
        double *a = ddim_run(&p, &g, 0.5, 0), *b = ddim_run(&p, &g, 0.5, 1);
        double *det = ddim_run(&p, &g, 0.0, 0);
        ck_assert_msg(rel_diff(b, a, len) < 1e-12, "spacing %d: %g", sp, rel_diff(b, a, len));
        ck_assert_msg(rel_diff(a, det, len) > 1e-3, "eta = 0.5 added no noise");
        free(a);
        free(b);
        free(det);
        dode_grid_free(&g);
    }
    test_problem_free(&p);
}
END_TEST

/* max |a - b| over len values. */
static double max_abs_diff(const double *a, const double *b, size_t len)
{
    double d = 0;
    for (size_t k = 0; k < len; k++)
        d = fmax(d, fabs(a[k] - b[k]));
    return d;
}

/* Encoding (sigma increasing) then decoding with rk4 on 200 logsnr steps returns the
 * start x0, a sample of the model (xbar_T decoded first). Measured: max error 1.1e-7 in
 * log sigma (each leg's global error ~5e-8, the order scan), so 1e-6 has margin. */
START_TEST(rk4_encode_then_decode_returns_x0)
{
    test_problem p = test_problem_new(0, NROWS);
    const size_t len = NROWS * DIM;
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 200, 0);
    double *up = malloc((g.steps + 1) * sizeof *up);
    for (size_t i = 0; i <= g.steps; i++)
        up[i] = g.sigma[g.steps - i];                 /* sigma_min .. sigma_max */
    double *x0 = test_xbar_T(NROWS, DIM, g.sigma[0], SEED + 1);
    run(&p, "rk4", DODE_VAR_LOGSIGMA, g.sigma, g.steps, x0);
    double *x = malloc(len * sizeof *x);
    memcpy(x, x0, len * sizeof *x);
    run(&p, "rk4", DODE_VAR_LOGSIGMA, up, g.steps, x);
    ck_assert_double_gt(test_rmse(x, x0, len), 10.0);   /* it did move to noise */
    run(&p, "rk4", DODE_VAR_LOGSIGMA, g.sigma, g.steps, x);
    const double e = max_abs_diff(x, x0, len);
    if (getenv("DODE_TEST_VERBOSE"))
        printf("round trip max error %.3e\n", e);
    ck_assert_msg(e < 1e-6, "round trip error %g", e);
    free(up);
    free(x0);
    free(x);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* denoise_to_zero is the x0 prediction at the last point: exactly euler's step to 0. */
START_TEST(denoise_to_zero_is_one_x0_prediction_more)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(0, NROWS);
    const size_t len = NROWS * DIM;
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 8, 0);
    dode_grid gz = test_grid(p.sched, DODE_SPACING_LOGSNR, 8, 1);
    double *a = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *b = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.denoise_to_zero = 1;
    dode_trace tr = { 0 };
    ck_assert_int_eq(dode_solve(dode_solver_find("heun"), p.ode, &g, a, &o,
                                &tr, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(p.ode->nfe, 2 * 8 + 1);
    ck_assert_uint_eq(tr.accepted, 9);
    ck_assert_uint_eq(tr.count, 10);
    run(&p, "heun", DODE_VAR_SIGMA, gz.sigma, gz.steps, b);   /* last step: Euler to 0 */
    ck_assert_mem_eq(a, b, len * sizeof *a);
    free(a);
    free(b);
    dode_grid_free(&g);
    dode_grid_free(&gz);
    test_problem_free(&p);
}
END_TEST

/* dode_solve refuses bad input with a message naming it and leaves xbar unchanged. */
static void expect_refused(const test_problem *p, const char *name, const double *sigmas,
                           size_t steps, const dode_solver_opts *o, int code, const char *what)
{
    char err[ERRLEN] = "";
    const size_t len = NROWS * DIM;
    double *x = test_xbar_T(NROWS, DIM, 1.0, SEED), *x0 = test_xbar_T(NROWS, DIM, 1.0, SEED);
    const dode_solver_type *s = name != NULL ? dode_solver_find(name) : NULL;
    int rc = test_solve(s, p->ode, sigmas, steps, x, o, NULL, err, sizeof err);
    ck_assert_msg(rc == code, "%s: got %s (%s), expected %s", what, dode_strerror(rc), err,
                  dode_strerror(code));
    ck_assert_msg(strstr(err, what) != NULL, "message '%s' does not name '%s'", err, what);
    ck_assert_mem_eq(x, x0, len * sizeof *x);
    free(x);
    free(x0);
}

START_TEST(dode_solve_refuses_bad_grids_and_options)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_solver_opts o, bad;
    dode_solver_opts_init(&o);
    const double ok[3] = { 2.0, 1.0, 0.5 }, nan_pt[3] = { 2.0, NAN, 0.5 };
    const double inner0[4] = { 2.0, 0.0, 0.0, 0.0 }, flat[3] = { 1.0, 1.0, 1.0 };
    const double from0[3] = { 0.0, 1.0, 2.0 }, neg[3] = { 2.0, 1.0, -1.0 };
    expect_refused(&p, NULL, ok, 2, &o, DODE_EINVAL, "NULL");
    expect_refused(&p, "euler", ok, 0, &o, DODE_EINVAL, "steps");
    expect_refused(&p, "euler", nan_pt, 2, &o, DODE_EINVAL, "sigmas[1]");
    expect_refused(&p, "euler", neg, 2, &o, DODE_EINVAL, "sigmas[2]");
    expect_refused(&p, "euler", inner0, 3, &o, DODE_EINVAL, "inside");
    expect_refused(&p, "euler", flat, 2, &o, DODE_EINVAL, "monotone");
    bad = o;
    bad.generic.variable = DODE_VAR_LAMBDA;
    expect_refused(&p, "heun", from0, 2, &bad, DODE_EINVAL, "log 0");
    bad = o;
    bad.generic.variable = (dode_variable)9;
    expect_refused(&p, "rk4", ok, 2, &bad, DODE_EINVAL, "variable");
    bad = o;
    bad.ddim.eta = -0.5;
    expect_refused(&p, "ddim", ok, 2, &bad, DODE_EINVAL, "eta");
    bad.ddim.eta = 0.5;
    expect_refused(&p, "ddim", ok, 2, &bad, DODE_EINVAL, "noise");
    bad = o;
    bad.denoise_to_zero = 1;
    expect_refused(&p, "euler", from0, 2, &bad, DODE_EINVAL, "denoise_to_zero");
    test_problem_free(&p);
}
END_TEST

START_TEST(ddim_refuses_an_eta_that_makes_the_noise_exceed_sigma)
{
    test_problem p = test_problem_new(0, NROWS);
    dode_noise *noise = dode_noise_new_seeded(1, NULL, 0);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.ddim.eta = 3.0;
    o.noise = noise;
    const double sig[3] = { 2.0, 1.0, 0.5 };     /* 9 (1 - 1/4) > 1 */
    expect_refused(&p, "ddim", sig, 2, &o, DODE_EINVAL, "ddim: eta = 3");
    dode_noise_free(noise);
    test_problem_free(&p);
}
END_TEST

/* A model that returns NaN below sigma = 1 (test_eps_nan_below_one): the failure names
 * the solver, the step and sigma, and xbar holds the state at the last completed step. */
START_TEST(a_failing_model_leaves_the_last_completed_step)
{
    char err[ERRLEN];
    dode_schedule *sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_model m = { .name = "nanmodel", .dim = DIM, .eps = test_eps_nan_below_one };
    dode_ode *ode = dode_ode_new(&m, sched, NROWS, err, sizeof err);
    const double sig[5] = { 8.0, 4.0, 2.0, 0.5, 0.25 };
    /* the first model call below sigma = 1 is at 0.5: the start of step 4 for euler and
     * ddim, heun's corrector in step 3 */
    static const struct { const char *name, *step; size_t done; } cases[] = {
        { "euler", "step 4 of 4", 3 }, { "ddim", "step 4 of 4", 3 },
        { "heun", "step 3 of 4", 2 }, { "rk4", "step 3 of 4", 2 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double *x = test_xbar_T(NROWS, DIM, 8.0, SEED), *y = test_xbar_T(NROWS, DIM, 8.0, SEED);
        const dode_solver_type *s = dode_solver_find(cases[k].name);
        int rc = test_solve(s, ode, sig, 4, x, NULL, NULL, err, sizeof err);
        ck_assert_int_eq(rc, DODE_ENONFINITE);
        ck_assert_msg(strstr(err, cases[k].name) == err && strstr(err, cases[k].step)
                      && strstr(err, "nanmodel") && strstr(err, "sigma = 0.5"),
                      "message: %s", err);
        ck_assert_str_eq(err, ode->err);
        rc = test_solve(s, ode, sig, cases[k].done, y, NULL, NULL, err, sizeof err);
        ck_assert_int_eq(rc, DODE_OK);
        ck_assert_mem_eq(x, y, NROWS * DIM * sizeof *x);   /* the last completed step */
        free(x);
        free(y);
    }
    dode_ode_free(ode);
    dode_schedule_free(sched);
}
END_TEST

START_TEST(registry_names_are_unique_and_found)
{
    const dode_solver_type *const *all = dode_solvers();
    size_t count = 0;
    for (size_t i = 0; all[i] != NULL; i++, count++) {
        ck_assert_ptr_eq(dode_solver_find(all[i]->name), all[i]);
        ck_assert_ptr_nonnull(all[i]->solve);
        ck_assert_ptr_nonnull(all[i]->family);
        ck_assert_ptr_nonnull(all[i]->summary);
        if (all[i]->adaptive)
            ck_assert_int_eq(all[i]->evals_per_step, 0);
        else
            ck_assert(all[i]->order > 0 && all[i]->evals_per_step > 0);
    }
    ck_assert_uint_ge(count, 15);
    ck_assert_ptr_null(dode_solver_find("no-such-solver"));
    ck_assert_ptr_null(dode_solver_find(NULL));
}
END_TEST

START_TEST(steps_for_nfe_divides_by_the_cost_of_a_step)
{
    ck_assert_uint_eq(dode_solver_steps_for_nfe(dode_solver_find("rk4"), 40), 10);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(dode_solver_find("heun"), 19), 9);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(dode_solver_find("euler"), 7), 7);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(dode_solver_find("rk4"), 3), 0);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(dode_solver_find("gsl:rk8pd"), 50), 1);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(dode_solver_find("euler"), 0), 0);
}
END_TEST

START_TEST(opts_init_sets_the_documented_defaults)
{
    dode_solver_opts o;
    memset(&o, 0xff, sizeof o);
    dode_solver_opts_init(&o);
    ck_assert_int_eq(o.generic.variable, DODE_VAR_SIGMA);
    ck_assert(o.ddim.eta == 0 && o.noise == NULL && o.ddim.xspace == 0);
    ck_assert(o.adaptive.rtol == 1e-6 && o.adaptive.atol == 1e-6 && 
              o.adaptive.h_init == 0 && o.adaptive.max_steps == 100000);
    ck_assert(o.dpm.taylor == 0 && o.dpm.d2_taylor == 0 && o.dpm.lower_order_final == 1);
    ck_assert(o.dpm.lower_order_threshold == 10 && o.denoise_to_zero == 0);
    ck_assert(isnan(o.dpm.r1) && isnan(o.dpm.r2) && o.unipc.bh == 2 && o.threshold.kind == 0);
    ck_assert(o.threshold.clip_value == 1 && o.threshold.dynamic_ratio == 0.995);
    ck_assert_uint_eq(o.given, 0);
}
END_TEST

static Suite *classical_suite(void)
{
    Suite *s = suite_create("classical");
    TCase *tc = tcase_create("orders");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, euler_has_order_one_on_the_gmm);
    tcase_add_test(tc, heun_has_order_two_on_the_gmm);
    tcase_add_test(tc, rk4_has_order_four_on_the_gmm);
    tcase_add_test(tc, orders_hold_on_the_gaussian_against_its_exact_flow);
    tcase_add_test(tc, heun_and_rk4_keep_their_orders_in_log_sigma);
    tcase_add_test(tc, euler_in_t_differs_from_euler_in_sigma_but_has_order_one);
    suite_add_tcase(s, tc);
    tc = tcase_create("identities");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nfe_counted_by_the_ode_is_the_documented_cost);
    tcase_add_test(tc, ddim_eq12_over_alphas_cumprod_equals_euler_in_sigma);
    tcase_add_test(tc, ddim_xspace_with_eta_zero_equals_euler);
    tcase_add_test(tc, ddim_eta_half_in_xspace_equals_the_xbar_form_with_the_same_seed);
    tcase_add_test(tc, rk4_encode_then_decode_returns_x0);
    tcase_add_test(tc, denoise_to_zero_is_one_x0_prediction_more);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, dode_solve_refuses_bad_grids_and_options);
    tcase_add_test(tc, ddim_refuses_an_eta_that_makes_the_noise_exceed_sigma);
    tcase_add_test(tc, a_failing_model_leaves_the_last_completed_step);
    tcase_add_test(tc, registry_names_are_unique_and_found);
    tcase_add_test(tc, steps_for_nfe_divides_by_the_cost_of_a_step);
    tcase_add_test(tc, opts_init_sets_the_documented_defaults);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(classical_suite)
