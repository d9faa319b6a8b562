/* check_dist.c - the data law of the exact models (datalaw.h) and the runs.csv columns
 * built on it (experiments/sweep_exact.c): responsibilities against the components' own
 * densities, exact draws against the mixture's moments and weights, the Gaussian's
 * parameters; w2_exact and kl_exact of a sweep equal the affine law computed directly and,
 * for DDIM, approach the exact flow's law at order 1; logp_gap is -nll minus the
 * Gaussian's closed-form E[log p]; columns that do not apply are NaN; summary.json's
 * intervals are the t-intervals of the seeds' values; bad input is refused with a
 * message. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "../experiments/config.h"
#include "../experiments/metrics.h"
#include "../experiments/sweep.h"

START_TEST(gaussian_law_returns_the_model_parameters_and_refuses_other_models)
{
    const double mu[3] = { 0.5, -1, 2 };
    double mean[3] = { 42, 42, 42 }, v = 42;
    char err[ERRLEN];
    dode_model *g = dode_gaussian_new(3, mu, 0.7, DODE_PRED_EPS, err, sizeof err);
    ck_assert_int_eq(dode_gaussian_law(g, mean, &v, err, sizeof err), DODE_OK);
    ck_assert_double_eq(mean[2], 2.0);
    ck_assert_double_eq_tol(v, 0.49, 1e-15);
    dode_model *mix = test_gmm2d(), *wrapped = NULL;
    mean[0] = v = 42;
    ck_assert_int_eq(dode_gaussian_law(mix, mean, &v, err, sizeof err), DODE_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "'gmm' is not the eps-predicting gaussian"));
    ck_assert_int_eq(dode_model_from_spec("gaussian:dim=2,predict=x0", &wrapped, err,
                                          sizeof err), DODE_OK);
    ck_assert_int_eq(dode_gaussian_law(wrapped, mean, &v, err, sizeof err), DODE_EUNSUPPORTED);
    ck_assert_int_eq(dode_gaussian_law(NULL, mean, &v, err, sizeof err), DODE_EUNSUPPORTED);
    ck_assert_double_eq(mean[0], 42);
    ck_assert_double_eq(v, 42);
    ck_assert_uint_eq(dode_gmm_components(g), 0);
    ck_assert_uint_eq(dode_gmm_components(mix), 3);
    dode_model_free(wrapped);
    dode_model_free(mix);
    dode_model_free(g);
}
END_TEST

/* gamma_k(x) = w_k N(x; mu_k, C_k) / p(x): each component's density from a one-component
 * mixture's log_density, p from the mixture's; both at sigma. */
