/* check_cfgpp_ancestral.c - cfgpp-euler-a (solvers/cfgpp.c), the ancestral CFG++ of the
 * official code (EulerAncestralCFGppSolver, latent_diffusion.py of CFGpp-diffusion/CFGpp at
 * 8035352527eb01ac69f65feaab374ba50616ce2c), on class 1 of gmm2d_classes.json.
 *
 * Claims: with eta = 0 (no noise: sigma_down = sigma') it is cfgpp-ddim, and at lambda = 0
 * it is euler-a on the unguided model with the same draws (the same update in another
 * order of operations: 1e-12 relative); at lambda = 0.6 and eta = 1 or 0.5, with given
 * noise, it equals a direct transcription of the official loop (k-diffusion's x = xbar,
 * eps_u and eps_c from the unconditional and class models called directly) to 1e-12, on a
 * logsnr grid and on a karras grid ending at 0 (no noise on the last step); one NFE and one
 * draw a step; an unguided model, lambda > 1 and eta > 0 without noise are refused. */
#include "testutil.h"

#define N 64
#define DIM 2
#define STEPS 20
#define NOISE_SEED 11
#define DRAWS (2 * STEPS)     /* more than any grid here takes */

/* The given noise: DRAWS draws of (N, DIM), standard normal values from a fixed key. */
static double *given_noise(void)
{
    double *z = malloc(DRAWS * N * DIM * sizeof *z);
    ck_assert_ptr_nonnull(z);
    for (size_t k = 0; k < DRAWS; k++)
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < DIM; j++)
                z[(k * N + i) * DIM + j] = dode_noise_normal(NOISE_SEED, k, i, j);
    return z;
}

/* xbar of `solver` on m over g from the seeded x_T, with eta (< 0: not set) and the given
 * noise z (NULL: none); *nfe and *draws its cost. */
