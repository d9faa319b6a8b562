/* check_grid.c - time grids (grid.h, MATH.md section 4): exact endpoints, each spacing's
 * law (equal steps in t, sqrt t, lambda or sigma^(1/rho)), the DDIM repository's integer
 * sequences recomputed here from their formulas, the appended zero, and every bad input
 * refused with a message naming it and the output left untouched. */
#include <string.h>

#include "testutil.h"

static const char *const named[] = { "ddpm-linear", "ddpm-cosine", "vp-linear", "vp-cosine",
                                     "edm" };
#define NNAMED (sizeof named / sizeof named[0])

static dode_schedule *sched(const char *name)
{
    char err[ERRLEN] = "";
    dode_schedule *s = dode_schedule_new(name, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

static dode_grid make(const dode_schedule *s, dode_spacing sp, size_t steps, int to_zero)
{
    char err[ERRLEN] = "";
    dode_grid g = { 0 };
    dode_grid_opts o;
    dode_grid_opts_init(&o);
    o.spacing = sp;
    o.to_zero = to_zero;
    ck_assert_msg(dode_grid_make(s, &o, steps, &g, err, sizeof err) == DODE_OK, "%s", err);
    return g;
}

/* Strictly decreasing, finite, and t[i] = t(sigma[i]) (to the round trip's 1e-9). */
static void check_shape(const dode_schedule *s, const dode_grid *g)
{
    for (size_t i = 0; i <= g->steps; i++) {
        ck_assert(isfinite(g->sigma[i]) && isfinite(g->t[i]));
        ck_assert(i == 0 || g->sigma[i] < g->sigma[i - 1]);
        ck_assert(i == 0 || g->t[i] < g->t[i - 1]);
        const double want = dode_schedule_t(s, g->sigma[i]);
        ck_assert_double_eq_tol(g->t[i], want, 1e-9 * fabs(want));
    }
}

START_TEST(grids_run_exactly_from_sigma_of_t_max_to_sigma_of_t_min)
{
    for (size_t k = 0; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        const double smax = dode_schedule_sigma(s, dode_schedule_t_max(s));
        const double smin = dode_schedule_sigma(s, dode_schedule_t_min(s));
        for (int sp = DODE_SPACING_UNIFORM_T; sp <= DODE_SPACING_KARRAS; sp++) {
            dode_grid g = make(s, (dode_spacing)sp, 13, 0);
            ck_assert_uint_eq(g.steps, 13);
            ck_assert_double_eq(g.sigma[0], smax);
            ck_assert_double_eq(g.sigma[13], smin);
            ck_assert_double_eq(g.t[0], dode_schedule_t_max(s));
            ck_assert_double_eq(g.t[13], dode_schedule_t_min(s));
            check_shape(s, &g);
            dode_grid_free(&g);
        }
        dode_schedule_free(s);
    }
}
END_TEST

START_TEST(explicit_time_range_sets_the_endpoints)
{
    char err[ERRLEN] = "";
    dode_schedule *s = sched("vp-linear");
    dode_grid_opts o;
    dode_grid_opts_init(&o);
    o.t_max = 0.8;
    o.t_min = 0.01;
    dode_grid g = { 0 };
    ck_assert_int_eq(dode_grid_make(s, &o, 7, &g, err, sizeof err), DODE_OK);
    ck_assert_double_eq(g.sigma[0], dode_schedule_sigma(s, 0.8));
    ck_assert_double_eq(g.sigma[7], dode_schedule_sigma(s, 0.01));
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

/* lambda_i = -log sigma_i uniform: differences equal to rounding of |lambda| ~ 5. */
START_TEST(logsnr_lambda_differences_are_equal)
{
    for (size_t k = 0; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        dode_grid g = make(s, DODE_SPACING_LOGSNR, 20, 0);
        const double h = (log(g.sigma[0]) - log(g.sigma[20])) / 20;
        for (size_t i = 0; i < 20; i++)
            ck_assert_double_eq_tol(log(g.sigma[i]) - log(g.sigma[i + 1]), h, 1e-12);
        dode_grid_free(&g);
        dode_schedule_free(s);
    }
}
END_TEST

/* EDM eq. 5 recomputed here, for two rho. */
START_TEST(karras_sigmas_follow_the_edm_formula)
{
    static const double rhos[] = { 7.0, 3.0 };
    char err[ERRLEN] = "";
    dode_schedule *s = sched("edm");
    for (size_t r = 0; r < 2; r++) {
        dode_grid_opts o;
        dode_grid_opts_init(&o);
        o.spacing = DODE_SPACING_KARRAS;
        o.rho = rhos[r];
        dode_grid g = { 0 };
        ck_assert_int_eq(dode_grid_make(s, &o, 18, &g, err, sizeof err), DODE_OK);
        const double a = pow(80.0, 1 / rhos[r]), b = pow(0.002, 1 / rhos[r]);
        for (size_t i = 0; i <= 18; i++) {
            const double want = pow(a + (double)i / 18 * (b - a), rhos[r]);
            ck_assert_double_eq_tol(g.sigma[i], want, 1e-12 * want);
        }
        dode_grid_free(&g);
    }
    dode_schedule_free(s);
}
END_TEST

/* t differences equal (uniform-t) and sqrt(t) differences equal (quadratic-t), to the
 * rounding of t_max ~ 1. */
START_TEST(uniform_and_quadratic_t_steps_are_equal)
{
    dode_schedule *s = sched("ddpm-linear");
    dode_grid u = make(s, DODE_SPACING_UNIFORM_T, 25, 0);
    dode_grid q = make(s, DODE_SPACING_QUADRATIC_T, 25, 0);
    const double hu = (u.t[0] - u.t[25]) / 25, hq = (sqrt(q.t[0]) - sqrt(q.t[25])) / 25;
    for (size_t i = 0; i < 25; i++) {
        ck_assert_double_eq_tol(u.t[i] - u.t[i + 1], hu, 1e-14);
        ck_assert_double_eq_tol(sqrt(q.t[i]) - sqrt(q.t[i + 1]), hq, 1e-14);
        ck_assert_double_eq(u.sigma[i], dode_schedule_sigma(s, u.t[i]));
    }
    dode_grid_free(&u);
    dode_grid_free(&q);
    dode_schedule_free(s);
}
END_TEST

START_TEST(to_zero_appends_exactly_one_zero)
{
    for (size_t k = 0; k < NNAMED; k++) {
        dode_schedule *s = sched(named[k]);
        for (int sp = DODE_SPACING_UNIFORM_T; sp <= DODE_SPACING_KARRAS; sp++) {
            dode_grid g = make(s, (dode_spacing)sp, 9, 1);
            ck_assert_uint_eq(g.steps, 10);
            ck_assert_double_eq(g.sigma[9], dode_schedule_sigma(s, dode_schedule_t_min(s)));
            ck_assert_double_eq(g.sigma[10], 0.0);
            ck_assert_double_eq(g.t[10], dode_schedule_t(s, 0.0));
            for (size_t i = 0; i < 10; i++)
                ck_assert(g.sigma[i] > 0 && isfinite(g.sigma[i]) && !isnan(g.t[i]));
            dode_grid_free(&g);
        }
        dode_schedule_free(s);
    }
}
END_TEST

/* sigma of level n from alphas_cumprod, and its time (n+1)/N. */
static void check_level(const dode_schedule *s, const dode_grid *g, size_t i, size_t n)
{
    const double *abar = dode_schedule_alphas_cumprod(s);
    const double N = (double)dode_schedule_levels(s);
    ck_assert_double_eq(g->sigma[i], sqrt((1 - abar[n]) / abar[n]));
    ck_assert_double_eq(g->t[i], (double)(n + 1) / N);
}

START_TEST(ddim_uniform_10_steps_are_levels_900_to_0_then_zero)
{
    dode_schedule *s = sched("ddpm-linear");
    dode_grid g = make(s, DODE_SPACING_DDIM_UNIFORM, 10, 0);
    ck_assert_uint_eq(g.steps, 10);
    for (size_t i = 0; i < 10; i++)
        check_level(s, &g, i, 900 - 100 * i);
    ck_assert_double_eq(g.sigma[10], 0.0);
    ck_assert_double_eq(g.t[10], dode_schedule_t(s, 0.0));
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

/* range(0, 1000, 1000 // 15 = 66) has 16 levels, 0 .. 990. */
START_TEST(ddim_uniform_15_steps_give_16_levels_and_zero)
{
    dode_schedule *s = sched("ddpm-linear");
    dode_grid g = make(s, DODE_SPACING_DDIM_UNIFORM, 15, 0);
    ck_assert_uint_eq(g.steps, 16);
    for (size_t i = 0; i < 16; i++)
        check_level(s, &g, i, 66 * (15 - i));
    ck_assert_double_eq(g.sigma[16], 0.0);
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

/* Levels int(linspace(0, sqrt(0.8 N), S)^2) recomputed here, highest first. */
static void check_ddim_quad(const char *name, size_t S)
{
    dode_schedule *s = sched(name);
    const size_t N = dode_schedule_levels(s);
    const double stop = sqrt(0.8 * (double)N);
    dode_grid g = make(s, DODE_SPACING_DDIM_QUAD, S, 0);
    ck_assert_uint_eq(g.steps, S);
    for (size_t k = 0; k < S; k++) {
        const double v = k == S - 1 ? stop : (double)k * (stop / (double)(S - 1));
        check_level(s, &g, S - 1 - k, (size_t)(v * v));
        ck_assert(k == 0 || g.sigma[k] <= g.sigma[k - 1]);
    }
    ck_assert_double_eq(g.sigma[S], 0.0);
    dode_grid_free(&g);
    dode_schedule_free(s);
}

START_TEST(ddim_quad_follows_its_formula_from_level_int_0_8_n)
{
    check_ddim_quad("ddpm-linear", 10);
    check_ddim_quad("ddpm-cosine", 10);
    check_ddim_quad("ddpm-linear", 37);
    dode_schedule *s = sched("ddpm-linear");
    dode_grid g = make(s, DODE_SPACING_DDIM_QUAD, 10, 0);
    check_level(s, &g, 0, (size_t)(0.8 * 1000));        /* sqrt(800)^2 rounds to >= 800 */
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

/* S = 100: linspace step sqrt(800)/99 = 0.286, so levels 0, 0, 0, 0 (k^2 0.08 < 1) repeat
 * and each is kept (each costs an NFE in the DDIM code). */
START_TEST(ddim_quad_keeps_repeated_levels)
{
    check_ddim_quad("ddpm-linear", 100);
    dode_schedule *s = sched("ddpm-linear");
    dode_grid g = make(s, DODE_SPACING_DDIM_QUAD, 100, 0);
    ck_assert_double_eq(g.sigma[99], g.sigma[98]);
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

START_TEST(from_sigmas_copies_and_fills_t)
{
    static const double sig[4] = { 10.0, 2.0, 0.5, 0.0 }, up[3] = { 0.0, 0.1, 0.1 + 1e-9 };
    char err[ERRLEN] = "";
    dode_schedule *s = sched("ddpm-linear");
    dode_grid g = { 0 };
    ck_assert_int_eq(dode_grid_from_sigmas(s, sig, 4, &g, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(g.steps, 3);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_double_eq(g.sigma[i], sig[i]);
        ck_assert_double_eq(g.t[i], dode_schedule_t(s, sig[i]));
    }
    dode_grid_free(&g);
    ck_assert_ptr_null(g.sigma);
    ck_assert_ptr_null(g.t);
    ck_assert_int_eq(dode_grid_from_sigmas(s, up, 3, &g, err, sizeof err), DODE_OK);
    dode_grid_free(&g);
    dode_grid_free(NULL);
    dode_schedule_free(s);
}
END_TEST

START_TEST(spacing_names_parse_back)
{
    char err[ERRLEN] = "";
    for (int i = 0; i < DODE_SPACING_COUNT; i++) {
        dode_spacing sp = DODE_SPACING_LOGSNR;
        ck_assert_int_eq(dode_spacing_parse(dode_spacing_name((dode_spacing)i), &sp, err,
                                            sizeof err), DODE_OK);
        ck_assert_int_eq(sp, i);
    }
    ck_assert_str_eq(dode_spacing_name(DODE_SPACING_KARRAS), "karras");
    dode_grid_opts o;
    dode_grid_opts_init(&o);
    ck_assert_int_eq(o.spacing, DODE_SPACING_LOGSNR);
    ck_assert(isnan(o.t_max) && isnan(o.t_min) && o.rho == 7.0 && !o.to_zero);
}
END_TEST

/* ---- bad input: the code, a message naming the problem, *out untouched ---------------- */

static void expect_make_fails(const char *name, const dode_grid_opts *o, size_t steps,
                              int code, const char *needle1, const char *needle2)
{
    char err[ERRLEN] = "";
    double sentinel_sigma[1] = { -1.0 }, sentinel_t[1] = { -2.0 };
    dode_schedule *s = sched(name);
    dode_grid g = { .steps = 77, .sigma = sentinel_sigma, .t = sentinel_t };
    ck_assert_int_eq(dode_grid_make(s, o, steps, &g, err, sizeof err), code);
    ck_assert_msg(strstr(err, needle1) != NULL, "\"%s\" lacks \"%s\"", err, needle1);
    ck_assert_msg(strstr(err, needle2) != NULL, "\"%s\" lacks \"%s\"", err, needle2);
    ck_assert_uint_eq(g.steps, 77);
    ck_assert_ptr_eq(g.sigma, sentinel_sigma);
    ck_assert_ptr_eq(g.t, sentinel_t);
    dode_schedule_free(s);
}

static dode_grid_opts opts(dode_spacing sp, double t_max, double t_min, double rho)
{
    dode_grid_opts o;
    dode_grid_opts_init(&o);
    o.spacing = sp;
    o.t_max = t_max;
    o.t_min = t_min;
    o.rho = rho;
    return o;
}

START_TEST(zero_steps_are_refused)
{
    dode_grid_opts o = opts(DODE_SPACING_LOGSNR, NAN, NAN, 7);
    expect_make_fails("ddpm-linear", &o, 0, DODE_EINVAL, "steps", "got 0");
    o.spacing = DODE_SPACING_DDIM_UNIFORM;
    expect_make_fails("ddpm-linear", &o, 0, DODE_EINVAL, "steps", "got 0");
}
END_TEST

START_TEST(t_min_not_below_t_max_is_refused_naming_both)
{
    dode_grid_opts o = opts(DODE_SPACING_UNIFORM_T, 0.5, 1.0, 7);
    expect_make_fails("vp-linear", &o, 10, DODE_EINVAL, "t-min 1 ", "t-max 0.5");
    o.t_min = 0.5;
    expect_make_fails("vp-linear", &o, 10, DODE_EINVAL, "t-min 0.5 ", "t-max 0.5");
    o = opts(DODE_SPACING_LOGSNR, NAN, 2.0, 7);             /* default t_max = 1 */
    expect_make_fails("ddpm-linear", &o, 10, DODE_EINVAL, "t-min 2 ", "t-max 1");
}
END_TEST

START_TEST(times_outside_the_schedule_are_refused)
{
    dode_grid_opts o = opts(DODE_SPACING_LOGSNR, 2.0, NAN, 7);
    expect_make_fails("ddpm-linear", &o, 10, DODE_EINVAL, "t-max 2 ", "ddpm-linear");
    o.t_max = 0.995;
    expect_make_fails("vp-cosine", &o, 10, DODE_EINVAL, "t-max 0.995 ", "0.9946");
    o = opts(DODE_SPACING_KARRAS, NAN, 0.0, 7);
    expect_make_fails("vp-linear", &o, 10, DODE_EINVAL, "t-min 0 ", "sigma = 0");
    o.t_min = 1e-5;                           /* below t(0) ~ 1.7e-4 of ddpm-linear */
    expect_make_fails("ddpm-linear", &o, 10, DODE_EINVAL, "t-min 1e-05 ", "sigma = 0");
    o = opts(DODE_SPACING_UNIFORM_T, INFINITY, NAN, 7);
    expect_make_fails("edm", &o, 10, DODE_EINVAL, "t-max inf", "finite");
    o = opts(DODE_SPACING_UNIFORM_T, NAN, -INFINITY, 7);
    expect_make_fails("edm", &o, 10, DODE_EINVAL, "t-min -inf", "finite");
}
END_TEST

START_TEST(edm_accepts_times_above_80)
{
    char err[ERRLEN] = "";
    dode_schedule *s = sched("edm");
    dode_grid_opts o = opts(DODE_SPACING_KARRAS, 200.0, NAN, 7);
    dode_grid g = { 0 };
    ck_assert_int_eq(dode_grid_make(s, &o, 5, &g, err, sizeof err), DODE_OK);
    ck_assert_double_eq(g.sigma[0], 200.0);
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

START_TEST(non_positive_rho_is_refused)
{
    dode_grid_opts o = opts(DODE_SPACING_KARRAS, NAN, NAN, 0.0);
    expect_make_fails("edm", &o, 10, DODE_EINVAL, "rho", "rho = 0");
    o.rho = -3;
    expect_make_fails("edm", &o, 10, DODE_EINVAL, "rho", "rho = -3");
    o.rho = NAN;
    expect_make_fails("edm", &o, 10, DODE_EINVAL, "rho", "rho = nan");
}
END_TEST

START_TEST(ddim_spacings_need_a_discrete_schedule)
{
    dode_grid_opts o = opts(DODE_SPACING_DDIM_UNIFORM, NAN, NAN, 7);
    expect_make_fails("vp-linear", &o, 10, DODE_EINVAL, "ddim-uniform", "vp-linear");
    o.spacing = DODE_SPACING_DDIM_QUAD;
    expect_make_fails("edm", &o, 10, DODE_EINVAL, "ddim-quad", "edm");
}
END_TEST

START_TEST(more_ddim_steps_than_levels_are_refused)
{
    dode_grid_opts o = opts(DODE_SPACING_DDIM_UNIFORM, NAN, NAN, 7);
    expect_make_fails("ddpm-linear", &o, 1001, DODE_EINVAL, "1001 steps", "1000");
    o.spacing = DODE_SPACING_DDIM_QUAD;
    expect_make_fails("ddpm-cosine", &o, 997, DODE_EINVAL, "997 steps", "996");
}
END_TEST

START_TEST(unknown_spacing_is_refused_with_the_valid_names)
{
    char err[ERRLEN] = "";
    dode_spacing sp = DODE_SPACING_KARRAS;
    ck_assert_int_eq(dode_spacing_parse("logSNR", &sp, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "\"logSNR\""));
    ck_assert_ptr_nonnull(strstr(err, "uniform-t"));
    ck_assert_ptr_nonnull(strstr(err, "ddim-quad"));
    ck_assert_int_eq(sp, DODE_SPACING_KARRAS);
    ck_assert_int_eq(dode_spacing_parse(NULL, &sp, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_int_eq(sp, DODE_SPACING_KARRAS);
}
END_TEST

static void expect_from_sigmas_fails(const double *sig, size_t n, const char *needle)
{
    char err[ERRLEN] = "";
    double sentinel_sigma[1] = { -1.0 }, sentinel_t[1] = { -2.0 };
    dode_schedule *s = sched("vp-linear");
    dode_grid g = { .steps = 77, .sigma = sentinel_sigma, .t = sentinel_t };
    ck_assert_int_eq(dode_grid_from_sigmas(s, sig, n, &g, err, sizeof err), DODE_EINVAL);
    ck_assert_msg(strstr(err, needle) != NULL, "\"%s\" lacks \"%s\"", err, needle);
    ck_assert(g.steps == 77 && g.sigma == sentinel_sigma && g.t == sentinel_t);
    dode_schedule_free(s);
}

START_TEST(bad_sigma_lists_are_refused)
{
    const double zigzag[4] = { 3, 2, 2.5, 1 }, neg[3] = { 2, 1, -0.5 };
    const double nan3[3] = { 2, NAN, 1 }, flat[3] = { 1, 1, 1 }, inf2[2] = { INFINITY, 1 };
    expect_from_sigmas_fails(zigzag, 4, "sigma[2] = 2.5");
    expect_from_sigmas_fails(neg, 3, "sigma[2] = -0.5");
    expect_from_sigmas_fails(nan3, 3, "sigma[1] = nan");
    expect_from_sigmas_fails(flat, 3, "all 3 sigmas equal");
    expect_from_sigmas_fails(inf2, 2, "sigma[0] = inf");
    expect_from_sigmas_fails(neg, 1, ">= 2 points");
}
END_TEST

static Suite *grid_suite(void)
{
    Suite *s = suite_create("grid");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, grids_run_exactly_from_sigma_of_t_max_to_sigma_of_t_min);
    tcase_add_test(tc, explicit_time_range_sets_the_endpoints);
    tcase_add_test(tc, logsnr_lambda_differences_are_equal);
    tcase_add_test(tc, karras_sigmas_follow_the_edm_formula);
    tcase_add_test(tc, uniform_and_quadratic_t_steps_are_equal);
    tcase_add_test(tc, to_zero_appends_exactly_one_zero);
    tcase_add_test(tc, ddim_uniform_10_steps_are_levels_900_to_0_then_zero);
    tcase_add_test(tc, ddim_uniform_15_steps_give_16_levels_and_zero);
    tcase_add_test(tc, ddim_quad_follows_its_formula_from_level_int_0_8_n);
    tcase_add_test(tc, ddim_quad_keeps_repeated_levels);
    tcase_add_test(tc, from_sigmas_copies_and_fills_t);
    tcase_add_test(tc, spacing_names_parse_back);
    tcase_add_test(tc, zero_steps_are_refused);
    tcase_add_test(tc, t_min_not_below_t_max_is_refused_naming_both);
    tcase_add_test(tc, times_outside_the_schedule_are_refused);
    tcase_add_test(tc, edm_accepts_times_above_80);
    tcase_add_test(tc, non_positive_rho_is_refused);
    tcase_add_test(tc, ddim_spacings_need_a_discrete_schedule);
    tcase_add_test(tc, more_ddim_steps_than_levels_are_refused);
    tcase_add_test(tc, unknown_spacing_is_refused_with_the_valid_names);
    tcase_add_test(tc, bad_sigma_lists_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(grid_suite)
