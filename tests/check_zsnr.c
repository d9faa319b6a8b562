/* check_zsnr.c - zero terminal SNR (schedule.h, grid.h, solver.h; docs/models.md): the
 * rescaled betas of Lin et al. 2023 (Algorithm 1), diffusers' trailing / leading /
 * linspace spacings, the first step from sigma = inf in x0 form converging to the exact
 * flow from pure noise, and an eps model refused there with a message, never Inf/NaN. */
#include <string.h>

#include "testutil.h"

#define NROWS 64
#define NLEV 1000

static dode_model *gauss(dode_prediction pred)
{
    static const double mean[2] = { 1.0, -0.5 };
    char err[ERRLEN] = "";
    dode_model *m = dode_model_as_eps(dode_gaussian_new(2, mean, 0.5, pred, err, sizeof err),
                                      err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static dode_grid grid(const dode_schedule *s, dode_spacing sp, size_t steps, double t_max)
{
    char err[ERRLEN] = "";
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = sp;
    go.t_max = t_max;
    dode_grid g;
    ck_assert_msg(dode_grid_make(s, &go, steps, &g, err, sizeof err) == DODE_OK, "%s", err);
    return g;
}

/* ---- the schedule ----------------------------------------------------------------------- */

/* Algorithm 1 keeps sqrt(abar) affine in ddpm-linear's: sqrt(z_i) = c (sqrt(l_i) - sqrt(l_T)),
 * c fixed by z_0 = l_0, so the last level is exactly 0 and the ratio is the same at every
 * level. */
START_TEST(zsnr_rescale_is_affine_in_sqrt_abar_and_ends_at_zero)
{
    dode_schedule *z = test_schedule("ddpm-linear-zsnr"), *l = test_schedule("ddpm-linear");
    const double *za = dode_schedule_alphas_cumprod(z), *la = dode_schedule_alphas_cumprod(l);
    ck_assert_uint_eq(dode_schedule_levels(z), NLEV);
    ck_assert_double_eq(za[NLEV - 1], 0.0);
    ck_assert_double_eq_tol(za[0], la[0], 1e-15);
    const double aT = sqrt(la[NLEV - 1]), c = sqrt(za[0]) / (sqrt(la[0]) - aT);
    for (int i = 0; i < NLEV - 1; i++) {
        ck_assert_double_eq_tol(sqrt(za[i]) / (sqrt(la[i]) - aT), c, 1e-12 * c);
        if (i > 0)
            ck_assert(za[i] < za[i - 1]);
    }
    dode_schedule_free(z);
    dode_schedule_free(l);
}
END_TEST

/* sigma(1) = inf and t(inf) = 1; t(sigma(t)) = t on the whole range, the last segment (where
 * sqrt(abar), not log a, is linear in t) included; d sigma/dt against central differences. */
START_TEST(zsnr_sigma_reaches_inf_at_one_with_an_exact_inverse)
{
    dode_schedule *s = test_schedule("ddpm-linear-zsnr");
    ck_assert(dode_schedule_sigma(s, 1.0) == INFINITY);
    ck_assert_double_eq(dode_schedule_t(s, INFINITY), 1.0);
    ck_assert_double_eq(dode_schedule_t_max(s), 1.0);
    const double *abar = dode_schedule_alphas_cumprod(s);
    for (int n = 0; n < NLEV - 1; n += 37) {        /* the levels themselves */
        const double t = (n + 1.0) / NLEV;
        ck_assert_double_eq_tol(dode_schedule_sigma(s, t), sqrt((1 - abar[n]) / abar[n]),
                                1e-10 * dode_schedule_sigma(s, t));
    }
    for (int i = 0; i < 2004; i++) {       /* uniform, then ever closer to t = 1 */
        const double t = i < 2000 ? 0.001 + 0.999 * (i + 0.3) / 2000.0 : 1 - pow(10, -(i - 1997));
        const double sigma = dode_schedule_sigma(s, t);
        ck_assert_msg(fabs(dode_schedule_t(s, sigma) - t) <= 1e-12, "t(sigma(%.17g)) = %.17g",
                      t, dode_schedule_t(s, sigma));
        const double h = 1e-4 * fmin(t, 1 - t);     /* rounding in 1 - t limits h */
        const double fd = (dode_schedule_sigma(s, t + h) - dode_schedule_sigma(s, t - h)) / (2 * h);
        if (fabs(t - floor(t * NLEV + 0.5) / NLEV) > 2 * h)      /* not on a kink */
            ck_assert_msg(fabs(dode_schedule_dsigma_dt(s, t) - fd) <= 1e-5 * fabs(fd),
                          "dsigma/dt at %.17g: %.17g vs %.17g", t, dode_schedule_dsigma_dt(s, t), fd);
    }
    dode_schedule_free(s);
}
END_TEST

/* ---- spacings ------------------------------------------------------------------------- */

/* The training level of grid point j: t = (n + 1)/N. */
static long level_of(const dode_grid *g, size_t j)
{
    return lround(g->t[j] * NLEV) - 1;
}

/* Lin et al. 2023, Table 2 (1000 levels, 10 steps): linspace 999, 888, ..., 0; leading
 * 900, 800, ..., 0; trailing 999, 899, ..., 99; each grid then ends at abar = 1. */
START_TEST(diffusers_spacings_give_table_2_of_lin_et_al)
{
    dode_schedule *s = test_schedule("ddpm-linear");
    static const dode_spacing sp[3] = { DODE_SPACING_LINSPACE, DODE_SPACING_LEADING,
                                        DODE_SPACING_TRAILING };
    static const long first[3] = { 999, 900, 999 }, stride[3] = { 111, 100, 100 };
    for (int k = 0; k < 3; k++) {
        dode_grid g = grid(s, sp[k], 10, NAN);
        ck_assert_uint_eq(g.steps, 10);
        for (size_t j = 0; j < 10; j++)
            ck_assert_int_eq(level_of(&g, j), first[k] - (long)j * stride[k]);
        ck_assert_double_eq(g.sigma[10], 0.0);
        dode_grid_free(&g);
    }
    for (size_t S = 1; S <= NLEV; S += (S < 20 ? 1 : 97)) {   /* S levels, all distinct */
        for (int k = 0; k < 3; k++) {
            dode_grid g = grid(s, sp[k], S, NAN);
            ck_assert_msg(g.steps == S, "%s S=%zu: %zu steps", dode_spacing_name(sp[k]), S, g.steps);
            for (size_t j = 0; j + 1 < S; j++)
                ck_assert(g.sigma[j + 1] < g.sigma[j]);
            dode_grid_free(&g);
        }
    }
    dode_schedule_free(s);
}
END_TEST

/* On the zero-SNR schedule trailing and linspace start at sigma = inf (level 999), leading
 * does not; logsnr and karras cannot space from infinity and say so; the level spacings
 * need a discrete schedule. */
START_TEST(zero_snr_grids_start_at_inf_and_log_spacings_refuse_it)
{
    dode_schedule *z = test_schedule("ddpm-linear-zsnr"), *v = test_schedule("vp-linear");
    dode_grid g = grid(z, DODE_SPACING_TRAILING, 8, NAN);
    ck_assert(g.sigma[0] == INFINITY && isfinite(g.sigma[1]) && g.sigma[8] == 0);
    dode_grid_free(&g);
    g = grid(z, DODE_SPACING_LEADING, 8, NAN);
    ck_assert(isfinite(g.sigma[0]));
    dode_grid_free(&g);
    for (int k = 0; k < 2; k++) {
        char err[ERRLEN] = "";
        dode_grid_opts go;
        dode_grid_opts_init(&go);
        go.spacing = k ? DODE_SPACING_KARRAS : DODE_SPACING_LOGSNR;
        dode_grid out = { .steps = 99 };
        ck_assert_int_eq(dode_grid_make(z, &go, 10, &out, err, sizeof err), DODE_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "zero terminal SNR"));
        ck_assert_ptr_nonnull(strstr(err, k ? "karras" : "logsnr"));
        ck_assert_uint_eq(out.steps, 99);                   /* untouched */
    }
    char err[ERRLEN] = "";
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = DODE_SPACING_TRAILING;
    ck_assert_int_eq(dode_grid_make(v, &go, 10, &g, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "trailing needs a discrete schedule"));
    ck_assert_int_eq(dode_spacing_parse("trailng", &go.spacing, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "trailing, leading, linspace"));
    dode_schedule_free(z);
    dode_schedule_free(v);
}
END_TEST

/* ---- sampling from pure noise ---------------------------------------------------------- */

/* x-space RMSE of a sample from x_T on grid g against the Gaussian's exact flow from
 * sigma = inf, xbar(s) = mu + x_T sqrt(v + s^2) (gaussian.c), mapped to x at the end. */
static double zsnr_error(dode_ode *ode, const char *solver, const dode_grid *g,
                         const double *x_T)
{
    char err[ERRLEN] = "";
    const size_t len = NROWS * 2;
    double x0[NROWS * 2], ref[NROWS * 2];
    dode_run_stats st;
    ck_assert_msg(dode_sample(dode_solver_find(solver), ode, g, NULL, x_T, x0, NULL, &st, err,
                              sizeof err) == DODE_OK, "%s: %s", solver, err);
    ck_assert_int_eq(dode_all_finite(x0, len), DODE_OK);
    ck_assert_int_eq(ode->model->exact_flow(ode->model, NROWS, x_T, INFINITY, st.sigma_end, ref),
                     DODE_OK);
    dode_xbar_to_x(ode->schedule, st.sigma_end, ref, ref, len);
    return test_rmse(x0, ref, len);
}

typedef struct {
    const char *schedule, *solver;
    dode_prediction pred;
    dode_spacing spacing;
    size_t N;
    double order;       /* the global order once the first step's error is below the rest */
} zsnr_row;

/* Pairs where the order has settled. Euler on trailing: 0.98 at 100/200; dpmpp2m on
 * trailing is not yet there at 100/200 (1.89: its last step goes to sigma = 0, and trailing
 * grids are uniform only where S divides 1000), so its row uses uniform-t (2.04). */
static const zsnr_row zsnr_rows[] = {
    { "ddpm-linear-zsnr", "euler", DODE_PRED_V, DODE_SPACING_TRAILING, 100, 1.0 },
    { "ddpm-linear-zsnr", "dpmpp2m", DODE_PRED_V, DODE_SPACING_UNIFORM_T, 100, 2.0 },
    { "flow:shift=3", "euler", DODE_PRED_FLOW, DODE_SPACING_UNIFORM_T, 100, 1.0 },
    { "flow:shift=3", "heun", DODE_PRED_FLOW, DODE_SPACING_UNIFORM_T, 100, 2.0 },
};

/* v- and flow-predicting models sample from t = 1 (sigma = inf): finite samples, one NFE
 * for the x0 step, and convergence to the exact flow from pure noise. */
START_TEST(sampling_from_zero_snr_converges_to_the_exact_flow)
{
    const zsnr_row *r = &zsnr_rows[_i];
    dode_schedule *s = test_schedule(r->schedule);
    dode_model *m = gauss(r->pred);
    char err[ERRLEN] = "";
    dode_ode *ode = dode_ode_new(m, s, NROWS, err, sizeof err);
    double *x_T = test_xbar_T(NROWS, 2, 0.0, 9);
    double e[2];
    for (int k = 0; k < 2; k++) {
        dode_grid g = grid(s, r->spacing, r->N << k, 1.0);
        ck_assert(g.sigma[0] == INFINITY);
        e[k] = zsnr_error(ode, r->solver, &g, x_T);
        ck_assert_uint_eq(ode->nfe, (size_t)dode_solver_find(r->solver)->evals_per_step
                          * (g.steps - 1) + 1 - (g.sigma[g.steps] == 0 && !strcmp(r->solver, "heun")));
        dode_grid_free(&g);
    }
    if (getenv("DODE_TEST_VERBOSE"))
        fprintf(stderr, "zsnr %-16s %-8s N=%zu e=%.3e/%.3e order %.3f\n", r->schedule,
                r->solver, r->N, e[0], e[1], log2(e[0] / e[1]));
    ck_assert_msg(fabs(log2(e[0] / e[1]) - r->order) <= 0.1, "%s on %s from sigma = inf: "
                  "observed order %.3f, expected %.1f", r->solver, r->schedule,
                  log2(e[0] / e[1]), r->order);
    free(x_T);
    dode_ode_free(ode);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

/* One trailing step on 1000 levels is the grid [inf, 0]: the x0 step alone, which for the
 * Gaussian gives x0h = mu at pure noise for every row, in one NFE, whatever the solver. */
START_TEST(a_single_step_from_pure_noise_is_the_posterior_mean)
{
    dode_schedule *s = test_schedule("ddpm-linear-zsnr");
    dode_model *m = gauss(DODE_PRED_V);
    char err[ERRLEN] = "";
    dode_ode *ode = dode_ode_new(m, s, NROWS, err, sizeof err);
    dode_grid g = grid(s, DODE_SPACING_TRAILING, 1, NAN);
    ck_assert(g.steps == 1 && g.sigma[0] == INFINITY && g.sigma[1] == 0);
    double *x_T = test_xbar_T(NROWS, 2, 0.0, 4), x0[NROWS * 2];
    static const char *const solvers[3] = { "dpm3", "unipc3", "gsl:rk8pd" };
    for (int k = 0; k < 3; k++) {
        ck_assert_msg(dode_sample(dode_solver_find(solvers[k]), ode, &g, NULL, x_T, x0, NULL,
                                  NULL, err, sizeof err) == DODE_OK, "%s", err);
        ck_assert_uint_eq(ode->nfe, 1);
        for (int i = 0; i < NROWS; i++) {
            ck_assert_double_eq_tol(x0[2 * i], 1.0, 1e-15);
            ck_assert_double_eq_tol(x0[2 * i + 1], -0.5, 1e-15);
        }
    }
    free(x_T);
    dode_grid_free(&g);
    dode_ode_free(ode);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

/* An eps model at zero SNR: a status, a message naming the problem, no NFE, and a
 * finite output (the input, untouched by the failed first step); the same for a score. */
START_TEST(eps_prediction_at_zero_snr_fails_naming_the_problem)
{
    dode_schedule *s = test_schedule("ddpm-linear-zsnr");
    for (int k = 0; k < 2; k++) {
        dode_model *m = gauss(k ? DODE_PRED_SCORE : DODE_PRED_EPS);
        char err[ERRLEN] = "";
        dode_ode *ode = dode_ode_new(m, s, NROWS, err, sizeof err);
        dode_grid g = grid(s, DODE_SPACING_TRAILING, 10, NAN);
        double *x_T = test_xbar_T(NROWS, 2, 0.0, 1), x0[NROWS * 2];
        const int rc = dode_sample(dode_solver_find("dpmpp2m"), ode, &g, NULL, x_T, x0, NULL,
                                   NULL, err, sizeof err);
        ck_assert_int_eq(rc, DODE_EUNSUPPORTED);
        ck_assert_msg(strstr(err, k ? "score has no finite x0" : "predicts eps") != NULL, "%s", err);
        ck_assert_msg(strstr(err, k ? "zero SNR" : "zero terminal SNR") != NULL, "%s", err);
        ck_assert_ptr_nonnull(strstr(err, "step 1 of 10"));
        ck_assert_uint_eq(ode->nfe, (size_t)k);     /* the score wrapper is asked, refuses */
        ck_assert_int_eq(dode_all_finite(x0, NROWS * 2), DODE_OK);
        free(x_T);
        dode_grid_free(&g);
        dode_ode_free(ode);
        dode_model_free(m);
    }
    dode_schedule_free(s);
}
END_TEST

/* sigma = inf on a schedule that never reaches it, inside a grid, or at an increasing
 * grid's end is refused; so is an rk8pd reference from there. */
START_TEST(infinite_sigma_where_it_cannot_be_is_refused)
{
    dode_schedule *vp = test_schedule("ddpm-linear"), *z = test_schedule("ddpm-linear-zsnr");
    dode_model *m = gauss(DODE_PRED_V), *gmm = test_gmm2d();
    char err[ERRLEN] = "";
    dode_ode *ode = dode_ode_new(m, vp, 4, err, sizeof err);
    double xbar[8] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8 }, keep[8];
    memcpy(keep, xbar, sizeof keep);
    const double down[3] = { INFINITY, 10.0, 0.0 }, inner[3] = { 50.0, INFINITY, 1.0 },
                 up[3] = { 1.0, 10.0, INFINITY };
    const dode_solver_type *euler = dode_solver_find("euler");
    ck_assert_int_eq(test_solve(euler, ode, down, 2, xbar, NULL, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "never reaches zero SNR"));
    ck_assert_int_eq(test_solve(euler, ode, inner, 2, xbar, NULL, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "sigmas[1] = inf"));
    ck_assert_int_eq(test_solve(euler, ode, up, 2, xbar, NULL, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "sigmas[2] = inf"));
    ck_assert_mem_eq(xbar, keep, sizeof keep);
    double ref[8];
    ck_assert_int_eq(dode_reference(gmm, z, 4, INFINITY, 1.0, xbar, ref, NULL, NULL, NULL, err,
                                    sizeof err), DODE_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "rk8pd cannot start at sigma = inf"));
    dode_ode_free(ode);
    dode_model_free(m);
    dode_model_free(gmm);
    dode_schedule_free(vp);
    dode_schedule_free(z);
}
END_TEST

/* The command: v-prediction at zero SNR prints finite errors; eps exits non-zero with the
 * reason on stderr and writes no output file. */
START_TEST(cli_samples_zero_snr_with_v_and_refuses_eps)
{
    char *dir = test_tmpdir("zsnr"), out[8192], errbuf[8192], path[512];
    snprintf(path, sizeof path, "%s/x0.npy", dir);
    const char *v[] = { "sample", "--model", "gaussian:dim=2,mean=0.5,std=0.5,predict=v",
                        "--schedule", "ddpm-linear-zsnr", "--spacing", "trailing", "--solver",
                        "dpmpp2m", "--nfe", "20", "--n", "50", "--out", path, NULL };
    ck_assert_msg(test_run_diffode(dir, v, out, errbuf, sizeof out) == 0, "%s", errbuf);
    ck_assert_ptr_nonnull(strstr(out, "\"rmse\":"));
    ck_assert_ptr_null(strstr(out, "nan"));
    ck_assert_int_eq(access(path, F_OK), 0);
    unlink(path);
    v[2] = "gaussian:dim=2,mean=0.5,std=0.5,predict=eps";
    ck_assert_int_ne(test_run_diffode(dir, v, out, errbuf, sizeof out), 0);
    ck_assert_msg(strstr(errbuf, "zero terminal SNR") != NULL, "%s", errbuf);
    ck_assert_int_ne(access(path, F_OK), 0);
    test_rm_tree(dir);
}
END_TEST

static Suite *zsnr_suite(void)
{
    Suite *s = suite_create("zsnr");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, zsnr_rescale_is_affine_in_sqrt_abar_and_ends_at_zero);
    tcase_add_test(tc, zsnr_sigma_reaches_inf_at_one_with_an_exact_inverse);
    tcase_add_test(tc, diffusers_spacings_give_table_2_of_lin_et_al);
    tcase_add_test(tc, zero_snr_grids_start_at_inf_and_log_spacings_refuse_it);
    tcase_add_loop_test(tc, sampling_from_zero_snr_converges_to_the_exact_flow, 0,
                        (int)(sizeof zsnr_rows / sizeof zsnr_rows[0]));
    tcase_add_test(tc, a_single_step_from_pure_noise_is_the_posterior_mean);
    tcase_add_test(tc, eps_prediction_at_zero_snr_fails_naming_the_problem);
    tcase_add_test(tc, infinite_sigma_where_it_cannot_be_is_refused);
    tcase_add_test(tc, cli_samples_zero_snr_with_v_and_refuses_eps);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(zsnr_suite)
