/* check_train.c - denoising score matching (train.h) and the data sources (data.h).
 *
 * The yardstick: for Gaussian data N(mu, v I) the best eps predictor E[eps | x_t] has loss
 * d a^2 v / (a^2 v + s^2) at each level, so the Bayes loss is the level average of that
 * (dode_train_linear_bound with eigenvalues v), and predicting 0 scores d. A short run
 * must land between the two, in the lower half, and never (beyond noise) below Bayes.
 * The `diffode train` command is run as a child ($DIFFODE, default build/diffode): its
 * outputs load, a seed reproduces them byte for byte, and bad input leaves no file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "diffode/data.h"
#include "diffode/train.h"

static const char *const gauss_json =
    "{\"weights\":[1],\"means\":[[0.5,-1.0]],\"stds\":[0.7]}";

static dode_data *gauss_data(void)
{
    char err[ERRLEN];
    dode_data *d = dode_data_gmm_json_string(gauss_json, "gauss", err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    return d;
}

static dode_mlp *small_mlp(const char *schedule, size_t dim, unsigned long seed)
{
    dode_mlp_arch a = { .dim = dim, .temb = 16, .nhidden = 2, .widths = { 32, 32 },
                        .prediction = DODE_PRED_EPS };
    snprintf(a.schedule, sizeof a.schedule, "%s", schedule);
    return test_mlp_new(&a, seed);
}

/* The Bayes predictor's loss by Monte Carlo, written out from the closed form
 * E[eps | x_t] = s (x_t - a mu) / (a^2 v + s^2) on DDPM's uniform levels. */
static void bayes_loss_mc(const dode_schedule *s, double v, size_t n, double *mean, double *se)
{
    const double *abar = dode_schedule_alphas_cumprod(s);
    const size_t N = dode_schedule_levels(s);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 99);
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t lv = gsl_rng_uniform_int(rng, N);
        const double a = sqrt(abar[lv]), sd = sqrt(1 - abar[lv]);
        double l = 0;
        for (int j = 0; j < 2; j++) {
            const double x0 = 0.3 + gsl_ran_gaussian(rng, sqrt(v));
            const double e = gsl_ran_gaussian(rng, 1.0), xt = a * x0 + sd * e;
            const double r = e - sd * (xt - a * 0.3) / (a * a * v + sd * sd);
            l += r * r;
        }
        sum += l;
        sum2 += l * l;
    }
    *mean = sum / (double)n;
    *se = sqrt((sum2 / (double)n - *mean * *mean) / (double)n);
    gsl_rng_free(rng);
}

START_TEST(linear_bound_is_the_gaussian_bayes_loss)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    const double v = 0.49, eigs[2] = { v, v };
    double bound, mc, se;
    ck_assert_int_eq(dode_train_linear_bound(s, eigs, 2, &bound, err, sizeof err), DODE_OK);
    bayes_loss_mc(s, v, 200000, &mc, &se);
    ck_assert_msg(fabs(bound - mc) < 4 * se, "bound %g, Monte Carlo %g +- %g", bound, mc, se);
    const double zero[2] = { 0, 0 }, huge[2] = { 1e12, 1e12 };
    ck_assert_int_eq(dode_train_linear_bound(s, zero, 2, &bound, err, sizeof err), DODE_OK);
    ck_assert_double_eq(bound, 0);                    /* nothing to learn: eps = x_t / s */
    ck_assert_int_eq(dode_train_linear_bound(s, huge, 2, &bound, err, sizeof err), DODE_OK);
    ck_assert_double_eq_tol(bound, 2, 1e-3);           /* nothing to see: loss d */
    const double neg[2] = { -1, 1 };
    ck_assert_int_eq(dode_train_linear_bound(s, neg, 2, &bound, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "eigenvalue 0"));
    dode_schedule_free(s);
}
END_TEST

