/* check_golden.c - the numbers a refactoring must keep. Runs every shipped config and every
 * command of tests/golden/runs.list through the diffode command, and compares what they
 * write with the outputs recorded by tests/golden/make_golden.sh at the commit named in
 * tests/golden/SOURCE: runs.csv field by field, the JSON line key by key (all but the wall
 * time "seconds") and x_0 value by value. Numbers must agree to 1e-12 relative (|a - b| <=
 * 1e-12 max(1, |b|)): the solvers are deterministic, so a redesign that keeps the
 * arithmetic keeps them to rounding, and anything larger is a changed method. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <glob.h>
#include <cjson/cJSON.h>

#include "testutil.h"

#define GOLDEN_DIR "tests/golden"
#define REL_TOL 1e-12
#define MAX_RUNS 256

static int close_enough(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))                /* sigma_start = inf: zero terminal SNR */
        return a == b;
    return fabs(a - b) <= REL_TOL * fmax(1.0, fabs(b));
}

/* A whole-string number (strtod syntax, "nan" and "inf" included); 0 if s is not one. */
static int as_number(const char *s, double *out)
{
    char *end;
    if (*s == '\0')
        return 0;
    *out = strtod(s, &end);
    return *end == '\0';
}

static char *slurp_alloc(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = 2 * (len + 4096 + 1);
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        const size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Compares two CSV texts: same lines, same fields; numeric fields to REL_TOL. */
static void compare_csv(const char *what, char *got, char *want)
{
    char *gl_save, *wl_save;
    char *gl = strtok_r(got, "\n", &gl_save), *wl = strtok_r(want, "\n", &wl_save);
    for (int line = 1; gl != NULL || wl != NULL; line++) {
        ck_assert_msg(gl != NULL && wl != NULL, "%s: line %d: one file ends early", what, line);
        char *gf_save, *wf_save;
        char *gf = strtok_r(gl, ",", &gf_save), *wf = strtok_r(wl, ",", &wf_save);
        for (int col = 1; gf != NULL || wf != NULL; col++) {
            ck_assert_msg(gf != NULL && wf != NULL, "%s: line %d: field count differs", what,
                          line);
            double a, b;
            if (as_number(gf, &a) && as_number(wf, &b))
                ck_assert_msg(close_enough(a, b), "%s: line %d, field %d: %s, golden %s",
                              what, line, col, gf, wf);
            else
                ck_assert_msg(strcmp(gf, wf) == 0, "%s: line %d, field %d: '%s', golden '%s'",
                              what, line, col, gf, wf);
            gf = strtok_r(NULL, ",", &gf_save);
            wf = strtok_r(NULL, ",", &wf_save);
        }
        gl = strtok_r(NULL, "\n", &gl_save);
        wl = strtok_r(NULL, "\n", &wl_save);
    }
}

static const char *const configs[] = {
    "ddim_euler", "default", "dpm3m", "eta", "flow", "gauss1d", "grids_file", "guidance",
    "inversion", "multistep", "orders", "spacing", "stochastic", "zsnr",
};
#define NCONFIGS (sizeof configs / sizeof configs[0])

/* Every shipped config has its golden runs.csv, and the list above names them all. */
START_TEST(test_every_config_is_held)
{
    glob_t g;
    ck_assert_int_eq(glob("experiments/configs/*.ini", 0, NULL, &g), 0);
    ck_assert_uint_eq(g.gl_pathc, NCONFIGS);
    for (size_t k = 0; k < g.gl_pathc; k++) {
        char name[256];
        snprintf(name, sizeof name, "%s", strrchr(g.gl_pathv[k], '/') + 1);
        *strrchr(name, '.') = '\0';
        ck_assert_str_eq(name, configs[k]);
    }
    globfree(&g);
}
END_TEST

START_TEST(test_config_runs_csv)
{
    const char *name = configs[_i];
    char *root = test_tmpdir("golden-run");
    char cfg[512], gold[512], out[4096], err[4096];
    snprintf(cfg, sizeof cfg, "experiments/configs/%s.ini", name);
    const char *args[] = { "run", cfg, "--root", root, "--no-plot", "--quiet", NULL };
    const int code = test_run_diffode(root, args, out, err, sizeof out);
    ck_assert_msg(code == 0, "diffode run %s: exit %d: %s", cfg, code, err);
    glob_t g;
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/*/runs.csv", root);
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
    ck_assert_uint_eq(g.gl_pathc, 1);
    char *got = slurp_alloc(g.gl_pathv[0]);
    snprintf(gold, sizeof gold, GOLDEN_DIR "/configs/%s.csv", name);
    char *want = slurp_alloc(gold);
    compare_csv(cfg, got, want);
    free(got);
    free(want);
    globfree(&g);
    rm_rf(root);
}
END_TEST

typedef struct {
    char id[128];
    char *argv[48];
    size_t argc;
    char line[1024];
} golden_run;

/* The runs of runs.list, in order; returns how many. */
static size_t read_runs(golden_run *runs, size_t cap)
{
    FILE *f = fopen(GOLDEN_DIR "/runs.list", "r");
    ck_assert_ptr_nonnull(f);
    size_t count = 0;
    char buf[1024];
    while (fgets(buf, sizeof buf, f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        char *bar = strchr(buf, '|');
        if (buf[0] == '#' || bar == NULL)
            continue;
        ck_assert_uint_lt(count, cap);
        golden_run *r = &runs[count++];
        *bar = '\0';
        ck_assert_uint_lt(strlen(buf), sizeof r->id);
        memcpy(r->id, buf, strlen(buf) + 1);
        memcpy(r->line, bar + 1, strlen(bar + 1) + 1);
        r->argc = 0;
        char *save;
        for (char *tok = strtok_r(r->line, " ", &save); tok != NULL;
             tok = strtok_r(NULL, " ", &save)) {
            ck_assert_uint_lt(r->argc, 44);
            r->argv[r->argc++] = tok;
        }
    }
    fclose(f);
    return count;
}

/* Every key of the golden JSON object, in the new one with the same value. */
static void compare_json(const char *id, const char *got_text, const char *want_path)
{
    char *want_text = slurp_alloc(want_path);
    cJSON *got = cJSON_Parse(got_text), *want = cJSON_Parse(want_text);
    ck_assert_msg(got != NULL, "%s: output is not JSON: %s", id, got_text);
    ck_assert_ptr_nonnull(want);
    for (const cJSON *w = want->child; w != NULL; w = w->next) {
        if (strcmp(w->string, "seconds") == 0)
            continue;
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
        ck_assert_msg(g != NULL, "%s: key %s missing", id, w->string);
        if (cJSON_IsNumber(w))
            ck_assert_msg(cJSON_IsNumber(g) && close_enough(g->valuedouble, w->valuedouble),
                          "%s: %s = %.17g, golden %.17g", id, w->string, g->valuedouble,
                          w->valuedouble);
        else
            ck_assert_msg(cJSON_IsString(g) && strcmp(g->valuestring, w->valuestring) == 0,
                          "%s: %s differs", id, w->string);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    free(want_text);
}

static void compare_npy(const char *id, const char *got_path, const char *want_path)
{
    char e[ERRLEN];
    double *got = NULL, *want = NULL;
    size_t gr, gc, wr, wc;
    ck_assert_msg(dode_npy_read(got_path, &got, &gr, &gc, e, sizeof e) == DODE_OK, "%s", e);
    ck_assert_msg(dode_npy_read(want_path, &want, &wr, &wc, e, sizeof e) == DODE_OK, "%s", e);
    ck_assert_uint_eq(gr, wr);
    ck_assert_uint_eq(gc, wc);
    for (size_t k = 0; k < wr * wc; k++)
        ck_assert_msg(close_enough(got[k], want[k]), "%s: x_0[%zu] = %.17g, golden %.17g",
                      id, k, got[k], want[k]);
    free(got);
    free(want);
}

START_TEST(test_documented_runs)
{
    static golden_run runs[MAX_RUNS];
    const size_t count = read_runs(runs, MAX_RUNS);
    ck_assert_uint_ge(count, 60);
    char *dir = test_tmpdir("golden-sample");
    static char out[1 << 16], err[1 << 16];
    for (size_t k = 0; k < count; k++) {
        golden_run *r = &runs[k];
        char npy[1024], want_npy[512], want_json[512];
        const char *args[50];
        size_t argc = 0;
        for (size_t j = 0; j < r->argc; j++)
            args[argc++] = r->argv[j];
        const int writes_x0 = strcmp(r->argv[0], "sample") == 0
                              || strcmp(r->argv[0], "reference") == 0;
        snprintf(npy, sizeof npy, "%s/x0.npy", dir);
        if (writes_x0) {
            args[argc++] = "--out";
            args[argc++] = npy;
        }
        args[argc] = NULL;
        const int code = test_run_diffode(dir, args, out, err, sizeof out);
        ck_assert_msg(code == 0, "%s: exit %d: %s", r->id, code, err);
        snprintf(want_json, sizeof want_json, GOLDEN_DIR "/runs/%s.json", r->id);
        compare_json(r->id, out, want_json);
        if (writes_x0) {
            snprintf(want_npy, sizeof want_npy, GOLDEN_DIR "/runs/%s.npy", r->id);
            compare_npy(r->id, npy, want_npy);
            unlink(npy);
        }
    }
    test_rm_tree(dir);
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_every_config_is_held);
    tcase_add_loop_test(tc, test_config_runs_csv, 0, (int)NCONFIGS);
    tcase_add_test(tc, test_documented_runs);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(golden_suite)
