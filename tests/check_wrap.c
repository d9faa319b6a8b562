/* check_wrap.c - dode_model_as_eps (MATH.md section 2): a model predicting x0, v or the
 * score, wrapped, equals the eps-predicting model; optional callbacks pass through;
 * sigma = 0 and bad inner models are handled as model.h and wrap.c document. */
#include <string.h>

#include "testutil.h"

enum { DIM = 3, N = 4 };
static const double MU[DIM] = { 0.4, -1.2, 2.5 };
static const double STD = 0.8;
static const double SIGMAS[] = { 0.01, 0.5, 3.0, 80.0 };
static const double X[N * DIM] = { 0.3, -0.2, 1.1, -1.5, 0.7, 0.2, 2.0, 1.0, -0.4, 0.0, 0.5, -2.2 };

static dode_model *gauss(dode_prediction p)
{
    char err[ERRLEN];
    dode_model *m = dode_gaussian_new(DIM, MU, STD, p, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* Largest |a - b| / (1 + |b|). */
static double max_rel(const double *a, const double *b, size_t len)
{
    double e = 0;
    for (size_t i = 0; i < len; i++)
        e = fmax(e, fabs(a[i] - b[i]) / (1 + fabs(b[i])));
    return e;
}

START_TEST(wrapped_x0_v_and_score_gaussians_equal_the_eps_gaussian)   /* loop: x0, v, score */
{
    char err[ERRLEN];
    dode_model *ref = gauss(DODE_PRED_EPS);
    dode_model *w = dode_model_as_eps(gauss((dode_prediction)(DODE_PRED_X0 + _i)), err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_int_eq(w->prediction, DODE_PRED_EPS);
    double a[N * DIM], b[N * DIM];
    for (size_t s = 0; s < sizeof SIGMAS / sizeof SIGMAS[0]; s++) {
        ck_assert_int_eq(test_eps(w, N, X, 0.0, SIGMAS[s], a), DODE_OK);
        ck_assert_int_eq(test_eps(ref, N, X, 0.0, SIGMAS[s], b), DODE_OK);
        ck_assert_double_le(max_rel(a, b, N * DIM), 1e-12);
    }
    dode_model_free(w);
    dode_model_free(ref);
}
END_TEST

START_TEST(optional_callbacks_pass_through)
{
    char err[ERRLEN];
    dode_model *ref = gauss(DODE_PRED_EPS), *w = dode_model_as_eps(gauss(DODE_PRED_V), err, sizeof err);
    ck_assert_ptr_nonnull(w);
    double ja[N * DIM * DIM], jb[N * DIM * DIM], da[N * DIM], db[N * DIM], la[N], lb[N];
    double fa[N * DIM], fb[N * DIM];
    ck_assert_int_eq(test_jacobian(w, N, X, 0.7, ja, da), DODE_OK);
    ck_assert_int_eq(test_jacobian(ref, N, X, 0.7, jb, db), DODE_OK);
    ck_assert_int_eq(test_log_density(w, N, X, 0.7, la), DODE_OK);
    ck_assert_int_eq(test_log_density(ref, N, X, 0.7, lb), DODE_OK);
    ck_assert_int_eq(w->exact_flow(w, N, X, 0.7, 0.1, fa), DODE_OK);
    ck_assert_int_eq(ref->exact_flow(ref, N, X, 0.7, 0.1, fb), DODE_OK);
    ck_assert(memcmp(ja, jb, sizeof ja) == 0 && memcmp(da, db, sizeof da) == 0);
    ck_assert(memcmp(la, lb, sizeof la) == 0 && memcmp(fa, fb, sizeof fa) == 0);
    dode_model_free(w);
    dode_model_free(ref);
}
END_TEST

START_TEST(an_eps_model_is_returned_unwrapped)
{
    char err[ERRLEN];
    dode_model *m = gauss(DODE_PRED_EPS);
    ck_assert_ptr_eq(dode_model_as_eps(m, err, sizeof err), m);
    dode_model_free(m);
}
END_TEST

START_TEST(x0_at_sigma_zero_is_refused_and_out_unchanged)   /* v and score are fine there */
{
    char err[ERRLEN];
    double out[N * DIM], ref[N * DIM];
    for (size_t i = 0; i < N * DIM; i++)
        out[i] = 7.0;
    dode_model *w = dode_model_as_eps(gauss(DODE_PRED_X0), err, sizeof err);
    ck_assert_int_eq(test_eps(w, N, X, 0.0, 0.0, out), DODE_EINVAL);
    ck_assert_int_eq(test_eps(w, N, X, 0.0, -1.0, out), DODE_EINVAL);
    for (size_t i = 0; i < N * DIM; i++)
        ck_assert_double_eq(out[i], 7.0);
    dode_model_free(w);
    dode_model *e = gauss(DODE_PRED_EPS);
    ck_assert_int_eq(test_eps(e, N, X, 0.0, 0.0, ref), DODE_OK);
    for (int p = DODE_PRED_V; p <= DODE_PRED_SCORE; p++) {
        w = dode_model_as_eps(gauss((dode_prediction)p), err, sizeof err);
        ck_assert_int_eq(test_eps(w, N, X, 0.0, 0.0, out), DODE_OK);
        ck_assert_double_le(max_rel(out, ref, N * DIM), 1e-15);
        dode_model_free(w);
    }
    dode_model_free(e);
}
END_TEST

/* A GMM that predicts x0h = xbar - sigma epsh (MATH.md 2): the wrapper must give epsh back. */
static int gmm_x0_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                      double sigma, double *out)
{
    const dode_model *g = m->state;
    (void)ws;   /* the test model has no workspace_new; the gmm gets one per call */
    int rc = test_eps(g, n, x, t, sigma, out);
    for (size_t i = 0; rc == DODE_OK && i < n * m->dim; i++)
        out[i] = x[i] * sqrt(1 + sigma * sigma) - sigma * out[i];
    return rc;
}

static void gmm_x0_free(dode_model *m)
{
    dode_model_free(m->state);
    free(m);
}

START_TEST(wrapped_x0_gmm_equals_the_gmm)
{
    char err[ERRLEN];
    dode_model *x0 = malloc(sizeof *x0), *g = test_gmm2d();
    *x0 = (dode_model){ .name = "gmm-x0", .dim = 2, .prediction = DODE_PRED_X0,
                        .eps = gmm_x0_eps, .free = gmm_x0_free, .state = test_gmm2d() };
    dode_model *w = dode_model_as_eps(x0, err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_null(w->jacobian);   /* absent callbacks stay absent */
    const double x[6] = { -1.4, 0.1, 0.3, 0.9, 0.0, 1.5 };
    double a[6], b[6];
    for (size_t s = 0; s < sizeof SIGMAS / sizeof SIGMAS[0]; s++) {
        ck_assert_int_eq(test_eps(w, 3, x, 0.0, SIGMAS[s], a), DODE_OK);
        ck_assert_int_eq(test_eps(g, 3, x, 0.0, SIGMAS[s], b), DODE_OK);
        /* x0h = xbar - sigma epsh and back: rounding of xbar, amplified by 1/sigma */
        ck_assert_double_le(max_rel(a, b, 6), 1e-13 * (1 + 1 / SIGMAS[s]));
    }
    dode_model_free(w);
    dode_model_free(g);
}
END_TEST

START_TEST(null_inner_model_is_refused)
{
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_model_as_eps(NULL, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "inner model"));
}
END_TEST

static Suite *wrap_suite(void)
{
    Suite *s = suite_create("wrap");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, wrapped_x0_v_and_score_gaussians_equal_the_eps_gaussian, 0, 3);
    tcase_add_test(tc, optional_callbacks_pass_through);
    tcase_add_test(tc, an_eps_model_is_returned_unwrapped);
    tcase_add_test(tc, x0_at_sigma_zero_is_refused_and_out_unchanged);
    tcase_add_test(tc, wrapped_x0_gmm_equals_the_gmm);
    tcase_add_test(tc, null_inner_model_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(wrap_suite)
