/* check_metrics.c - the sweep metrics (experiments/metrics.h) against closed forms: error
 * norms on hand values, observed orders of exact power laws, the Frechet distance of
 * Gaussians with known moments, the sliced W2 of a shifted set, the Gaussian KL, the
 * mode-mass TV of known proportions, the energy distance against its closed form, the
 * Student t-interval's coverage, and every bad input. */
#include <string.h>

#include "testutil.h"
#include "../experiments/metrics.h"

START_TEST(rmse_and_max_error_match_hand_values)
{
    const double x[4] = { 3, 4, 1, -2 }, ref[4] = { 0, 0, 1, -2 };
    double rmse = 0, mx = 0;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_rmse(x, ref, 4, &rmse, err, sizeof err), DODE_OK);
    ck_assert_int_eq(exp_metric_max_abs(x, ref, 4, &mx, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(rmse, 2.5, 1e-15);            /* sqrt((9 + 16) / 4) */
    ck_assert_double_eq(mx, 4.0);
}
END_TEST

START_TEST(trajectory_error_is_the_rmse_at_each_point)
{
    const double traj[6] = { 1, 1, 2, 2, 0, 0 }, ref[6] = { 0, 0, 0, 2, 0, 0 };
    double out[3];
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_trajectory_rmse(traj, ref, 3, 2, out, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(out[0], 1.0, 1e-15);
    ck_assert_double_eq_tol(out[1], sqrt(2.0), 1e-15);
    ck_assert_double_eq(out[2], 0.0);
}
END_TEST

START_TEST(observed_order_of_an_exact_power_law_is_its_power)
{
    /* e = C NFE^-p exactly, plus points outside the asymptotic range that must be ignored */
    const double nfe[8] = { 5, 10, 20, 40, 80, 160, 320, 640 };
    double e[8];
    for (int i = 0; i < 8; i++)
        e[i] = 3.7 * pow(nfe[i], -2.5);
    e[0] = 1.0;                 /* pre-asymptotic: excluded by nfe_min = 10 */
    e[6] = e[7] = 1e-14;        /* at the rounding floor: excluded by floor = 1e-13 */
    double order = 0;
    size_t used = 0;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_observed_order(nfe, e, 8, 10, 1e-13, &order, &used, err,
                                                sizeof err), DODE_OK);
    ck_assert_double_eq_tol(order, 2.5, 1e-12);
    ck_assert_uint_eq(used, 5);
}
END_TEST

START_TEST(pairwise_orders_of_a_power_law_are_its_power_and_nan_at_the_floor)
{
    const double nfe[4] = { 10, 20, 50, 100 };
    double e[4], out[3];
    for (int i = 0; i < 4; i++)
        e[i] = 0.5 * pow(nfe[i], -3.0);
    e[3] = 1e-20;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_pairwise_orders(nfe, e, 4, 1e-13, out, err, sizeof err),
                     DODE_OK);
    ck_assert_double_eq_tol(out[0], 3.0, 1e-12);
    ck_assert_double_eq_tol(out[1], 3.0, 1e-12);
    ck_assert(isnan(out[2]));
}
END_TEST

