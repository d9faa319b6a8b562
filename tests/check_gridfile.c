/* check_gridfile.c - grids from .npy files (`diffode sample --grid FILE.npy`,
 * experiments/grid_file.c).
 *
 * Laws: a grid written and read back is the same array bit for bit; sampling on the file
 * of a logsnr grid gives the same x_0, bit for bit, as --spacing logsnr (the file path
 * only replaces where the sigmas come from), and so does `spacings = file:PATH` in a
 * config (PATH beside the config); every bad file or clashing flag exits 2
 * (1 for a missing file), names the file and the bad entry, prints nothing on stdout and
 * writes no output. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../experiments/config.h"
#include "../experiments/grid_file.h"
#include "testutil.h"

#define OUT_MAX 8192
#define GMM "gmm:experiments/configs/gmm2d.json"

typedef struct {
    int status;
    char out[OUT_MAX], err[OUT_MAX];
} run_result;

static void run(const char *dir, const char *const *args, run_result *r)
{
    r->status = test_run_diffode(dir, args, r->out, r->err, sizeof r->out);
}

/* The logsnr grid `diffode sample --spacing logsnr` makes for `steps` steps, into path. */
static void write_logsnr(const char *path, size_t steps)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, steps, 0);
    ck_assert_int_eq(exp_grid_file_write(path, g.sigma, g.steps + 1, err, sizeof err), DODE_OK);
    dode_grid_free(&g);
    dode_schedule_free(s);
}

START_TEST(written_grid_reads_back_bit_for_bit)
{
    char *dir = test_tmpdir("check_gridfile"), path[512], err[ERRLEN];
    snprintf(path, sizeof path, "%s/g.npy", dir);
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    dode_grid g = test_grid(s, DODE_SPACING_KARRAS, 7, 1), back;
    ck_assert_int_eq(exp_grid_file_write(path, g.sigma, g.steps + 1, err, sizeof err), DODE_OK);
    ck_assert_msg(exp_grid_file_read("--grid", path, s, &back, err, sizeof err) == DODE_OK,
                  "%s", err);
    ck_assert_uint_eq(back.steps, g.steps);
    ck_assert_int_eq(memcmp(back.sigma, g.sigma, (g.steps + 1) * sizeof *g.sigma), 0);
    dode_grid_free(&g);
    dode_grid_free(&back);
    dode_schedule_free(s);
    test_rm_tree(dir);
}
END_TEST

/* x_0 from --grid (the logsnr file) and from --spacing logsnr, for a single-step, a
 * multistep and a predictor-corrector solver: the same bytes. */
