/* check_gridfile.c - grids from .npy files (`diffode sample --grid FILE.npy`,
 * experiments/grid_file.c).
 *
 * Laws: a grid written and read back is the same array bit for bit; sampling on the file
 * of a logsnr grid gives the same x_0, bit for bit, as --spacing logsnr (the file path
 * only replaces where the sigmas come from); every bad file or clashing flag exits 2
 * (1 for a missing file), names the file and the bad entry, prints nothing on stdout and
 * writes no output. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static Suite *gridfile_suite(void)
{
    Suite *s = suite_create("gridfile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, written_grid_reads_back_bit_for_bit);
    tcase_add_test(tc, logsnr_file_equals_logsnr_spacing);
    tcase_add_test(tc, bad_grid_files_fail_name_the_entry_and_write_nothing);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(gridfile_suite)
