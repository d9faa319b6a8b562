/* check_likelihood.c - log p(x0) through the probability-flow ODE (likelihood.h,
 * MATH.md section 7) against closed forms: the GMM's and the Gaussian's own log density
 * at sigma = 0, the Gaussian's trace integral (d/2) log((v + smax^2)/v), the prior
 * mismatch bracket of a mixture, Hutchinson's estimate against the exact value, and the
 * `diffode nll` command (cmd_nll called in the forked test process, stdout to a file). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "../experiments/commands.h"
#include "diffode/likelihood.h"
#include "testutil.h"

/* The section 8 mixture, for the sampler and the prior bracket. */
static const double W[3] = { 0.5, 0.3, 0.2 };
static const double MU[3][2] = { { -1.5, 0.0 }, { 1.5, 0.5 }, { 0.0, 2.0 } };
static const double SD[3] = { 0.3, 0.5, 0.2 };

/* n draws x0 ~ sum_k W_k N(MU_k, SD_k^2 I) ([n][2], caller frees). */
static double *mixture_draws(size_t n, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        const double u = gsl_rng_uniform(rng);
        const size_t k = u < W[0] ? 0 : u < W[0] + W[1] ? 1 : 2;
        for (size_t j = 0; j < 2; j++)
            x[i * 2 + j] = MU[k][j] + SD[k] * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
    gsl_rng_free(rng);
    return x;
}

/* Per-row outputs of one dode_loglik call (all arrays [n], xbar [n][dim]). */
typedef struct {
    double *logp, *se, *prior, *delta, *xbar;
    dode_loglik_rows rows;
    dode_loglik_stats stats;
} run_out;

static void run_alloc(run_out *r, size_t n, size_t dim)
{
    r->logp = malloc(n * sizeof(double));
    r->se = malloc(n * sizeof(double));
    r->prior = malloc(n * sizeof(double));
    r->delta = malloc(n * sizeof(double));
    r->xbar = malloc(n * dim * sizeof(double));
    r->rows = (dode_loglik_rows){ r->logp, r->se, r->prior, r->delta, r->xbar };
}

static void run_free(run_out *r)
{
    free(r->logp);
    free(r->se);
    free(r->prior);
    free(r->delta);
    free(r->xbar);
}

/* dode_loglik on the ddpm-linear schedule; fails the test on any error. */
static void run_loglik(const dode_model *m, size_t n, const double *x0,
                       const dode_loglik_opts *o, run_out *r)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    run_alloc(r, n, m->dim);
    int rc = dode_loglik(m, s, n, m->dim, x0, o, &r->rows, &r->stats, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s", err);
    dode_schedule_free(s);
}

static dode_loglik_opts opts_with(double sigma_max, double tol, int exact_prior)
{
    dode_loglik_opts o;
    dode_loglik_opts_init(&o);
    o.sigma_max = sigma_max;
    o.rtol = o.atol = tol;
    o.exact_prior = exact_prior;
    return o;
}

/* Global error of the L component: accepted steps times the per-step tolerance
 * (atol + rtol |L|), times a safety factor of 10 (GSL's ode-initval2 test does the same). */
static double solve_bound(const run_out *r, size_t i, const dode_loglik_opts *o)
{
    return 10.0 * (double)r->stats.accepted * (o->atol + o->rtol * (1.0 + fabs(r->delta[i])));
}

START_TEST(gmm_flow_loglik_equals_exact_log_density_with_exact_prior)
{
    dode_model *m = test_gmm2d();
    const size_t n = 17;
    double *x0 = mixture_draws(n, 11);
    x0[2 * (n - 1)] = 3.0;           /* and one point far from every component */
    x0[2 * (n - 1) + 1] = -2.0;
    const dode_loglik_opts o = opts_with(80.0, 1e-12, 1);
    run_out r;
    run_loglik(m, n, x0, &o, &r);
    double exact[17];
    ck_assert_int_eq(test_log_density(m, n, x0, 0.0, exact), DODE_OK);
    ck_assert_int_eq(r.stats.trace, DODE_TRACE_EXACT);
    ck_assert_uint_eq(r.stats.nfe, r.stats.njac);
    for (size_t i = 0; i < n; i++) {
        const double bound = fmin(1e-6, solve_bound(&r, i, &o));   /* ~1e-8 here */
        ck_assert_double_eq_tol(r.logp[i], exact[i], bound);
        ck_assert_double_eq_tol(r.logp[i], r.prior[i] + r.delta[i], 1e-12 * (1 + fabs(r.logp[i])));
        ck_assert_double_eq(r.se[i], 0.0);
    }
    run_free(&r);
    free(x0);
    dode_model_free(m);
}
END_TEST