static void check_responsibilities(dode_model *mix, dode_model **comp, const double *w,
                                   size_t K, size_t dim, double sigma)
{
    enum { N = 40 };
    double x[N * 4], gamma[N * 8], lp[N], lk[N];
    char err[ERRLEN];
    void *ws = NULL, *wk = NULL;
    ck_assert(dim <= 4 && K <= 8);
    for (size_t i = 0; i < N * dim; i++)
        x[i] = 3.0 * sin(0.7 * (double)i + 0.3);
    ck_assert_int_eq(dode_model_workspace_new(mix, N, &ws, err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_gmm_responsibilities(mix, ws, N, x, sigma, gamma, err, sizeof err),
                     DODE_OK);
    ck_assert_int_eq(mix->log_density(mix, ws, N, x, sigma, lp), DODE_OK);
    for (size_t k = 0; k < K; k++) {
        ck_assert_int_eq(dode_model_workspace_new(comp[k], N, &wk, err, sizeof err), DODE_OK);
        ck_assert_int_eq(comp[k]->log_density(comp[k], wk, N, x, sigma, lk), DODE_OK);
        for (size_t i = 0; i < N; i++)
            ck_assert_double_eq_tol(gamma[i * K + k], exp(log(w[k]) + lk[i] - lp[i]), 1e-12);
        dode_model_workspace_free(comp[k], wk);
    }
    dode_model_workspace_free(mix, ws);
}

START_TEST(responsibilities_are_the_components_share_of_the_density)
{
    static const double w[3] = { 0.5, 0.3, 0.2 }, mu[6] = { -1.5, 0, 1.5, 0.5, 0, 2 };
    static const double sd[3] = { 0.3, 0.5, 0.2 };
    static const double S[12] = { 1.0, 0.3, 0.3, 0.5, 0.2, -0.1, -0.1, 0.4, 2.0, 0.0, 0.0, 0.1 };
    char err[ERRLEN];
    dode_model *iso = test_gmm2d(), *full = dode_gmm_new(3, 2, w, mu, "full", S, err, sizeof err);
    dode_model *ci[3], *cf[3];
    for (size_t k = 0; k < 3; k++) {
        const double one = 1.0;
        ci[k] = dode_gmm_new(1, 2, &one, mu + 2 * k, "isotropic", sd + k, err, sizeof err);
        cf[k] = dode_gmm_new(1, 2, &one, mu + 2 * k, "full", S + 4 * k, err, sizeof err);
        ck_assert(ci[k] != NULL && cf[k] != NULL);
    }
    double wt[3];
    ck_assert_int_eq(dode_gmm_weights(iso, wt, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(wt[1], 0.3, 1e-15);
    for (size_t s = 0; s < 3; s++) {
        const double sigma[3] = { 0.0, 0.01, 1.3 };
        check_responsibilities(iso, ci, w, 3, 2, sigma[s]);
        check_responsibilities(full, cf, w, 3, 2, sigma[s]);
    }
    for (size_t k = 0; k < 3; k++) {
        dode_model_free(ci[k]);
        dode_model_free(cf[k]);
    }
    dode_model_free(iso);
    dode_model_free(full);
}
END_TEST

/* n draws of m at sigma with u_i = (i + 1/2) / n (stratified: each component gets exactly
 * n w_k rows when n w_k is whole) and z from a seeded generator; caller frees. */
static double *draws(const dode_model *m, size_t n, double sigma, int stratified)
{
    char err[ERRLEN];
    const size_t d = m->dim;
    double *u = malloc(n * sizeof *u), *z = malloc(n * d * sizeof *z), *x = malloc(n * d * sizeof *x);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 17);
    for (size_t i = 0; i < n; i++) {
        u[i] = stratified ? ((double)i + 0.5) / (double)n : gsl_rng_uniform(rng);
        for (size_t j = 0; j < d; j++)
            z[i * d + j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
    void *ws = NULL;
    ck_assert_int_eq(dode_model_workspace_new(m, 1, &ws, err, sizeof err), DODE_OK);
    ck_assert_msg(dode_gmm_draw(m, ws, n, sigma, u, z, x, err, sizeof err) == DODE_OK, "%s", err);
    dode_model_workspace_free(m, ws);
    gsl_rng_free(rng);
    free(u);
    free(z);
    return x;
}

START_TEST(stratified_draws_of_separated_modes_land_in_exact_proportions)
{
    /* modes 10 apart with stds <= 0.5 (20 standard deviations): every draw's largest
     * responsibility is its own component, so the mode-mass TV is exactly 0 */
    static const double w[3] = { 0.5, 0.3, 0.2 }, mu[6] = { -10, 0, 10, 0, 0, 10 };
    static const double sd[3] = { 0.3, 0.5, 0.2 };
    enum { N = 1000 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(3, 2, w, mu, "isotropic", sd, err, sizeof err);
    double *x = draws(m, N, 0.01, 1), *gamma = malloc(N * 3 * sizeof *gamma), tv = 42;
    void *ws = NULL;
    ck_assert_int_eq(dode_model_workspace_new(m, N, &ws, err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_gmm_responsibilities(m, ws, N, x, 0.01, gamma, err, sizeof err),
                     DODE_OK);
    ck_assert_int_eq(exp_metric_mode_tv(gamma, N, 3, w, &tv, err, sizeof err), DODE_OK);
    ck_assert_double_eq(tv, 0.0);
    dode_model_workspace_free(m, ws);
    dode_model_free(m);
    free(x);
    free(gamma);
}
END_TEST

START_TEST(draws_have_the_mixture_mean_and_the_components_covariance)
{
    /* a full covariance: one component at sigma = 0.5 has covariance S + 0.25 I; the
     * sample covariance entry (i, j) has variance (C_ii C_jj + C_ij^2) / n; a mixture's
     * mean is sum w_k mu_k, each coordinate within 5 standard errors */
    static const double S[4] = { 1.0, 0.6, 0.6, 0.5 }, mu[2] = { 1, -2 }, one = 1.0;
    enum { N = 20000 };
    char err[ERRLEN];
    dode_model *c = dode_gmm_new(1, 2, &one, mu, "full", S, err, sizeof err);
    double *x = draws(c, N, 0.5, 0), mean[2], cov[4];
    ck_assert_int_eq(exp_metric_moments(x, N, 2, mean, cov, err, sizeof err), DODE_OK);
    const double C[4] = { 1.25, 0.6, 0.6, 0.75 };
    for (size_t i = 0; i < 2; i++) {
        ck_assert_double_eq_tol(mean[i], mu[i], 5 * sqrt(C[3 * i] / N));
        for (size_t j = 0; j < 2; j++)
            ck_assert_double_eq_tol(cov[2 * i + j], C[2 * i + j],
                                    5 * sqrt((C[3 * i] * C[3 * j] + C[2 * i + j] * C[2 * i + j]) / N));
    }
    free(x);
    dode_model *mix = test_gmm2d();
    x = draws(mix, N, 0.0, 0);
    ck_assert_int_eq(exp_metric_moments(x, N, 2, mean, cov, err, sizeof err), DODE_OK);
    /* sum w_k mu_k = (-0.3, 0.55); the coordinates' variances bound the standard error */
    ck_assert_double_eq_tol(mean[0], 0.5 * -1.5 + 0.3 * 1.5, 5 * sqrt(cov[0] / N));
    ck_assert_double_eq_tol(mean[1], 0.3 * 0.5 + 0.2 * 2.0, 5 * sqrt(cov[3] / N));
    free(x);
    dode_model_free(mix);
    dode_model_free(c);
}
END_TEST

START_TEST(mixture_law_refuses_bad_input_with_a_message)
{
    dode_model *mix = test_gmm2d();
    const double mu[2] = { 0, 0 };
    char err[ERRLEN];
    dode_model *g = dode_gaussian_new(2, mu, 1.0, DODE_PRED_EPS, err, sizeof err);
    double x[4] = { 0, 0, 1, 1 }, u[2] = { 0.1, 0.9 }, out[6] = { 42, 42, 42, 42, 42, 42 };
    void *ws = NULL;
    ck_assert_int_eq(dode_model_workspace_new(mix, 2, &ws, err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_gmm_responsibilities(g, NULL, 2, x, 0.1, out, err, sizeof err),
                     DODE_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "'gaussian' is not a Gaussian mixture"));
    ck_assert_int_eq(dode_gmm_weights(g, out, err, sizeof err), DODE_EUNSUPPORTED);
    ck_assert_int_eq(dode_gmm_weights(mix, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_int_eq(dode_gmm_responsibilities(mix, ws, 0, x, 0.1, out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got n = 0"));
    ck_assert_int_eq(dode_gmm_responsibilities(mix, NULL, 2, x, 0.1, out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "and NULL"));
    ck_assert_int_eq(dode_gmm_responsibilities(mix, ws, 2, x, -1, out, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "got -1"));
    ck_assert_int_eq(dode_gmm_draw(mix, ws, 2, NAN, u, x, out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "mixture draw: sigma must be finite"));
    ck_assert_int_eq(dode_gmm_draw(mix, ws, 2, 0.1, NULL, x, out, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "and NULL"));
    ck_assert_int_eq(dode_gmm_draw(NULL, ws, 2, 0.1, u, x, out, err, sizeof err),
                     DODE_EUNSUPPORTED);
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq(out[i], 42);
    dode_model_workspace_free(mix, ws);
    dode_model_free(mix);
    dode_model_free(g);
}
END_TEST

/* A gaussian and the section 8 mixture; ddim, euler-a and dpmpp2m with static
 * thresholding (not affine); NFE 100 and 200; one seed: 12 rows (model, solver, nfe
 * nested; seed fastest). */
static const char dist_ini[] =
    "[experiment]\nname = dist\nsamples = 64\nseeds = 3\ntrue_samples = 128\nprojections = 8\n"
    "[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
    "[model m]\nspec = gmm:experiments/configs/gmm2d.json\n"
    "[solver clip]\nbase = dpmpp2m\nthresholding = static\nclip_value = 0.5\n"
    "[sweep]\nmodels = g, m\nschedules = vp-linear\nspacings = logsnr\n"
    "solvers = ddim, euler-a, clip\nnfe = 100, 200\n";

enum { COL_S0 = 10, COL_S1 = 11, COL_NLL = 15, COL_W2 = 20, COL_KL, COL_TV, COL_GAP, COL_E };

/* Runs the sweep of config text ini (its name is "dist") in a fresh root and returns the
 * named files of root/dist ([nfiles], caller frees; NULL where a file is missing). */
static void run_sweep_files(const char *ini, const char *const *names, size_t nfiles,
                            char **texts)
{
    exp_config cfg;
    exp_sweep_opts o;
    char err[ERRLEN], path[512], root[] = "/tmp/check_dist_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_msg(exp_config_parse(ini, "dist_test.ini", &cfg, err, sizeof err) == DODE_OK,
                  "%s", err);
    exp_sweep_opts_init(&o);
    o.root = root;
    ck_assert_msg(exp_sweep_run(&cfg, &o, NULL, err, sizeof err) == DODE_OK, "%s", err);
    exp_config_free(&cfg);
    for (size_t k = 0; k < nfiles; k++) {
        snprintf(path, sizeof path, "%s/dist/%s", root, names[k]);
        FILE *f = fopen(path, "rb");
        texts[k] = NULL;
        if (f == NULL)
            continue;
        texts[k] = calloc(1, 1 << 18);
        ck_assert_uint_lt(fread(texts[k], 1, (1 << 18) - 1, f), (1 << 18) - 1);
        fclose(f);
    }
    snprintf(path, sizeof path, "rm -rf '%s'", root);
    ck_assert_int_eq(system(path), 0);
}

static char *run_dist_sweep(void)
{
    static const char *const names[1] = { "runs.csv" };
    char *csv;
    run_sweep_files(dist_ini, names, 1, &csv);
    ck_assert_ptr_nonnull(csv);
    return csv;
}

/* ddim's exact law at nfe on the dist_ini gaussian, computed here: W2 and KL to the
 * target; and its W2 to the exact flow's law (the law DDIM converges to) into *to_flow. */
static void ddim_law(size_t nfe, double s0, double s1, double *w2, double *kl, double *to_flow)
{
    const double mu[2] = { 0.5, 0.5 }, v = 0.64;
    char err[ERRLEN];
    dode_model *g = dode_gaussian_new(2, mu, 0.8, DODE_PRED_EPS, err, sizeof err);
    dode_schedule *sc = dode_schedule_new("vp-linear", err, sizeof err);
    dode_grid_opts go;
    dode_grid grid;
    dode_grid_opts_init(&go);
    go.spacing = DODE_SPACING_LOGSNR;
    ck_assert_int_eq(dode_grid_make(sc, &go, nfe, &grid, err, sizeof err), DODE_OK);
    ck_assert_double_eq(grid.sigma[0], s0);            /* the sweep's grid, to the bit */
    ck_assert_double_eq(grid.sigma[nfe], s1);
    const double vT = 1 + s0 * s0, mT[2] = { 0, 0 }, vTs[2] = { vT, vT };
    const double vt[2] = { v + s1 * s1, v + s1 * s1 }, r = sqrt((v + s1 * s1) / (v + vT - 1));
    double me[2], ve[2];
    ck_assert_int_eq(dode_affine_law(dode_solver_find("ddim"), g, sc, &grid, NULL, mT, vTs, me, ve,
                                     err, sizeof err), DODE_OK);
    *w2 = dode_w2_diag(me, ve, mu, vt, 2);
    ck_assert_int_eq(exp_metric_kl_diag(me, ve, mu, vt, 2, kl, err, sizeof err), DODE_OK);
    /* exact flow: xbar_end = mu + (xbar_T - mu) r, r = sqrt((v + s1^2) / (v + s0^2)) */
    const double mf[2] = { mu[0] * (1 - r), mu[1] * (1 - r) }, vf[2] = { vT * r * r, vT * r * r };
    *to_flow = dode_w2_diag(me, ve, mf, vf, 2);
    dode_grid_free(&grid);
    dode_schedule_free(sc);
    dode_model_free(g);
}

START_TEST(sweep_w2_and_kl_are_the_affine_law_and_ddim_tends_to_the_flows_law_at_order_1)
{
    char *csv = run_dist_sweep();
    double gap[2];
    for (int k = 0; k < 2; k++) {            /* rows 1, 2: gaussian, ddim, NFE 100 and 200 */
        double w2, kl;
        ddim_law(k ? 200 : 100, test_csv_field(csv, 1 + k, COL_S0),
                 test_csv_field(csv, 1 + k, COL_S1), &w2, &kl, &gap[k]);
        /* the table prints 11 significant digits */
        ck_assert_double_eq_tol(test_csv_field(csv, 1 + k, COL_W2), w2, 1e-10 * w2);
        ck_assert_double_eq_tol(test_csv_field(csv, 1 + k, COL_KL), kl, 1e-10 * kl);
    }
    /* DDIM = Euler is first order: its law's distance to the flow's halves with NFE (the
     * W2 to the target does not: both laws miss it, by the start's mismatch too) */
    ck_assert_double_eq_tol(log2(gap[0] / gap[1]), 1.0, 0.1);
    free(csv);
}
END_TEST

START_TEST(sweep_columns_apply_where_their_law_is_known_and_are_nan_elsewhere)
{
    char *csv = run_dist_sweep();
    for (int line = 1; line <= 12; line++) {
        const int gauss = line <= 6, clipped = line % 6 == 5 || line % 6 == 0;
        const double s1 = test_csv_field(csv, line, COL_S1);
        ck_assert_msg(isnan(test_csv_field(csv, line, COL_W2)) == (!gauss || clipped),
                      "row %d", line);
        ck_assert(isnan(test_csv_field(csv, line, COL_KL)) == (!gauss || clipped));
        ck_assert(isnan(test_csv_field(csv, line, COL_TV)) == gauss);
        ck_assert(isfinite(test_csv_field(csv, line, COL_GAP))
                  && isfinite(test_csv_field(csv, line, COL_E)));
        if (!gauss) {
            ck_assert(test_csv_field(csv, line, COL_TV) >= 0
                      && test_csv_field(csv, line, COL_TV) <= 1);
            continue;
        }
        /* logp_gap = mean log p - E log p = -nll + (d/2)(1 + log(2 pi (v + s1^2))) */
        const double elp = -(1.0 + log(6.283185307179586 * (0.64 + s1 * s1)));
        ck_assert_double_eq_tol(test_csv_field(csv, line, COL_GAP),
                                -test_csv_field(csv, line, COL_NLL) - elp,
                                1e-9);
    }
    free(csv);
}
END_TEST

/* dist_ini with three seeds and no thresholded solver: 2 models x 2 solvers x 2 NFE x 3
 * seeds = 24 rows; and the same with one seed. */
static const char seeds_ini[] =
    "[experiment]\nname = dist\nsamples = 64\nseeds = 3, 4, 5\ntrue_samples = 128\n"
    "projections = 8\n[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
    "[model m]\nspec = gmm:experiments/configs/gmm2d.json\n"
    "[sweep]\nmodels = g, m\nschedules = vp-linear\nspacings = logsnr\n"
    "solvers = ddim, euler-a\nnfe = 20, 40\n";
static const char one_seed_ini[] =
    "[experiment]\nname = dist\nsamples = 64\nseeds = 3\ntrue_samples = 128\n"
    "[model m]\nspec = gmm:experiments/configs/gmm2d.json\n"
    "[sweep]\nschedules = vp-linear\nsolvers = euler-a\nnfe = 20, 40\n";

static const cJSON *json_path(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b == NULL || x == NULL ? x : cJSON_GetObjectItemCaseSensitive(x, b);
}

/* Line g's interval arrays of metric against the t-interval of runs.csv's column col over
 * the three seeds of each NFE (rows of line g: 6 g + 3 k + 1 .. + 3). */
static void check_line_interval(const cJSON *line, const char *csv, int g, const char *metric,
                                int col)
{
    const cJSON *iv = json_path(json_path(line, "intervals", NULL), metric, NULL);
    ck_assert_msg(iv != NULL, "line %d has no %s interval", g, metric);
    for (int k = 0; k < 2; k++) {
        double v[3], mean, lo, hi;
        for (int j = 0; j < 3; j++)
            v[j] = test_csv_field(csv, 6 * g + 3 * k + 1 + j, col);
        ck_assert_int_eq(exp_metric_t_interval(v, 3, &mean, &lo, &hi, NULL, NULL, 0), DODE_OK);
        const double got[3] = {
            cJSON_GetArrayItem(json_path(iv, "mean", NULL), k)->valuedouble,
            cJSON_GetArrayItem(json_path(iv, "lo", NULL), k)->valuedouble,
            cJSON_GetArrayItem(json_path(iv, "hi", NULL), k)->valuedouble };
        /* from the table's 11 digits: the interval's ends to 1e-9 of its scale */
        const double tol = 1e-9 * (fabs(mean) + (hi - lo) + 1e-300);
        ck_assert_double_eq_tol(got[0], mean, tol);
        ck_assert_double_eq_tol(got[1], lo, tol);
        ck_assert_double_eq_tol(got[2], hi, tol);
        ck_assert_double_eq(cJSON_GetArrayItem(json_path(iv, "seeds", NULL), k)->valuedouble, 3);
    }
}

START_TEST(summary_gives_each_metric_a_t_interval_over_the_seeds)
{
    static const char *const names[3] = { "runs.csv", "summary.json", "mode_tv_vs_nfe.dat" };
    char *t[3];
    run_sweep_files(seeds_ini, names, 3, t);
    ck_assert(t[0] != NULL && t[1] != NULL && t[2] != NULL);
    cJSON *js = cJSON_Parse(t[1]);
    const cJSON *lines = json_path(js, "lines", NULL);
    ck_assert_int_eq(cJSON_GetArraySize(lines), 4);    /* (g, m) x (ddim, euler-a) */
    for (int g = 0; g < 4; g++) {
        const cJSON *line = cJSON_GetArrayItem(lines, g);
        check_line_interval(line, t[0], g, "energy", COL_E);
        check_line_interval(line, t[0], g, "logp_gap", COL_GAP);
        check_line_interval(line, t[0], g, g < 2 ? "w2_exact" : "mode_tv",
                            g < 2 ? COL_W2 : COL_TV);
        if (g < 2) {        /* the exact law does not depend on the seed: a zero interval */
            const cJSON *w = json_path(json_path(line, "intervals", NULL), "w2_exact", NULL);
            const double lo = cJSON_GetArrayItem(json_path(w, "lo", NULL), 1)->valuedouble;
            ck_assert_double_eq_tol(lo, cJSON_GetArrayItem(json_path(w, "hi", NULL), 1)
                                    ->valuedouble, 1e-14 * lo);    /* to rounding */
            ck_assert_ptr_null(json_path(json_path(line, "intervals", NULL), "mode_tv", NULL));
        }
    }
    /* mode_tv_vs_nfe.dat: one block per line, the gaussian's empty ("nan", no label),
     * the mixture's euler-a block (the fourth) holding the summary's numbers for NFE 40 */
    const char *p = t[2];
    for (int b = 0; b < 3; b++)
        p = strstr(p, "\n\n\n") + 3;
    ck_assert_ptr_nonnull(strstr(t[2], "\"\" \"mode_tv\" \"lo\" \"hi\"\nnan nan nan nan\n"));
    const cJSON *iv = json_path(json_path(cJSON_GetArrayItem(lines, 3), "intervals", NULL),
                                "mode_tv", NULL);
    double nfe, mean, lo, hi;
    p = strchr(strchr(p, '\n') + 1, '\n') + 1;          /* the header, the NFE 20 row */
    ck_assert_int_eq(sscanf(p, "%lf %lf %lf %lf", &nfe, &mean, &lo, &hi), 4);
    ck_assert_double_eq(nfe, 40);
    ck_assert_double_eq_tol(mean, cJSON_GetArrayItem(json_path(iv, "mean", NULL), 1)->valuedouble,
                            1e-9 * fabs(mean));
    ck_assert_double_eq_tol(hi - lo, cJSON_GetArrayItem(json_path(iv, "hi", NULL), 1)->valuedouble
                            - cJSON_GetArrayItem(json_path(iv, "lo", NULL), 1)->valuedouble,
                            1e-9 * (hi - lo) + 1e-15);
    cJSON_Delete(js);
    for (int k = 0; k < 3; k++)
        free(t[k]);
    /* one seed: no interval in the summary, a band of zero width in the table */
    static const char *const one[2] = { "summary.json", "mode_tv_vs_nfe.dat" };
    run_sweep_files(one_seed_ini, one, 2, t);
    ck_assert_ptr_nonnull(t[0]);
    ck_assert_ptr_null(strstr(t[0], "\"intervals\""));
    ck_assert_int_eq(sscanf(strchr(t[1], '\n') + 1, "%lf %lf %lf %lf", &nfe, &mean, &lo, &hi),
                     4);
    ck_assert(lo == mean && hi == mean);
    free(t[0]);
    free(t[1]);
}
END_TEST

static Suite *dist_suite(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gaussian_law_returns_the_model_parameters_and_refuses_other_models);
    tcase_add_test(tc, responsibilities_are_the_components_share_of_the_density);
    tcase_add_test(tc, stratified_draws_of_separated_modes_land_in_exact_proportions);
    tcase_add_test(tc, draws_have_the_mixture_mean_and_the_components_covariance);
    tcase_add_test(tc, mixture_law_refuses_bad_input_with_a_message);
    tcase_add_test(tc, sweep_w2_and_kl_are_the_affine_law_and_ddim_tends_to_the_flows_law_at_order_1);
    tcase_add_test(tc, sweep_columns_apply_where_their_law_is_known_and_are_nan_elsewhere);
    tcase_add_test(tc, summary_gives_each_metric_a_t_interval_over_the_seeds);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(dist_suite)