START_TEST(moments_match_hand_values)
{
    const double x[6] = { 0, 0, 2, 2, 4, -2 };     /* 3 samples in 2-D */
    double mean[2], cov[4];
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_moments(x, 3, 2, mean, cov, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(mean[0], 2.0, 1e-15);
    ck_assert_double_eq_tol(mean[1], 0.0, 1e-15);
    ck_assert_double_eq_tol(cov[0], 4.0, 1e-15);   /* (4 + 0 + 4) / 2 */
    ck_assert_double_eq_tol(cov[3], 4.0, 1e-15);
    ck_assert_double_eq_tol(cov[1], -2.0, 1e-15);  /* (0 + 0 - 4) / 2 */
    ck_assert_double_eq_tol(cov[2], -2.0, 1e-15);
}
END_TEST

/* A symmetric PD 2x2 matrix R(theta) diag(a, b) R(theta)^T. */
static void rotated_cov(double theta, double a, double b, double *s)
{
    const double c = cos(theta), sn = sin(theta);
    s[0] = a * c * c + b * sn * sn;
    s[3] = a * sn * sn + b * c * c;
    s[1] = s[2] = (a - b) * c * sn;
}

START_TEST(frechet_of_two_gaussians_in_2d_matches_the_closed_form)
{
    /* In 2-D, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for PSD M, and M = S1^1/2 S2 S1^1/2
     * has tr M = tr(S1 S2), det M = det S1 det S2: a formula with no matrix root. */
    const double m1[2] = { 0.3, -1.0 }, m2[2] = { -0.2, 0.5 };
    double s1[4], s2[4], fd = 0;
    rotated_cov(0.4, 2.0, 0.3, s1);
    rotated_cov(-1.1, 0.7, 1.9, s2);
    const double trs1s2 = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
    const double det = (s1[0] * s1[3] - s1[1] * s1[2]) * (s2[0] * s2[3] - s2[1] * s2[2]);
    const double dm2 = 0.25 + 2.25;
    const double want = dm2 + s1[0] + s1[3] + s2[0] + s2[3] - 2 * sqrt(trs1s2 + 2 * sqrt(det));
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_frechet_moments(2, m1, s1, m2, s2, &fd, err, sizeof err),
                     DODE_OK);
    ck_assert_double_eq_tol(fd, want, 1e-12 * (1 + want));
}
END_TEST

START_TEST(frechet_of_diagonal_gaussians_is_the_sum_of_root_differences)
{
    /* commuting covariances: FD = |dm|^2 + sum_j (sqrt a_j - sqrt b_j)^2 */
    enum { D = 5 };
    double m1[D], m2[D], s1[D * D] = { 0 }, s2[D * D] = { 0 }, want = 0, fd = 0;
    for (int j = 0; j < D; j++) {
        m1[j] = 0.1 * j;
        m2[j] = -0.3 * j + 1;
        s1[j * D + j] = 0.5 + j;
        s2[j * D + j] = 2.0 / (1 + j);
        want += (m1[j] - m2[j]) * (m1[j] - m2[j]) +
                pow(sqrt(s1[j * D + j]) - sqrt(s2[j * D + j]), 2);
    }
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_frechet_moments(D, m1, s1, m2, s2, &fd, err, sizeof err),
                     DODE_OK);
    ck_assert_double_eq_tol(fd, want, 1e-12 * (1 + want));
}
END_TEST

START_TEST(frechet_of_a_sample_set_with_itself_is_zero)
{
    double *x = test_xbar_T(200, 3, 0.0, 7);   /* N(0, I) samples */
    double fd = 1;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_frechet(x, 200, x, 200, 3, &fd, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(fd, 0.0, 1e-12);   /* tr S ~ 3: rounding of the roots */
    free(x);
}
END_TEST

START_TEST(sliced_w2_of_a_shifted_set_is_the_mean_squared_projected_shift)
{
    enum { N = 50, D = 3, L = 64 };
    const double c[D] = { 0.5, -1.0, 2.0 };
    double *x = test_xbar_T(N, D, 0.0, 3), y[N * D], dirs[L * D], sw2 = 0, want = 0;
    for (int i = 0; i < N * D; i++)
        y[i] = x[i] + c[i % D];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_random_directions(rng, L, D, dirs, err, sizeof err), DODE_OK);
    for (int l = 0; l < L; l++) {              /* projections shift by u.c, order kept */
        double uc = 0;
        for (int j = 0; j < D; j++)
            uc += dirs[l * D + j] * c[j];
        want += uc * uc / L;
    }
    ck_assert_int_eq(exp_metric_sliced_w2_dirs(x, y, N, D, dirs, L, &sw2, err, sizeof err),
                     DODE_OK);
    ck_assert_double_eq_tol(sw2, want, 1e-12 * want);
    gsl_rng_free(rng);
    free(x);
}
END_TEST