/* Gaussian N(mu, v I): tr(d epsh/d xbar) = d sigma / (v + sigma^2), so the integral is
 * (d/2) log((v + smax^2)/(v + smin^2)), and log p_0 is the closed-form normal density. */
START_TEST(gaussian_flow_loglik_matches_closed_form_density_and_trace_integral)
{
    char err[ERRLEN];
    const size_t d = 3, n = 8;
    const double mean[3] = { 1.0, -0.5, 0.25 }, sd = 0.5, v = sd * sd;
    dode_model *m = dode_gaussian_new(d, mean, sd, DODE_PRED_EPS, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    double *x0 = test_xbar_T(n, d, 0.0, 5);
    const dode_loglik_opts o = opts_with(80.0, 1e-11, 1);
    run_out r;
    run_loglik(m, n, x0, &o, &r);
    const double integral = 0.5 * (double)d * log((v + 80.0 * 80.0) / v);
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        for (size_t j = 0; j < d; j++)
            q += (x0[i * d + j] - mean[j]) * (x0[i * d + j] - mean[j]);
        const double two_pi_v = 6.283185307179586 * v;
        const double closed = -0.5 * q / v - 0.5 * (double)d * log(two_pi_v);
        ck_assert_double_eq_tol(r.delta[i], integral, solve_bound(&r, i, &o));
        ck_assert_double_eq_tol(r.logp[i], closed, solve_bound(&r, i, &o));
    }
    run_free(&r);
    free(x0);
    dode_model_free(m);
}
END_TEST

/* With the N(0, (1 + smax^2) I) prior the error is log q(y) - log p_smax(y), y =
 * xbar(smax). p_smax = sum_k W_k N(MU_k, (SD_k^2 + smax^2) I) and a log-sum-exp with
 * weights summing to 1 lies between its smallest and largest term, so log p_smax(y) -
 * log q(y) lies in [min_k a_k, max_k a_k], a_k = log N(y; MU_k, c_k I) - log q(y). */
static void prior_bracket(const double *y, double smax, double *lo, double *hi)
{
    const double c = 1.0 + smax * smax;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t k = 0; k < 3; k++) {
        const double ck = SD[k] * SD[k] + smax * smax;
        double a = -log(ck / c);                            /* -(d/2) log(ck/c), d = 2 */
        for (size_t j = 0; j < 2; j++)
            a += y[j] * y[j] / (2.0 * c) - (y[j] - MU[k][j]) * (y[j] - MU[k][j]) / (2.0 * ck);
        *lo = fmin(*lo, a);
        *hi = fmax(*hi, a);
    }
}

/* Mean |error| of the Gaussian-prior log p, each row checked against its bracket. */
static double prior_mismatch(const dode_model *m, size_t n, const double *x0, double smax)
{
    const dode_loglik_opts o = opts_with(smax, 1e-12, 0);
    double exact[32], sum = 0, lo, hi;
    run_out r;
    run_loglik(m, n, x0, &o, &r);
    ck_assert_int_eq(test_log_density(m, n, x0, 0.0, exact), DODE_OK);
    for (size_t i = 0; i < n; i++) {
        const double err = r.logp[i] - exact[i], slack = solve_bound(&r, i, &o);
        prior_bracket(r.xbar + 2 * i, smax, &lo, &hi);
        ck_assert_msg(-err >= lo - slack && -err <= hi + slack, "row %zu: mismatch %g "
                      "outside [%g, %g]", i, -err, lo, hi);
        sum += fabs(err);
    }
    run_free(&r);
    return sum / (double)n;
}

