/* check_gaussian.c - the exact Gaussian model (MATH.md section 5): its closed-form flow
 * solves the ODE, composes and runs both ways; Jacobian, d epsh/d sigma and the density
 * agree with finite differences and direct formulas; bad arguments are refused. */
#include <string.h>

#include "testutil.h"

enum { DIM = 3, NPTS = 4 };
static const double MU[DIM] = { 0.5, -1.0, 2.0 };
static const double STD = 0.7;
static const double SIGMAS[] = { 0.02, 0.3, 1.0, 7.0, 150.0 };
static const size_t NSIG = sizeof SIGMAS / sizeof SIGMAS[0];

static dode_model *gauss(void)
{
    char err[ERRLEN];
    dode_model *m = dode_gaussian_new(DIM, MU, STD, DODE_PRED_EPS, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* epsh(xbar, sigma) through eps(), which takes x = xbar / sqrt(1+sigma^2). */
static void epsh(const dode_model *m, size_t n, const double *xbar, double sigma, double *out)
{
    double x[NPTS * DIM];
    ck_assert_uint_le(n * m->dim, NPTS * DIM);
    for (size_t i = 0; i < n * m->dim; i++)
        x[i] = xbar[i] / sqrt(1.0 + sigma * sigma);
    ck_assert_int_eq(test_eps(m, n, x, 0.0, sigma, out), DODE_OK);
}

/* Points spread around the mean, scaled like xbar at noise level sigma. */
static void points(double sigma, double *xbar)
{
    static const double z[NPTS * DIM] = { 0.3, -1.2, 0.8, -0.5, 0.1, 1.7,
                                          2.0, 0.4, -0.9, -1.1, -0.6, 0.2 };
    const double sd = sqrt(STD * STD + sigma * sigma);
    for (size_t i = 0; i < NPTS * DIM; i++)
        xbar[i] = MU[i % DIM] + sd * z[i];
}

START_TEST(exact_flow_solves_the_ode)   /* central difference in sigma of the flow = epsh */
{
    dode_model *m = gauss();
    double xT[NPTS * DIM], xp[NPTS * DIM], xm[NPTS * DIM], x0[NPTS * DIM], e[NPTS * DIM];
    const double sT = 80.0;
    points(sT, xT);
    for (size_t s = 0; s < NSIG - 1; s++) {
        const double sg = SIGMAS[s], h = 1e-4 * sg;   /* error ~ h^2 f''' + eps |x| / h */
        ck_assert_int_eq(m->exact_flow(m, NPTS, xT, sT, sg + h, xp), DODE_OK);
        ck_assert_int_eq(m->exact_flow(m, NPTS, xT, sT, sg - h, xm), DODE_OK);
        ck_assert_int_eq(m->exact_flow(m, NPTS, xT, sT, sg, x0), DODE_OK);
        epsh(m, NPTS, x0, sg, e);
        for (size_t i = 0; i < NPTS * DIM; i++)
            ck_assert_double_eq_tol((xp[i] - xm[i]) / (2 * h), e[i], 1e-7 * (1 + fabs(e[i])));
    }
    dode_model_free(m);
}
END_TEST

START_TEST(exact_flow_composes_and_runs_both_ways)   /* a->b->c = a->c, a->b->a = id */
{
    dode_model *m = gauss();
    double xa[NPTS * DIM], xb[NPTS * DIM], xc[NPTS * DIM], xac[NPTS * DIM], back[NPTS * DIM];
    points(10.0, xa);
    ck_assert_int_eq(m->exact_flow(m, NPTS, xa, 10.0, 0.4, xb), DODE_OK);
    ck_assert_int_eq(m->exact_flow(m, NPTS, xb, 0.4, 0.01, xc), DODE_OK);
    ck_assert_int_eq(m->exact_flow(m, NPTS, xa, 10.0, 0.01, xac), DODE_OK);
    ck_assert_int_eq(m->exact_flow(m, NPTS, xc, 0.01, 10.0, back), DODE_OK);   /* upwards */
    for (size_t i = 0; i < NPTS * DIM; i++) {
        ck_assert_double_eq_tol(xc[i], xac[i], 1e-13 * (1 + fabs(xac[i])));
        ck_assert_double_eq_tol(back[i], xa[i], 1e-13 * (1 + fabs(xa[i])));
    }
    dode_model_free(m);
}
END_TEST

START_TEST(jacobian_matches_central_differences)   /* both d/d xbar and d/d sigma, h^2 */
{
    dode_model *m = gauss();
    double xbar[NPTS * DIM], J[NPTS * DIM * DIM], ds[NPTS * DIM], ep[NPTS * DIM], em[NPTS * DIM];
    for (size_t s = 0; s < NSIG; s++) {
        const double sg = SIGMAS[s], h = 1e-5 * (1 + sg);
        points(sg, xbar);
        ck_assert_int_eq(test_jacobian(m, NPTS, xbar, sg, J, ds), DODE_OK);
        for (size_t b = 0; b < DIM; b++) {
            double xp[NPTS * DIM], xm[NPTS * DIM];
            memcpy(xp, xbar, sizeof xp);
            memcpy(xm, xbar, sizeof xm);
            for (size_t i = 0; i < NPTS; i++)
                xp[i * DIM + b] += h, xm[i * DIM + b] -= h;
            epsh(m, NPTS, xp, sg, ep);
            epsh(m, NPTS, xm, sg, em);
            for (size_t i = 0; i < NPTS; i++)
                for (size_t a = 0; a < DIM; a++)
                    ck_assert_double_eq_tol(J[(i * DIM + a) * DIM + b],
                        (ep[i * DIM + a] - em[i * DIM + a]) / (2 * h), 1e-7);
        }
        epsh(m, NPTS, xbar, sg + h, ep);
        epsh(m, NPTS, xbar, sg - h, em);
        for (size_t i = 0; i < NPTS * DIM; i++)
            ck_assert_double_eq_tol(ds[i], (ep[i] - em[i]) / (2 * h), 1e-7 * (1 + fabs(ds[i])));
    }
    dode_model_free(m);
}
END_TEST

START_TEST(log_density_is_the_normal_density_and_eps_is_tweedie)
{
    dode_model *m = gauss();
    double xbar[NPTS * DIM], lp[NPTS], lpp[NPTS], lpm[NPTS], e[NPTS * DIM];
    for (size_t s = 0; s < NSIG - 1; s++) {
        const double sg = SIGMAS[s], c = STD * STD + sg * sg, h = 1e-5 * sqrt(c);
        points(sg, xbar);
        ck_assert_int_eq(test_log_density(m, NPTS, xbar, sg, lp), DODE_OK);
        epsh(m, NPTS, xbar, sg, e);
        for (size_t i = 0; i < NPTS; i++) {
            double p = 1;   /* product of 1-D normal densities, no logs */
            for (size_t j = 0; j < DIM; j++) {
                const double r = xbar[i * DIM + j] - MU[j];
                p *= exp(-r * r / (2 * c)) / sqrt(2 * 3.14159265358979323846 * c);
            }
            ck_assert_double_eq_tol(lp[i], log(p), 1e-12 * (1 + fabs(lp[i])));
        }
        for (size_t j = 0; j < DIM; j++) {   /* epsh = -sigma grad log p (Tweedie) */
            double xp[NPTS * DIM], xm[NPTS * DIM];
            memcpy(xp, xbar, sizeof xp);
            memcpy(xm, xbar, sizeof xm);
            for (size_t i = 0; i < NPTS; i++)
                xp[i * DIM + j] += h, xm[i * DIM + j] -= h;
            test_log_density(m, NPTS, xp, sg, lpp);
            test_log_density(m, NPTS, xm, sg, lpm);
            for (size_t i = 0; i < NPTS; i++)
                ck_assert_double_eq_tol(-sg * (lpp[i] - lpm[i]) / (2 * h), e[i * DIM + j],
                                        1e-7 * (1 + fabs(e[i * DIM + j])));
        }
    }
    dode_model_free(m);
}
END_TEST

START_TEST(bad_arguments_are_refused_with_a_message)
{
    static const struct { size_t dim; double std; const char *needle; } bad[] = {
        { DIM, 0.0, "std" }, { DIM, -1.0, "std" }, { DIM, NAN, "std" }, { DIM, INFINITY, "std" },
        { 0, 1.0, "dim" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[ERRLEN] = "";
        dode_model *m = dode_gaussian_new(bad[i].dim, MU, bad[i].std, DODE_PRED_EPS, err, sizeof err);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(err, bad[i].needle) != NULL, "message \"%s\"", err);
    }
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_gaussian_new(DIM, NULL, 1.0, DODE_PRED_EPS, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "mean"));
    const double nanmu[DIM] = { 0, NAN, 0 };
    ck_assert_ptr_null(dode_gaussian_new(DIM, nanmu, 1.0, DODE_PRED_EPS, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "mean[1]"));
    dode_model_free(NULL);   /* accepted */
}
END_TEST

START_TEST(eps_refuses_a_negative_sigma_and_leaves_out_unchanged)
{
    dode_model *m = gauss();
    double x[DIM] = { 1, 2, 3 }, out[DIM] = { 7, 7, 7 };
    ck_assert_int_eq(test_eps(m, 1, x, 0.0, -0.1, out), DODE_EINVAL);
    ck_assert_int_eq(test_eps(m, 1, x, 0.0, NAN, out), DODE_EINVAL);
    for (size_t j = 0; j < DIM; j++)
        ck_assert_double_eq(out[j], 7);
    dode_model_free(m);
}
END_TEST

static Suite *gaussian_suite(void)
{
    Suite *s = suite_create("gaussian");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, exact_flow_solves_the_ode);
    tcase_add_test(tc, exact_flow_composes_and_runs_both_ways);
    tcase_add_test(tc, jacobian_matches_central_differences);
    tcase_add_test(tc, log_density_is_the_normal_density_and_eps_is_tweedie);
    tcase_add_test(tc, bad_arguments_are_refused_with_a_message);
    tcase_add_test(tc, eps_refuses_a_negative_sigma_and_leaves_out_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(gaussian_suite)