START_TEST(sliced_w2_of_a_shift_averages_to_its_squared_length_over_dim)
{
    /* E[(u.c)^2] = |c|^2 / 3 in 3-D; (u.c)^2 / |c|^2 = cos^2 with cos uniform on [-1, 1],
     * variance 1/5 - 1/9 = 4/45, so the mean of L draws has sd sqrt(4/45/L): 5 sd allowed */
    enum { L = 20000 };
    const double x[3] = { 0.1, 0.2, 0.3 }, y[3] = { 1.1, -0.8, 2.3 };   /* c = (1, -1, 2) */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    double sw2 = 0;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_sliced_w2(x, y, 1, 3, L, rng, &sw2, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(sw2, 6.0 / 3.0, 6.0 * 5 * sqrt(4.0 / 45.0 / L));
    gsl_rng_free(rng);
}
END_TEST

START_TEST(sliced_w2_compares_order_statistics_not_rows)
{
    /* in 1-D with u = 1 it is the W2^2 of the empirical measures: rows may be permuted */
    const double x[4] = { 3, 1, 4, 2 }, y[4] = { 1.5, 4.5, 2.5, 3.5 }, u = 1;
    double sw2 = 0;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_sliced_w2_dirs(x, y, 4, 1, &u, 1, &sw2, err, sizeof err),
                     DODE_OK);
    ck_assert_double_eq_tol(sw2, 0.25, 1e-15);
}
END_TEST

/* A 2-D standard normal with only a log density, for the NLL. */
static int stdnormal_logp(const dode_model *m, void *ws, size_t n, const double *xbar,
                          double sigma, double *logp)
{
    (void)m;
    (void)ws;
    for (size_t i = 0; i < n; i++) {
        const double v = 1 + sigma * sigma, r2 = xbar[2 * i] * xbar[2 * i] +
                                                 xbar[2 * i + 1] * xbar[2 * i + 1];
        logp[i] = -0.5 * r2 / v - log(2 * 3.14159265358979323846 * v);
    }
    return DODE_OK;
}

