/* check_gsl.c - the gsl:* adaptive steppers (solvers/gsl.c) and dode_solve's checks.
 *
 * Problem: the Gaussian N(mu, 0.5^2 I) in 2-D (MATH.md section 5) on ddpm-linear, from
 * sigma_T = sigma(1) to sigma_0 = sigma(1/N), whose exact_flow is the closed form.
 *
 * Tolerances: the controller keeps each step's local error below atol + rtol |y|, so the
 * global error is at most about steps * tol * (1 + max |y|) (GSL's ode-initval2/test.c
 * reasons the same way). Measured in log sigma at rtol = atol = 1e-8 on 8 rows:
 * rk8pd 8.7e-10 in 19 steps, rkf45 4.6e-9 (84), rk2 3.6e-9 (1979), msadams 9.8e-8 (110),
 * rk2imp 8.5e-7 (1535), rk4imp 2.9e-8 (70), bsimp 7.8e-9 (7), msbdf 7.7e-7 (177), all
 * below 1e-5; rk1imp (first order) needs 86530 steps for 7e-5, so it runs at 1e-6
 * (about 8.7e3 steps) against the steps * tol bound alone. In the variable t the
 * discrete schedule's kinks (every 1/1000 in t) cost thousands of rejected steps: not
 * tested, documented in gsl.c. */
#include <string.h>

#include "testutil.h"

#define DIM 2
#define SEED 3

typedef struct {
    test_problem tp;    /* ddpm-linear, test_gauss2d, an ODE over n rows */
    size_t n;
    double ends[2];     /* sigma_T, sigma_0 */
} problem;

static problem problem_new(size_t n)
{
    problem p = { .tp = test_problem_new(1, n), .n = n };
    p.ends[0] = dode_schedule_sigma(p.tp.sched, dode_schedule_t_max(p.tp.sched));
    p.ends[1] = dode_schedule_sigma(p.tp.sched, dode_schedule_t_min(p.tp.sched));
    return p;
}