/* Each a_k is O(|y| |MU_k| / smax^2) = O(1/smax) (y ~ smax z), so 4x sigma_max gives 4x
 * less, up to relative corrections O(1/smax) (5% at smax = 20): ratio 4 within 0.25. */
START_TEST(gaussian_prior_mismatch_is_bracketed_and_shrinks_like_one_over_sigma_max)
{
    dode_model *m = test_gmm2d();
    const size_t n = 32;
    double *x0 = mixture_draws(n, 3);
    const double e20 = prior_mismatch(m, n, x0, 20.0), e80 = prior_mismatch(m, n, x0, 80.0);
    ck_assert_msg(fabs(e20 / e80 - 4.0) < 0.25, "mismatch %g at 20, %g at 80", e20, e80);
    free(x0);
    dode_model_free(m);
}
END_TEST

/* The GMM as if it had no Jacobian: the same callbacks and state, jacobian = NULL. */
static dode_model without_jacobian(const dode_model *m)
{
    dode_model nojac = *m;
    nojac.name = "gmm-nojac";
    nojac.jacobian = NULL;
    nojac.free = NULL;
    return nojac;
}

static run_out hutchinson_run(const dode_model *m, size_t n, const double *x0, size_t K)
{
    dode_loglik_opts o = opts_with(80.0, 1e-9, 1);
    o.probes = K;
    o.seed = 7;
    run_out r;
    run_loglik(m, n, x0, &o, &r);
    ck_assert_int_eq(r.stats.trace, DODE_TRACE_HUTCHINSON);
    ck_assert_uint_eq(r.stats.rows_per_eval, 1 + 2 * K);
    ck_assert_uint_eq(r.stats.njac, 0);
    return r;
}

/* The estimate is unbiased (up to the O(h^2) central difference, ~1e-10 here): each row's
 * log p within 4 of its standard errors of the exact value. */
START_TEST(hutchinson_estimate_is_within_four_standard_errors_of_exact)
{
    dode_model *gmm = test_gmm2d();
    const dode_model m = without_jacobian(gmm);
    const size_t n = 8;
    double *x0 = mixture_draws(n, 21), exact[8];
    run_out r = hutchinson_run(&m, n, x0, 64);
    ck_assert_int_eq(test_log_density(gmm, n, x0, 0.0, exact), DODE_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert(r.se[i] > 0);
        ck_assert_msg(fabs(r.logp[i] - exact[i]) <= 4.0 * r.se[i], "row %zu: %g vs %g, se %g",
                      i, r.logp[i], exact[i], r.se[i]);
    }
    run_free(&r);
    free(x0);
    dode_model_free(gmm);
}
END_TEST

/* se = sd_k / sqrt(K): 16x the probes, 4x smaller. The K = 4 sample variances are noisy
 * (3 degrees of freedom), so the RMS over 32 rows is compared: ratio 4 within 25%. */
START_TEST(hutchinson_standard_error_shrinks_like_one_over_sqrt_probes)
{
    dode_model *gmm = test_gmm2d();
    const dode_model m = without_jacobian(gmm);
    const size_t n = 32;
    double *x0 = mixture_draws(n, 4), s4 = 0, s64 = 0;
    run_out r4 = hutchinson_run(&m, n, x0, 4), r64 = hutchinson_run(&m, n, x0, 64);
    for (size_t i = 0; i < n; i++) {
        s4 += r4.se[i] * r4.se[i];
        s64 += r64.se[i] * r64.se[i];
    }
    ck_assert_double_eq_tol(sqrt(s4 / s64), 4.0, 1.0);
    run_free(&r4);
    run_free(&r64);
    free(x0);
    dode_model_free(gmm);
}
END_TEST

/* One probe has no spread to measure: se is NaN, logp is still finite. */
START_TEST(hutchinson_with_one_probe_reports_nan_standard_error)
{
    dode_model *gmm = test_gmm2d();
    const dode_model m = without_jacobian(gmm);
    double x0[2] = { 0.3, -0.2 };
    run_out r = hutchinson_run(&m, 1, x0, 1);
    ck_assert(isnan(r.se[0]));
    ck_assert(isfinite(r.logp[0]));
    run_free(&r);
    dode_model_free(gmm);
}
END_TEST

