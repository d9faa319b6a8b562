/* check_portrait.c - the flow's pictures (experiments/portrait.h): the 1-D flow map's paths
 * end where the Gaussian's exact flow sends them, never cross, and its heat map is a
 * density at every sigma; the 2-D tables have a block per solver, a path per start and a
 * point per grid point, and the density grid is the model's log density; a model with no
 * picture writes nothing. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "../experiments/cli.h"
#include "../experiments/config.h"
#include "../experiments/portrait.h"

static exp_config parse(const char *text)
{
    exp_config cfg;
    char err[ERRLEN];
    ck_assert_msg(exp_config_parse(text, "portrait_test.ini", &cfg, err, sizeof err) ==
                  DODE_OK, "%s", err);
    return cfg;
}

static void write_tables(const exp_config *cfg, char *dir)
{
    char err[ERRLEN];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_msg(exp_portrait_write(cfg, dir, err, sizeof err) == DODE_OK, "%s", err);
}

static FILE *open_table(const char *dir, const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return fopen(path, "r");
}

static void remove_dir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Reads "a b [c]" rows of a table into rows (up to max), noting after which row each
 * blank line falls; returns the row count. */
static size_t read_rows(FILE *f, double (*rows)[3], size_t max, size_t *breaks,
                        size_t *nbreaks)
{
    char line[256];
    size_t n = 0;
    *nbreaks = 0;
    while (fgets(line, sizeof line, f) != NULL && n < max) {
        if (line[0] == '\n') {
            breaks[(*nbreaks)++] = n;
            continue;
        }
        if (line[0] == '"')
            continue;                   /* a block's title row */
        rows[n][2] = NAN;
        ck_assert_int_ge(sscanf(line, "%lf %lf %lf", &rows[n][0], &rows[n][1], &rows[n][2]),
                         2);
        n++;
    }
    fclose(f);
    return n;
}

static const char gauss1d[] =
    "[experiment]\nname = p\nsamples = 8\ntrue_samples = 0\n"
    "[model g]\nspec = gaussian:dim=1,mean=0.5,std=0.2\n"
    "[sweep]\nschedules = vp-linear\nsolvers = euler\nnfe = 4\n";

START_TEST(flow_map_paths_end_at_the_exact_flow_and_never_cross)
{
    /* x = xbar / sqrt(1 + s^2), xbar(s) = mu + (xbar_T - mu) sqrt((v + s^2)/(v + s_T^2))
     * (MATH.md section 5); the table prints 6 significant digits: 1e-5 absolute. */
    enum { FAN = 25, POINTS = 161 };
    char dir[] = "/tmp/check_portrait_XXXXXX";
    exp_config cfg = parse(gauss1d);
    write_tables(&cfg, dir);
    static double rows[FAN * POINTS + 8][3];
    size_t breaks[64], nb;
    FILE *f = open_table(dir, "flowmap1d.dat");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(read_rows(f, rows, FAN * POINTS + 8, breaks, &nb), FAN * POINTS);
    ck_assert_uint_eq(nb, FAN);
    const double s0 = pow(10, rows[0][0]), s1 = pow(10, rows[POINTS - 1][0]), v = 0.04;
    for (int i = 0; i < FAN; i++) {
        const double x_T = -2.5 + 5.0 * i / (FAN - 1);
        const double xbar = 0.5 + (x_T * sqrt(1 + s0 * s0) - 0.5) *
                                      sqrt((v + s1 * s1) / (v + s0 * s0));
        ck_assert_double_eq_tol(rows[i * POINTS][1], x_T, 1e-5);
        ck_assert_double_eq_tol(rows[i * POINTS + POINTS - 1][1], xbar / sqrt(1 + s1 * s1),
                                1e-5);
        if (i > 0)                      /* a 1-D flow is monotone: the order is kept */
            for (int k = 0; k < POINTS; k++)
                ck_assert_double_gt(rows[i * POINTS + k][1], rows[(i - 1) * POINTS + k][1]);
    }
    exp_config_free(&cfg);
    remove_dir(dir);
}
END_TEST

START_TEST(heat_map_integrates_to_one_at_every_sigma)
{
    /* x at sigma is N(0.5/s, (v + sigma^2)/(1 + sigma^2)): std <= 1, |mean| <= 0.5, and the
     * grid spans at least [-3, 3], so the mass outside is < P(|z| > 2.5) < 0.013; the
     * trapezoid rule on a Gaussian with h / std <= 0.25 is exact to ~1e-30. */
    enum { CELLS = 121, POINTS = 161 };
    char dir[] = "/tmp/check_portrait_XXXXXX";
    exp_config cfg = parse(gauss1d);
    write_tables(&cfg, dir);
    static double rows[CELLS * POINTS + 8][3];
    size_t breaks[POINTS + 8], nb;
    FILE *f = open_table(dir, "heat1d.dat");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(read_rows(f, rows, CELLS * POINTS + 8, breaks, &nb), CELLS * POINTS);
    for (int k = 0; k < POINTS; k++) {
        const double (*r)[3] = rows + k * CELLS;
        double mass = 0;
        for (int i = 0; i + 1 < CELLS; i++)
            mass += 0.5 * (r[i][2] + r[i + 1][2]) * (r[i + 1][1] - r[i][1]);
        ck_assert_double_le(mass, 1 + 1e-4);     /* 1e-4: the 6 printed digits */
        ck_assert_double_ge(mass, 1 - 0.013);
    }
    exp_config_free(&cfg);
    remove_dir(dir);
}
END_TEST

