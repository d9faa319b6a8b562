/* check_ays.c - Align Your Steps and the fitted grid (experiments/grid_ays.c,
 * grid_fit.c, `diffode grid --method ays|fit`).
 *
 * Laws: on Gaussian data N(mu, c^2 I) the Monte Carlo KLUB of an interval equals its
 * closed form (dim c^4 int sigma^-3 (1/(c^2+s^2) - 1/(c^2+b^2)), not the paper's squared
 * Lemma 3.3) within its sampling error; the closed-form KLUB grid (s^2/(c^2+s^2)
 * geometric) is a stationary point of the closed-form KLUB; the AYS search on the
 * gaussian model converges to that grid; Euler's error-optimal grid on the gaussian is
 * Theorem 3.1's (arctan(sigma/c) uniform), found by the fit; the fit never ends above its
 * logsnr start and is deterministic; AYS early-stopped beats logsnr for euler and dpmpp2m
 * on held-out x_T of the 2-D mixture at NFE 10 (the paper's claim); bad arguments exit 2
 * and write nothing. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "../experiments/grid_ays.h"
#include "../experiments/grid_fit.h"
#include "testutil.h"

#define OUT_MAX 16384
#define GMM "gmm:experiments/configs/gmm2d.json"
#define C 0.5                   /* the Gaussian's std */
#define DIM 4

