/* check_sharpened.c - the sharpened target p_w ∝ p(x|c)^w p(x)^(1-w) of a labelled mixture
 * (model/sharpened.c): its normaliser, negative entropy and mode masses by quadrature, its
 * exact log density, and the distance of a sample set to it.
 *
 * Laws checked: Z = 1 at w = 0 and w = 1 (p and p(x|c) are normalised densities) to the
 * quadrature's own error estimate; for one component per class with equal isotropic
 * covariance the target factorises into a Gaussian across the line of the two means times
 * a one-dimensional density along it, so Z, E[log p_w] and the mode masses reduce to 1-D
 * integrals, done here by GSL's adaptive QAGI, an independent rule (the target is not
 * itself Gaussian: p_w = N_c (W_c + W_o N_o / N_c)^(1-w) / Z, and N_o / N_c is the
 * exponential of a linear function); draws from p(x|c) have, at w = 1, a log-density gap
 * and mode fractions within their sampling error of zero and of the target's masses. */
#include <gsl/gsl_integration.h>
#include <gsl/gsl_sf_exp.h>

#include "testutil.h"

static const char *const CLASSES =        /* experiments/configs/gmm2d_classes.json */
    "{\"weights\": [0.3, 0.2, 0.3, 0.2], \"means\": [[-1.0, 0.0], [1.0, 1.0], [0.5, 0.0],"
    " [-0.5, 1.2]], \"stds\": [0.5, 0.4, 0.5, 0.4], \"classes\": [0, 0, 1, 1]}";
static const char *const FULL =
    "{\"weights\": [0.4, 0.35, 0.25], \"means\": [[-1, 0.5], [1.5, 0], [0.5, 2]],"
    " \"covs\": [[[0.3, 0.1], [0.1, 0.2]], [[0.5, -0.2], [-0.2, 0.4]], [[0.1, 0], [0, 0.3]]],"
    " \"classes\": [1, 0, 1]}";
static const char *const ONE_D =
    "{\"weights\": [0.5, 0.2, 0.3], \"means\": [[-1], [0.5], [2]], \"stds\": [0.4, 0.3, 0.6],"
    " \"classes\": [0, 1, 1]}";
/* one component per class, equal isotropic std S: class 1 is component 1 */
#define S 0.5
#define W_C 0.6
#define W_O 0.4
static const char *const TWO =
    "{\"weights\": [0.4, 0.6], \"means\": [[-0.5, 0.2], [0.7, 0.9]], \"stds\": [0.5, 0.5],"
    " \"classes\": [0, 1]}";

