/* testutil.h - what every Check suite shares: its main(), an error buffer size, the
 * MATH.md section 8 test problem (2-D GMM w = (0.5, 0.3, 0.2), means (-1.5,0), (1.5,0.5),
 * (0,2), isotropic stds 0.3, 0.5, 0.2; ddpm-linear; x_T ~ N(0, I)), the 2-D Gaussian the
 * solver suites use beside it, and temporary directories. Every helper asserts (Check)
 * instead of returning a status: a failure here fails the calling test. */
#ifndef DIFFODE_TESTUTIL_H
#define DIFFODE_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffode/diffode.h"

#define ERRLEN 512

/* main() for a suite file: runs suite_fn's suite and exits non-zero on any failure. */
#define DODE_TEST_MAIN(suite_fn)                                   \
    int main(void)                                                 \
    {                                                              \
        gsl_set_error_handler_off();                               \
        SRunner *runner = srunner_create(suite_fn());              \
        srunner_run_all(runner, CK_NORMAL);                        \
        int failed = srunner_ntests_failed(runner);                \
        srunner_free(runner);                                      \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;          \
    }

/* The section 8 GMM (caller frees with dode_model_free). */
static inline dode_model *test_gmm2d(void)
{
    static const double w[3] = { 0.5, 0.3, 0.2 };
    static const double mu[6] = { -1.5, 0.0, 1.5, 0.5, 0.0, 2.0 };
    static const double sd[3] = { 0.3, 0.5, 0.2 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(3, 2, w, mu, "isotropic", sd, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* xbar_T = x_T sqrt(1 + sigma_T^2) with x_T ~ N(0, I), from a seeded mt19937 ([n][dim]). */
static inline double *test_xbar_T(size_t n, size_t dim, double sigma_T, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *xbar = malloc(n * dim * sizeof *xbar);
    const double scale = sqrt(1.0 + sigma_T * sigma_T);
    for (size_t i = 0; i < n * dim; i++)
        xbar[i] = scale * gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    return xbar;
}

/* The solver suites' Gaussian N((1, -0.5), 0.5^2 I) in 2-D, eps-prediction, with its
 * closed-form flow (MATH.md section 5); caller frees with dode_model_free. */
static inline dode_model *test_gauss2d(void)
{
    static const double mean[2] = { 1.0, -0.5 };
    char err[ERRLEN];
    dode_model *m = dode_gaussian_new(2, mean, 0.5, DODE_PRED_EPS, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* A solve's setting: the ddpm-linear schedule, a 2-D model and its ODE over n rows. */
typedef struct {
    dode_schedule *sched;
    dode_model *model;
    dode_ode *ode;
} test_problem;

/* ddpm-linear with test_gauss2d (gaussian != 0) or test_gmm2d, over n rows; release
 * with test_problem_free. */
static inline test_problem test_problem_new(int gaussian, size_t n)
{
    char err[ERRLEN];
    test_problem p;
    p.sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(p.sched != NULL, "%s", err);
    p.model = gaussian ? test_gauss2d() : test_gmm2d();
    p.ode = dode_ode_new(p.model, p.sched, n, err, sizeof err);
    ck_assert_msg(p.ode != NULL, "%s", err);
    return p;
}

static inline void test_problem_free(test_problem *p)
{
    dode_ode_free(p->ode);
    dode_model_free(p->model);
    dode_schedule_free(p->sched);
}

/* A grid of `steps` steps on sched with the given spacing, the schedule's default time
 * range, ending at sigma = 0 if to_zero; release with dode_grid_free. */
static inline dode_grid test_grid(const dode_schedule *sched, dode_spacing spacing,
                                  size_t steps, int to_zero)
{
    char err[ERRLEN];
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = spacing;
    go.to_zero = to_zero;
    dode_grid g;
    ck_assert_msg(dode_grid_make(sched, &go, steps, &g, err, sizeof err) == DODE_OK,
                  "%s", err);
    return g;
}

/* A model's eps (dode_model.eps) that fails mid-solve: NaN below sigma = 1, 0.1 x above,
 * so a solve from sigma > 1 completes its first steps and then meets the NaN. */
static inline int test_eps_nan_below_one(const dode_model *m, size_t n, const double *x,
                                         double t, double sigma, double *out)
{
    (void)t;
    for (size_t k = 0; k < n * m->dim; k++)
        out[k] = sigma < 1.0 ? NAN : 0.1 * x[k];
    return DODE_OK;
}

/* A fresh directory /tmp/TAG.XXXXXX (mkdtemp); the caller owns the string and passes it
 * to test_rm_tree at the end of the test. */
static inline char *test_tmpdir(const char *tag)
{
    char *dir = malloc(strlen(tag) + sizeof "/tmp/.XXXXXX");
    ck_assert_ptr_nonnull(dir);
    sprintf(dir, "/tmp/%s.XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* Removes the files (and empty subdirectories) of dir, then dir, and frees the string. */
static inline void test_rm_tree(char *dir)
{
    DIR *d = opendir(dir);
    char path[1024];
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    free(dir);
}

/* Root mean square of a - b over len values. */
static inline double test_rmse(const double *a, const double *b, size_t len)
{
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s / (double)len);
}

#endif