/* A failing call: its code, a message naming the problem, and logp untouched. */
static void expect_failure(const dode_model *m, size_t n, size_t dim, const double *x0,
                           const dode_loglik_opts *o, int code, const char *needle)
{
    char err[ERRLEN] = "";
    double logp[4] = { 42, 42, 42, 42 }, se[4] = { 42, 42, 42, 42 };
    dode_loglik_rows rows = { logp, se, NULL, NULL, NULL };
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    const int rc = dode_loglik(m, s, n, dim, x0, o, &rows, NULL, err, sizeof err);
    ck_assert_msg(rc == code, "got %s (%s), expected %s", dode_strerror(rc), err,
                  dode_strerror(code));
    ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_double_eq(logp[i], 42);
        ck_assert_double_eq(se[i], 42);
    }
    dode_schedule_free(s);
}

START_TEST(bad_inputs_are_refused_with_code_and_message_and_rows_unchanged)
{
    dode_model *gmm = test_gmm2d();
    const dode_model nojac = without_jacobian(gmm);
    dode_model nodensity = *gmm;
    nodensity.log_density = NULL;
    nodensity.free = NULL;
    const double x0[4] = { 0.1, 0.2, NAN, 0.4 };
    dode_loglik_opts o;
    dode_loglik_opts_init(&o);
    expect_failure(gmm, 0, 2, x0, &o, DODE_EINVAL, "n = 0");
    expect_failure(gmm, 1, 3, x0, &o, DODE_EINVAL, "dim 3");
    expect_failure(gmm, 2, 2, x0, &o, DODE_ENONFINITE, "row 1");
    o.sigma_max = 0.0;
    expect_failure(gmm, 1, 2, x0, &o, DODE_EINVAL, "sigma_max = 0");
    o.sigma_max = 80.0;
    o.sigma_min = -1.0;
    expect_failure(gmm, 1, 2, x0, &o, DODE_EINVAL, "sigma_min = -1");
    o.sigma_min = NAN;
    expect_failure(gmm, 1, 2, x0, &o, DODE_EINVAL, "sigma_min = nan");
    o.sigma_min = 0.0;
    o.probes = 0;
    expect_failure(&nojac, 1, 2, x0, &o, DODE_EINVAL, "probes = 0");
    o.probes = 16;
    o.rtol = 0.0;
    expect_failure(gmm, 1, 2, x0, &o, DODE_EINVAL, "rtol = 0");
    o.rtol = 1e-8;
    o.trace = DODE_TRACE_EXACT;
    expect_failure(&nojac, 1, 2, x0, &o, DODE_EUNSUPPORTED, "no jacobian");
    o.trace = DODE_TRACE_AUTO;
    o.exact_prior = 1;
    expect_failure(&nodensity, 1, 2, x0, &o, DODE_EUNSUPPORTED, "log_density");
    o.exact_prior = 0;
    o.max_steps = 2;
    expect_failure(gmm, 1, 2, x0, &o, DODE_EMAXITER, "max_steps = 2");
    dode_model_free(gmm);
}
END_TEST

/* A model whose eps turns NaN above sigma = 1: the solve stops, the message says where. */
static int nan_above_one(const dode_model *m, void *ws, size_t n, const double *x, double t,
                         double sigma, double *out)
{
    (void)ws;
    (void)t;
    for (size_t a = 0; a < n * m->dim; a++)
        out[a] = sigma > 1.0 ? NAN : 0.1 * x[a];
    return DODE_OK;
}

START_TEST(model_failure_midway_is_reported_with_its_sigma)
{
    const dode_model m = { .name = "nan-model", .dim = 2, .eps = nan_above_one };
    const double x0[2] = { 0.1, 0.2 };
    dode_loglik_opts o;
    dode_loglik_opts_init(&o);
    o.trace = DODE_TRACE_HUTCHINSON;
    expect_failure(&m, 1, 2, x0, &o, DODE_ENONFINITE, "nan-model returned a non-finite");
}
END_TEST