static dode_model *from_json(const char *json)
{
    char err[ERRLEN];
    dode_model *m = dode_gmm_from_json_string(json, "test", err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static dode_sharpened *target(const dode_model *m, int c, double w, double sigma)
{
    char err[ERRLEN];
    dode_sharpened *s = dode_sharpened_new(m, c, w, sigma, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert(s->quad_err < 1e-9);
    return s;
}

START_TEST(normaliser_is_one_at_w_zero_and_one)
{
    const char *const jsons[] = { CLASSES, FULL, ONE_D };
    const double sigmas[] = { 0.0, 0.5 };
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 2; k++)
            for (int w = 0; w <= 1; w++) {
                dode_model *m = from_json(jsons[i]);
                dode_sharpened *s = target(m, 1, w, sigmas[k]);
                ck_assert_msg(fabs(s->log_z) <= s->quad_err + 1e-13, "%s w %d sigma %g: log Z "
                              "%g, quad_err %g", jsons[i], w, sigmas[k], s->log_z, s->quad_err);
                double total = 0;
                for (size_t c = 0; c < s->K; c++)
                    total += s->mode_mass[c];
                ck_assert_double_eq_tol(total, 1.0, 1e-12);
                dode_sharpened_free(s);
                dode_model_free(m);
            }
}
END_TEST

/* log p_w = w log p(x|c) + (1-w) log p - log Z, with p and p(x|c) from the models' own
 * log densities (the BLAS-free direct path of each). */
START_TEST(log_density_is_the_sharpened_formula)
{
    char err[ERRLEN];
    dode_model *m = from_json(CLASSES);
    dode_model *mc = dode_gmm_class_new(m, 1, err, sizeof err);
    ck_assert_msg(mc != NULL, "%s", err);
    const size_t n = 50;
    double *x = test_xbar_T(n, 2, 0, 5), lp[50], lu[50], lc[50];
    void *wu = NULL, *wc = NULL;
    ck_assert_int_eq(dode_model_workspace_new(m, n, &wu, err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_model_workspace_new(mc, n, &wc, err, sizeof err), DODE_OK);
    const double ws[] = { 0, 0.5, 1, 3, 15 };
    for (size_t i = 0; i < 5; i++) {
        dode_sharpened *s = target(m, 1, ws[i], 0.3);
        ck_assert_int_eq(dode_sharpened_log_density(s, n, x, lp, NULL, err, sizeof err),
                         DODE_OK);
        ck_assert_int_eq(m->log_density(m, wu, n, x, 0.3, lu), DODE_OK);
        ck_assert_int_eq(mc->log_density(mc, wc, n, x, 0.3, lc), DODE_OK);
        for (size_t r = 0; r < n; r++) {
            const double want = ws[i] * lc[r] + (1 - ws[i]) * lu[r] - s->log_z;
            ck_assert_msg(fabs(lp[r] - want) <= 1e-12 * (1 + fabs(want) + ws[i] * fabs(lc[r])),
                          "w %g row %zu: %.17g vs %.17g", ws[i], r, lp[r], want);
        }
        dode_sharpened_free(s);
    }
    dode_model_workspace_free(m, wu);
    dode_model_workspace_free(mc, wc);
    dode_model_free(mc);
    dode_model_free(m);
    free(x);
}
END_TEST

/* The 1-D factor along e = (mu_o - mu_c) / d of the TWO problem: with u = e . (x - mu_c),
 * p_c^w p^(1-w) = phi_S(u) phi_S(v) f(u), log f = (1-w) log(W_c + W_o exp((u d - d^2/2)/S^2)). */
typedef struct {
    double w, d, log_z;
    int what;   /* 0: phi f; 1: phi f (log phi + log f); 2: the same as 0 */
} line;

static double line_fn(double u, void *p)
{
    const line *l = p;
    const double a = log(W_O) + (u * l->d - 0.5 * l->d * l->d) / (S * S);
    const double lse = fmax(log(W_C), a) + log1p(exp(-fabs(a - log(W_C))));
    const double lf = (1 - l->w) * lse;
    const double lphi = -0.5 * u * u / (S * S) - 0.5 * log(2 * M_PI * S * S);
    const double dens = exp(lphi + lf - l->log_z);
    return l->what == 1 ? dens * (lphi + lf) : dens;
}

static double line_integral(line *l, int what, double from)
{
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
    gsl_function F = { line_fn, l };
    double v, e;
    l->what = what;
    const int rc = isinf(from) ? gsl_integration_qagi(&F, 1e-14, 1e-12, 1000, ws, &v, &e)
                               : gsl_integration_qagiu(&F, from, 1e-14, 1e-12, 1000, ws, &v, &e);
    ck_assert_int_eq(rc, GSL_SUCCESS);
    gsl_integration_workspace_free(ws);
    return v;
}

START_TEST(two_class_target_matches_its_one_dimensional_reduction)
{
    dode_model *m = from_json(TWO);
    const double d = hypot(-0.5 - 0.7, 0.2 - 0.9);
    const double ws[] = { 0, 0.5, 1, 3, 7.5, 15 };
    for (size_t i = 0; i < 6; i++) {
        dode_sharpened *s = target(m, 1, ws[i], 0.0);
        line l = { .w = ws[i], .d = d, .log_z = 0 };
        l.log_z = log(line_integral(&l, 0, -INFINITY));
        /* E log p_w = E[log phi(u) + log f(u)] + E[log phi(v)] - log Z, v ~ N(0, S^2) */
        const double ne = line_integral(&l, 1, -INFINITY)
                        - 0.5 * log(2 * M_PI * S * S) - 0.5 - l.log_z;
        const double ustar = (0.5 * d * d + S * S * log(W_C / W_O)) / d;   /* l_o = l_c */
        const double mass_o = line_integral(&l, 2, ustar);
        ck_assert_msg(fabs(s->log_z - l.log_z) <= s->quad_err + 1e-11, "w %g: log Z %.15g "
                      "vs %.15g (quad_err %g)", ws[i], s->log_z, l.log_z, s->quad_err);
        ck_assert_msg(fabs(s->neg_entropy - ne) <= s->quad_err + 1e-11, "w %g: E log p_w "
                      "%.15g vs %.15g", ws[i], s->neg_entropy, ne);
        ck_assert_msg(fabs(s->mode_mass[0] - mass_o) <= 2 * s->mode_err + 1e-9, "w %g: mass "
                      "%.12g vs %.12g (mode_err %g)", ws[i], s->mode_mass[0], mass_o,
                      s->mode_err);
        dode_sharpened_free(s);
    }
    dode_model_free(m);
}
END_TEST

/* n draws from p(x | c) of the CLASSES mixture (class 1: components 2, 3). */
static double *draw_class1(size_t n, unsigned long seed, int unconditional)
{
    static const double w[4] = { 0.3, 0.2, 0.3, 0.2 }, sd[4] = { 0.5, 0.4, 0.5, 0.4 };
    static const double mu[4][2] = { { -1, 0 }, { 1, 1 }, { 0.5, 0 }, { -0.5, 1.2 } };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *x = malloc(2 * n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        size_t k = unconditional ? 0 : 2;
        double u = gsl_rng_uniform(rng) * (unconditional ? 1.0 : 0.5);
        while (k < 3 && u >= w[k])
            u -= w[k++];
        for (size_t j = 0; j < 2; j++)
            x[2 * i + j] = mu[k][j] + sd[k] * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
    gsl_rng_free(rng);
    return x;
}

START_TEST(exact_class_draws_have_no_gap_at_w_one)
{
    char err[ERRLEN];
    const size_t n = 20000;
    dode_model *m = from_json(CLASSES);
    dode_sharpened *s = target(m, 1, 1.0, 0.0);
    double *x = draw_class1(n, 11, 0);
    dode_sharpened_gap g;
    ck_assert_int_eq(dode_sharpened_compare(s, n, x, &g, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(g.finite, n);
    /* 4 standard errors: a correct target fails this once in 16000 seeds */
    ck_assert_msg(fabs(g.gap) <= 4 / 1.96 * g.gap_half, "gap %g +- %g", g.gap, g.gap_half);
    for (size_t k = 0; k < 4; k++)
        ck_assert_msg(fabs(g.mode_frac[k] - s->mode_mass[k]) <= 4 / 1.96 * g.mode_half[k]
                      + 2 * s->mode_err + 1e-12, "mode %zu: %g vs %g", k, g.mode_frac[k],
                      s->mode_mass[k]);
    dode_sharpened_gap_free(&g);
    /* and the comparison can fail: unconditional draws against the w = 3 target, whose
     * class-0 regions are nearly empty, are many standard errors off */
    dode_sharpened *s3 = target(m, 1, 3.0, 0.0);
    double *xu = draw_class1(n, 12, 1);
    ck_assert_int_eq(dode_sharpened_compare(s3, n, xu, &g, err, sizeof err), DODE_OK);
    ck_assert(fabs(g.mode_frac[0] - s3->mode_mass[0]) > 20 * g.mode_half[0]);
    dode_sharpened_gap_free(&g);
    dode_sharpened_free(s3);
    free(xu);
    dode_sharpened_free(s);
    dode_model_free(m);
    free(x);
}
END_TEST

START_TEST(non_finite_rows_are_counted_not_averaged)
{
    char err[ERRLEN];
    dode_model *m = from_json(CLASSES);
    dode_sharpened *s = target(m, 1, 3.0, 0.0);
    double x[8] = { 0.5, 0, NAN, 1, -0.5, 1.2, INFINITY, 0 };
    dode_sharpened_gap g;
    ck_assert_int_eq(dode_sharpened_compare(s, 4, x, &g, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(g.finite, 2);
    double total = 0;
    for (size_t k = 0; k < 4; k++)
        total += g.mode_frac[k];
    ck_assert_double_eq_tol(total, 0.5, 1e-15);      /* the two bad rows are in no region */
    dode_sharpened_gap_free(&g);
    double bad[2] = { NAN, 0 };
    ck_assert_int_eq(dode_sharpened_compare(s, 1, bad, &g, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "finite"));
    ck_assert(isnan(g.gap));
    dode_sharpened_gap_free(&g);
    ck_assert_int_eq(dode_sharpened_compare(s, 0, x, &g, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no samples"));
    dode_sharpened_gap_free(&g);
    dode_sharpened_free(s);
    dode_model_free(m);
}
END_TEST

START_TEST(bad_targets_are_refused_with_messages)
{
    char err[ERRLEN];
    dode_model *plain = test_gmm2d(), *m = from_json(CLASSES);
    dode_model *three = from_json("{\"weights\": [0.5, 0.5], \"means\": [[0, 0, 0], [1, 1, 1]],"
                                  " \"stds\": [1, 1], \"classes\": [0, 1]}");
    ck_assert_ptr_null(dode_sharpened_new(plain, 0, 2, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "no class labels"));
    ck_assert_ptr_null(dode_sharpened_new(m, 7, 2, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "class 7"));
    ck_assert_ptr_null(dode_sharpened_new(three, 0, 2, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "dim 3"));
    ck_assert_ptr_null(dode_sharpened_new(m, 1, -1, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "w = -1"));
    ck_assert_ptr_null(dode_sharpened_new(m, 1, NAN, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "w = nan"));
    ck_assert_ptr_null(dode_sharpened_new(m, 1, 2, -0.1, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "sigma = -0.1"));
    ck_assert_ptr_null(dode_sharpened_new(NULL, 1, 2, 0, err, sizeof err));
    dode_sharpened_free(NULL);
    dode_model_free(three);
    dode_model_free(m);
    dode_model_free(plain);
}
END_TEST

/* Reads the number after "key": in a JSON line. */
static double json_number(const char *out, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(out, pat);
    ck_assert_msg(at != NULL, "no %s in %s", key, out);
    return strtod(at + strlen(pat), NULL);
}

/* sample --target-metrics: at w = 1 the exact ODE samples p(x|c) (at sigma_min), so an
 * accurate solve has a gap within its interval; bad use exits with the flag named. */
START_TEST(sample_reports_the_distance_to_the_target)
{
    char *dir = test_tmpdir("sharp"), path[1024], out[8192], err[4096], model[1100];
    snprintf(path, sizeof path, "%s/lab.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(CLASSES, f);
    fclose(f);
    snprintf(model, sizeof model, "gmm:%s", path);
    const char *ok[] = { "sample", "--model", model, "--class", "1", "--n", "4000", "--solver",
                         "dpmpp3m", "--nfe", "50", "--target-metrics", NULL };
    ck_assert_int_eq(test_run_diffode(dir, ok, out, err, sizeof out), 0);
    const double gap = json_number(out, "logp_gap"), half = json_number(out, "logp_gap_ci95");
    ck_assert_msg(fabs(gap) <= 4 / 1.96 * half, "gap %g +- %g", gap, half);
    ck_assert(fabs(json_number(out, "log_z")) <= json_number(out, "quad_err") + 1e-13);
    ck_assert_ptr_nonnull(strstr(out, "\"mode_frac\":["));
    const char *ref[] = { "reference", "--model", model, "--class", "1", "--n", "2000",
                          "--target-metrics", NULL };     /* the exact ODE: rk8pd */
    ck_assert_int_eq(test_run_diffode(dir, ref, out, err, sizeof out), 0);
    ck_assert(fabs(json_number(out, "logp_gap")) <= 4 / 1.96 * json_number(out, "logp_gap_ci95"));
    const char *lone[] = { "sample", "--model", model, "--n", "4", "--target-metrics", NULL };
    ck_assert_int_eq(test_run_diffode(dir, lone, out, err, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(err, "--target-metrics needs --class"));
    snprintf(path, sizeof path, "%s/three.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"weights\": [0.5, 0.5], \"means\": [[0, 0, 0], [1, 1, 1]], \"stds\": [1, 1],"
          " \"classes\": [0, 1]}", f);
    fclose(f);
    snprintf(model, sizeof model, "gmm:%s", path);
    const char *three[] = { "sample", "--model", model, "--class", "0", "--n", "4",
                            "--target-metrics", NULL };
    ck_assert_int_ne(test_run_diffode(dir, three, out, err, sizeof out), 0);
    ck_assert_msg(strstr(err, "--target-metrics") && strstr(err, "dim 3"), "%s", err);
    unlink(path);
    snprintf(path, sizeof path, "%s/lab.json", dir);
    unlink(path);
    test_rm_tree(dir);
}
END_TEST

static Suite *sharpened_suite(void)
{
    Suite *s = suite_create("sharpened");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, normaliser_is_one_at_w_zero_and_one);
    tcase_add_test(tc, log_density_is_the_sharpened_formula);
    tcase_add_test(tc, two_class_target_matches_its_one_dimensional_reduction);
    tcase_add_test(tc, exact_class_draws_have_no_gap_at_w_one);
    tcase_add_test(tc, non_finite_rows_are_counted_not_averaged);
    tcase_add_test(tc, bad_targets_are_refused_with_messages);
    tcase_add_test(tc, sample_reports_the_distance_to_the_target);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(sharpened_suite)
