/* check_callback.c - a model from a caller's function (dode_model_from_callback): the
 * function is what every solver sees, so the closed-form eps of the Gaussian
 * N(mu, v I) written as a callback, epsh = sigma (xbar - mu) / (v + sigma^2) (MATH.md
 * section 5), must drive a solver to the same state as the library's own Gaussian; the
 * same posterior given as an x0 prediction, x0h = xbar - sigma epsh, must agree once
 * wrapped; and a failing function must stop the solve with a status and the model's name. */
#include "testutil.h"

enum { N = 16, DIM = 2 };
static const double MU[DIM] = { 1.0, -0.5 }, VAR = 0.25;   /* test_gauss2d's data */

/* What a user's function sees: x at sigma; user points at the prediction kind wanted. */
static int gauss_fn(void *user, size_t n, size_t dim, const double *x, double t, double sigma,
                    double *out)
{
    (void)t;
    const dode_prediction pred = *(const dode_prediction *)user;
    const double scale = sqrt(1.0 + sigma * sigma);
    for (size_t i = 0; i < n * dim; i++) {
        const double xbar = x[i] * scale, e = sigma * (xbar - MU[i % dim]) / (VAR + sigma * sigma);
        out[i] = pred == DODE_PRED_X0 ? xbar - sigma * e : e;
    }
    return 0;
}

static int failing_fn(void *user, size_t n, size_t dim, const double *x, double t,
                      double sigma, double *out)
{
    (void)user, (void)x, (void)t;
    if (sigma < 10)                              /* fails once the solve is under way */
        return -1;
    memset(out, 0, n * dim * sizeof *out);       /* a success writes its output: left
                                                    unwritten, whatever the heap held (a
                                                    NaN) was read as eps (valgrind) */
    return 0;
}

/* dpmpp2m, 10 steps of the ddpm-linear logsnr grid, from the seed-3 start, on model m. */
static int solve_with(const dode_model *m, double *xbar, char *err)
{
    dode_schedule *sched = dode_schedule_new("ddpm-linear", err, ERRLEN);
    ck_assert_ptr_nonnull(sched);
    dode_ode *ode = dode_ode_new(m, sched, N, err, ERRLEN);
    ck_assert_ptr_nonnull(ode);
    dode_grid_opts go;
    dode_grid g;
    dode_grid_opts_init(&go);
    ck_assert_int_eq(dode_grid_make(sched, &go, 10, &g, err, ERRLEN), DODE_OK);
    double *start = test_xbar_T(N, DIM, g.sigma[0], 3);
    memcpy(xbar, start, sizeof(double) * N * DIM);
    free(start);
    const int rc = dode_run_xbar(dode_solver_find("dpmpp2m"), ode, &g, NULL, xbar, NULL, NULL,
                                 err, ERRLEN);
    dode_grid_free(&g);
    dode_ode_free(ode);
    dode_schedule_free(sched);
    return rc;
}

START_TEST(callback_drives_a_solver_like_the_library_model)
{
    char err[ERRLEN];
    static const dode_prediction kinds[2] = { DODE_PRED_EPS, DODE_PRED_X0 };
    double want[N * DIM], got[N * DIM];
    dode_model *g = test_gauss2d();
    ck_assert_int_eq(solve_with(g, want, err), DODE_OK);
    dode_model_free(g);
    for (int k = 0; k < 2; k++) {
        dode_model *m = dode_model_from_callback("mine", DIM, kinds[k], gauss_fn,
                                                 (void *)&kinds[k], err, sizeof err);
        ck_assert_msg(m != NULL, "%s", err);
        ck_assert_int_eq(m->prediction, DODE_PRED_EPS);
        ck_assert_msg(solve_with(m, got, err) == DODE_OK, "%s", err);
        /* the same formula in another order of operations (and, for x0, through the
         * wrapper's inversion): rounding, relative 1e-12 of the state (|xbar| <~ 3) */
        for (size_t i = 0; i < N * DIM; i++)
            ck_assert_double_eq_tol(got[i], want[i], 1e-12 * (1 + fabs(want[i])));
        dode_model_free(m);
    }
}
END_TEST

START_TEST(failing_callback_stops_the_solve_naming_the_model)
{
    char err[ERRLEN];
    double xbar[N * DIM];
    dode_model *m = dode_model_from_callback("mynet", DIM, DODE_PRED_EPS, failing_fn, NULL,
                                             err, sizeof err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(solve_with(m, xbar, err), DODE_ESOLVER);
    ck_assert_msg(strstr(err, "model mynet failed at sigma") != NULL, "%s", err);
    dode_model_free(m);
}
END_TEST

START_TEST(bad_callback_arguments_are_refused)
{
    char err[ERRLEN];
    const dode_prediction eps = DODE_PRED_EPS;
    ck_assert_ptr_null(dode_model_from_callback("x", DIM, eps, NULL, NULL, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "no function"));
    ck_assert_ptr_null(dode_model_from_callback("x", 0, eps, gauss_fn, NULL, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "dim must be >= 1"));
    ck_assert_ptr_null(dode_model_from_callback("x", DIM, (dode_prediction)9, gauss_fn, NULL,
                                                err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "unknown prediction"));
}
END_TEST

static Suite *callback_suite(void)
{
    Suite *s = suite_create("callback");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, callback_drives_a_solver_like_the_library_model);
    tcase_add_test(tc, failing_callback_stops_the_solve_naming_the_model);
    tcase_add_test(tc, bad_callback_arguments_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(callback_suite)
