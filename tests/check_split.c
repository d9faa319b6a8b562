/* check_split.c - the split model of `diffode run --jobs` references (experiments/
 * sweep_split.c). Laws: a call split in two halves over two threads gives the whole
 * call's eps, eps_xbar output and flags bit for bit (odd and even n, one row); an rk8pd
 * reference through it is the unsplit reference bit for bit; models without eps_xbar are
 * not split; and `diffode run` on a mixture writes the same runs.csv bytes with --jobs 2
 * (references split) as with --jobs 1. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "../experiments/sweep_split.h"

static const size_t SIZES[] = { 1, 2, 7, 1000 };

START_TEST(split_calls_equal_whole_calls_bit_for_bit)
{
    const size_t n = SIZES[_i];
    dode_model *m = test_gmm2d();
    char err[ERRLEN];
    split_model *s = split_model_start(m, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    const dode_model *sm = split_model_get(s);
    void *ws = NULL, *sws = NULL;
    ck_assert_int_eq(dode_model_workspace_new(m, n, &ws, err, sizeof err), DODE_OK);
    ck_assert_int_eq(dode_model_workspace_new(sm, n, &sws, err, sizeof err), DODE_OK);
    double *xbar = test_xbar_T(n, 2, 5.0, 3), *e1 = malloc(2 * n * sizeof *e1),
           *e2 = malloc(2 * n * sizeof *e2);
    const double a = 1.0 / sqrt(26.0);
    for (int round = 0; round < 3; round++) {   /* finite, then a bad row in each half */
        if (round == 1)
            xbar[0] = NAN;
        if (round == 2) {
            xbar[0] = 1.0;
            xbar[2 * n - 1] = INFINITY;
        }
        int b1 = -1, b2 = -1;
        ck_assert_int_eq(m->eps_xbar(m, ws, n, xbar, a, 0.3, 5.0, e1, &b1), DODE_OK);
        ck_assert_int_eq(sm->eps_xbar(sm, sws, n, xbar, a, 0.3, 5.0, e2, &b2), DODE_OK);
        ck_assert_int_eq(b1, b2);
        ck_assert_int_eq(b2, round == 0 ? 0 : 1);
        if (round == 0) {
            ck_assert(memcmp(e1, e2, 2 * n * sizeof *e1) == 0);
            ck_assert_int_eq(m->eps(m, ws, n, xbar, 0.3, 5.0, e1), DODE_OK);
            ck_assert_int_eq(sm->eps(sm, sws, n, xbar, 0.3, 5.0, e2), DODE_OK);
            ck_assert(memcmp(e1, e2, 2 * n * sizeof *e1) == 0);
        }
    }
    /* a status from the model comes through: a negative sigma is refused by both */
    ck_assert_int_eq(sm->eps(sm, sws, n, xbar, 0.3, -1.0, e2), DODE_EINVAL);
    free(xbar), free(e1), free(e2);
    dode_model_workspace_free(sm, sws);
    dode_model_workspace_free(m, ws);
    split_model_stop(s);
    dode_model_free(m);
}
END_TEST

START_TEST(an_rk8pd_reference_through_the_split_model_is_the_same_bits)
{
    const size_t n = 301;
    dode_model *m = test_gmm2d();
    dode_schedule *sched = test_schedule("ddpm-linear");
    char err[ERRLEN];
    split_model *s = split_model_start(m, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    const double s0 = 80.0, s1 = 0.02;
    double *x0 = test_xbar_T(n, 2, s0, 8), *r1 = malloc(2 * n * sizeof *r1),
           *r2 = malloc(2 * n * sizeof *r2);
    dode_reference_opts o;
    dode_reference_opts_init(&o);
    o.method = DODE_REFERENCE_RK8PD;
    o.rtol = o.atol = 1e-10;
    ck_assert_msg(dode_reference(m, sched, n, s0, s1, x0, r1, &o, NULL, NULL, err,
                                 sizeof err) == DODE_OK, "%s", err);
    ck_assert_msg(dode_reference(split_model_get(s), sched, n, s0, s1, x0, r2, &o, NULL, NULL,
                                 err, sizeof err) == DODE_OK, "%s", err);
    ck_assert(memcmp(r1, r2, 2 * n * sizeof *r1) == 0);
    free(x0), free(r1), free(r2);
    split_model_stop(s);
    dode_schedule_free(sched);
    dode_model_free(m);
}
END_TEST

START_TEST(models_without_eps_xbar_are_not_split)
{
    dode_model *g = test_gauss2d();
    ck_assert_int_eq(split_model_applies(g), 0);
    dode_model_free(g);
    dode_model *m = test_gmm2d();
    ck_assert_int_eq(split_model_applies(m), 1);
    dode_model_free(m);
}
END_TEST

/* The sweep itself: two workers (each reference split over two threads) write the bytes
 * one worker writes. */
START_TEST(run_with_two_jobs_on_a_mixture_writes_the_same_runs_csv)
{
    char *dir = test_tmpdir("check_split");
    char ini[512], one[512], two[512];
    snprintf(ini, sizeof ini, "%s/mix.ini", dir);
    FILE *f = fopen(ini, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[experiment]\nname = mix\nsamples = 300\nseeds = 0, 1\ntrue_samples = 0\n"
          "[model m]\nspec = gmm:experiments/configs/gmm2d.json\n[sweep]\n"
          "schedules = ddpm-linear, vp-cosine\nsolvers = euler, dpmpp2m, unipc2\n"
          "nfe = 8, 16\n", f);
    ck_assert_int_eq(fclose(f), 0);
    char out[4096], errs[4096];
    const char *jobs[2] = { "1", "2" };
    for (int k = 0; k < 2; k++) {
        char root[512];
        snprintf(root, sizeof root, "%s/r%s", dir, jobs[k]);
        const char *const args[] = { "run", ini, "--root", root, "--no-plot", "--quiet",
                                     "--jobs", jobs[k], NULL };
        ck_assert_msg(test_run_diffode(dir, args, out, errs, sizeof out) == 0, "%s", errs);
    }
    snprintf(one, sizeof one, "%s/r1/mix/runs.csv", dir);
    snprintf(two, sizeof two, "%s/r2/mix/runs.csv", dir);
    static char a[1 << 16], b[1 << 16];
    test_slurp(one, a, sizeof a);
    test_slurp(two, b, sizeof b);
    ck_assert_uint_gt(strlen(a), 100);
    ck_assert_str_eq(a, b);
    test_rm_tree(dir);
}
END_TEST

static Suite *split_suite(void)
{
    Suite *s = suite_create("split");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, split_calls_equal_whole_calls_bit_for_bit, 0,
                        (int)(sizeof SIZES / sizeof SIZES[0]));
    tcase_add_test(tc, an_rk8pd_reference_through_the_split_model_is_the_same_bits);
    tcase_add_test(tc, models_without_eps_xbar_are_not_split);
    tcase_add_test(tc, run_with_two_jobs_on_a_mixture_writes_the_same_runs_csv);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(split_suite)
