/* check_schedule.c - the noise schedules (schedule.h, MATH.md section 3): exact inverses
 * on every schedule, the discrete levels against alphas_cumprod computed here from the
 * betas, the ddpm-cosine clipping rule, d sigma/dt against central differences, and every
 * bad input refused with a message naming it. */
#include <string.h>

#include "testutil.h"

static const char *const named[] = { "ddpm-linear", "ddpm-cosine", "vp-linear", "vp-cosine",
                                     "edm" };
#define NNAMED (sizeof named / sizeof named[0])
#define NLIN 1000

static dode_schedule *sched(const char *name)
{
    char err[ERRLEN] = "";
    dode_schedule *s = dode_schedule_new(name, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

/* DDPM linear betas, linspace(1e-4, 0.02, N) (Ho et al. 2020). */
static void linear_betas(double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = 1e-4 + (0.02 - 1e-4) * (double)i / (double)(n - 1);
}

/* i-DDPM cosine abar(t) = cos^2((t + s)/(1 + s) pi/2), s = 0.008 (Nichol & Dhariwal). */
static double cosine_abar(double t)
{
    const double c = cos((t + 0.008) / 1.008 * 3.14159265358979323846 / 2);
    return c * c;
}

/* t in [t_min, t_max]: half the points uniform, half geometric (dense near t_min). */
static double probe_t(const dode_schedule *s, int i, int n)
{
    const double lo = dode_schedule_t_min(s), hi = dode_schedule_t_max(s);
    const double u = (double)(i / 2) / (double)(n / 2 - 1);
    return i % 2 == 0 ? lo + u * (hi - lo) : lo * pow(hi / lo, u);
}

/* t(sigma(t)) = t and t(lambda(t)) = t to 1e-9 relative (MATH.md section 3's test). */
static void check_round_trips(const dode_schedule *s)
{
    for (int i = 0; i < 400; i++) {
        const double t = probe_t(s, i, 400);
        const double sigma = dode_schedule_sigma(s, t), lambda = dode_schedule_lambda(s, t);
        ck_assert_msg(fabs(dode_schedule_t(s, sigma) - t) <= 1e-9 * t, "%s: t(sigma(%.17g))"
                      " = %.17g", dode_schedule_name(s), t, dode_schedule_t(s, sigma));
        ck_assert_msg(fabs(dode_schedule_t_of_lambda(s, lambda) - t) <= 1e-9 * t,
                      "%s: t(lambda(%.17g))", dode_schedule_name(s), t);
        ck_assert_double_eq_tol(lambda, -log(sigma), 1e-15 * fabs(lambda) + 1e-300);
    }
}

START_TEST(t_of_sigma_inverts_sigma_on_every_named_schedule)
{
    for (size_t k = 0; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        ck_assert_str_eq(dode_schedule_name(s), named[k]);
        check_round_trips(s);
        dode_schedule_free(s);
    }
}
END_TEST

START_TEST(t_of_sigma_inverts_sigma_on_alphas_cumprod_schedule)
{
    double abar[NLIN], b[NLIN], prod = 1;
    char err[ERRLEN] = "";
    linear_betas(b, NLIN);
    for (size_t i = 0; i < NLIN; i++)
        abar[i] = (prod *= 1.0 - b[i]);
    dode_schedule *s = dode_schedule_discrete_new("mine", "alphas_cumprod", abar, NLIN,
                                                  -INFINITY, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(dode_schedule_name(s), "mine");
    ck_assert_uint_eq(dode_schedule_levels(s), NLIN);
    check_round_trips(s);
    for (size_t i = 0; i < NLIN; i++)         /* the array is copied as given */
        ck_assert_double_eq(dode_schedule_alphas_cumprod(s)[i], abar[i]);
    dode_schedule_free(s);
}
END_TEST

/* sigma(t_n) = sqrt((1 - abar_n)/abar_n), abar_n = prod(1 - beta): both sides round
 * 1 - abar_n (>= 1e-4) to ~1e-16, so 1e-12 relative holds with margin. */
START_TEST(discrete_sigmas_at_levels_match_alphas_cumprod)
{
    double b[NLIN], prod = 1;
    dode_schedule *s = sched("ddpm-linear");
    linear_betas(b, NLIN);
    ck_assert_uint_eq(dode_schedule_levels(s), NLIN);
    const double *acp = dode_schedule_alphas_cumprod(s);
    ck_assert_ptr_nonnull(acp);
    for (size_t n = 0; n < NLIN; n++) {
        prod *= 1.0 - b[n];
        const double want = sqrt((1.0 - prod) / prod), t = (double)(n + 1) / NLIN;
        ck_assert_double_eq_tol(dode_schedule_sigma(s, t), want, 1e-12 * want);
        ck_assert_double_eq_tol(acp[n], prod, 1e-14 * prod);
        ck_assert_double_eq_tol(dode_schedule_model_time(s, t), (double)n, 1e-9);
    }
    ck_assert_double_eq(dode_schedule_t_min(s), 1.0 / NLIN);
    ck_assert_double_eq(dode_schedule_t_max(s), 1.0);
    dode_schedule_free(s);
}
END_TEST

/* DPM-Solver drops the cosine levels with lambda_n < -5.1; count them here from the
 * cosine formula (beta capped at 0.999) and expect N' = 1000 - that count. */
START_TEST(ddpm_cosine_keeps_levels_with_lambda_above_minus_5_1)
{
    double prod = 1, lambda[NLIN];
    for (size_t n = 0; n < NLIN; n++) {
        const double beta = fmin(1.0 - cosine_abar((n + 1.0) / NLIN) / cosine_abar(
                                           (double)n / NLIN), 0.999);
        prod *= 1.0 - beta;
        lambda[n] = 0.5 * log(prod / (1.0 - prod));
    }
    size_t keep = NLIN;
    while (keep > 0 && lambda[keep - 1] < -5.1)
        keep--;
    ck_assert_uint_gt(keep, NLIN - 10);      /* only the last few levels go */
    ck_assert_uint_lt(keep, NLIN);
    dode_schedule *s = sched("ddpm-cosine");
    ck_assert_uint_eq(dode_schedule_levels(s), keep);
    ck_assert_double_eq(dode_schedule_t_min(s), 1.0 / (double)keep);
    ck_assert_double_ge(dode_schedule_lambda(s, 1.0), -5.1);
    dode_schedule_free(s);
}
END_TEST

/* Central difference, error ~ (h/d)^2 sigma' relative, d the distance over which sigma
 * changes scale: t near 0 (sigma ~ sqrt(t) on vp-linear), and 1 - t for vp-cosine (sigma
 * ~ 1/cos, a pole at t = 1). h = 1e-5 d gives ~1e-10, rounding 1e-16 sigma/(h sigma')
 * ~1e-11; 1e-7 relative leaves room for the O(1) factors. */
START_TEST(dsigma_dt_matches_central_differences_on_continuous_schedules)
{
    for (size_t k = 2; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        for (int i = 0; i < 100; i++) {
            const double t = probe_t(s, i, 100);
            const double h = 1e-5 * t * (strcmp(named[k], "vp-cosine") == 0 ? 1 - t : 1);
            const double fd = (dode_schedule_sigma(s, t + h) - dode_schedule_sigma(s, t - h))
                              / (2 * h);
            const double d = dode_schedule_dsigma_dt(s, t);
            ck_assert_msg(fabs(d - fd) <= 1e-7 * fabs(fd), "%s t=%g: %.17g vs %.17g",
                          named[k], t, d, fd);
        }
        dode_schedule_free(s);
    }
}
END_TEST

/* Discrete: log a is linear inside a segment, so probe segment midpoints; the error is
 * sigma's curvature in log a, worst at level 0 where sigma ~ sqrt(-2 log a):
 * (h dlog a/dt / log a)^2 ~ (1e-8 * 0.06 / 7.5e-5)^2 ~ 1e-10 with h = 1e-5/N. */
START_TEST(dsigma_dt_matches_central_differences_inside_discrete_segments)
{
    for (size_t k = 0; k < 2; k++) {
        dode_schedule *s = sched(named[k]);
        const double N = (double)dode_schedule_levels(s);
        for (size_t n = 0; n + 1 < dode_schedule_levels(s); n += 7) {
            const double t = (n + 1.5) / N, h = 1e-5 / N;
            const double fd = (dode_schedule_sigma(s, t + h) - dode_schedule_sigma(s, t - h))
                              / (2 * h);
            const double d = dode_schedule_dsigma_dt(s, t);
            ck_assert_msg(fabs(d - fd) <= 1e-7 * fabs(fd), "%s t=%g: %.17g vs %.17g",
                          named[k], t, d, fd);
        }
        dode_schedule_free(s);
    }
}
END_TEST

START_TEST(sigma_increases_and_lambda_decreases_in_t)
{
    for (size_t k = 0; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        const double lo = dode_schedule_t_min(s), hi = dode_schedule_t_max(s);
        double prev = 0, prev_lambda = INFINITY;
        for (int i = 0; i <= 2000; i++) {
            const double t = lo + (hi - lo) * i / 2000.0;
            const double sigma = dode_schedule_sigma(s, t), lambda = dode_schedule_lambda(s, t);
            ck_assert_msg(sigma > prev && lambda < prev_lambda, "%s at t = %g", named[k], t);
            ck_assert(dode_schedule_dsigma_dt(s, t) > 0);
            prev = sigma;
            prev_lambda = lambda;
        }
        dode_schedule_free(s);
    }
}
END_TEST

/* dode_schedule_sigma_many equals dode_schedule_sigma bit for bit: Gauss-Legendre-like
 * runs inside one segment, runs crossing levels, times on the levels themselves, out of
 * order, the ends, and the zero-SNR last segment; every kind of schedule. */
START_TEST(sigma_many_equals_sigma_bit_for_bit)
{
    static const char *const all[] = { "ddpm-linear", "ddpm-cosine", "ddpm-linear-zsnr",
                                       "vp-linear", "vp-cosine", "edm", "flow" };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        dode_schedule *s = test_schedule(all[k]);
        const double lo = dode_schedule_t_min(s), hi = dode_schedule_t_max(s);
        const size_t N = dode_schedule_levels(s);
        enum { M = 700 };
        double t[M], many[M];
        for (size_t i = 0; i < M; i++) {
            const double u = (double)i / (M - 1);
            if (i < 200)                        /* 16-point runs inside one level segment */
                t[i] = N > 1 ? ((double)(i / 16 * 37 % (N - 1)) + 1.0 + (i % 16 + 0.5) / 17.0) / N
                             : lo + (hi - lo) * u;
            else if (i < 300)                   /* the levels themselves */
                t[i] = N > 1 ? (double)((i - 200) * (N / 100) + 1) / N : lo + (hi - lo) * u;
            else if (i < 500)                   /* sorted across many levels */
                t[i] = lo + (hi - lo) * u;
            else                                /* out of order */
                t[i] = lo + (hi - lo) * fmod(u * 7919.0, 1.0);
            t[i] = fmin(fmax(t[i], lo), hi);
        }
        t[0] = lo, t[M - 1] = hi;
        dode_schedule_sigma_many(s, M, t, many);
        for (size_t i = 0; i < M; i++) {
            const double one = dode_schedule_sigma(s, t[i]);
            ck_assert_msg(memcmp(&one, &many[i], sizeof one) == 0, "%s at t = %.17g: %.17g "
                          "vs %.17g", all[k], t[i], many[i], one);
        }
        dode_schedule_free(s);
    }
}
END_TEST

/* sigma = 0 is where log a = 0: extrapolated below t_1 for discrete, 0 otherwise. */
START_TEST(sigma_zero_maps_to_the_time_where_alpha_is_one)
{
    for (size_t k = 0; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        const double t0 = dode_schedule_t(s, 0.0);
        ck_assert_double_eq_tol(dode_schedule_log_alpha(s, t0), 0.0, 1e-17);
        ck_assert(t0 >= 0 && t0 < dode_schedule_t_min(s));
        if (dode_schedule_levels(s) == 0)
            ck_assert_double_eq(t0, 0.0);
        ck_assert_double_eq(dode_schedule_t_of_lambda(s, INFINITY), t0);
        dode_schedule_free(s);
    }
}
END_TEST

START_TEST(continuous_schedules_have_their_documented_ranges)
{
    static const double t_max[] = { 1.0, 0.9946, 80.0 }, t_min[] = { 1e-3, 1e-3, 0.002 };
    for (size_t k = 2; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        ck_assert_double_eq(dode_schedule_t_max(s), t_max[k - 2]);
        ck_assert_double_eq(dode_schedule_t_min(s), t_min[k - 2]);
        ck_assert_uint_eq(dode_schedule_levels(s), 0);
        ck_assert_ptr_null(dode_schedule_alphas_cumprod(s));
        ck_assert_double_eq(dode_schedule_model_time(s, 0.5), 0.5);
        dode_schedule_free(s);
    }
    dode_schedule *edm = sched("edm");
    ck_assert_double_eq(dode_schedule_sigma(edm, 3.5), 3.5);
    ck_assert_double_eq(dode_schedule_dsigma_dt(edm, 3.5), 1.0);
    ck_assert_double_eq_tol(dode_schedule_log_alpha(edm, 3.5), -0.5 * log1p(12.25), 1e-15);
    ck_assert(isinf(dode_schedule_t_limit(edm)));
    dode_schedule_free(edm);
}
END_TEST

/* vp-linear and vp-cosine log a against MATH.md's closed forms. */
START_TEST(continuous_log_alpha_matches_closed_forms)
{
    dode_schedule *lin = sched("vp-linear"), *cosine = sched("vp-cosine");
    for (int i = 1; i <= 99; i++) {
        const double t = i / 100.0;
        ck_assert_double_eq_tol(dode_schedule_log_alpha(lin, t),
                                -19.9 * t * t / 4 - 0.05 * t, 1e-14);
        /* this direct form rounds the ratio (near 1) to ~1e-16 absolute */
        const double want = 0.5 * log(cosine_abar(t) / cosine_abar(0.0));
        ck_assert_double_eq_tol(dode_schedule_log_alpha(cosine, t), want,
                                1e-15 + 1e-13 * fabs(want));
    }
    dode_schedule_free(lin);
    dode_schedule_free(cosine);
}
END_TEST

START_TEST(free_accepts_null)
{
    dode_schedule_free(NULL);
}
END_TEST

START_TEST(unknown_name_is_refused_with_the_valid_names)
{
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_schedule_new("ddpm-quadratic", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ddpm-quadratic"));
    ck_assert_ptr_nonnull(strstr(err, "ddpm-linear"));
    ck_assert_ptr_nonnull(strstr(err, "vp-cosine"));
    ck_assert_ptr_nonnull(strstr(err, "edm"));
    ck_assert_ptr_null(dode_schedule_new(NULL, err, sizeof err));
}
END_TEST

/* A bad discrete input: NULL back and a message containing `needle`. */
static void expect_refused(const char *kind, const double *v, size_t n, double clip,
                           const char *needle)
{
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_schedule_discrete_new("bad", kind, v, n, clip, err, sizeof err));
    ck_assert_msg(strstr(err, needle) != NULL, "\"%s\" lacks \"%s\"", err, needle);
}

START_TEST(betas_outside_zero_one_are_refused_naming_index_and_value)
{
    double b[5] = { 0.1, 0.2, 0.3, 1.0, 0.4 };
    expect_refused("betas", b, 5, -INFINITY, "betas[3] = 1");
    b[3] = 0.0;
    expect_refused("betas", b, 5, -INFINITY, "betas[3] = 0");
    b[3] = 0.5;
    b[4] = 1.5;         /* the last beta may be 1 (zero terminal SNR), not more */
    expect_refused("betas", b, 5, -INFINITY, "betas[4] = 1.5");
    b[4] = 0.4;
    b[3] = -0.5;
    expect_refused("betas", b, 5, -INFINITY, "betas[3] = -0.5");
    b[3] = NAN;
    expect_refused("betas", b, 5, -INFINITY, "betas[3] = nan");
}
END_TEST

START_TEST(non_decreasing_alphas_cumprod_are_refused_naming_index)
{
    double a[4] = { 0.9, 0.8, 0.8, 0.5 };
    expect_refused("alphas_cumprod", a, 4, -INFINITY, "[2] = 0.8");
    a[2] = 0.85;
    expect_refused("alphas_cumprod", a, 4, -INFINITY, "[2] = 0.85");
    a[2] = 0.7;
    a[0] = 1.5;
    expect_refused("alphas_cumprod", a, 4, -INFINITY, "alphas_cumprod[0] = 1.5");
    a[0] = 0.9;
    a[2] = 0.0;         /* abar = 0 is zero terminal SNR: only the last level may have it */
    expect_refused("alphas_cumprod", a, 4, -INFINITY, "alphas_cumprod[2] = 0");
    a[2] = 0.7;
    a[3] = INFINITY;
    expect_refused("alphas_cumprod", a, 4, -INFINITY, "alphas_cumprod[3] = inf");
}
END_TEST

START_TEST(fewer_than_two_levels_are_refused)
{
    const double b[2] = { 0.1, 0.2 }, a[3] = { 0.9, 1e-4, 1e-6 };
    expect_refused("betas", b, 1, -INFINITY, "n >= 2");
    expect_refused("betas", NULL, 5, -INFINITY, "n >= 2");
    expect_refused("alphas_cumprod", a, 3, 0.0, "only 1 of 3 levels");   /* clip leaves 1 */
    expect_refused("sigmas", b, 2, -INFINITY, "\"sigmas\"");
    expect_refused("betas", b, 2, NAN, "clip_lambda");
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, t_of_sigma_inverts_sigma_on_every_named_schedule);
    tcase_add_test(tc, t_of_sigma_inverts_sigma_on_alphas_cumprod_schedule);
    tcase_add_test(tc, discrete_sigmas_at_levels_match_alphas_cumprod);
    tcase_add_test(tc, ddpm_cosine_keeps_levels_with_lambda_above_minus_5_1);
    tcase_add_test(tc, dsigma_dt_matches_central_differences_on_continuous_schedules);
    tcase_add_test(tc, dsigma_dt_matches_central_differences_inside_discrete_segments);
    tcase_add_test(tc, sigma_increases_and_lambda_decreases_in_t);
    tcase_add_test(tc, sigma_many_equals_sigma_bit_for_bit);
    tcase_add_test(tc, sigma_zero_maps_to_the_time_where_alpha_is_one);
    tcase_add_test(tc, continuous_schedules_have_their_documented_ranges);
    tcase_add_test(tc, continuous_log_alpha_matches_closed_forms);
    tcase_add_test(tc, free_accepts_null);
    tcase_add_test(tc, unknown_name_is_refused_with_the_valid_names);
    tcase_add_test(tc, betas_outside_zero_one_are_refused_naming_index_and_value);
    tcase_add_test(tc, non_decreasing_alphas_cumprod_are_refused_naming_index);
    tcase_add_test(tc, fewer_than_two_levels_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(schedule_suite)
