/* check_cfgpp.c - CFG++ (solvers/cfgpp.c) on exact class-conditional mixtures.
 *
 * Claims: at lambda = 0 cfgpp-ddim is DDIM and cfgpp-dpmpp2m is DPM-Solver++(2M) on the
 * unconditional model (their updates differ from those solvers' only in the order of the
 * floating-point operations: 1e-12 relative); at lambda = 0.6 each equals a direct
 * transcription of the official code's loop (the paper's Algorithm 1 in the DDIM variables
 * z = sqrt(abar) xbar for cfgpp-ddim; k-diffusion's xbar for the 2M variant, on a karras
 * grid ending at sigma = 0) with eps_u and eps_c from the unconditional and class models
 * called directly, to 1e-12; one NFE a step; an unguided model, lambda > 1 and a NaN are
 * refused with messages. */
#include "testutil.h"

#define N 64
#define DIM 2
#define STEPS 20

static const char *const GMM = "experiments/configs/gmm2d_classes.json";

/* x_0-side xbar of `solver` on model m over grid g from the seeded x_T; *nfe its cost. */
static double *run(const char *solver, const dode_model *m, const dode_schedule *sched,
                   const dode_grid *g, size_t *nfe)
{
    char err[ERRLEN];
    dode_ode *ode = dode_ode_new(m, sched, N, err, sizeof err);
    ck_assert_msg(ode != NULL, "%s", err);
    double *x = test_xbar_T(N, DIM, g->sigma[0], 7);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    const int rc = dode_solve(dode_solver_find(solver), ode, g, x, &o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", solver, err);
    if (nfe != NULL)
        *nfe = ode->nfe;
    dode_ode_free(ode);
    return x;
}

START_TEST(lambda_zero_is_the_unguided_sampler)
{
    static const char *const pairs[][2] = { { "cfgpp-ddim", "ddim" },
                                            { "cfgpp-dpmpp2m", "dpmpp2m" } };
    dode_schedule *sched = test_schedule("ddpm-linear");
    dode_model *guided = test_gmm_classes(",class=1,cfg=0"), *plain = test_gmm_classes("");
    for (int to_zero = 0; to_zero < 2; to_zero++) {
        dode_grid g = test_grid(sched, to_zero ? DODE_SPACING_KARRAS : DODE_SPACING_LOGSNR,
                                STEPS, to_zero);
        for (size_t k = 0; k < 2; k++) {
            size_t nfe = 0;
            double *a = run(pairs[k][0], guided, sched, &g, &nfe), *b = run(pairs[k][1], plain,
                                                                            sched, &g, NULL);
            test_assert_close(a, b, N * DIM, 1e-12, pairs[k][0]);
            ck_assert_uint_eq(nfe, g.steps);
            free(a);
            free(b);
        }
        dode_grid_free(&g);
    }
    dode_model_free(guided);
    dode_model_free(plain);
    dode_schedule_free(sched);
}
END_TEST

/* eps_u and eps_c at (x, sigma) from the unconditional and class-1 models directly. */
static void parts(const dode_model *u, const dode_model *c, const dode_schedule *sched,
                  const double *x, double sigma, double *eu, double *ec)
{
    const double t = dode_schedule_t(sched, sigma);
    ck_assert_int_eq(test_eps(u, N, x, t, sigma, eu), DODE_OK);
    ck_assert_int_eq(test_eps(c, N, x, t, sigma, ec), DODE_OK);
}

/* BaseDDIMCFGpp.sample: z0t = (zt - sqrt(1-at) eps_l) / sqrt(at); zt = sqrt(at_prev) z0t +
 * sqrt(1-at_prev) eps_u; returned here as xbar at the last grid point. */
static double *official_ddim(const dode_model *u, const dode_model *c,
                             const dode_schedule *sched, const dode_grid *g, double lambda)
{
    double *z = test_xbar_T(N, DIM, g->sigma[0], 7), eu[N * DIM], ec[N * DIM];
    const double a0 = 1 / (1 + g->sigma[0] * g->sigma[0]);
    for (size_t k = 0; k < N * DIM; k++)
        z[k] *= sqrt(a0);
    for (size_t i = 0; i < g->steps; i++) {
        const double s = g->sigma[i], sn = g->sigma[i + 1];
        const double at = 1 / (1 + s * s), ap = 1 / (1 + sn * sn);
        parts(u, c, sched, z, s, eu, ec);
        for (size_t k = 0; k < N * DIM; k++) {
            const double el = eu[k] + lambda * (ec[k] - eu[k]);
            const double z0t = (z[k] - sqrt(1 - at) * el) / sqrt(at);
            z[k] = sqrt(ap) * z0t + sqrt(1 - ap) * eu[k];
        }
    }
    const double sN = g->sigma[g->steps];
    for (size_t k = 0; k < N * DIM; k++)
        z[k] *= sqrt(1 + sN * sN);
    return z;
}

/* DPMpp2mCFGppSolver.sample in k-diffusion's x (= xbar), t_fn = -log sigma. */
static double *official_2m(const dode_model *u, const dode_model *c,
                           const dode_schedule *sched, const dode_grid *g, double lambda)
{
    double *x = test_xbar_T(N, DIM, g->sigma[0], 7), eu[N * DIM], ec[N * DIM], xs[N * DIM];
    double old[N * DIM];
    for (size_t i = 0; i < g->steps; i++) {
        const double s = g->sigma[i], sn = g->sigma[i + 1];
        for (size_t k = 0; k < N * DIM; k++)
            xs[k] = x[k] / sqrt(1 + s * s);            /* calculate_input */
        parts(u, c, sched, xs, s, eu, ec);
        const double h = log(s) - (sn > 0 ? log(sn) : 0);
        for (size_t k = 0; k < N * DIM; k++) {
            const double den = x[k] - s * (eu[k] + lambda * (ec[k] - eu[k]));
            const double uden = x[k] - s * eu[k];
            if (i == 0 || sn == 0) {
                x[k] = den + (x[k] - uden) / s * sn;
            } else {
                const double r = (log(g->sigma[i - 1]) - log(s)) / h;
                const double extra1 = -exp(-h) * uden - expm1(-h) * (den - old[k]) / (2 * r);
                x[k] = den + extra1 + exp(-h) * x[k];
            }
            old[k] = uden;
        }
    }
    return x;
}

START_TEST(cfgpp_matches_the_official_loops)
{
    char err[ERRLEN];
    dode_schedule *sched = test_schedule("ddpm-linear");
    dode_model *guided = test_gmm_classes(",class=1,cfg=0.6"), *u = test_gmm_classes("");
    dode_model *c = dode_gmm_class_new(u, 1, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    dode_grid g = test_grid(sched, DODE_SPACING_LOGSNR, STEPS, 0);
    double *a = run("cfgpp-ddim", guided, sched, &g, NULL), *b = official_ddim(u, c, sched, &g,
                                                                               0.6);
    test_assert_close(a, b, N * DIM, 1e-12, "cfgpp-ddim vs Algorithm 1");
    free(a);
    free(b);
    dode_grid_free(&g);
    g = test_grid(sched, DODE_SPACING_KARRAS, STEPS, 1);
    a = run("cfgpp-dpmpp2m", guided, sched, &g, NULL);
    b = official_2m(u, c, sched, &g, 0.6);
    test_assert_close(a, b, N * DIM, 1e-12, "cfgpp-dpmpp2m vs the official loop");
    double *d = run("cfgpp-ddim", guided, sched, &g, NULL), *e = official_ddim(u, c, sched, &g,
                                                                               0.6);
    test_assert_close(d, e, N * DIM, 1e-12, "cfgpp-ddim to sigma = 0");
    free(a);
    free(b);
    free(d);
    free(e);
    dode_grid_free(&g);
    dode_model_free(c);
    dode_model_free(u);
    dode_model_free(guided);
    dode_schedule_free(sched);
}
END_TEST

static int nan_below_one(void *user, size_t n, size_t dim, const double *x, double t,
                         double sigma, double *out)
{
    (void)user;
    (void)t;
    for (size_t k = 0; k < n * dim; k++)
        out[k] = sigma < 1.0 ? NAN : 0.1 * x[k];
    return 0;
}

static int solve_status(const dode_model *m, char *err)
{
    dode_schedule *sched = test_schedule("ddpm-linear");
    dode_grid g = test_grid(sched, DODE_SPACING_LOGSNR, STEPS, 0);
    dode_ode *ode = dode_ode_new(m, sched, N, err, ERRLEN);
    ck_assert_ptr_nonnull(ode);
    double *x = test_xbar_T(N, DIM, g.sigma[0], 7), *x0 = test_xbar_T(N, DIM, g.sigma[0], 7);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    const int rc = dode_solve(dode_solver_find("cfgpp-ddim"), ode, &g, x, &o, NULL, err,
                              ERRLEN);
    if (rc == DODE_EUNSUPPORTED || rc == DODE_EINVAL)   /* refused: x_T untouched */
        ck_assert_mem_eq(x, x0, N * DIM * sizeof *x);
    free(x);
    free(x0);
    dode_ode_free(ode);
    dode_grid_free(&g);
    dode_schedule_free(sched);
    return rc;
}

START_TEST(unguided_models_large_lambda_and_nan_are_refused)
{
    char err[ERRLEN];
    dode_model *plain = test_gmm_classes("");
    ck_assert_int_eq(solve_status(plain, err), DODE_EUNSUPPORTED);
    ck_assert_msg(strstr(err, "cfgpp-ddim: needs a guided model") != NULL, "%s", err);
    dode_model *big = test_gmm_classes(",class=1,cfg=1.5");
    ck_assert_int_eq(solve_status(big, err), DODE_EINVAL);
    ck_assert_msg(strstr(err, "lambda = 1.5 is outside CFG++'s [0, 1]") != NULL, "%s", err);
    dode_guidance gd;
    dode_guidance_init(&gd);
    gd.scale = 0.5;
    dode_model *u = dode_model_from_callback("nan_u", DIM, DODE_PRED_EPS, nan_below_one, NULL,
                                             err, sizeof err);
    dode_model *c = dode_model_from_callback("nan_c", DIM, DODE_PRED_EPS, nan_below_one, NULL,
                                             err, sizeof err);
    dode_model *nan = dode_guided_new(u, c, &gd, err, sizeof err);
    ck_assert_ptr_nonnull(nan);
    ck_assert_int_eq(solve_status(nan, err), DODE_ENONFINITE);
    ck_assert_msg(strstr(err, "cfgpp-ddim") && strstr(err, "step") && strstr(err, "non-finite"),
                  "%s", err);
    dode_model_free(nan);
    dode_model_free(big);
    dode_model_free(plain);
}
END_TEST

START_TEST(sample_runs_cfgpp_and_refuses_an_unguided_model)
{
    char *dir = test_tmpdir("cfgpp"), out[8192], err[4096], model[1200];
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(model, sizeof model, "gmm:%s/%s", cwd, GMM);
    const char *ok[] = { "sample", "--model", model, "--class", "1", "--cfg-scale", "0.6",
                         "--solver", "cfgpp-dpmpp2m", "--nfe", "10", "--n", "16", NULL };
    ck_assert_int_eq(test_run_diffode(dir, ok, out, err, sizeof out), 0);
    ck_assert_msg(strstr(out, "\"solver\":\"cfgpp-dpmpp2m\"") && strstr(out, "\"nfe\":10"),
                  "%s", out);
    const char *bad[] = { "sample", "--model", model, "--solver", "cfgpp-ddim", "--n", "4",
                          NULL };
    ck_assert_int_ne(test_run_diffode(dir, bad, out, err, sizeof out), 0);
    ck_assert_msg(strstr(err, "needs a guided model") != NULL, "%s", err);
    test_rm_tree(dir);
}
END_TEST

static Suite *cfgpp_suite(void)
{
    Suite *s = suite_create("cfgpp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lambda_zero_is_the_unguided_sampler);
    tcase_add_test(tc, cfgpp_matches_the_official_loops);
    tcase_add_test(tc, unguided_models_large_lambda_and_nan_are_refused);
    tcase_add_test(tc, sample_runs_cfgpp_and_refuses_an_unguided_model);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(cfgpp_suite)
