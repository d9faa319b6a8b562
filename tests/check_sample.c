/* check_sample.c - the sampling path and the reference flow (sample.h): x-space in and out
 * around the solver, the cost it reports, the exact-or-rk8pd reference, bad input. */
#include "testutil.h"

#define N 16

/* x -> xbar -> x is the identity to rounding, xbar = x sqrt(1 + sigma^2) on a VP schedule
 * (a^2 + s^2 = 1) and x (1 + sigma) on flow (a + s = 1); at sigma = inf both copy x. */
START_TEST(test_scaling_round_trip)
{
    static const char *const names[2] = { "ddpm-linear", "flow:shift=3" };
    const double want[2] = { sqrt(10.0), 4.0 };
    char err[ERRLEN] = "";
    for (int i = 0; i < 2; i++) {
        dode_schedule *s = dode_schedule_new(names[i], err, sizeof err);
        ck_assert_msg(s != NULL, "%s", err);
        double x[4] = { 1.0, -2.0, 0.5, 3.0 }, xbar[4], back[4];
        dode_x_to_xbar(s, 3.0, x, xbar, 4);
        dode_xbar_to_x(s, 3.0, xbar, back, 4);
        for (int k = 0; k < 4; k++) {
            ck_assert_double_eq_tol(xbar[k], x[k] * want[i], 1e-15 * fabs(xbar[k]));
            ck_assert_double_eq_tol(back[k], x[k], 1e-15 * fabs(x[k]));
        }
        dode_x_to_xbar(s, INFINITY, x, xbar, 4);
        for (int k = 0; k < 4; k++)
            ck_assert_double_eq(xbar[k], x[k]);
        dode_schedule_free(s);
    }
}
END_TEST

/* dode_sample in x-space equals dode_run_xbar on the scaled state, scaled back; on the
 * Gaussian both approach the exact flow at rk4's order. */
START_TEST(test_sample_is_scaled_run)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(1, N);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 40, 0);
    const dode_solver_type *rk4 = dode_solver_find("rk4");
    double *xbar = test_xbar_T(N, 2, g.sigma[0], 7), x_T[N * 2], x_0[N * 2], ref[N * 2];
    dode_xbar_to_x(p.sched, g.sigma[0], xbar, x_T, N * 2);
    dode_run_stats st;
    ck_assert_msg(dode_sample(rk4, p.ode, &g, NULL, x_T, x_0, NULL, &st, err, sizeof err)
                  == DODE_OK, "%s", err);
    ck_assert_uint_eq(st.nfe, 160);
    ck_assert_uint_eq(st.accepted, 40);
    ck_assert_double_eq(st.sigma_end, g.sigma[40]);
    int exact = 0;
    ck_assert_int_eq(dode_reference(p.model, p.sched, N, g.sigma[0], g.sigma[40], xbar, ref,
                                    NULL, NULL, &exact, err, sizeof err), DODE_OK);
    ck_assert_int_eq(exact, 1);
    ck_assert_int_eq(dode_run_xbar(rk4, p.ode, &g, NULL, xbar, NULL, NULL, err, sizeof err),
                     DODE_OK);
    for (size_t k = 0; k < N * 2; k++) {
        ck_assert_double_eq_tol(x_0[k], xbar[k] / sqrt(1 + g.sigma[40] * g.sigma[40]), 1e-14);
        ck_assert_double_eq_tol(xbar[k], ref[k], 1e-4);   /* rk4 in sigma, 40 steps: ~1e-5 */
    }
    free(xbar);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* denoise_to_zero moves the end to sigma = 0, and x_0 is then xbar itself. */
START_TEST(test_sample_denoise_end)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(0, N);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 10, 0);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.denoise_to_zero = 1;
    double *xbar = test_xbar_T(N, 2, g.sigma[0], 3), x_T[N * 2], x_0[N * 2];
    dode_xbar_to_x(p.sched, g.sigma[0], xbar, x_T, N * 2);
    dode_run_stats st;
    ck_assert_msg(dode_sample(dode_solver_find("dpmpp2m"), p.ode, &g, &o, x_T, x_0, NULL, &st,
                              err, sizeof err) == DODE_OK, "%s", err);
    ck_assert_double_eq(st.sigma_end, 0.0);
    ck_assert_uint_eq(st.nfe, 11);
    ck_assert_int_eq(dode_run_xbar(dode_solver_find("dpmpp2m"), p.ode, &g, &o, xbar, NULL,
                                   NULL, err, sizeof err), DODE_OK);
    for (size_t k = 0; k < N * 2; k++)
        ck_assert_double_eq(x_0[k], xbar[k]);
    free(xbar);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* rk8pd at 1e-12 agrees with the Gaussian's exact flow, in log sigma and to sigma = 0. */
START_TEST(test_reference_rk8pd_vs_exact)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(1, N);
    const double s0 = 80.0;
    double *xbar = test_xbar_T(N, 2, s0, 11), ex[N * 2], rk[N * 2];
    const double ends[2] = { 0.05, 0.0 };
    for (int e = 0; e < 2; e++) {
        dode_reference_opts o;
        dode_reference_opts_init(&o);
        int exact = 1;
        dode_run_stats st;
        ck_assert_int_eq(dode_reference(p.model, p.sched, N, s0, ends[e], xbar, ex, NULL, NULL,
                                        NULL, err, sizeof err), DODE_OK);
        o.method = DODE_REFERENCE_RK8PD;
        ck_assert_msg(dode_reference(p.model, p.sched, N, s0, ends[e], xbar, rk, &o, &st,
                                     &exact, err, sizeof err) == DODE_OK, "%s", err);
        ck_assert_int_eq(exact, 0);
        ck_assert_uint_gt(st.nfe, 10);
        for (size_t k = 0; k < N * 2; k++)
            ck_assert_double_eq_tol(rk[k], ex[k], 1e-9);
    }
    free(xbar);
    test_problem_free(&p);
}
END_TEST

/* Bad input: no exact flow when one is demanded, NULL arguments, a bad grid. */
START_TEST(test_bad_input)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(0, N);     /* the GMM has no exact flow */
    double x[N * 2] = { 0 }, y[N * 2];
    dode_reference_opts o;
    dode_reference_opts_init(&o);
    o.method = DODE_REFERENCE_EXACT;
    ck_assert_int_eq(dode_reference(p.model, p.sched, N, 10, 1, x, y, &o, NULL, NULL, err,
                                    sizeof err), DODE_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "no exact flow"));
    ck_assert_int_eq(dode_sample(dode_solver_find("euler"), p.ode, NULL, NULL, x, y, NULL,
                                 NULL, err, sizeof err), DODE_EINVAL);
    double bad[3] = { 10.0, NAN, 1.0 };
    const dode_grid g = { .steps = 2, .sigma = bad, .t = NULL };
    ck_assert_int_eq(dode_sample(dode_solver_find("euler"), p.ode, &g, NULL, x, y, NULL, NULL,
                                 err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "sigmas[1]"));
    test_problem_free(&p);
}
END_TEST

static Suite *sample_suite(void)
{
    Suite *s = suite_create("sample");
    TCase *tc = tcase_create("sample");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_scaling_round_trip);
    tcase_add_test(tc, test_sample_is_scaled_run);
    tcase_add_test(tc, test_sample_denoise_end);
    tcase_add_test(tc, test_reference_rk8pd_vs_exact);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(sample_suite)