START_TEST(trained_loss_reaches_the_bayes_loss)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_data *data = gauss_data();
    dode_mlp *m = small_mlp("ddpm-linear", 2, 1);
    const double eigs[2] = { 0.49, 0.49 };
    double bayes, before, after;
    dode_train_linear_bound(s, eigs, 2, &bayes, err, sizeof err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    ck_assert_int_eq(dode_train_eval(m, s, data, 8192, rng, &before, err, sizeof err), DODE_OK);
    dode_train_opts o;
    dode_train_opts_init(&o);
    o.iters = 1500;
    o.batch = 128;
    o.lr = 3e-3;
    o.lr_final = 1e-4;
    double *curve = malloc(o.iters * sizeof *curve);
    ck_assert_int_eq(dode_train(m, s, data, &o, curve, err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_train_eval(m, s, data, 8192, rng, &after, err, sizeof err), DODE_OK);
    /* 8192 draws: standard error <= sqrt(2 d (1 + d) / n) ~ 0.04 */
    ck_assert_msg(after < 0.5 * (bayes + 2.0), "loss %g, Bayes %g, zero predictor 2", after,
                  bayes);
    ck_assert_msg(fabs(after - bayes) < 0.1, "loss %g not within 0.1 (~4 standard errors) "
                  "of the Bayes loss %g", after, bayes);
    ck_assert_msg(after < before, "loss did not fall: %g -> %g", before, after);
    ck_assert(isfinite(curve[o.iters - 1]));
    free(curve);
    gsl_rng_free(rng);
    dode_mlp_free(m);
    dode_data_free(data);
    dode_schedule_free(s);
}
END_TEST

static dode_mlp *train_run(unsigned long seed, const char *sched_name)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new(sched_name, err, sizeof err);
    dode_data *data = gauss_data();
    dode_mlp *m = small_mlp(sched_name, 2, 3);
    dode_train_opts o;
    dode_train_opts_init(&o);
    o.iters = 40;
    o.batch = 64;
    o.seed = seed;
    ck_assert_int_eq(dode_train(m, s, data, &o, NULL, err, sizeof err), DODE_OK);
    dode_data_free(data);
    dode_schedule_free(s);
    return m;
}

START_TEST(same_seed_gives_identical_weights)
{
    const char *names[] = { "ddpm-linear", "vp-cosine", "edm" };
    for (size_t k = 0; k < 3; k++) {
        dode_mlp *a = train_run(17, names[k]), *b = train_run(17, names[k]);
        dode_mlp *c = train_run(18, names[k]);
        const size_t P = dode_mlp_nparams(a);
        ck_assert(memcmp(dode_mlp_params(a), dode_mlp_params(b), P * sizeof(double)) == 0);
        ck_assert(memcmp(dode_mlp_params(a), dode_mlp_params(c), P * sizeof(double)) != 0);
        dode_mlp_free(a);
        dode_mlp_free(b);
        dode_mlp_free(c);
    }
}
END_TEST

START_TEST(bad_training_setups_are_refused_and_weights_kept)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_schedule *vp = dode_schedule_new("vp-linear", err, sizeof err);
    dode_data *data = gauss_data();
    dode_mlp *m = small_mlp("ddpm-linear", 2, 1), *m3 = small_mlp("ddpm-linear", 3, 1);
    const size_t P = dode_mlp_nparams(m);
    double *keep = malloc(P * sizeof *keep);
    memcpy(keep, dode_mlp_params(m), P * sizeof *keep);
    dode_train_opts o;
    dode_train_opts_init(&o);
    o.iters = 5;
    ck_assert_int_eq(dode_train(m3, s, data, &o, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "dim 3"));
    ck_assert_int_eq(dode_train(m, vp, data, &o, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"vp-linear\""));
    o.lr = -1;
    ck_assert_int_eq(dode_train(m, s, data, &o, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "lr -1"));
    o.lr = 1e-3;
    o.iters = 0;
    ck_assert_int_eq(dode_train(m, s, data, &o, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "iters"));
    ck_assert(memcmp(keep, dode_mlp_params(m), P * sizeof *keep) == 0);
    free(keep);
    dode_mlp_free(m);
    dode_mlp_free(m3);
    dode_data_free(data);
    dode_schedule_free(vp);
    dode_schedule_free(s);
}
END_TEST