/* cmd_nll with stdout into path; returns its exit status. */
static int run_nll(const char *stdout_path, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"nll";
    for (; args[argc - 1] != NULL && argc < 31; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    fflush(stdout);
    ck_assert_ptr_nonnull(freopen(stdout_path, "w", stdout));
    const int status = cmd_nll(argc, argv);
    fflush(stdout);
    return status;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t lines = 0;
    for (int ch; f != NULL && (ch = fgetc(f)) != EOF;)
        lines += ch == '\n';
    if (f != NULL)
        fclose(f);
    return lines;
}

/* The JSON line's nll is the exact one (to the solve bound of the first test at rtol =
 * atol = 1e-10, < 1e-6), bits/dim is nll / (dim log 2), the CSV has one row per point;
 * bad arguments exit 1 or 2 and leave no --out file. */
START_TEST(nll_command_reports_exact_nll_bits_per_dim_and_csv)
{
    char dir[] = "/tmp/check_likelihood.XXXXXX", data[64], out[64], csv[64], err[ERRLEN];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/x.npy", dir);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(csv, sizeof csv, "%s/nll.csv", dir);
    double *x0 = mixture_draws(20, 8);
    ck_assert_int_eq(dode_npy_write(data, x0, 20, 2, err, sizeof err), DODE_OK);
    const char *good[] = { "--model", "gmm:experiments/configs/gmm2d.json", "--data", data,
                           "--exact-prior", "--rtol", "1e-10", "--atol", "1e-10", "--out",
                           csv, NULL };
    ck_assert_int_eq(run_nll(out, good), 0);
    char text[4096] = "";
    FILE *f = fopen(out, "r");
    ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    cJSON *json = cJSON_Parse(text);
    ck_assert_ptr_nonnull(json);
    const double nll = cJSON_GetObjectItem(json, "nll")->valuedouble;
    ck_assert_double_eq_tol(nll, cJSON_GetObjectItem(json, "exact_nll")->valuedouble, 1e-6);
    ck_assert_double_lt(cJSON_GetObjectItem(json, "max_abs_diff")->valuedouble, 1e-6);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(json, "bits_per_dim")->valuedouble,
                            nll / (2.0 * log(2.0)), 1e-12);
    ck_assert_str_eq(cJSON_GetObjectItem(json, "trace")->valuestring, "exact");
    cJSON_Delete(json);
    ck_assert_uint_eq(count_lines(csv), 21);
    unlink(csv);
    const char *dim3[] = { "--model", "gaussian:dim=3", "--data", data, "--out", csv, NULL };
    ck_assert_int_eq(run_nll(out, dim3), 2);          /* the data file's shape: input error */
    const char *probes0[] = { "--model", "gaussian:dim=2", "--data", data, "--probes", "0",
                              "--out", csv, NULL };
    ck_assert_int_eq(run_nll(out, probes0), 2);
    ck_assert_int_ne(access(csv, F_OK), 0);
    unlink(out);
    unlink(data);
    rmdir(dir);
    free(x0);
}
END_TEST

static Suite *likelihood_suite(void)
{
    Suite *s = suite_create("likelihood");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gmm_flow_loglik_equals_exact_log_density_with_exact_prior);
    tcase_add_test(tc, gaussian_flow_loglik_matches_closed_form_density_and_trace_integral);
    tcase_add_test(tc, gaussian_prior_mismatch_is_bracketed_and_shrinks_like_one_over_sigma_max);
    tcase_add_test(tc, hutchinson_estimate_is_within_four_standard_errors_of_exact);
    tcase_add_test(tc, hutchinson_standard_error_shrinks_like_one_over_sqrt_probes);
    tcase_add_test(tc, hutchinson_with_one_probe_reports_nan_standard_error);
    tcase_add_test(tc, bad_inputs_are_refused_with_code_and_message_and_rows_unchanged);
    tcase_add_test(tc, model_failure_midway_is_reported_with_its_sigma);
    tcase_add_test(tc, nll_command_reports_exact_nll_bits_per_dim_and_csv);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(likelihood_suite)