static double *run(const char *solver, const dode_model *m, const dode_schedule *sched,
                   const dode_grid *g, double eta, const double *z, size_t *nfe,
                   size_t *draws)
{
    char err[ERRLEN], val[32];
    dode_ode *ode = dode_ode_new(m, sched, N, err, sizeof err);
    ck_assert_msg(ode != NULL, "%s", err);
    dode_noise *noise = NULL;
    if (z != NULL) {
        noise = dode_noise_new_array(z, DRAWS, N, DIM, err, sizeof err);
        ck_assert_msg(noise != NULL, "%s", err);
    }
    double *x = test_xbar_T(N, DIM, g->sigma[0], 7);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.noise = noise;
    snprintf(val, sizeof val, "%.17g", eta);
    if (eta >= 0)
        ck_assert_int_eq(dode_solver_opts_set(&o, "eta", val, err, sizeof err), DODE_OK);
    const int rc = dode_solve(dode_solver_find(solver), ode, g, x, &o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", solver, err);
    if (nfe != NULL)
        *nfe = ode->nfe;
    if (draws != NULL)
        *draws = noise == NULL ? 0 : dode_noise_used(noise);
    dode_noise_free(noise);
    dode_ode_free(ode);
    return x;
}

START_TEST(eta_zero_is_cfgpp_ddim_and_lambda_zero_is_euler_a)
{
    dode_schedule *sched = test_schedule("ddpm-linear");
    dode_model *guided = test_gmm_classes(",class=1,cfg=0.6");
    dode_model *zero = test_gmm_classes(",class=1,cfg=0");
    dode_model *plain = test_gmm_classes("");
    double *z = given_noise();
    for (int to_zero = 0; to_zero < 2; to_zero++) {
        dode_grid g = test_grid(sched, to_zero ? DODE_SPACING_KARRAS : DODE_SPACING_LOGSNR,
                                STEPS, to_zero);
        size_t nfe = 0, draws = 1;
        double *a = run("cfgpp-euler-a", guided, sched, &g, 0.0, NULL, &nfe, &draws);
        double *b = run("cfgpp-ddim", guided, sched, &g, -1, NULL, NULL, NULL);
        test_assert_close(a, b, N * DIM, 1e-12, "cfgpp-euler-a at eta = 0 vs cfgpp-ddim");
        ck_assert_uint_eq(nfe, g.steps);
        free(a);
        free(b);
        a = run("cfgpp-euler-a", zero, sched, &g, 1.0, z, &nfe, &draws);
        b = run("euler-a", plain, sched, &g, 1.0, z, NULL, NULL);
        test_assert_close(a, b, N * DIM, 1e-12, "cfgpp-euler-a at lambda = 0 vs euler-a");
        ck_assert_uint_eq(nfe, g.steps);
        ck_assert_uint_eq(draws, g.steps);
        free(a);
        free(b);
        dode_grid_free(&g);
    }
    free(z);
    dode_model_free(guided);
    dode_model_free(zero);
    dode_model_free(plain);
    dode_schedule_free(sched);
}
END_TEST

/* EulerAncestralCFGppSolver.sample in k-diffusion's x (= xbar): denoised and
 * uncond_denoised from the two models at calculate_input(x) = x / sqrt(1 + sigma^2),
 * get_ancestral_step, x = denoised + to_d(x, sigma, uncond_denoised) sigma_down, plus
 * randn sigma_up if sigma' > 0; randn of step i is draw i of z. */
static double *official_euler_a(const dode_model *u, const dode_model *c,
                                const dode_schedule *sched, const dode_grid *g,
                                double lambda, double eta, const double *z)
{
    double *x = test_xbar_T(N, DIM, g->sigma[0], 7), eu[N * DIM], ec[N * DIM], xs[N * DIM];
    for (size_t i = 0; i < g->steps; i++) {
        const double s = g->sigma[i], sn = g->sigma[i + 1], t = dode_schedule_t(sched, s);
        for (size_t k = 0; k < N * DIM; k++)
            xs[k] = x[k] / sqrt(1 + s * s);
        ck_assert_int_eq(test_eps(u, N, xs, t, s, eu), DODE_OK);
        ck_assert_int_eq(test_eps(c, N, xs, t, s, ec), DODE_OK);
        const double up = fmin(sn, eta * sqrt(sn * sn * (s * s - sn * sn) / (s * s)));
        const double down = sqrt(sn * sn - up * up);
        for (size_t k = 0; k < N * DIM; k++) {
            const double den = x[k] - s * (eu[k] + lambda * (ec[k] - eu[k]));
            const double uden = x[k] - s * eu[k];
            x[k] = den + (x[k] - uden) / s * down;
            if (sn > 0)
                x[k] += z[i * N * DIM + k] * up;
        }
    }
    return x;
}

START_TEST(cfgpp_euler_a_matches_the_official_loop)
{
    char err[ERRLEN];
    dode_schedule *sched = test_schedule("ddpm-linear");
    dode_model *guided = test_gmm_classes(",class=1,cfg=0.6"), *u = test_gmm_classes("");
    dode_model *c = dode_gmm_class_new(u, 1, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    double *z = given_noise();
    static const double etas[] = { 1.0, 0.5 };
    for (int to_zero = 0; to_zero < 2; to_zero++) {
        dode_grid g = test_grid(sched, to_zero ? DODE_SPACING_KARRAS : DODE_SPACING_LOGSNR,
                                STEPS, to_zero);
        for (size_t e = 0; e < 2; e++) {
            double *a = run("cfgpp-euler-a", guided, sched, &g, etas[e], z, NULL, NULL);
            double *b = official_euler_a(u, c, sched, &g, 0.6, etas[e], z);
            test_assert_close(a, b, N * DIM, 1e-12, to_zero ? "karras grid to 0" : "logsnr grid");
            free(a);
            free(b);
        }
        dode_grid_free(&g);
    }
    free(z);
    dode_model_free(c);
    dode_model_free(u);
    dode_model_free(guided);
    dode_schedule_free(sched);
}
END_TEST

/* The refusal's status and message; x_T is left as it was and nothing is evaluated. */
static void refused(const dode_model *m, double eta, int code, const char *needle)
{
    char err[ERRLEN], val[32];
    dode_schedule *sched = test_schedule("ddpm-linear");
    dode_grid g = test_grid(sched, DODE_SPACING_LOGSNR, STEPS, 0);
    dode_ode *ode = dode_ode_new(m, sched, N, err, sizeof err);
    ck_assert_ptr_nonnull(ode);
    double *x = test_xbar_T(N, DIM, g.sigma[0], 7), *x0 = test_xbar_T(N, DIM, g.sigma[0], 7);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    snprintf(val, sizeof val, "%g", eta);
    ck_assert_int_eq(dode_solver_opts_set(&o, "eta", val, err, sizeof err), DODE_OK);
    const int rc = dode_solve(dode_solver_find("cfgpp-euler-a"), ode, &g, x, &o, NULL, err,
                              sizeof err);
    ck_assert_int_eq(rc, code);
    ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
    ck_assert_mem_eq(x, x0, N * DIM * sizeof *x);
    ck_assert_uint_eq(ode->nfe, 0);
    free(x);
    free(x0);
    dode_ode_free(ode);
    dode_grid_free(&g);
    dode_schedule_free(sched);
}

START_TEST(bad_models_and_missing_noise_are_refused)
{
    dode_model *plain = test_gmm_classes(""), *strong = test_gmm_classes(",class=1,cfg=1.5");
    dode_model *ok = test_gmm_classes(",class=1,cfg=0.6");
    refused(plain, 0.0, DODE_EUNSUPPORTED, "needs a guided model");
    refused(strong, 0.0, DODE_EINVAL, "outside CFG++'s [0, 1]");
    refused(ok, 1.0, DODE_EINVAL, "noise");
    dode_model_free(plain);
    dode_model_free(strong);
    dode_model_free(ok);
}
END_TEST

static Suite *cfgpp_ancestral_suite(void)
{
    Suite *s = suite_create("cfgpp_ancestral");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, eta_zero_is_cfgpp_ddim_and_lambda_zero_is_euler_a);
    tcase_add_test(tc, cfgpp_euler_a_matches_the_official_loop);
    tcase_add_test(tc, bad_models_and_missing_noise_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(cfgpp_ancestral_suite)