START_TEST(logsnr_file_equals_logsnr_spacing)
{
    static const char *const solvers[][2] = { { "dpmpp2m", "6" }, { "unipc2", "5" },
                                              { "heun", "3" }, { "dpm2", "3" } };
    char *dir = test_tmpdir("check_gridfile"), grid[512], a[512], b[512];
    char ba[OUT_MAX], bb[OUT_MAX];
    run_result *r = malloc(sizeof *r);
    for (size_t k = 0; k < sizeof solvers / sizeof *solvers; k++) {
        const dode_solver_type *st = dode_solver_find(solvers[k][0]);
        ck_assert_ptr_nonnull(st);
        const size_t steps = (size_t)atoi(solvers[k][1]);
        snprintf(grid, sizeof grid, "%s/g%zu.npy", dir, k);
        snprintf(a, sizeof a, "%s/a%zu.npy", dir, k);
        snprintf(b, sizeof b, "%s/b%zu.npy", dir, k);
        write_logsnr(grid, steps);
        const char *by_file[] = { "sample", "--model", GMM, "--solver", solvers[k][0], "--grid",
                                  grid, "--n", "50", "--out", a, NULL };
        const char *by_name[] = { "sample", "--model", GMM, "--solver", solvers[k][0], "--steps",
                                  solvers[k][1], "--n", "50", "--out", b, NULL };
        run(dir, by_file, r);
        ck_assert_msg(r->status == 0, "%s: %s", solvers[k][0], r->err);
        ck_assert_ptr_nonnull(strstr(r->out, "\"spacing\":\"file\""));
        run(dir, by_name, r);
        ck_assert_msg(r->status == 0, "%s: %s", solvers[k][0], r->err);
        memset(ba, 0, sizeof ba);
        memset(bb, 0, sizeof bb);
        FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
        ck_assert(fa != NULL && fb != NULL);
        const size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        fclose(fa);
        fclose(fb);
        ck_assert_uint_eq(na, nb);
        ck_assert_msg(memcmp(ba, bb, na) == 0, "%s: x_0 differs", solvers[k][0]);
    }
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* A bad grid file: its values (NULL = a file written otherwise), the exit status, and what
 * stderr must say. */
typedef struct {
    const char *name;
    double v[4];
    size_t n;
    const char *flag[3];
    int status;
    const char *says;
} bad_case;

static const bad_case bad_cases[] = {
    { "one.npy", { 10 }, 1, { NULL }, 2, "1 points; a grid needs 2" },
    { "nan.npy", { 10, NAN, 1 }, 3, { NULL }, 2, "entry 1 (0-based) is nan" },
    { "inf.npy", { INFINITY, 1, 0.1 }, 3, { NULL }, 2, "entry 0 (0-based) is inf" },
    { "up.npy", { 1, 10, 20 }, 3, { NULL }, 2, "entry 1 (0-based) is 10, not below" },
    { "repeat.npy", { 10, 1, 1, 0.1 }, 4, { NULL }, 2, "entry 2 (0-based) is 1, not below" },
    { "negative.npy", { 10, 1, -0.1 }, 3, { NULL }, 2, "entry 2 (0-based) is -0.1" },
    { "zero.npy", { 10, 0, 0 }, 3, { NULL }, 2, "entry 1 (0-based) is 0; sigmas must be > 0" },
    { "top.npy", { 1000, 1, 0.1 }, 3, { NULL }, 2, "entry 0 (0-based) is 1000, above the "
      "largest sigma 157.407" },
    { "ok.npy", { 10, 1, 0.1 }, 3, { "--nfe", "4" }, 2, "--nfe: the file fixes the grid" },
    { "ok.npy", { 10, 1, 0.1 }, 3, { "--spacing", "karras" }, 2, "--spacing: the file fixes" },
    { "ok.npy", { 10, 1, 0.1 }, 3, { "--t-max", "0.5" }, 2, "--t-max: the file fixes" },
    { "ok.npy", { 10, 1, 0.1 }, 3, { "--solver", "gsl:rk8pd" }, 2, "gsl:rk8pd is adaptive" },
    { "ok.npy", { 10, 1, 0.1 }, 3, { "--solver", "dpmpp3m", "--lower-order-final=no" }, 0,
      NULL },
};

START_TEST(bad_grid_files_fail_name_the_entry_and_write_nothing)
{
    char *dir = test_tmpdir("check_gridfile"), path[512], out[512], err[ERRLEN];
    snprintf(out, sizeof out, "%s/out.npy", dir);
    run_result *r = malloc(sizeof *r);
    for (size_t k = 0; k < sizeof bad_cases / sizeof *bad_cases; k++) {
        const bad_case *c = &bad_cases[k];
        snprintf(path, sizeof path, "%s/%s", dir, c->name);
        ck_assert_int_eq(exp_grid_file_write(path, c->v, c->n, err, sizeof err), DODE_OK);
        const char *args[16] = { "sample", "--model", "gaussian", "--n", "4", "--grid", path,
                                 "--out", out };
        size_t argc = 9;
        for (size_t j = 0; j < 3 && c->flag[j] != NULL; j++)
            args[argc++] = c->flag[j];
        args[argc] = NULL;
        run(dir, args, r);
        ck_assert_msg(r->status == c->status, "case %zu: exit %d, expected %d: %s", k, r->status,
                      c->status, r->err);
        if (c->status == 0) {
            unlink(out);
            continue;
        }
        ck_assert_msg(strstr(r->err, c->says) != NULL, "case %zu: '%s' lacks '%s'", k, r->err,
                      c->says);
        ck_assert_msg(strstr(r->err, "--grid") != NULL, "case %zu: %s", k, r->err);
        ck_assert_msg(r->out[0] == '\0', "case %zu printed %s", k, r->out);
        ck_assert_msg(access(out, F_OK) != 0, "case %zu left %s", k, out);
    }
    /* the shape, not the values: a 2-D array, and a missing file (a runtime failure) */
    static const double two_d[6] = { 3, 2, 1, 3, 2, 1 };
    snprintf(path, sizeof path, "%s/two_d.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, two_d, 3, 2, err, sizeof err), DODE_OK);
    const char *shape[] = { "sample", "--model", "gaussian", "--grid", path, NULL };
    run(dir, shape, r);
    ck_assert_int_eq(r->status, 2);
    ck_assert_msg(strstr(r->err, "two_d.npy: shape (3, 2); a grid is a 1-D") != NULL, "%s",
                  r->err);
    snprintf(path, sizeof path, "%s/missing.npy", dir);
    run(dir, shape, r);
    ck_assert_int_eq(r->status, 1);
    ck_assert_msg(strstr(r->err, "missing.npy") != NULL, "%s", r->err);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* A config in dir with `spacings = logsnr, SPACING` and the given nfe list. */
static void write_config(const char *dir, const char *spacing, const char *nfe)
{
    char path[512], text[1024], err[ERRLEN];
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(path, sizeof path, "%s/t.ini", dir);
    const int n = snprintf(text, sizeof text, "[experiment]\nname = tfile\nsamples = 16\n"
                           "true_samples = 64\n[model m]\nspec = gmm:%s/experiments/configs/"
                           "gmm2d.json\n[sweep]\nmodels = m\nschedules = ddpm-linear\n"
                           "spacings = logsnr, %s\nsolvers = dpmpp2m, unipc2\nnfe = %s\n",
                           cwd, spacing, nfe);
    ck_assert_int_eq(dode_write_atomic(path, text, (size_t)n, err, sizeof err), DODE_OK);
}

/* `spacings = file:g.npy` finds g.npy beside the config; its rows, on the file of the
 * logsnr grid, have the logsnr rows' errors to the last printed digit. */
START_TEST(config_file_spacing_equals_the_named_one)
{
    char *dir = test_tmpdir("check_gridfile"), grid[512], ini[512], root[512], csv[600];
    snprintf(grid, sizeof grid, "%s/g.npy", dir);
    snprintf(ini, sizeof ini, "%s/t.ini", dir);
    snprintf(root, sizeof root, "%s/res", dir);
    snprintf(csv, sizeof csv, "%s/tfile/runs.csv", root);
    write_logsnr(grid, 6);
    write_config(dir, "file:g.npy", "6");
    char err[ERRLEN];
    exp_config cfg;
    ck_assert_msg(exp_config_load(ini, &cfg, err, sizeof err) == DODE_OK, "%s", err);
    ck_assert_uint_eq(cfg.nspacings, 2);
    ck_assert_str_eq(exp_config_spacing_name(&cfg, 0), "logsnr");
    char want[600];
    snprintf(want, sizeof want, "file:%s", grid);
    ck_assert_str_eq(exp_config_spacing_name(&cfg, 1), want);
    exp_config_free(&cfg);
    const char *args[] = { "run", ini, "--root", root, "--no-plot", "--quiet", NULL };
    run_result *r = malloc(sizeof *r);
    run(dir, args, r);
    ck_assert_msg(r->status == 0, "%s", r->err);
    char *text = malloc(OUT_MAX);
    test_slurp(csv, text, OUT_MAX);
    /* rows: logsnr dpmpp2m, logsnr unipc2, file dpmpp2m, file unipc2; compare from the
     * status column on (the solver's results), skipping the identity columns */
    char *line[5] = { NULL };
    size_t k = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL && k < 5;
         l = strtok_r(NULL, "\n", &save))
        line[k++] = l;
    ck_assert_uint_eq(k, 5);
    for (size_t j = 1; j <= 2; j++) {
        const char *a = strstr(line[j], ",ok,"), *b = strstr(line[j + 2], ",ok,");
        ck_assert_msg(a != NULL && b != NULL, "%s / %s", line[j], line[j + 2]);
        ck_assert_ptr_nonnull(strstr(line[j + 2], want));
        ck_assert_msg(strcmp(a, b) == 0, "%s\n%s", line[j], line[j + 2]);
    }
    free(text);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* A file spacing that cannot serve the sweep: the config or the sweep's grid check says
 * which file and why, before any row runs (no results directory). */
START_TEST(config_bad_file_spacings_fail_before_any_run)
{
    static const struct {
        const char *spacing, *nfe;
        int status;
        const char *says;
    } cases[] = {
        { "file:g.npy", "6, 8", 2, "has 6 steps, not the 8 this solver takes at this nfe" },
        { "file:up.npy", "6", 2, "t.ini:10: key 'spacings': spacing " },
        { "file:missing.npy", "6", 1, "missing.npy" },
        { "file:", "6", 2, "\"file:\" needs a path" },
    };
    char *dir = test_tmpdir("check_gridfile"), path[600], ini[512], root[512], err[ERRLEN];
    snprintf(path, sizeof path, "%s/g.npy", dir);
    write_logsnr(path, 6);
    static const double up[3] = { 1, 2, 3 };
    snprintf(path, sizeof path, "%s/up.npy", dir);
    ck_assert_int_eq(exp_grid_file_write(path, up, 3, err, sizeof err), DODE_OK);
    snprintf(ini, sizeof ini, "%s/t.ini", dir);
    snprintf(root, sizeof root, "%s/res", dir);
    run_result *r = malloc(sizeof *r);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        write_config(dir, cases[k].spacing, cases[k].nfe);
        const char *args[] = { "run", ini, "--root", root, "--no-plot", "--quiet", NULL };
        run(dir, args, r);
        ck_assert_msg(r->status == cases[k].status, "case %zu: exit %d: %s", k, r->status,
                      r->err);
        ck_assert_msg(strstr(r->err, cases[k].says) != NULL, "case %zu: '%s' lacks '%s'", k,
                      r->err, cases[k].says);
    }
    snprintf(path, sizeof path, "%s/tfile/runs.csv", root);
    ck_assert_msg(access(path, F_OK) != 0, "a run wrote %s", path);
    free(r);
    test_rm_tree(dir);
}
END_TEST

static Suite *gridfile_suite(void)
{
    Suite *s = suite_create("gridfile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, written_grid_reads_back_bit_for_bit);
    tcase_add_test(tc, logsnr_file_equals_logsnr_spacing);
    tcase_add_test(tc, bad_grid_files_fail_name_the_entry_and_write_nothing);
    tcase_add_test(tc, config_file_spacing_equals_the_named_one);
    tcase_add_test(tc, config_bad_file_spacings_fail_before_any_run);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(gridfile_suite)