START_TEST(mean_nll_is_minus_the_mean_log_density_at_sigma)
{
    dode_model m = { .name = "stdnormal", .dim = 2, .log_density = stdnormal_logp };
    const double x[4] = { 1, 0, 0, 2 };
    double nll = 0;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_mean_nll(&m, x, 2, 1.0, &nll, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(nll, log(4 * 3.14159265358979323846) + 0.25 * (1 + 4) / 2, 1e-14);
}
END_TEST

START_TEST(bad_inputs_fail_with_a_message_and_leave_outputs_alone)
{
    const double a[4] = { 1, 2, 3, 4 };
    double out = 42, outs[3] = { 42, 42, 42 };
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_rmse(a, a, 0, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "length 0"));
    ck_assert_int_eq(exp_metric_max_abs(a, a, 0, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_int_eq(exp_metric_trajectory_rmse(a, a, 0, 2, outs, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "0 points"));

    const double nfe[4] = { 10, 20, 40, 0 }, e[4] = { 1e-3, 1e-4, 1e-20, 1e-5 };
    ck_assert_int_eq(exp_metric_observed_order(nfe, e, 3, 20, 1e-13, &out, NULL, err,
                                                sizeof err), DODE_EINVAL);   /* 1 point left */
    ck_assert_ptr_nonnull(strstr(err, "1 of 3 points"));
    ck_assert_int_eq(exp_metric_observed_order(nfe, e, 4, 1, 0, &out, NULL, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "NFE 3 is 0"));
    const double dec[2] = { 20, 10 };
    ck_assert_int_eq(exp_metric_pairwise_orders(dec, e, 2, 0, outs, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "must increase"));
    ck_assert_int_eq(exp_metric_pairwise_orders(nfe, e, 1, 0, outs, err, sizeof err), DODE_EINVAL);

    double mean[2] = { 42, 42 }, cov[4] = { 42, 42, 42, 42 };
    ck_assert_int_eq(exp_metric_moments(a, 1, 2, mean, cov, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "at least 2 samples"));
    const double asym[4] = { 1, 0.5, 0.1, 1 }, eye[4] = { 1, 0, 0, 1 }, neg[4] = { -1, 0, 0, 1 };
    ck_assert_int_eq(exp_metric_frechet_moments(2, a, asym, a, eye, &out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not symmetric"));
    ck_assert_int_eq(exp_metric_frechet_moments(2, a, eye, a, neg, &out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "covariance 2 has diagonal entry 0"));
    ck_assert_int_eq(exp_metric_frechet(a, 2, a, 1, 2, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "2 and 1 of 2"));

    ck_assert_int_eq(exp_metric_sliced_w2_dirs(a, a, 2, 2, eye, 0, &out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "nproj >= 1"));
    ck_assert_int_eq(exp_metric_random_directions(NULL, 1, 2, outs, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "generator"));

    dode_model bare = { .name = "bare", .dim = 2 };
    ck_assert_int_eq(exp_metric_mean_nll(&bare, a, 2, 0, &out, err, sizeof err),
                     DODE_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "'bare' has no log density"));

    ck_assert_double_eq(out, 42);
    ck_assert_double_eq(outs[0], 42);
    ck_assert_double_eq(mean[0], 42);
    ck_assert_double_eq(cov[0], 42);
}
END_TEST

START_TEST(kl_of_diagonal_gaussians_matches_the_closed_form)
{
    /* coordinate 0: v1/v2 = 2, shift 1, so (2 + 1 - 1 - log 2); coordinate 1: equal (0) */
    const double m1[2] = { 1, 0 }, v1[2] = { 2, 1 }, m2[2] = { 0, 0 }, v2[2] = { 1, 1 };
    double kl = 42, self = 42;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_kl_diag(m1, v1, m2, v2, 2, &kl, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(kl, 0.5 * (2.0 - log(2.0)), 1e-15);
    ck_assert_int_eq(exp_metric_kl_diag(m1, v1, m1, v1, 2, &self, err, sizeof err), DODE_OK);
    ck_assert_double_eq(self, 0.0);
}
END_TEST

/* n responsibilities rows whose largest entry is counts[k] times at k (soft, not one-hot:
 * the rule is the argmax). */
static double *soft_gamma(const size_t *counts, size_t K, size_t n)
{
    double *g = malloc(n * K * sizeof *g);
    size_t i = 0;
    for (size_t k = 0; k < K; k++)
        for (size_t c = 0; c < counts[k]; c++, i++)
            for (size_t q = 0; q < K; q++)
                g[i * K + q] = q == k ? 0.5 : 0.5 / (double)(K - 1);
    ck_assert_uint_eq(i, n);
    return g;
}

START_TEST(mode_tv_of_samples_in_known_proportions_is_half_the_l1_gap)
{
    const double w[3] = { 0.5, 0.3, 0.2 };
    const size_t exact[3] = { 50, 30, 20 }, off[3] = { 40, 30, 30 };
    double *ge = soft_gamma(exact, 3, 100), *go = soft_gamma(off, 3, 100), tv = 42;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_mode_tv(ge, 100, 3, w, &tv, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(tv, 0.0, 1e-15);
    ck_assert_int_eq(exp_metric_mode_tv(go, 100, 3, w, &tv, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(tv, 0.5 * (0.1 + 0.0 + 0.1), 1e-15);
    free(ge);
    free(go);
}
END_TEST

/* n draws of N(shift, 1) in one dimension from rng. */
static void normals(gsl_rng *rng, size_t n, double shift, double *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] = shift + gsl_ran_gaussian_ziggurat(rng, 1.0);
}

START_TEST(energy_of_a_set_with_itself_is_zero_and_its_u_form_is_minus_twice_the_mean_over_n)
{
    enum { N = 50 };
    double x[2 * N], e = 42, u = 42, pair = 0;
    char err[ERRLEN];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    normals(rng, 2 * N, 0.0, x);             /* N points in 2-D */
    ck_assert_int_eq(exp_metric_energy(x, N, x, N, 2, 0, &e, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(e, 0.0, 1e-13);
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < N; k++)
            if (k != i)
                pair += hypot(x[2 * i] - x[2 * k], x[2 * i + 1] - x[2 * k + 1]) / (N * (N - 1.0));
    /* with x = y the cross term keeps the n zero diagonal pairs the U-form's self terms
     * drop: U = 4 S / n^2 - 4 S / (n (n - 1)) = -2 pair / n, S the sum over i < k */
    ck_assert_int_eq(exp_metric_energy(x, N, x, N, 2, 1, &u, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(u, -2.0 * pair / N, 1e-13);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(energy_is_homogeneous_of_degree_one)
{
    enum { N = 40 };
    double x[N], y[N], cx[N], cy[N], e = 0, ec = 0;
    char err[ERRLEN];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    normals(rng, N, 0.0, x);
    normals(rng, N, 0.7, y);
    for (size_t i = 0; i < N; i++) {
        cx[i] = -3.0 * x[i];
        cy[i] = -3.0 * y[i];
    }
    ck_assert_int_eq(exp_metric_energy(x, N, y, N, 1, 1, &e, err, sizeof err), DODE_OK);
    ck_assert_int_eq(exp_metric_energy(cx, N, cy, N, 1, 1, &ec, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(ec, 3.0 * e, 1e-12 * fabs(e));
    gsl_rng_free(rng);
}
END_TEST

/* The U-statistic over R independent pairs of sets N(0, 1) and N(delta, 1): its mean is
 * within 5 standard errors of 2 E|X - Y| - E|X - X'| - E|Y - Y'| in closed form, with
 * X - Y ~ N(-delta, 2): E|X - Y| = tau sqrt(2/pi) e^(-delta^2 / (2 tau^2)) + delta
 * erf(delta / (tau sqrt 2)), tau = sqrt 2, and E|X - X'| = 2 / sqrt(pi). */
static void energy_against_closed_form(double delta)
{
    enum { N = 300, R = 30 };
    double x[N], y[N], e[R], s = 0, ss = 0;
    char err[ERRLEN];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    for (size_t r = 0; r < R; r++) {
        normals(rng, N, 0.0, x);
        normals(rng, N, delta, y);
        ck_assert_int_eq(exp_metric_energy(x, N, y, N, 1, 1, &e[r], err, sizeof err), DODE_OK);
        s += e[r];
    }
    const double mean = s / R, tau = sqrt(2.0), pi = 3.14159265358979323846;
    for (size_t r = 0; r < R; r++)
        ss += (e[r] - mean) * (e[r] - mean);
    const double se = sqrt(ss / (R - 1.0) / R);
    const double exy = tau * sqrt(2.0 / pi) * exp(-delta * delta / (2 * tau * tau))
                       + delta * erf(delta / (tau * sqrt(2.0)));
    const double closed = 2.0 * exy - 2.0 * 2.0 / sqrt(pi);
    ck_assert_msg(fabs(mean - closed) < 5.0 * se, "delta %g: energy %g +- %g, closed form %g",
                  delta, mean, se, closed);
    if (delta > 0)
        ck_assert(mean > 10.0 * se);            /* a shift is seen, far above the noise */
    gsl_rng_free(rng);
}

START_TEST(energy_of_shifted_gaussians_matches_its_closed_form_and_of_equal_laws_is_zero)
{
    energy_against_closed_form(1.0);            /* 0.5418... */
    energy_against_closed_form(2.5);
    energy_against_closed_form(0.0);            /* unbiased: 0 within the noise */
}
END_TEST

START_TEST(t_interval_uses_students_quantile)
{
    /* 1..5: mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.7764451052 (Student's t table) */
    const double v[6] = { 1, NAN, 2, 3, 4, 5 };
    double mean = 0, lo = 0, hi = 0;
    size_t m = 0;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_t_interval(v, 6, &mean, &lo, &hi, &m, err, sizeof err),
                     DODE_OK);
    ck_assert_uint_eq(m, 5);
    ck_assert_double_eq_tol(mean, 3.0, 1e-15);
    ck_assert_double_eq_tol(hi - mean, 2.7764451052 * sqrt(2.5) / sqrt(5.0), 1e-9);
    ck_assert_double_eq_tol(mean - lo, hi - mean, 1e-15);
}
END_TEST

START_TEST(t_interval_of_three_normal_draws_covers_the_mean_95_percent_of_the_time)
{
    /* 4000 intervals of 3 draws: coverage 0.95 +- 5 binomial standard errors (0.017);
     * the normal quantile 1.96 would cover only ~0.81 with 2 degrees of freedom */
    enum { R = 4000 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    size_t covered = 0;
    for (size_t r = 0; r < R; r++) {
        double v[3], mean, lo, hi;
        normals(rng, 3, 0.0, v);
        ck_assert_int_eq(exp_metric_t_interval(v, 3, &mean, &lo, &hi, NULL, NULL, 0), DODE_OK);
        covered += lo <= 0 && 0 <= hi;
    }
    ck_assert_double_eq_tol((double)covered / R, 0.95, 5 * sqrt(0.95 * 0.05 / R));
    gsl_rng_free(rng);
}
END_TEST

START_TEST(distribution_metrics_refuse_bad_input_with_a_message)
{
    const double a[4] = { 1, 2, 3, 4 }, zero[2] = { 0, 1 };
    double out = 42, lo = 42, hi = 42;
    char err[ERRLEN];
    ck_assert_int_eq(exp_metric_kl_diag(a, a, a, a, 0, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "dim 0"));
    ck_assert_int_eq(exp_metric_kl_diag(a, zero, a, a, 2, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "coordinate 0 are 0 and 1"));
    ck_assert_int_eq(exp_metric_kl_diag(NULL, a, a, a, 2, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "non-NULL"));
    ck_assert_int_eq(exp_metric_mode_tv(a, 0, 2, a, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got n 0, K 2"));
    ck_assert_int_eq(exp_metric_mode_tv(a, 2, 0, a, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got n 2, K 0"));
    ck_assert_int_eq(exp_metric_mode_tv(NULL, 2, 2, a, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "non-NULL"));
    ck_assert_int_eq(exp_metric_energy(a, 1, a, 4, 1, 1, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got 1 and 4 of 1"));
    ck_assert_int_eq(exp_metric_energy(a, 2, a, 2, 0, 1, &out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got 2 and 2 of 0"));
    ck_assert_int_eq(exp_metric_energy(a, 2, NULL, 2, 1, 1, &out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "non-NULL"));
    const double one_left[3] = { 1, NAN, NAN };
    ck_assert_int_eq(exp_metric_t_interval(one_left, 3, &out, &lo, &hi, NULL, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got 1 of 3"));
    ck_assert_int_eq(exp_metric_t_interval(NULL, 0, &out, &lo, &hi, NULL, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got 0 of 0"));
    ck_assert_double_eq(out, 42);
    ck_assert_double_eq(lo, 42);
    ck_assert_double_eq(hi, 42);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, rmse_and_max_error_match_hand_values);
    tcase_add_test(tc, trajectory_error_is_the_rmse_at_each_point);
    tcase_add_test(tc, observed_order_of_an_exact_power_law_is_its_power);
    tcase_add_test(tc, pairwise_orders_of_a_power_law_are_its_power_and_nan_at_the_floor);
    tcase_add_test(tc, moments_match_hand_values);
    tcase_add_test(tc, frechet_of_two_gaussians_in_2d_matches_the_closed_form);
    tcase_add_test(tc, frechet_of_diagonal_gaussians_is_the_sum_of_root_differences);
    tcase_add_test(tc, frechet_of_a_sample_set_with_itself_is_zero);
    tcase_add_test(tc, sliced_w2_of_a_shifted_set_is_the_mean_squared_projected_shift);
    tcase_add_test(tc, sliced_w2_of_a_shift_averages_to_its_squared_length_over_dim);
    tcase_add_test(tc, sliced_w2_compares_order_statistics_not_rows);
    tcase_add_test(tc, mean_nll_is_minus_the_mean_log_density_at_sigma);
    tcase_add_test(tc, bad_inputs_fail_with_a_message_and_leave_outputs_alone);
    tcase_add_test(tc, kl_of_diagonal_gaussians_matches_the_closed_form);
    tcase_add_test(tc, mode_tv_of_samples_in_known_proportions_is_half_the_l1_gap);
    tcase_add_test(tc, energy_of_a_set_with_itself_is_zero_and_its_u_form_is_minus_twice_the_mean_over_n);
    tcase_add_test(tc, energy_is_homogeneous_of_degree_one);
    tcase_add_test(tc, energy_of_shifted_gaussians_matches_its_closed_form_and_of_equal_laws_is_zero);
    tcase_add_test(tc, t_interval_uses_students_quantile);
    tcase_add_test(tc, t_interval_of_three_normal_draws_covers_the_mean_95_percent_of_the_time);
    tcase_add_test(tc, distribution_metrics_refuse_bad_input_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(metrics_suite)