static dode_model *gauss(void)
{
    const double mu[DIM] = { 1.0, -0.5, 0.25, 2.0 };
    char err[ERRLEN];
    dode_model *m = dode_gaussian_new(DIM, mu, C, DODE_PRED_EPS, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* n exact draws of xbar at sigma_min: N(mu, (c^2 + sigma_min^2) I). */
static double *gauss_x_min(size_t n, double sigma_min, unsigned long seed)
{
    const double mu[DIM] = { 1.0, -0.5, 0.25, 2.0 };
    double *x = test_xbar_T(n, DIM, 0.0, seed);     /* N(0, I) */
    for (size_t i = 0; i < n * DIM; i++)
        x[i] = mu[i % DIM] + sqrt(C * C + sigma_min * sigma_min) * x[i];
    return x;
}

/* Each interval's estimate against the closed form: the estimate is a mean over n rows of
 * a chi-square-like variable with relative sd sqrt(2 / dim) per row, so 4096 rows give
 * about 1.1%; 5% is over four standard errors. */
START_TEST(klub_estimate_matches_gaussian_closed_form)
{
    enum { N = 4096 };
    static const double ab[][2] = { { 0.01, 0.05 }, { 0.1, 0.5 }, { 0.3, 2.0 },
                                    { 2.0, 157.0 }, { 0.01, 157.0 } };
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_model *m = gauss();
    /* the same seed for the data and the KLUB's noise, as `diffode grid` has by default
     * (--seed 0, --search-seed 0): the noise must still be independent of the data */
    double *x = gauss_x_min(N, 0.01, 1);
    exp_klub *k = exp_klub_new(m, s, N, x, 0.01, 1, 24, err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    for (size_t i = 0; i < sizeof ab / sizeof *ab; i++) {
        double est;
        ck_assert_int_eq(exp_klub_interval(k, ab[i][0], ab[i][1], &est, err, sizeof err),
                         DODE_OK);
        const double exact = exp_klub_gaussian(C, DIM, ab[i][0], ab[i][1]);
        ck_assert_msg(fabs(est / exact - 1) < 0.05, "[%g, %g]: estimate %g, closed form %g",
                      ab[i][0], ab[i][1], est, exact);
    }
    double v;
    ck_assert_int_eq(exp_klub_interval(k, 0.001, 1.0, &v, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not inside"));
    exp_klub_free(k);
    free(x);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

/* The closed-form KLUB of a grid. */
static double gauss_total(const double *sigma, size_t steps)
{
    double t = 0;
    for (size_t i = 0; i < steps; i++)
        t += exp_klub_gaussian(C, DIM, sigma[i + 1], sigma[i]);
    return t;
}

/* Derived in grid_ays.c: the grid with s^2/(c^2+s^2) geometric is where every partial
 * derivative of the closed-form KLUB vanishes; moving any one point either way by 1e-3 in
 * log sigma raises it (second order: by about 1e-6 relative, far above rounding). */
START_TEST(gaussian_klub_grid_is_the_minimum_of_the_closed_form)
{
    enum { STEPS = 8 };
    double g[STEPS + 1], h[STEPS + 1];
    exp_ays_gaussian_grid(C, 157.4, 0.01, STEPS, g);
    ck_assert(g[0] == 157.4 && g[STEPS] == 0.01);
    const double best = gauss_total(g, STEPS);
    for (size_t i = 1; i < STEPS; i++) {
        ck_assert(g[i] < g[i - 1]);
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            memcpy(h, g, sizeof h);
            h[i] *= exp(sgn * 1e-3);
            ck_assert_msg(gauss_total(h, STEPS) > best, "point %zu moved %+d", i, sgn);
        }
    }
    /* and the logsnr grid is not it: its KLUB is higher */
    for (size_t i = 0; i <= STEPS; i++)
        h[i] = 157.4 * pow(0.01 / 157.4, (double)i / STEPS);
    ck_assert_double_gt(gauss_total(h, STEPS), best);
}
END_TEST

/* Algorithm 1 on the Monte Carlo KLUB of the gaussian model, without early stopping,
 * from logsnr: the grid it converges to is the closed form's. The minimum is flat (moving
 * the top interior point by 20% raises the KLUB by 2%), so the law is on the value: the
 * found grid's closed-form KLUB within 2% of the minimum (the estimate's own noise is
 * about 1%), and every point within 0.3 in log sigma (seen: under 0.01). */
START_TEST(ays_search_reaches_gaussian_closed_form)
{
    enum { N = 2048, STEPS = 6 };
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_model *m = gauss();
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, STEPS, 0);
    double *x = gauss_x_min(N, g.sigma[STEPS], 3);
    double sigma[STEPS + 1], want[STEPS + 1];
    exp_klub *k = exp_klub_new(m, s, N, x, g.sigma[STEPS], 4, 10, err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    memcpy(sigma, g.sigma, sizeof sigma);
    exp_ays_report rep;
    ck_assert_int_eq(exp_ays_optimise(k, NULL, sigma, STEPS, 500, 1e-3, 0, NULL, &rep,
                                      err, sizeof err), DODE_OK);
    exp_ays_gaussian_grid(C, g.sigma[0], g.sigma[STEPS], STEPS, want);
    ck_assert_double_lt(rep.klub_end, rep.klub_start);
    const double found = gauss_total(sigma, STEPS), best = gauss_total(want, STEPS);
    ck_assert_msg(found < 1.02 * best, "the search's grid has KLUB %g, the minimum %g", found,
                  best);
    for (size_t i = 1; i < STEPS; i++)
        ck_assert_msg(fabs(log(sigma[i] / want[i])) < 0.3, "point %zu: search %g, closed "
                      "form %g", i, sigma[i], want[i]);
    exp_klub_free(k);
    free(x);
    dode_grid_free(&g);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

/* A training problem on model m: x_T, its exact end states, a solver. */
typedef struct {
    dode_ode *ode;
    double *x, *target, *work;
    exp_grid_problem p;
} problem_t;

static problem_t problem_new(const dode_model *m, const dode_schedule *s, const char *solver,
                             size_t n, double s0, double s1, unsigned long seed)
{
    char err[ERRLEN];
    problem_t q;
    const size_t len = n * m->dim;
    q.x = test_xbar_T(n, m->dim, s0, seed);
    q.target = malloc(len * sizeof *q.target);
    q.work = malloc(len * sizeof *q.work);
    ck_assert_int_eq(dode_reference(m, s, n, s0, s1, q.x, q.target, NULL, NULL, NULL, err,
                                    sizeof err), DODE_OK);
    q.ode = dode_ode_new(m, s, n, err, sizeof err);
    ck_assert_ptr_nonnull(q.ode);
    q.p = (exp_grid_problem){ .solver = dode_solver_find(solver), .schedule = s, .ode = q.ode,
                              .n = n, .dim = m->dim, .xbar_T = q.x, .target = q.target,
                              .work = q.work };
    return q;
}

static void problem_free(problem_t *q)
{
    dode_ode_free(q->ode);
    free(q->x);
    free(q->target);
    free(q->work);
}

/* Theorem 3.1: Euler on Gaussian data multiplies the centred state by prod cos(d alpha_i)
 * times the exact factor (alpha = arctan(sigma / c)), so its error is least when the
 * alpha steps are equal, whatever x_T: the fit, minimising that error, lands there. The
 * minimum is quadratic, so 1e-3 in alpha is far inside what the fit's 1e-8 gradient
 * resolves. */
START_TEST(euler_fit_on_gaussian_is_theorem_3_1)
{
    enum { STEPS = 6 };
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_model *m = gauss();
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, STEPS, 0);
    problem_t q = problem_new(m, s, "euler", 64, g.sigma[0], g.sigma[STEPS], 5);
    double sigma[STEPS + 1], want[STEPS + 1];
    exp_fit_report rep;
    ck_assert_int_eq(exp_grid_fit(&q.p, g.sigma[0], g.sigma[STEPS], STEPS, 2000, 1e-10, sigma,
                                  &rep, err, sizeof err), DODE_OK);
    exp_euler_gaussian_grid(C, g.sigma[0], g.sigma[STEPS], STEPS, want);
    ck_assert_double_lt(rep.rmse, rep.start_rmse);
    for (size_t i = 1; i < STEPS; i++)
        ck_assert_msg(fabs(atan(sigma[i] / C) - atan(want[i] / C)) < 1e-3, "point %zu: fit "
                      "%g, Theorem 3.1 %g", i, sigma[i], want[i]);
    problem_free(&q);
    dode_grid_free(&g);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

/* The fit starts at logsnr and its line search only accepts descent: its training error
 * is at most the start's, for every solver tried; and the same batch gives the same grid
 * bit for bit. */
START_TEST(fit_never_ends_above_logsnr_and_is_deterministic)
{
    static const char *const solvers[] = { "dpmpp2m", "heun", "unipc2" };
    enum { STEPS_MAX = 8 };
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_model *m = test_gauss2d();
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, 1, 0);
    for (size_t k = 0; k < 3; k++) {
        problem_t q = problem_new(m, s, solvers[k], 32, g.sigma[0], g.sigma[1], 7);
        double a[STEPS_MAX + 1], b[STEPS_MAX + 1];
        exp_fit_report ra, rb;
        const size_t steps = 3 + k;
        ck_assert_int_eq(exp_grid_fit(&q.p, g.sigma[0], g.sigma[1], steps, 50, 1e-6, a, &ra,
                                      err, sizeof err), DODE_OK);
        ck_assert_int_eq(exp_grid_fit(&q.p, g.sigma[0], g.sigma[1], steps, 50, 1e-6, b, &rb,
                                      err, sizeof err), DODE_OK);
        ck_assert_double_le(ra.rmse, ra.start_rmse);
        ck_assert_int_eq(memcmp(a, b, (steps + 1) * sizeof *a), 0);
        for (size_t i = 0; i < steps; i++)
            ck_assert(a[i + 1] < a[i]);
        double check;
        ck_assert_int_eq(exp_grid_rmse(&q.p, a, steps + 1, &check, err, sizeof err), DODE_OK);
        ck_assert_double_eq(check, ra.rmse);            /* the report is the grid's error */
        problem_free(&q);
    }
    double sigma[4];
    exp_fit_report rep;
    problem_t q = problem_new(m, s, "euler", 4, g.sigma[0], g.sigma[1], 7);
    ck_assert_int_eq(exp_grid_fit(&q.p, g.sigma[0], g.sigma[1], 1, 50, 1e-6, sigma, &rep, err,
                                  sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no interior point"));
    problem_free(&q);
    dode_grid_free(&g);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

START_TEST(softmax_zero_is_logsnr_and_any_params_decrease)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, 7, 0);
    double u[6] = { 0 }, sigma[8];
    exp_grid_from_softmax(u, 7, g.sigma[0], g.sigma[7], sigma);
    for (size_t k = 0; k <= 7; k++)
        ck_assert_double_eq_tol(sigma[k], g.sigma[k], 1e-13 * g.sigma[k]);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (int trial = 0; trial < 100; trial++) {
        for (size_t k = 0; k < 6; k++)
            u[k] = 40 * (gsl_rng_uniform(rng) - 0.5);
        exp_grid_from_softmax(u, 7, g.sigma[0], g.sigma[7], sigma);
        ck_assert(sigma[0] == g.sigma[0] && sigma[7] == g.sigma[7]);
        for (size_t k = 0; k < 7; k++)
            ck_assert(sigma[k + 1] <= sigma[k]);
    }
    gsl_rng_free(rng);
    dode_grid_free(&g);
    dode_schedule_free(s);
}
END_TEST

typedef struct {
    int status;
    char out[OUT_MAX], err[OUT_MAX];
} run_result;

static double num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "no \"%s\"", key);
    return v->valuedouble;
}

/* The paper's claim for the deterministic solvers it reports (DDIM = euler, DPM-Solver++
 * (2M)): the AYS grid beats logsnr at NFE 10, here on 1000 held-out x_T of the mixture. */
START_TEST(ays_beats_logsnr_on_held_out_samples_at_nfe_10)
{
    static const char *const solvers[] = { "euler", "dpmpp2m" };
    char *dir = test_tmpdir("check_ays"), out[512];
    snprintf(out, sizeof out, "%s/g.npy", dir);
    run_result *r = malloc(sizeof *r);
    for (size_t k = 0; k < 2; k++) {
        const char *args[] = { "grid", "--model", GMM, "--solver", solvers[k], "--nfe", "10",
                               "--method", "ays", "--tol", "1e-2", "--n", "256", "--out", out,
                               NULL };
        r->status = test_run_diffode(dir, args, r->out, r->err, sizeof r->out);
        ck_assert_msg(r->status == 0, "%s", r->err);
        cJSON *j = cJSON_Parse(r->out);
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(num(j, "test_rmse") < num(j, "logsnr_test_rmse"), "%s: ays %g, logsnr "
                      "%g", solvers[k], num(j, "test_rmse"), num(j, "logsnr_test_rmse"));
        ck_assert_double_lt(num(j, "klub_last"), num(j, "klub_start"));
        ck_assert(access(out, F_OK) == 0);
        cJSON_Delete(j);
        unlink(out);
    }
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* `grid --method fit` on the gaussian model: the JSON reports the held-out error beside
 * the training one, the training error is at most logsnr's (start_train_rmse), and a
 * second run with the same --seed writes the same grid, bit for bit. */
START_TEST(fit_command_reports_held_out_and_is_reproducible)
{
    char *dir = test_tmpdir("check_ays"), out[512];
    snprintf(out, sizeof out, "%s/g.npy", dir);
    run_result *r = malloc(sizeof *r);
    cJSON *j[2];
    for (int k = 0; k < 2; k++) {
        const char *args[] = { "grid", "--model", "gaussian:dim=2,std=0.5", "--solver",
                               "dpmpp2m", "--nfe", "6", "--method", "fit", "--n", "64",
                               "--n-test", "256", "--seed", "3", "--out", out, NULL };
        r->status = test_run_diffode(dir, args, r->out, r->err, sizeof r->out);
        ck_assert_msg(r->status == 0, "%s", r->err);
        j[k] = cJSON_Parse(r->out);
        ck_assert_ptr_nonnull(j[k]);
    }
    ck_assert_double_le(num(j[0], "train_rmse"), num(j[0], "start_train_rmse"));
    ck_assert(isfinite(num(j[0], "test_rmse")) && num(j[0], "test_rmse") > 0);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j[0], "sigmas");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j[1], "sigmas");
    ck_assert_int_eq(cJSON_GetArraySize(a), 7);
    for (int i = 0; i < 7; i++)
        ck_assert_double_eq(cJSON_GetArrayItem(a, i)->valuedouble,
                            cJSON_GetArrayItem(b, i)->valuedouble);
    ck_assert_double_eq(num(j[0], "test_rmse"), num(j[1], "test_rmse"));
    cJSON_Delete(j[0]);
    cJSON_Delete(j[1]);
    free(r);
    test_rm_tree(dir);
}
END_TEST

typedef struct {
    const char *args[6];
    const char *says;
} bad_case;

static const bad_case bad_cases[] = {
    { { "--method", "ays", "--start", "nope" }, "--start 'nope'" },
    { { "--method", "ays", "--nodes", "1" }, "--nodes 1: give 2 to 64" },
    { { "--method", "ays", "--nodes", "65" }, "--nodes 65: give 2 to 64" },
    { { "--method", "fit", "--nfe", "1" }, "no interior point" },
    { { "--method", "fit", "--solver", "gsl:rk8pd" }, "--solver gsl:rk8pd is adaptive" },
};

START_TEST(bad_ays_and_fit_arguments_exit_2_and_write_nothing)
{
    char *dir = test_tmpdir("check_ays"), out[512];
    snprintf(out, sizeof out, "%s/g.npy", dir);
    run_result *r = malloc(sizeof *r);
    for (size_t k = 0; k < sizeof bad_cases / sizeof *bad_cases; k++) {
        const char *args[16] = { "grid", "--model", GMM, "--solver", "euler", "--n", "8",
                                 "--n-test", "8", "--out", out };
        size_t argc = 11;
        for (size_t j = 0; j < 6 && bad_cases[k].args[j] != NULL; j++)
            args[argc++] = bad_cases[k].args[j];
        args[argc] = NULL;
        r->status = test_run_diffode(dir, args, r->out, r->err, sizeof r->out);
        ck_assert_msg(r->status == 2, "case %zu: exit %d: %s", k, r->status, r->err);
        ck_assert_msg(strstr(r->err, bad_cases[k].says) != NULL, "case %zu: '%s' lacks '%s'",
                      k, r->err, bad_cases[k].says);
        ck_assert_msg(r->out[0] == '\0' && access(out, F_OK) != 0, "case %zu wrote", k);
    }
    free(r);
    test_rm_tree(dir);
}
END_TEST

static Suite *ays_suite(void)
{
    Suite *s = suite_create("ays");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, klub_estimate_matches_gaussian_closed_form);
    tcase_add_test(tc, gaussian_klub_grid_is_the_minimum_of_the_closed_form);
    tcase_add_test(tc, ays_search_reaches_gaussian_closed_form);
    tcase_add_test(tc, euler_fit_on_gaussian_is_theorem_3_1);
    tcase_add_test(tc, fit_never_ends_above_logsnr_and_is_deterministic);
    tcase_add_test(tc, softmax_zero_is_logsnr_and_any_params_decrease);
    tcase_add_test(tc, ays_beats_logsnr_on_held_out_samples_at_nfe_10);
    tcase_add_test(tc, fit_command_reports_held_out_and_is_reproducible);
    tcase_add_test(tc, bad_ays_and_fit_arguments_exit_2_and_write_nothing);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(ays_suite)
