/* check_gridtmpl.c - one file spacing for every NFE and solver of a sweep:
 * `spacings = file:g_{nfe}.npy` or `file:{solver}_{nfe}.npy` (experiments/config_grid.c).
 *
 * Laws: each (solver, nfe) reads its own file, found beside the config, and gets exactly
 * the grid in it (bit for bit, here the logsnr grid of its steps, so a sweep's template
 * rows equal its logsnr rows); a missing file, or one with the wrong steps for a solver,
 * fails when the config is read, naming the file, the solver and the nfe, before any row
 * runs. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../experiments/config.h"
#include "../experiments/grid_file.h"
#include "testutil.h"

#define OUT_MAX 8192

/* The logsnr grid of `steps` steps on ddpm-linear into dir/name. */
static void write_logsnr(const char *dir, const char *name, size_t steps)
{
    char err[ERRLEN], path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, steps, 0);
    ck_assert_int_eq(exp_grid_file_write(path, g.sigma, g.steps + 1, err, sizeof err), DODE_OK);
    dode_grid_free(&g);
    dode_schedule_free(s);
}

/* dir/t.ini with `spacings = logsnr, SPACING`, the given solvers and nfe list. */
static void write_config(const char *dir, const char *spacing, const char *solvers,
                         const char *nfe)
{
    char path[512], text[1024], err[ERRLEN], cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(path, sizeof path, "%s/t.ini", dir);
    const int n = snprintf(text, sizeof text, "[experiment]\nname = ttmpl\nsamples = 16\n"
                           "true_samples = 0\n[model m]\nspec = gmm:%s/experiments/configs/"
                           "gmm2d.json\n[sweep]\nmodels = m\nschedules = ddpm-linear\n"
                           "spacings = logsnr, %s\nsolvers = %s\nnfe = %s\n", cwd, spacing,
                           solvers, nfe);
    ck_assert_int_eq(dode_write_atomic(path, text, (size_t)n, err, sizeof err), DODE_OK);
}

/* Every (solver, nfe) of a template config: the file grid equals the logsnr spacing's. */
static void check_equal_to_logsnr(const exp_config *cfg)
{
    char err[ERRLEN];
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    for (size_t i = 0; i < cfg->nsolvers; i++)
        for (size_t j = 0; j < cfg->nnfe; j++) {
            dode_grid a = { 0 }, b = { 0 };
            ck_assert_msg(exp_config_grid_for(cfg, 0, s, i, cfg->nfe[j], &a, err, sizeof err)
                          == DODE_OK, "%s", err);
            ck_assert_msg(exp_config_grid_for(cfg, 1, s, i, cfg->nfe[j], &b, err, sizeof err)
                          == DODE_OK, "%s", err);
            ck_assert_uint_eq(a.steps, b.steps);
            ck_assert_uint_eq(a.steps, dode_solver_steps_for_nfe(cfg->solvers[i].type,
                                                                 cfg->nfe[j]));
            for (size_t k = 0; k <= a.steps; k++)
                ck_assert_double_eq(a.sigma[k], b.sigma[k]);
            dode_grid_free(&a);
            dode_grid_free(&b);
        }
    dode_schedule_free(s);
}

START_TEST(nfe_template_reads_one_file_per_nfe)
{
    char *dir = test_tmpdir("check_gridtmpl"), ini[512], err[ERRLEN];
    snprintf(ini, sizeof ini, "%s/t.ini", dir);
    write_logsnr(dir, "g_4.npy", 4);
    write_logsnr(dir, "g_6.npy", 6);
    write_config(dir, "file:g_{nfe}.npy", "dpmpp2m, unipc2", "4, 6");
    exp_config cfg;
    ck_assert_msg(exp_config_load(ini, &cfg, err, sizeof err) == DODE_OK, "%s", err);
    ck_assert_str_eq(exp_config_spacing_name(&cfg, 1), "file:g_{nfe}.npy");
    ck_assert(exp_config_spacing_is_template(&cfg, 1) && !exp_config_spacing_is_template(&cfg,
                                                                                          0));
    check_equal_to_logsnr(&cfg);
    dode_grid g;
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_int_eq(exp_config_grid(&cfg, 1, s, 4, &g, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "exp_config_grid_for"));
    dode_schedule_free(s);
    exp_config_free(&cfg);
    test_rm_tree(dir);
}
END_TEST

/* Per solver too: heun takes 3 steps at NFE 6, dpmpp2m 6. */
START_TEST(solver_template_reads_one_file_per_solver_and_nfe)
{
    char *dir = test_tmpdir("check_gridtmpl"), ini[512], err[ERRLEN];
    snprintf(ini, sizeof ini, "%s/t.ini", dir);
    write_logsnr(dir, "heun_6.npy", 3);
    write_logsnr(dir, "dpmpp2m_6.npy", 6);
    write_config(dir, "file:{solver}_{nfe}.npy", "heun, dpmpp2m", "6");
    exp_config cfg;
    ck_assert_msg(exp_config_load(ini, &cfg, err, sizeof err) == DODE_OK, "%s", err);
    check_equal_to_logsnr(&cfg);
    exp_config_free(&cfg);
    test_rm_tree(dir);
}
END_TEST

/* What cannot serve the sweep fails at load, naming the file, solver and nfe; `diffode
 * run` exits non-zero with that message and runs nothing. */
START_TEST(template_missing_or_wrong_file_fails_before_any_run)
{
    static const struct {
        const char *solvers, *nfe;
        const char *says[3];
    } cases[] = {
        { "dpmpp2m", "4, 8", { "g_8.npy", "solver dpmpp2m at nfe 8", "cannot" } },
        { "heun", "4", { "g_4.npy", "solver heun at nfe 4", "has 4 steps, not the 2" } },
    };
    char *dir = test_tmpdir("check_gridtmpl"), ini[512], root[512], csv[600], err[ERRLEN];
    snprintf(ini, sizeof ini, "%s/t.ini", dir);
    snprintf(root, sizeof root, "%s/res", dir);
    snprintf(csv, sizeof csv, "%s/ttmpl/runs.csv", root);
    write_logsnr(dir, "g_4.npy", 4);
    char *out = malloc(OUT_MAX), *msg = malloc(OUT_MAX);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        write_config(dir, "file:g_{nfe}.npy", cases[k].solvers, cases[k].nfe);
        exp_config cfg;
        ck_assert_int_ne(exp_config_load(ini, &cfg, err, sizeof err), DODE_OK);
        for (size_t j = 0; j < 3; j++)
            ck_assert_msg(strstr(err, cases[k].says[j]) != NULL, "case %zu: '%s' lacks '%s'",
                          k, err, cases[k].says[j]);
        const char *args[] = { "run", ini, "--root", root, "--no-plot", "--quiet", NULL };
        const int status = test_run_diffode(dir, args, out, msg, OUT_MAX);
        ck_assert_msg(status != 0 && strstr(msg, cases[k].says[1]) != NULL, "case %zu: exit "
                      "%d: %s", k, status, msg);
        ck_assert_msg(access(csv, F_OK) != 0, "case %zu ran rows", k);
    }
    free(out);
    free(msg);
    test_rm_tree(dir);
}
END_TEST

static Suite *gridtmpl_suite(void)
{
    Suite *s = suite_create("gridtmpl");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nfe_template_reads_one_file_per_nfe);
    tcase_add_test(tc, solver_template_reads_one_file_per_solver_and_nfe);
    tcase_add_test(tc, template_missing_or_wrong_file_fails_before_any_run);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(gridtmpl_suite)
