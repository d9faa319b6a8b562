/* check_eps_xbar.c - the mixture's fused eps_xbar (model.h, issue 16): eps at x = a xbar
 * with the ODE layer's scaling and finiteness checks in the model's one loop over rows.
 * Laws: its output is eps's at the product a * xbar, bit for bit, for every shape that
 * takes the small-K loops (isotropic and diagonal, d = 2..4, K = 1..12); full covariances
 * have none; a non-finite state is refused as the unfused path refuses it (same status,
 * message and NFE count), and a non-finite eps is reported exactly when the unfused check
 * finds one. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "../model/gmm_impl.h"

static const double SIGMAS[] = { 0.002, 0.3, 1.0, 7.5, 150.0 };
#define NSIG (sizeof SIGMAS / sizeof SIGMAS[0])

/* K components in d dimensions from a seeded generator: isotropic or diagonal stds in
 * [0.1, 1), means spread 3 around the origin, unequal weights. */
static dode_model *mixture(size_t K, size_t d, int diag, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double w[16], mu[16 * 4], sd[16 * 4];
    for (size_t k = 0; k < K; k++) {
        w[k] = 0.1 + gsl_rng_uniform(r);
        for (size_t j = 0; j < d; j++) {
            mu[k * d + j] = 3.0 * gsl_ran_gaussian(r, 1.0);
            sd[diag ? k * d + j : k] = 0.1 + 0.9 * gsl_rng_uniform(r);
        }
    }
    gsl_rng_free(r);
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(K, d, w, mu, diag ? "diagonal" : "isotropic", sd, err,
                                 sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* The shapes: (K, d, diagonal) covering the unrolled 2-D cases and the generic loop. */
static const struct { size_t K, d; int diag; } SHAPES[] = {
    { 1, 2, 0 }, { 3, 2, 0 }, { 8, 2, 0 }, { 12, 2, 0 }, { 5, 3, 0 }, { 12, 4, 0 },
    { 3, 2, 1 }, { 6, 4, 1 },
};

START_TEST(eps_xbar_is_eps_at_a_times_xbar_bit_for_bit)
{
    const size_t K = SHAPES[_i].K, d = SHAPES[_i].d, n = 301;
    dode_model *m = mixture(K, d, SHAPES[_i].diag, 11 + (unsigned long)_i);
    ck_assert_ptr_nonnull(m->eps_xbar);
    char err[ERRLEN];
    void *ws = NULL;
    ck_assert_int_eq(dode_model_workspace_new(m, n, &ws, err, sizeof err), DODE_OK);
    double *x = malloc(n * d * sizeof *x), *e1 = malloc(n * d * sizeof *e1),
           *e2 = malloc(n * d * sizeof *e2);
    for (size_t s = 0; s < NSIG; s++) {
        double *xbar = test_xbar_T(n, d, SIGMAS[s], 5 + s);
        for (size_t j = 0; j < d; j++)      /* one far row: the refined softmax */
            xbar[j] = 1e3 * (1.0 + SIGMAS[s]) * (j % 2 ? -1 : 1);
        const double a = 1.0 / sqrt(1.0 + SIGMAS[s] * SIGMAS[s]);
        for (size_t i = 0; i < n * d; i++)
            x[i] = a * xbar[i];
        int bad = -1;
        ck_assert_int_eq(m->eps(m, ws, n, x, 0.0, SIGMAS[s], e1), DODE_OK);
        ck_assert_int_eq(m->eps_xbar(m, ws, n, xbar, a, 0.0, SIGMAS[s], e2, &bad), DODE_OK);
        ck_assert_int_eq(bad, 0);
        ck_assert_msg(memcmp(e1, e2, n * d * sizeof *e1) == 0, "K = %zu, d = %zu, sigma = "
                      "%g: eps_xbar differs from eps at a xbar", K, d, SIGMAS[s]);
        free(xbar);
    }
    free(x), free(e1), free(e2);
    dode_model_workspace_free(m, ws);
    dode_model_free(m);
}
END_TEST

START_TEST(full_covariances_have_no_fused_eps)
{
    static const double w[2] = { 0.5, 0.5 }, mu[4] = { -1, 0, 1, 0 };
    static const double S[8] = { 0.09, 0.03, 0.03, 0.16, 0.25, -0.1, -0.1, 0.36 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(2, 2, w, mu, "full", S, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    ck_assert_ptr_null(m->eps_xbar);
    dode_model_free(m);
}
END_TEST

/* dode_ode_rhs on the mixture through eps_xbar and through a copy of the model without
 * it: status, message and NFE count; eps bit for bit when both succeed. */
static void rhs_both_ways(const dode_model *m, const double *xbar, size_t n, double sigma,
                          int want)
{
    dode_model plain = *m;
    plain.eps_xbar = NULL;
    char err[ERRLEN], msg[2][sizeof((dode_ode *)0)->err];
    dode_schedule *sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(sched != NULL, "%s", err);
    double *e[2] = { malloc(n * 2 * sizeof(double)), malloc(n * 2 * sizeof(double)) };
    size_t nfe[2];
    for (int k = 0; k < 2; k++) {
        dode_ode *ode = dode_ode_new(k == 0 ? m : &plain, sched, n, err, sizeof err);
        ck_assert_msg(ode != NULL, "%s", err);
        ck_assert_int_eq(dode_ode_rhs(ode, sigma, xbar, e[k]), want);
        nfe[k] = ode->nfe;
        snprintf(msg[k], sizeof msg[k], "%s", want == DODE_OK ? "" : ode->err);
        dode_ode_free(ode);
    }
    ck_assert_str_eq(msg[0], msg[1]);
    ck_assert_uint_eq(nfe[0], nfe[1]);
    if (want == DODE_OK)
        ck_assert(memcmp(e[0], e[1], n * 2 * sizeof(double)) == 0);
    free(e[0]), free(e[1]);
    dode_schedule_free(sched);
}

START_TEST(a_non_finite_state_is_refused_as_the_unfused_path_refuses_it)
{
    dode_model *m = test_gmm2d();
    ck_assert_ptr_nonnull(m->eps_xbar);
    const double bad[] = { NAN, INFINITY, -INFINITY };
    double *xbar = test_xbar_T(40, 2, 3.0, 9);
    rhs_both_ways(m, xbar, 40, 3.0, DODE_OK);
    for (size_t b = 0; b < 3; b++) {
        xbar[2 * 17 + 1] = bad[b];
        rhs_both_ways(m, xbar, 40, 3.0, DODE_ENONFINITE);
    }
    free(xbar);
    dode_model_free(m);
}
END_TEST

/* Huge but finite states, up to the largest double: the fused path flags a non-finite eps
 * exactly where eps followed by the separate check does, and gives the same eps. */
START_TEST(huge_states_are_flagged_exactly_as_the_unfused_check_flags_them)
{
    dode_model *m = test_gmm2d();
    const double mag[] = { 1e100, 1e154, 1e160, 1e200, 1e300, 1.7976931348623157e308 };
    for (size_t k = 0; k < sizeof mag / sizeof mag[0]; k++) {
        const double xbar[4] = { mag[k], -0.5 * mag[k], 0.25, -mag[k] };
        for (size_t s = 0; s < NSIG; s++) {
            double e[4];
            int bad = -1;
            const double a = 1.0 / sqrt(1.0 + SIGMAS[s] * SIGMAS[s]);
            const double x[4] = { a * xbar[0], a * xbar[1], a * xbar[2], a * xbar[3] };
            ck_assert_int_eq(test_eps(m, 2, x, 0.0, SIGMAS[s], e), DODE_OK);
            const int finite = dode_all_finite(e, 4) == DODE_OK;
            rhs_both_ways(m, xbar, 2, SIGMAS[s], finite ? DODE_OK : DODE_ENONFINITE);
            void *ws = NULL;
            char err[ERRLEN];
            ck_assert_int_eq(dode_model_workspace_new(m, 2, &ws, err, sizeof err), DODE_OK);
            ck_assert_int_eq(m->eps_xbar(m, ws, 2, xbar, a, 0.0, SIGMAS[s], e, &bad), DODE_OK);
            ck_assert_int_eq(bad, finite ? 0 : 2);
            dode_model_workspace_free(m, ws);
        }
    }
    dode_model_free(m);
}
END_TEST

/* A mixture whose centre is NaN (its state set by hand) returns a NaN eps from a finite
 * state: the fused path says so (bad = 2), and the ODE's message and NFE are the unfused
 * path's. */
START_TEST(a_non_finite_eps_is_reported_with_the_unfused_message)
{
    dode_model *m = test_gmm2d();
    gmm_state *st = m->state;
    st->mbar[1] = NAN;
    double *xbar = test_xbar_T(8, 2, 1.0, 4);
    rhs_both_ways(m, xbar, 8, 1.0, DODE_ENONFINITE);
    char err[ERRLEN];
    void *ws = NULL;
    double e[16];
    int bad = -1;
    ck_assert_int_eq(dode_model_workspace_new(m, 8, &ws, err, sizeof err), DODE_OK);
    ck_assert_int_eq(m->eps_xbar(m, ws, 8, xbar, 1.0 / sqrt(2.0), 0.0, 1.0, e, &bad), DODE_OK);
    ck_assert_int_eq(bad, 2);
    dode_model_workspace_free(m, ws);
    free(xbar);
    dode_model_free(m);
}
END_TEST

static Suite *eps_xbar_suite(void)
{
    Suite *s = suite_create("eps_xbar");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, eps_xbar_is_eps_at_a_times_xbar_bit_for_bit, 0,
                        (int)(sizeof SHAPES / sizeof SHAPES[0]));
    tcase_add_test(tc, full_covariances_have_no_fused_eps);
    tcase_add_test(tc, a_non_finite_state_is_refused_as_the_unfused_path_refuses_it);
    tcase_add_test(tc, huge_states_are_flagged_exactly_as_the_unfused_check_flags_them);
    tcase_add_test(tc, a_non_finite_eps_is_reported_with_the_unfused_message);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(eps_xbar_suite)