START_TEST(gmm_tables_have_a_block_per_solver_and_the_model_density)
{
    static const char gmm[] =
        "[experiment]\nname = p\nsamples = 8\ntrue_samples = 0\n"
        "[model m]\nspec = gmm:experiments/configs/gmm2d.json\n"
        "[sweep]\nschedules = ddpm-linear\nsolvers = euler, heun\nnfe = 8\n";
    enum { PATHS = 12, SAMPLES = 512, GRID = 121 };
    char dir[] = "/tmp/check_portrait_XXXXXX", err[ERRLEN];
    exp_config cfg = parse(gmm);
    write_tables(&cfg, dir);
    static double rows[GRID * GRID + 8][3];
    size_t breaks[GRID + 64], nb;
    /* euler: 8 steps, heun: 4; each path holds its steps + 1 grid points */
    ck_assert_uint_eq(read_rows(open_table(dir, "trajectories2d.dat"), rows, GRID * GRID,
                                breaks, &nb), PATHS * (9 + 5));
    ck_assert_uint_eq(nb, 2 * (PATHS - 1) + 2);  /* single blanks, then one "\n\n" */
    ck_assert_uint_eq(read_rows(open_table(dir, "samples2d.dat"), rows, GRID * GRID,
                                breaks, &nb), 3 * SAMPLES);   /* reference, euler, heun */
    ck_assert_uint_eq(read_rows(open_table(dir, "density2d.dat"), rows, GRID * GRID + 8,
                                breaks, &nb), GRID * GRID);
    dode_model *m = NULL;
    ck_assert_int_eq(dode_model_from_spec(cfg.models[0].spec, &m, err, sizeof err), DODE_OK);
    for (size_t i = 0; i < GRID * GRID; i += 997) {
        double lp;
        ck_assert_int_eq(test_log_density(m, 1, rows[i], 0.01, &lp), DODE_OK);
        ck_assert_double_eq_tol(rows[i][2], fmax(lp, -50), 1e-5 * fabs(lp) + 1e-5);
    }
    dode_model_free(m);
    exp_config_free(&cfg);
    remove_dir(dir);
}
END_TEST

START_TEST(legends_give_the_nfe_the_solve_used_not_the_budget)
{
    /* dpm3 costs 3 evaluations a step: a budget of 8 buys 2 steps, 6 evaluations, and a
     * path of 3 grid points; euler uses all 8 */
    static const char gmm[] =
        "[experiment]\nname = p\nsamples = 8\ntrue_samples = 0\n"
        "[model m]\nspec = gmm:experiments/configs/gmm2d.json\n"
        "[sweep]\nschedules = ddpm-linear\nsolvers = dpm3, euler\nnfe = 8\n";
    enum { PATHS = 12 };
    char dir[] = "/tmp/check_portrait_XXXXXX";
    static char text[1 << 17];                  /* samples2d.dat: 3 x 512 short rows */
    exp_config cfg = parse(gmm);
    write_tables(&cfg, dir);
    static double rows[PATHS * 16][3];
    size_t breaks[64], nb;
    ck_assert_uint_eq(read_rows(open_table(dir, "trajectories2d.dat"), rows, PATHS * 16,
                                breaks, &nb), PATHS * (3 + 9));
    const char *files[2] = { "trajectories2d.dat", "samples2d.dat" };
    for (int k = 0; k < 2; k++) {
        FILE *f = open_table(dir, files[k]);
        ck_assert_ptr_nonnull(f);
        text[fread(text, 1, sizeof text - 1, f)] = '\0';
        fclose(f);
        ck_assert_ptr_nonnull(strstr(text, "\"dpm3, NFE 6\""));
    }
    exp_config_free(&cfg);
    remove_dir(dir);
}
END_TEST

START_TEST(a_3d_model_or_a_roundtrip_gets_no_tables)
{
    static const char g3[] =
        "[experiment]\nname = p\nsamples = 8\ntrue_samples = 0\n"
        "[model g]\nspec = gaussian:dim=3\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler\nnfe = 4\n";
    static const char rt[] =
        "[experiment]\nname = p\nmode = roundtrip\nsamples = 8\ntrue_samples = 0\n"
        "[model g]\nspec = gaussian:dim=1\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler\nnfe = 4\n";
    const char *texts[2] = { g3, rt };
    for (int k = 0; k < 2; k++) {
        char dir[] = "/tmp/check_portrait_XXXXXX";
        exp_config cfg = parse(texts[k]);
        write_tables(&cfg, dir);
        char path[256];
        snprintf(path, sizeof path, "%s/flowmap1d.dat", dir);
        ck_assert_int_ne(access(path, F_OK), 0);
        snprintf(path, sizeof path, "%s/density2d.dat", dir);
        ck_assert_int_ne(access(path, F_OK), 0);
        exp_config_free(&cfg);
        remove_dir(dir);
    }
}
END_TEST

START_TEST(unwritable_dir_fails_with_eio_naming_the_file)
{
    exp_config cfg = parse(gauss1d);
    char err[ERRLEN] = "";
    ck_assert_int_eq(exp_portrait_write(&cfg, "/nonexistent/dir", err, sizeof err),
                     DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/flowmap1d.dat"));
    exp_config_free(&cfg);
}
END_TEST

static Suite *portrait_suite(void)
{
    Suite *s = suite_create("portrait");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, flow_map_paths_end_at_the_exact_flow_and_never_cross);
    tcase_add_test(tc, heat_map_integrates_to_one_at_every_sigma);
    tcase_add_test(tc, gmm_tables_have_a_block_per_solver_and_the_model_density);
    tcase_add_test(tc, legends_give_the_nfe_the_solve_used_not_the_budget);
    tcase_add_test(tc, a_3d_model_or_a_roundtrip_gets_no_tables);
    tcase_add_test(tc, unwritable_dir_fails_with_eio_naming_the_file);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(portrait_suite)