/* RMSE against the exact flow of a solve from ends[0] to ends[1] (or reversed). */
static double stepper_error(const problem *p, const char *name, dode_variable var, double tol,
                        int encode, dode_trace *trace)
{
    char err[ERRLEN];
    const size_t len = p->n * DIM;
    const double sig[2] = { p->ends[encode], p->ends[!encode] };
    double *x = test_xbar_T(p->n, DIM, sig[0], SEED), *ref = test_xbar_T(p->n, DIM, 1, SEED);
    const dode_model *m = p->tp.model;
    ck_assert_int_eq(m->exact_flow(m, p->n, x, sig[0], sig[1], ref), DODE_OK);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.generic.variable = var;
    o.adaptive.rtol = o.adaptive.atol = tol;
    int rc = test_solve(dode_solver_find(name), p->tp.ode, sig, 1, x, &o, trace, err,
                        sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    const double e = test_rmse(x, ref, len);
    free(x);
    free(ref);
    return e;
}


/* The bound's scale: a step at sigma may err by tol (1 + |xbar|) with |xbar| ~ sigma, but
 * the flow contracts that error by sqrt((v + sigma_0^2)/(v + sigma^2)) ~ 1/sigma by the
 * end, so each step contributes about tol (1 + |x0|) there; |x0| < 10 here. */
#define YMAX 10.0

START_TEST(rk8pd_at_1e12_matches_the_gaussian_exact_flow_both_ways)
{
    problem p = problem_new(64);
    for (int encode = 0; encode < 2; encode++) {
        dode_trace tr = { 0 };
        const double e = stepper_error(&p, "gsl:rk8pd", DODE_VAR_LOGSIGMA, 1e-12, encode, &tr);
        /* steps * tol * (1 + YMAX): ~30 steps -> 3e-10 */
        ck_assert_msg(e < 1e-9, "encode %d: error %g after %zu steps", encode, e, tr.accepted);
        ck_assert_uint_gt(tr.accepted, 0);
    }
    test_problem_free(&p.tp);
}
END_TEST

static const char *const steppers[] = {
    "gsl:rk2", "gsl:rk4", "gsl:rkf45", "gsl:rkck", "gsl:rk8pd", "gsl:msadams",
    "gsl:rk1imp", "gsl:rk2imp", "gsl:rk4imp", "gsl:bsimp", "gsl:msbdf",
};

START_TEST(every_stepper_meets_steps_times_tol_on_the_gaussian)
{
    problem p = problem_new(8);
    const dode_solver_type *st = dode_solver_find(steppers[_i]);
    ck_assert_ptr_nonnull(st);
    ck_assert(st->adaptive && st->evals_per_step == 0);
    const int first_order = strcmp(steppers[_i], "gsl:rk1imp") == 0;
    const double tol = first_order ? 1e-6 : 1e-8;
    dode_trace tr = { 0 };
    const double e = stepper_error(&p, steppers[_i], DODE_VAR_LOGSIGMA, tol, 0, &tr);
    ck_assert_uint_gt(p.tp.ode->nfe, 0);
    ck_assert_uint_gt(tr.accepted, 0);
    ck_assert_uint_eq(tr.count, tr.accepted + 1);
    ck_assert_msg(e < (double)tr.accepted * tol * (1 + YMAX), "%s: error %g after %zu steps",
                  steppers[_i], e, tr.accepted);
    if (!first_order)
        ck_assert_msg(e < 1e-5, "%s: error %g", steppers[_i], e);
    const char *implicit[] = { "imp", "bsimp", "msbdf" };
    for (int k = 0; k < 3; k++)
        if (strstr(steppers[_i], implicit[k]))
            ck_assert_msg(p.tp.ode->njac > 0, "%s used no Jacobian", steppers[_i]);
    test_problem_free(&p.tp);
}
END_TEST

/* The default variable sigma works too (less efficiently on this range). */
START_TEST(steppers_also_integrate_in_sigma)
{
    problem p = problem_new(8);
    const char *names[3] = { "gsl:rk8pd", "gsl:bsimp", "gsl:msbdf" };
    for (int k = 0; k < 3; k++) {
        const double e = stepper_error(&p, names[k], DODE_VAR_SIGMA, 1e-8, 0, NULL);
        ck_assert_msg(e < 1e-5, "%s in sigma: error %g", names[k], e);
    }
    test_problem_free(&p.tp);
}
END_TEST

START_TEST(trace_records_every_accepted_step)
{
    problem p = problem_new(8);
    const size_t cap = 1000, len = 8 * DIM;
    double *ts = malloc(cap * sizeof *ts), *tx = malloc(cap * len * sizeof *tx);
    dode_trace tr = { .cap = cap, .sigma = ts, .xbar = tx };
    char err[ERRLEN];
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.generic.variable = DODE_VAR_LOGSIGMA;
    double *x = test_xbar_T(8, DIM, p.ends[0], SEED);
    ck_assert_int_eq(test_solve(dode_solver_find("gsl:rkf45"), p.tp.ode, p.ends, 1, x, &o, &tr,
                                err, sizeof err), DODE_OK);
    ck_assert(tr.count == tr.accepted + 1 && tr.count > 2 && tr.count <= cap);
    ck_assert_double_eq(ts[0], p.ends[0]);
    ck_assert_double_eq_tol(ts[tr.count - 1], p.ends[1], 1e-14 * p.ends[1]);
    for (size_t i = 1; i < tr.count; i++)
        ck_assert_double_lt(ts[i], ts[i - 1]);
    ck_assert_mem_eq(tx + (tr.count - 1) * len, x, len * sizeof *x);
    free(x);
    free(ts);
    free(tx);
    test_problem_free(&p.tp);
}
END_TEST

/* dode_solve or the stepper refuses; code, message and unchanged xbar are checked. */
static void expect_refused(problem *p, const char *name, const double *sigmas, size_t steps,
                           const dode_solver_opts *o, const double *xbar_in, int code,
                           const char *what)
{
    char err[ERRLEN] = "";
    const size_t len = p->n * DIM;
    double *x = malloc(len * sizeof *x);
    memcpy(x, xbar_in, len * sizeof *x);
    int rc = test_solve(dode_solver_find(name), p->tp.ode, sigmas, steps, x, o, NULL, err,
                        sizeof err);
    ck_assert_msg(rc == code, "%s: got %s (%s), expected %s", what, dode_strerror(rc), err,
                  dode_strerror(code));
    ck_assert_msg(strstr(err, what) != NULL, "message '%s' does not name '%s'", err, what);
    ck_assert_msg(strstr(err, name) == err, "message '%s' does not start with %s", err, name);
    ck_assert_uint_eq(p->tp.ode->nfe, 0);
    ck_assert(memcmp(x, xbar_in, len * sizeof *x) == 0 || (isnan(x[5]) && isnan(xbar_in[5])));
    free(x);
}

START_TEST(unknown_names_are_not_found)
{
    ck_assert_ptr_null(dode_solver_find("gsl:rk9"));
    ck_assert_ptr_null(dode_solver_find("gsl:"));
    ck_assert_ptr_null(dode_solver_find("RK8PD"));
}
END_TEST

START_TEST(bad_tolerances_and_budgets_are_refused)
{
    problem p = problem_new(8);
    double *x = test_xbar_T(8, DIM, p.ends[0], SEED);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.adaptive.rtol = 0;
    expect_refused(&p, "gsl:rk8pd", p.ends, 1, &o, x, DODE_EINVAL, "rtol");
    o.adaptive.rtol = -1e-6;
    expect_refused(&p, "gsl:rk8pd", p.ends, 1, &o, x, DODE_EINVAL, "rtol");
    dode_solver_opts_init(&o);
    o.adaptive.atol = NAN;
    expect_refused(&p, "gsl:rkf45", p.ends, 1, &o, x, DODE_EINVAL, "atol");
    dode_solver_opts_init(&o);
    o.adaptive.max_steps = 0;
    expect_refused(&p, "gsl:rkf45", p.ends, 1, &o, x, DODE_EINVAL, "max_steps");
    dode_solver_opts_init(&o);
    o.adaptive.h_init = -0.1;
    dode_solver_opts_mark(&o, DODE_OPT_H_INIT);
    expect_refused(&p, "gsl:rkf45", p.ends, 1, &o, x, DODE_EINVAL, "h_init");
    free(x);
    test_problem_free(&p.tp);
}
END_TEST

START_TEST(bad_grids_and_states_are_refused_with_xbar_unchanged)
{
    problem p = problem_new(8);
    double *x = test_xbar_T(8, DIM, p.ends[0], SEED);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    const double zigzag[4] = { p.ends[0], 1.0, 2.0, p.ends[1] };
    expect_refused(&p, "gsl:rk8pd", zigzag, 3, &o, x, DODE_EINVAL, "monotone");
    const double to0[2] = { p.ends[0], 0.0 };
    o.generic.variable = DODE_VAR_LOGSIGMA;
    expect_refused(&p, "gsl:rk8pd", to0, 1, &o, x, DODE_EINVAL, "log 0");
    o.generic.variable = DODE_VAR_SIGMA;
    x[5] = NAN;
    expect_refused(&p, "gsl:rk8pd", p.ends, 1, &o, x, DODE_EINVAL, "xbar[5]");
    x[5] = INFINITY;
    expect_refused(&p, "gsl:rk8pd", p.ends, 1, &o, x, DODE_EINVAL, "xbar[5]");
    free(x);
    test_problem_free(&p.tp);
}
END_TEST

START_TEST(implicit_steppers_need_a_jacobian_and_a_small_system)
{
    char err[ERRLEN];
    problem p = problem_new(8);
    dode_model nojac = *p.tp.model;               /* shares the Gaussian's state */
    nojac.name = "nojac";
    nojac.jacobian = NULL;
    dode_ode *ode = dode_ode_new(&nojac, p.tp.sched, 8, err, sizeof err);
    dode_ode *keep = p.tp.ode;
    p.tp.ode = ode;
    double *x = test_xbar_T(8, DIM, p.ends[0], SEED);
    for (int k = 6; k < 11; k++)
        if (strstr(steppers[k], "msadams") == NULL)
            expect_refused(&p, steppers[k], p.ends, 1, NULL, x, DODE_EUNSUPPORTED, "nojac");
    ck_assert_double_lt(stepper_error(&p, "gsl:rk8pd", DODE_VAR_LOGSIGMA, 1e-8, 0, NULL), 1e-5);
    dode_ode_free(ode);
    p.tp.ode = keep;
    free(x);
    test_problem_free(&p.tp);

    p = problem_new(1025);                     /* n * dim = 2050 > 2048 */
    x = test_xbar_T(1025, DIM, p.ends[0], SEED);
    expect_refused(&p, "gsl:bsimp", p.ends, 1, NULL, x, DODE_EUNSUPPORTED, "2048");
    free(x);
    test_problem_free(&p.tp);
}
END_TEST

START_TEST(a_small_step_budget_ends_with_emaxiter)
{
    char err[ERRLEN];
    problem p = problem_new(8);
    double *x = test_xbar_T(8, DIM, p.ends[0], SEED);
    const size_t len = 8 * DIM;
    double ts[8], tx[8 * 8 * DIM];
    dode_trace tr = { .cap = 8, .sigma = ts, .xbar = tx };
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.adaptive.max_steps = 3;
    o.generic.variable = DODE_VAR_LOGSIGMA;
    int rc = test_solve(dode_solver_find("gsl:rk8pd"), p.tp.ode, p.ends, 1, x, &o, &tr, err,
                        sizeof err);
    ck_assert_int_eq(rc, DODE_EMAXITER);
    ck_assert_msg(strstr(err, "gsl:rk8pd") == err && strstr(err, "max_steps = 3"), "%s", err);
    ck_assert_uint_eq(tr.accepted, 3);
    ck_assert_mem_eq(tx + 3 * len, x, len * sizeof *x);   /* the last accepted step */
    free(x);
    test_problem_free(&p.tp);
}
END_TEST

START_TEST(a_failing_model_is_reported_with_the_sigma_reached)
{
    char err[ERRLEN];
    problem p = problem_new(8);
    dode_model m = { .name = "nanmodel", .dim = DIM, .eps = test_eps_nan_below_one };
    dode_ode *ode = dode_ode_new(&m, p.tp.sched, 8, err, sizeof err);
    double *x = test_xbar_T(8, DIM, p.ends[0], SEED);
    const int rc = test_solve(dode_solver_find("gsl:rkf45"), ode, p.ends, 1, x, NULL, NULL,
                              err, sizeof err);
    ck_assert_int_eq(rc, DODE_ENONFINITE);
    ck_assert_msg(strstr(err, "gsl:rkf45") == err && strstr(err, "nanmodel")
                  && strstr(err, "sigma"), "%s", err);
    ck_assert_int_eq(dode_all_finite(x, 8 * DIM), DODE_OK);
    dode_ode_free(ode);
    free(x);
    test_problem_free(&p.tp);
}
END_TEST

/* Issue 18 item 1: under memory pressure GSL's driver allocation fails; gsl.c once freed
 * the NULL driver (SIGSEGV, exit 139 from `diffode sample --solver gsl:rk8pd --n 5000000`
 * under ulimit -v 1200000). Each explicit stepper, in a child whose address space allows
 * 256 MiB more than the problem (2^22 rows, 2^23 equations: 64 MiB a state vector, so
 * the 4 to 18 vectors of the steppers and their evolve object do not fit), must return
 * DODE_ENOMEM saying "out of memory", with xbar unchanged. max_steps = 1 keeps a child
 * that did get its memory from integrating 2^23 equations for minutes. Not under
 * AddressSanitizer, whose shadow memory leaves no room for an address-space limit. */
START_TEST(explicit_steppers_report_out_of_memory_cleanly)
{
#if !defined(__SANITIZE_ADDRESS__)
    static const char *const names[] = { "gsl:rk2", "gsl:rk4", "gsl:rkf45", "gsl:rkck",
                                         "gsl:rk8pd", "gsl:msadams" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            const size_t n = (size_t)1 << 22;
            problem p = problem_new(n);
            double *x = calloc(n * DIM, sizeof *x);
            test_limit_address_space();
            dode_solver_opts o;
            dode_solver_opts_init(&o);
            o.adaptive.max_steps = 1;
            char err[ERRLEN] = "";
            const int rc = test_solve(dode_solver_find(names[k]), p.tp.ode, p.ends, 1, x, &o,
                                      NULL, err, sizeof err);
            int unchanged = 1;
            for (size_t i = 0; i < n * DIM; i++)
                unchanged &= x[i] == 0.0;
            const int ok = rc == DODE_ENOMEM && strstr(err, "out of memory") != NULL
                           && strstr(err, names[k]) != NULL && unchanged;
            if (!ok)
                fprintf(stderr, "%s: rc %d: %s\n", names[k], rc, err);
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: no clean out of "
                      "memory (status %d%s)", names[k], status,
                      WIFSIGNALED(status) ? ", killed by a signal" : "");
    }
#endif
}
END_TEST

static Suite *gsl_suite(void)
{
    Suite *s = suite_create("gsl");
    TCase *tc = tcase_create("accuracy");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rk8pd_at_1e12_matches_the_gaussian_exact_flow_both_ways);
    tcase_add_loop_test(tc, every_stepper_meets_steps_times_tol_on_the_gaussian, 0,
                        (int)(sizeof steppers / sizeof steppers[0]));
    tcase_add_test(tc, steppers_also_integrate_in_sigma);
    tcase_add_test(tc, trace_records_every_accepted_step);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, unknown_names_are_not_found);
    tcase_add_test(tc, bad_tolerances_and_budgets_are_refused);
    tcase_add_test(tc, bad_grids_and_states_are_refused_with_xbar_unchanged);
    tcase_add_test(tc, implicit_steppers_need_a_jacobian_and_a_small_system);
    tcase_add_test(tc, a_small_step_budget_ends_with_emaxiter);
    tcase_add_test(tc, a_failing_model_is_reported_with_the_sigma_reached);
    tcase_add_test(tc, explicit_steppers_report_out_of_memory_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(gsl_suite)