START_TEST(overflowing_loss_stops_with_the_step_named)
{
    char err[ERRLEN];
    const double rows[4] = { 1e300, -1e300, 1e300, 1e300 };
    dode_data *data = dode_data_from_rows(rows, 2, 2, "huge", err, sizeof err);
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_mlp *m = small_mlp("ddpm-linear", 2, 1);
    dode_train_opts o;
    dode_train_opts_init(&o);
    o.iters = 3;
    ck_assert_int_eq(dode_train(m, s, data, &o, NULL, err, sizeof err), DODE_ENONFINITE);
    ck_assert_ptr_nonnull(strstr(err, "at step 1 of 3"));
    dode_mlp_free(m);
    dode_schedule_free(s);
    dode_data_free(data);
}
END_TEST

START_TEST(gmm_draws_have_the_spec_covariance)
{
    char err[ERRLEN];
    dode_data *d = dode_data_gmm_json_string(
        "{\"weights\":[1],\"means\":[[1,2]],\"covs\":[[[1,0.5],[0.5,2]]]}", "full", err,
        sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double eigs[2];
    ck_assert_int_eq(dode_data_cov_eigs(d, rng, 100000, eigs, err, sizeof err), DODE_OK);
    /* eigenvalues 1.5 -+ sqrt(0.5); sample eigenvalue sd ~ l sqrt(2/n) <= 0.01 */
    ck_assert_double_eq_tol(eigs[0], 1.5 - sqrt(0.5), 0.04);
    ck_assert_double_eq_tol(eigs[1], 1.5 + sqrt(0.5), 0.04);
    gsl_rng_free(rng);
    dode_data_free(d);
}
END_TEST

START_TEST(toys_have_their_shapes)
{
    const size_t n = 20000;
    double *x = malloc(2 * n * sizeof *x);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char err[ERRLEN];
    ck_assert_int_eq(dode_toy_sample("checkerboard", rng, n, x, err, sizeof err), DODE_OK);
    for (size_t i = 0; i < n; i++) {       /* only the squares of one colour on [-4, 4]^2 */
        ck_assert(fabs(x[2 * i]) <= 4 && fabs(x[2 * i + 1]) <= 4);
        const long parity = (long)floor(x[2 * i] / 2) + (long)floor(x[2 * i + 1] / 2);
        ck_assert_int_eq(parity & 1, 0);
    }
    /* moons: arc means (0, 2/pi) and (1, 1/2 - 2/pi), average (1/2, 1/4), then 2 m - (1, 0.2)
     * = (0, 0.3); per-coordinate sd < 1.2, so 4 standard errors < 0.034 */
    ck_assert_int_eq(dode_toy_sample("moons", rng, n, x, err, sizeof err), DODE_OK);
    double m0 = 0, m1 = 0;
    for (size_t i = 0; i < n; i++) {
        m0 += x[2 * i] / (double)n;
        m1 += x[2 * i + 1] / (double)n;
    }
    ck_assert_double_eq_tol(m0, 0.0, 0.034);
    ck_assert_double_eq_tol(m1, 0.3, 0.034);
    ck_assert_int_eq(dode_toy_sample("swissroll", rng, n, x, err, sizeof err), DODE_OK);
    for (size_t i = 0; i < n; i++)           /* radius t/5 <= 0.9 pi plus noise */
        ck_assert(hypot(x[2 * i], x[2 * i + 1]) < 0.9 * 3.14159265358979 + 1.2);
    ck_assert_int_eq(dode_toy_sample("spiral", rng, n, x, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "\"spiral\""));
    free(x);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(data_specs_are_checked)
{
    dode_data *d = (dode_data *)0x5eed;
    char err[ERRLEN];
    ck_assert_int_eq(dode_data_open("toy:moons", &d, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(dode_data_dim(d), 2);
    dode_data_free(d);
    ck_assert_int_eq(dode_data_open("gmm:experiments/configs/gmm2d.json", &d, err, sizeof err),
                     DODE_OK);
    ck_assert_uint_eq(dode_data_dim(d), 2);
    dode_data_free(d);
    d = (dode_data *)0x5eed;
    ck_assert_int_eq(dode_data_open("toy:spiral", &d, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "spiral"));
    ck_assert_int_eq(dode_data_open("csv:x.csv", &d, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "csv:x.csv"));
    ck_assert_int_eq(dode_data_open("gmm:/nonexistent.json", &d, err, sizeof err), DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.json"));
    ck_assert_int_eq(dode_data_open("npy:/nonexistent.npy", &d, err, sizeof err), DODE_EIO);
    ck_assert_ptr_eq(d, (dode_data *)0x5eed);
    ck_assert_ptr_null(dode_data_gmm_json_string("{\"weights\":[1]}", "partial", err,
                                                 sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "partial"));
}
END_TEST

START_TEST(loss_curve_csv_has_one_row_per_step)
{
    char dir[] = "/tmp/check_train.XXXXXX", path[64], line[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/loss.csv", dir);
    const double curve[3] = { 2.0, 1.0, 0.5 };
    char err[ERRLEN];
    ck_assert_int_eq(dode_train_write_curve(path, curve, 3, err, sizeof err), DODE_OK);
    FILE *f = fopen(path, "r");
    int rows = 0;
    while (fgets(line, sizeof line, f) != NULL)
        rows++;
    fclose(f);
    ck_assert_int_eq(rows, 4);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* --- the command --- */

/* Runs `diffode train ARGS`; returns the exit status, stdout and stderr in out / err. */
static int run_train(const char *dir, const char *const *args, char *out, char *err,
                     size_t cap)
{
    const char *argv[40] = { "train" };
    size_t argc = 1;
    for (size_t k = 0; args[k] != NULL && argc < 39; k++)
        argv[argc++] = args[k];
    argv[argc] = NULL;
    return test_run_diffode(dir, argv, out, err, cap);
}

static int same_bytes(const char *a, const char *b)
{
    char *ba = malloc(1 << 20), *bb = malloc(1 << 20);
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    ck_assert(fa != NULL && fb != NULL);
    const size_t na = fread(ba, 1, 1 << 20, fa), nb = fread(bb, 1, 1 << 20, fb);
    fclose(fa);
    fclose(fb);
    const int same = na == nb && memcmp(ba, bb, na) == 0;
    free(ba);
    free(bb);
    return same;
}

START_TEST(train_command_writes_loadable_weights_reproducibly)
{
    char *dir = test_tmpdir("check_train"), w1[64], w2[64], csv[64], png[64], out[4096],
         err[4096];
    snprintf(png, sizeof png, "%s/loss.png", dir);
    snprintf(w1, sizeof w1, "%s/a.safetensors", dir);
    snprintf(w2, sizeof w2, "%s/b.safetensors", dir);
    snprintf(csv, sizeof csv, "%s/loss.csv", dir);
    const char *a1[] = { "--data", "toy:moons", "--widths", "16,8", "--temb", "4", "--iters",
                         "30", "--batch", "32", "--eval", "256", "--seed", "5", "--out", w1,
                         "--loss-csv", csv, "--loss-plot", png, NULL };
    ck_assert_int_eq(run_train(dir, a1, out, err, sizeof out), 0);
    ck_assert_msg(err[0] == '\0', "stderr: %s", err);
    ck_assert_ptr_nonnull(strstr(out, "\"eval_loss\":"));
    ck_assert_ptr_nonnull(strstr(out, "\"linear_bound\":"));
    char e[ERRLEN];
    dode_mlp *m = dode_mlp_read(w1, e, sizeof e);
    ck_assert_msg(m != NULL, "%s", e);
    ck_assert_uint_eq(dode_mlp_arch_get(m)->widths[1], 8);
    dode_mlp_free(m);
    FILE *f = fopen(csv, "r");
    int rows = 0;
    while (fgets(e, sizeof e, f) != NULL)
        rows++;
    fclose(f);
    ck_assert_int_eq(rows, 31);
    f = fopen(png, "rb");                                 /* gnuplot drew plots/loss.gp */
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(e, 1, 4, f), 4);
    fclose(f);
    ck_assert(memcmp(e, "\x89PNG", 4) == 0);
    const char *a2[] = { "--data", "toy:moons", "--widths", "16,8", "--temb", "4", "--iters",
                         "30", "--batch", "32", "--eval", "256", "--seed", "5", "--out", w2,
                         NULL };
    ck_assert_int_eq(run_train(dir, a2, out, err, sizeof out), 0);
    ck_assert(same_bytes(w1, w2));
    test_rm_tree(dir);
}
END_TEST

START_TEST(train_command_refuses_bad_input_and_leaves_no_file)
{
    char *dir = test_tmpdir("check_train"), w[64], out[4096], err[4096];
    snprintf(w, sizeof w, "%s/w.safetensors", dir);
    const struct { const char *args[12]; int code; const char *needle; } cases[] = {
        { { "--data", "toy:moons", "--out", w, "--bogus", NULL }, 2, "--bogus" },
        { { "--data", "toy:spiral", "--out", w, NULL }, 2, "spiral" },
        { { "--data", "gmm:/nonexistent.json", "--out", w, NULL }, 1, "/nonexistent.json" },
        { { "--data", "toy:moons", NULL }, 2, "--out" },
        { { "--data", "toy:moons", "--out", w, "--widths", "12,,4", NULL }, 2, "12,,4" },
        { { "--data", "toy:moons", "--out", w, "--temb", "5", NULL }, 2, "--temb" },
        { { "--data", "toy:moons", "--out", w, "--schedule", "ddpm-quad", NULL }, 2,
          "ddpm-quad" },
        { { "--data", "toy:moons", "--out", w, "--loss-plot", "x.png", NULL }, 2,
          "--loss-csv" },
        { { "--data", "toy:moons", "--out", "/nonexistent/dir/w.safetensors", "--iters", "2",
            "--eval", "16", NULL }, 1, "/nonexistent/dir/w.safetensors" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int code = run_train(dir, cases[k].args, out, err, sizeof out);
        ck_assert_msg(code == cases[k].code, "case %zu: exit %d: %s", k, code, err);
        ck_assert_msg(strncmp(err, "diffode train: ", 15) == 0, "case %zu: %s", k, err);
        ck_assert_msg(strstr(err, cases[k].needle) != NULL, "case %zu: %s", k, err);
        ck_assert_msg(out[0] == '\0', "case %zu printed: %s", k, out);
        ck_assert_int_eq(test_count_visible(dir), 0);
    }
    test_rm_tree(dir);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_bound_is_the_gaussian_bayes_loss);
    tcase_add_test(tc, trained_loss_reaches_the_bayes_loss);
    tcase_add_test(tc, same_seed_gives_identical_weights);
    tcase_add_test(tc, bad_training_setups_are_refused_and_weights_kept);
    tcase_add_test(tc, overflowing_loss_stops_with_the_step_named);
    tcase_add_test(tc, gmm_draws_have_the_spec_covariance);
    tcase_add_test(tc, toys_have_their_shapes);
    tcase_add_test(tc, data_specs_are_checked);
    tcase_add_test(tc, loss_curve_csv_has_one_row_per_step);
    tcase_add_test(tc, train_command_writes_loadable_weights_reproducibly);
    tcase_add_test(tc, train_command_refuses_bad_input_and_leaves_no_file);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(train_suite)
